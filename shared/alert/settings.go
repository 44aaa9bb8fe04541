package alert

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/metrics"
)

// Settings are a tenant's lead times as stored, with what a pass still owes
// the tenant after a lead time grew.
type Settings struct {
	TenantID string `dynamodbav:"tenantId"`
	Leads
	Revision  int64  `dynamodbav:"revision"`
	UpdatedAt string `dynamodbav:"updatedAt,omitempty"`
	UpdatedBy string `dynamodbav:"updatedBy,omitempty"`
	// CatchUps are, per group, the stretch of dates whose warnings became
	// due at once when its lead time grew (from 7 to 14 days, the dates 7 to
	// 14 days ahead): no pass's crossing window will meet them, so the next
	// pass reads them (the tenant's own entries only). A second growth
	// before that pass widens the stretch, so there are never more than one
	// per group, however often a lead time changes.
	CatchUps map[Group]Stretch `dynamodbav:"catchUps,omitempty"`
}

// Stretch is a stretch of dates (From, To] a pass owes a tenant.
type Stretch struct {
	From string `dynamodbav:"from"` // isotime
	To   string `dynamodbav:"to"`
}

// widen returns the smallest stretch holding both s and o (s may be zero).
func (s Stretch) widen(o Stretch) Stretch {
	if s == (Stretch{}) {
		return o
	}
	return Stretch{From: min(s.From, o.From), To: max(s.To, o.To)}
}

// SettingsStore keeps every tenant's settings in one IntegrationsTable
// partition (keyschema.AlertSettings): settings change rarely, and a pass
// reads them all with one query.
type SettingsStore struct {
	DB    dynamo.API
	Table string
}

// Get returns the tenant's settings (the defaults when it has none).
func (s *SettingsStore) Get(ctx context.Context, tenantID string) (Settings, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: keyschema.AlertSettings(tenantID).Attrs(), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Settings{}, dynamo.Translate("get alert settings", err)
	}
	st := Settings{TenantID: tenantID, Leads: DefaultLeads}
	if out.Item != nil {
		if err := attributevalue.UnmarshalMap(out.Item, &st); err != nil {
			return Settings{}, err
		}
	}
	return st, nil
}

// settingsTries bounds the read-change-write rounds one change makes when
// another change of the same tenant's settings keeps winning; between
// rounds it backs off (dynamo.BackOff), so a crowd of concurrent changes
// spreads out instead of colliding again.
const settingsTries = 8

// Change applies change to the tenant's lead times and stores them, with a
// catch-up for each group whose lead time grew. The write is conditional on
// the revision it read, so two concurrent changes cannot lose one another's
// catch-ups; the loser reads again and reapplies.
func (s *SettingsStore) Change(ctx context.Context, tenantID, actor string, now time.Time, change func(*Leads)) (Settings, error) {
	for try := 0; try < settingsTries; try++ {
		old, err := s.Get(ctx, tenantID)
		if err != nil {
			return Settings{}, err
		}
		next := old
		next.CatchUps = maps.Clone(old.CatchUps)
		change(&next.Leads)
		for _, g := range Groups {
			if was, is := old.Lead(g), next.Lead(g); is > was {
				if next.CatchUps == nil {
					next.CatchUps = map[Group]Stretch{}
				}
				next.CatchUps[g] = next.CatchUps[g].widen(Stretch{From: isotime.Format(now.Add(was)), To: isotime.Format(now.Add(is))})
			}
		}
		next.Revision, next.UpdatedAt, next.UpdatedBy = old.Revision+1, isotime.Format(now), actor
		err = s.put(ctx, next, old.Revision)
		if err == nil {
			return next, nil
		}
		if !errors.Is(err, errStale) {
			return Settings{}, err
		}
		dynamo.BackOff(ctx, try)
	}
	return Settings{}, apierror.New(apierror.Throttled, "the alert settings are being changed concurrently; retry shortly")
}

var errStale = errors.New("alert settings changed meanwhile")

