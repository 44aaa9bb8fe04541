package apikey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/retention"
	"github.com/uniasset/integrations/shared/systemlog"
)

// NoticeAhead is how long before a key expires its tenant's Activity Log
// says so (apikey.expiring); apikey.expired follows when it does.
const NoticeAhead = 3 * 24 * time.Hour

// noticeLookBack is how far back a notice run looks for keys that expired
// unannounced (the schedule was down): a week of days.
const noticeLookBack = 7 * 24 * time.Hour

// expiryDay is the ByResource partition of the keys that end on the day of
// until: a notice run reads a few days' partitions, never the keys.
func expiryDay(until string) string {
	at, err := isotime.Parse(until)
	if err != nil {
		return ""
	}
	return keyschema.KeyExpiryPK(at.UTC().Format("2006-01-02"))
}

// Notices writes the System entries about keys' ends: apikey.expiring
// NoticeAhead before, apikey.expired once it has passed, each once per key
// (a flag on the key, set in the same transaction as the entry), none for
// a revoked key. ExpiryAlertsFunction runs it with each pass.
type Notices struct {
	DB        dynamo.API
	Table     string
	Retention retention.Policy
}

// Run writes the notices due at now and returns how many.
func (n *Notices) Run(ctx context.Context, now time.Time) (written int, failed error) {
	for day := now.Add(-noticeLookBack); !day.After(now.Add(NoticeAhead)); day = day.Add(24 * time.Hour) {
		var start map[string]types.AttributeValue
		for {
			out, err := n.DB.Query(ctx, &dynamodb.QueryInput{
				TableName: aws.String(n.Table), IndexName: aws.String(keyschema.ByResource),
				KeyConditionExpression:   aws.String("#pk = :pk"),
				ExpressionAttributeNames: map[string]string{"#pk": keyschema.ByResourcePK},
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":pk": &types.AttributeValueMemberS{Value: keyschema.KeyExpiryPK(day.UTC().Format("2006-01-02"))},
				},
				ExclusiveStartKey: start,
			})
			if err != nil {
				return written, errors.Join(failed, dynamo.Translate("read expiring keys", err))
			}
			var keys []Key
			if err := attributevalue.UnmarshalListOfMaps(out.Items, &keys); err != nil {
				return written, errors.Join(failed, err)
			}
			for _, k := range keys {
				ok, err := n.notice(ctx, k, now)
				if err != nil {
					slog.Error("a key expiry notice failed; the next run tries again", "tenantId", k.TenantID, "keyId", k.ID, "error", err.Error())
					failed = errors.Join(failed, err)
				}
				if ok {
					written++
				}
			}
			if start = out.LastEvaluatedKey; start == nil {
				break
			}
		}
	}
	return written, failed
}

// notice writes the one notice k is due at now, if any.
func (n *Notices) notice(ctx context.Context, k Key, now time.Time) (bool, error) {
	until, err := isotime.Parse(k.ValidUntil)
	if err != nil || k.Revoked() {
		return false, nil
	}
	event, flag, details := "", "", ""
	switch {
	case !now.Before(until) && !k.NoticedExpired:
		event, flag = systemlog.KeyExpired, "noticedExpired"
		details = fmt.Sprintf("the key %s… (%s) expired at %s; requests with it are refused", k.Prefix, k.Name, k.ValidUntil)
	case now.Before(until) && !now.Before(until.Add(-NoticeAhead)) && !k.NoticedExpiring:
		event, flag = systemlog.KeyExpiring, "noticedExpiring"
		details = fmt.Sprintf("the key %s… (%s) expires at %s; roll it to replace it without downtime", k.Prefix, k.Name, k.ValidUntil)
	default:
		return false, nil
	}
	entry, err := systemlog.Item(systemlog.Entry{TenantID: k.TenantID, Event: event, ResourceType: "apiKey", ResourceID: k.ID,
		ResourceName: k.Name, Status: map[bool]string{true: "expired", false: "active"}[event == systemlog.KeyExpired], Details: details}, now, n.Retention)
	if err != nil {
		return false, err
	}
	_, err = n.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(n.Table), Key: keyschema.APIKey(k.TenantID, k.ID).Attrs(),
			UpdateExpression:         aws.String("SET #flag = :true"),
			ConditionExpression:      aws.String("attribute_exists(PK) AND attribute_not_exists(#flag) AND validUntil = :until AND attribute_not_exists(revokedAt)"),
			ExpressionAttributeNames: map[string]string{"#flag": flag},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":true": &types.AttributeValueMemberBOOL{Value: true}, ":until": &types.AttributeValueMemberS{Value: k.ValidUntil},
			},
		}},
		{Put: &types.Put{TableName: aws.String(n.Table), Item: entry, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
	}})
	if dynamo.ConditionFailed(err) {
		return false, nil // noticed by an overlapping run, or the key changed meanwhile
	}
	return err == nil, dynamo.Translate("write a key expiry notice", err)
}
