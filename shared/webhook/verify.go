package webhook

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/systemlog"
)

// Verified records that w's endpoint answered a challenge (at w.VerifiedAt),
// with a System entry saying who asked, in one transaction. It is written
// only over the revision w was read at: an edit meanwhile (a new URL above
// all) means the answer proved nothing about the webhook as it now is.
func (s *Store) Verified(ctx context.Context, w Webhook, by string) error {
	entry, err := systemlog.Item(systemlog.Entry{
		TenantID: w.TenantID, Event: systemlog.WebhookVerified, ResourceType: "webhook", ResourceID: w.ID, ResourceName: w.Name,
		Status: w.Status, Details: fmt.Sprintf("endpoint ownership verified by a challenge %s asked for", by),
	}, s.now(), s.Retention)
	if err != nil {
		return err
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(s.Table), Key: itemKey(w.TenantID, w.ID),
			UpdateExpression:         aws.String("SET verifiedAt = :at, updatedAt = :at ADD #revision :one"),
			ConditionExpression:      aws.String(revisionCond(w.Revision)),
			ExpressionAttributeNames: map[string]string{"#revision": "revision"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":at": &types.AttributeValueMemberS{Value: w.VerifiedAt}, ":one": &types.AttributeValueMemberN{Value: "1"},
				":prev": &types.AttributeValueMemberN{Value: strconv.FormatInt(w.Revision, 10)},
			},
		}},
		{Put: &types.Put{TableName: aws.String(s.Table), Item: entry, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
	}})
	if dynamo.ConditionFailed(err) {
		return apierror.New(apierror.Conflict, "the webhook changed or was deleted while its endpoint was challenged; verify again")
	}
	return dynamo.Translate("record webhook verification", err)
}

// UnverifyIfMoved clears w's verification when its URL is no longer from
// (an edit): the proof was for the old endpoint.
func (w *Webhook) UnverifyIfMoved(from string) {
	if w.URL != from {
		w.VerifiedAt = ""
	}
}
