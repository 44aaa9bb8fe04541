package keyschema

import "testing"

// Each key as README.md's Data table spells it.
func TestKeysAsTheDataTableSpellsThem(t *testing.T) {
	for _, c := range []struct{ got, want Key }{
		{Asset("t1", "asset_1"), Key{"TENANT#t1#ASSET#asset_1", "ASSET"}},
		{Maintenance("t1", "asset_1", "mnt_1"), Key{"TENANT#t1#ASSET#asset_1", "MAINT#mnt_1"}},
		{ExternalID("t1", "ERP-7"), Key{"TENANT#t1#EXTID#ERP-7", "EXTID"}},
		{Profile("t1"), Key{"TENANT#t1", "PROFILE"}},
		{APIKey("t1", "key_1"), Key{"TENANT#t1", "APIKEY#key_1"}},
		{KeyLookup("0123456789abcdef"), Key{"KEYLOOKUP#0123456789abcdef", "KEYLOOKUP"}},
		{Key{APILogPK("t1", 3), ""}, Key{"TENANT#t1#APILOG#3", ""}},
		{Key{APIKeyCallsPK("t1", "key_1", 3), ""}, Key{"TENANT#t1#APIKEY#key_1#3", ""}},
		{Idempotency("t1", "ab12"), Key{"TENANT#t1#IDEMPOTENCY#ab12", "-"}},
		{Webhook("t1", "wh_1"), Key{"TENANT#t1", "WEBHOOK#wh_1"}},
		{WebhookCount("t1"), Key{"TENANT#t1", "WEBHOOKS"}},
		{Key{DeliveryPK("t1", 2), DeliverySK("2026-03-08T09:15:00.000Z", "msg_1")}, Key{"TENANT#t1#DELIVERY#2", "2026-03-08T09:15:00.000Z#msg_1"}},
		{Key{WebhookDeliveriesPK("t1", "wh_1", 2), ""}, Key{"TENANT#t1#WEBHOOK#wh_1#2", ""}},
		{Key{SystemPK("t1"), ""}, Key{"TENANT#t1#SYSLOG", ""}},
		{Key{ResourceSystemPK("t1", "webhook", "wh_1"), ""}, Key{"TENANT#t1#WEBHOOK#wh_1#SYSLOG", ""}},
		{Document("t1", "asset_1", "doc_1"), Key{"TENANT#t1#ASSET#asset_1", "DOC#doc_1"}},
		{Key{DuePK("warranty", "2026-03-08", 5), DueSK("2026-03-08T09:15:00.000Z", "TENANT#t1#ASSET#a", "ASSET")}, Key{"DUE#warranty#2026-03-08#5", "2026-03-08T09:15:00.000Z#TENANT#t1#ASSET#a#ASSET"}},
		{AlertSettings("t1"), Key{"ALERTSETTINGS", "t1"}},
		{AlertMarker("t1", "a", "MAINT#m", "maintenance.overdue", "2026-03-08T09:15:00.000Z"), Key{"TENANT#t1#ALERT#a#MAINT#m", "maintenance.overdue#2026-03-08T09:15:00.000Z"}},
		{AlertRetry("t1", "warranty#TENANT#t1#ASSET#a#ASSET#2026-03-08T09:15:00.000Z"), Key{"ALERTRETRY", "t1#warranty#TENANT#t1#ASSET#a#ASSET#2026-03-08T09:15:00.000Z"}},
		{AlertWatermark(), Key{"ALERTJOB", "WATERMARK"}},
		{AlertBackfill(), Key{"ALERTJOB", "BACKFILL"}},
		{Key{TenantDuePK("t1", "warranty", 5), ""}, Key{"TENANT#t1#DUE#warranty#5", ""}},
		{EntraConnection("t1"), Key{"TENANT#t1", "ENTRA"}},
		{Key{EntraGroupPK("t1"), ""}, Key{"TENANT#t1#ENTRAGROUP", ""}},
		{Key{EntraAccountPK("t1", 3), ""}, Key{"TENANT#t1#USER#3", ""}},
		{EntraState("ab12"), Key{"ENTRASTATE#ab12", "-"}},
		{EntraClaim("0a1b"), Key{"ENTRATENANT#0a1b", "-"}},
		{Rate("t1", RateWebhookSends("wh_1"), 2), Key{"TENANT#t1#RATE#SEND#wh_1#2", "RATE"}},
		{Rate("t1", RateSlowSends, 0), Key{"TENANT#t1#RATE#SLOWSEND#0", "RATE"}},
		{Rate("t1", RateAPI, 3), Key{"TENANT#t1#RATE#API#3", "RATE"}},
		{Rate("t1", RateTestEvents("wh_1"), 0), Key{"TENANT#t1#RATE#TEST#wh_1#0", "RATE"}},
	} {
		if c.got != c.want {
			t.Errorf("got %v, want %v", c.got, c.want)
		}
	}
	if a := Asset("t1", "x").Attrs(); len(a) != 2 {
		t.Errorf("attrs: %v", a)
	}
}

func TestParseAssetPK(t *testing.T) {
	if tid, id, ok := ParseAssetPK(AssetPK("t-1", "asset_9")); !ok || tid != "t-1" || id != "asset_9" {
		t.Errorf("round trip: %q %q %v", tid, id, ok)
	}
	for _, bad := range []string{"", "TENANT#", "TENANT#t1", "TENANT#t1#ASSET#", "TENANT##ASSET#a", "X#t1#ASSET#a", "TENANT#t1#EXTID#a"} {
		if _, _, ok := ParseAssetPK(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// Shard is pinned: the delivery records, due-date entries and Entra
// accounts already written sit in the shards these values name, so a
// change of the hash would strand them.
func TestShardIsStable(t *testing.T) {
	for id, want := range map[string][2]int{"msg_0": {5, 5}, "msg_abc": {1, 9}, "wh_x#2034-03-02": {4, 12}, "9f1c2e": {7, 15}} {
		if got := [2]int{Shard(id, 8), Shard(id, 16)}; got != want {
			t.Errorf("Shard(%q) = %v over 8 and 16 shards, want %v", id, got, want)
		}
	}
	if Shard("anything", 0) != 0 {
		t.Error("no shards is one shard")
	}
}
