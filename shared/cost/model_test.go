package cost

import (
	"math"
	"testing"
)

func TestAMonthIsPricedLineByLine(t *testing.T) {
	m := Model{WriteAndEvent: 4e-6, ExtraWebhook: 3e-6, FailedDelivery: 50e-6, AlertFired: 6e-6, AlertPass: 20e-6, EntraSync: 40e-6,
		CallRowBytes: 1 << 10, DeliveryBytes: 2 << 10}
	lines, err := m.Month(Volume{Writes: 10e6, Webhooks: 2, Failing: 0.01, Alerts: 1000, EntraTenants: 2, RetentionDays: 90})
	if err != nil {
		t.Fatal(err)
	}
	// 10M writes and their first deliveries; 10M more deliveries; 1% of
	// 20M failing; the alerts; 2,880 passes; two tenants' 2,880 syncs;
	// three months of 10M 1 KiB rows and 20M 2 KiB records at $0.25/GB.
	storage := 3 * (10e6*1024 + 20e6*2048) / (1 << 30)
	want := []Line{
		{"10M API writes, each delivered to its first webhook", 40},
		{"10M deliveries to further webhooks", 30},
		{"200k deliveries failing every attempt", 10},
		{"1k expiry alerts", 0.006},
		{"2880 expiry alert passes", 0.0576},
		{"5.76k Entra syncs of 1,000 users", 0.2304},
		{"storage: 143 GB of call rows and delivery records", storage * 0.25},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d: %v", len(lines), len(want), lines)
	}
	for i, l := range lines {
		if l.What != want[i].What || math.Abs(l.Dollars-want[i].Dollars) > 1e-9 {
			t.Errorf("line %d: %q $%.4f, want %q $%.4f", i, l.What, l.Dollars, want[i].What, want[i].Dollars)
		}
	}
}

func TestAVolumeOutOfRangeIsRefused(t *testing.T) {
	for _, v := range []Volume{{Writes: -1}, {Failing: 1.5}, {RetentionDays: -3}} {
		if _, err := (Model{}).Month(v); err == nil {
			t.Errorf("%+v priced", v)
		}
	}
}

func TestRowsWithoutRetentionAreAYearOfThem(t *testing.T) {
	m := Model{CallRowBytes: 1 << 30}
	lines, _ := m.Month(Volume{Writes: 1})
	if len(lines) != 1 || math.Abs(lines[0].Dollars-12*Price.StorageGBMonth) > 1e-12 {
		t.Fatalf("%v: want a year of one 1 GB row a month at $%.2f/GB", lines, Price.StorageGBMonth)
	}
}