// put writes st if the stored revision is still was (0: none stored).
func (s *SettingsStore) put(ctx context.Context, st Settings, was int64) error {
	item, err := attributevalue.MarshalMap(st)
	if err != nil {
		return err
	}
	for k, v := range keyschema.AlertSettings(st.TenantID).Attrs() {
		item[k] = v
	}
	cond, values := "attribute_not_exists(PK)", map[string]types.AttributeValue(nil)
	if was > 0 {
		cond, values = "revision = :was", map[string]types.AttributeValue{":was": &types.AttributeValueMemberN{Value: itoa(was)}}
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table), Item: item, ConditionExpression: aws.String(cond), ExpressionAttributeValues: values,
	})
	if dynamo.ConditionFailed(err) {
		return errStale
	}
	return dynamo.Translate("put alert settings", err)
}

// All reads every tenant's stored settings (tenants without any use the defaults).
//
// A tenant whose item does not decode is left out and counted
// (unreadableSettings): its alerts follow the default lead times until the
// item is repaired, and every other tenant's pass goes on.
func (s *SettingsStore) All(ctx context.Context) (map[string]Settings, error) {
	p := dynamodb.NewQueryPaginator(s.DB, &dynamodb.QueryInput{
		TableName:                 aws.String(s.Table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: keyschema.AlertSettingsPK}},
		ConsistentRead:            aws.Bool(true),
	})
	out := map[string]Settings{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, dynamo.Translate("read alert settings", err)
		}
		for _, item := range page.Items {
			var st Settings
			if err := attributevalue.UnmarshalMap(item, &st); err != nil {
				sk, _ := item["SK"].(*types.AttributeValueMemberS)
				if sk != nil {
					unreadableSettings(sk.Value, err)
				}
				continue
			}
			out[st.TenantID] = st
		}
	}
	return out, nil
}

// MetricSettingsUnreadable counts tenants' alert settings items that do not
// decode: their alerts follow the default lead times until repaired.
const MetricSettingsUnreadable = "AlertSettingsUnreadable"

func unreadableSettings(tenantID string, err error) {
	reason, _ := Poisoned(err) // in words that carry none of the item's values
	metrics.Count(slog.Default(), MetricSettingsUnreadable, "a tenant's alert settings do not decode: its alerts follow the default lead times until they are repaired", "tenantId", tenantID, "reason", reason)
}

// ForAlerts is Get for weighing the tenant's alerts: settings that do not
// decode are counted and the defaults stand in, so they hold up no stream
// batch (and with it other tenants' records).
func (s *SettingsStore) ForAlerts(ctx context.Context, tenantID string) (Settings, error) {
	st, err := s.Get(ctx, tenantID)
	if undecodable(err) {
		unreadableSettings(tenantID, err)
		return Settings{TenantID: tenantID, Leads: DefaultLeads}, nil
	}
	return st, err
}

// Settled removes the catch-ups a pass has read, each unless it changed
// since (a growth meanwhile widened it: the next pass reads it again,
// harmlessly — markers keep every alert to once). Other changes of the
// settings do not keep a catch-up, so changing lead times without pause
// cannot make every pass read it again.
func (s *SettingsStore) Settled(ctx context.Context, st Settings) error {
	for g, c := range st.CatchUps {
		_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(s.Table), Key: keyschema.AlertSettings(st.TenantID).Attrs(),
			UpdateExpression:         aws.String("REMOVE catchUps.#g"),
			ConditionExpression:      aws.String("catchUps.#g.#from = :from AND catchUps.#g.#to = :to"),
			ExpressionAttributeNames: map[string]string{"#g": string(g), "#from": "from", "#to": "to"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":from": &types.AttributeValueMemberS{Value: c.From}, ":to": &types.AttributeValueMemberS{Value: c.To},
			},
		})
		if err != nil && !dynamo.ConditionFailed(err) {
			return dynamo.Translate("settle alert catch-ups", err)
		}
	}
	return nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
