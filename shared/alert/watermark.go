package alert

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
)

// Watermark is how far the passes have looked: one item of IntegrationsTable.
type Watermark struct {
	DB    dynamo.API
	Table string
	// Key is where it is kept; zero for keyschema.AlertWatermark (tests
	// running passes as of other times use their own).
	Key keyschema.Key
}

func (w Watermark) key() keyschema.Key {
	if w.Key == (keyschema.Key{}) {
		return keyschema.AlertWatermark()
	}
	return w.Key
}

// From is where the last pass stopped, no earlier than MaxLateness before
// to (FirstPass before it when no pass has run).
func (w Watermark) From(ctx context.Context, to time.Time) (time.Time, error) {
	out, err := w.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(w.Table), Key: w.key().Attrs(), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return time.Time{}, dynamo.Translate("read alert watermark", err)
	}
	from := to.Add(-FirstPass)
	if v, ok := out.Item["at"].(*types.AttributeValueMemberS); ok {
		if at, err := isotime.Parse(v.Value); err == nil {
			from = at
		}
	}
	if from.Before(to.Add(-MaxLateness)) {
		from = to.Add(-MaxLateness)
	}
	return from, nil
}

// Advance moves the watermark to to, never back (a slower pass that
// started earlier must not undo a later one).
func (w Watermark) Advance(ctx context.Context, to time.Time) error {
	_, err := w.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(w.Table), Key: w.key().Attrs(),
		UpdateExpression:         aws.String("SET #at = :to, passes = if_not_exists(passes, :zero) + :one"),
		ConditionExpression:      aws.String("attribute_not_exists(#at) OR #at < :to"),
		ExpressionAttributeNames: map[string]string{"#at": "at"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":to": &types.AttributeValueMemberS{Value: isotime.Format(to)}, ":zero": &types.AttributeValueMemberN{Value: "0"},
			":one": &types.AttributeValueMemberN{Value: strconv.Itoa(1)},
		},
	})
	if dynamo.ConditionFailed(err) {
		return nil
	}
	return dynamo.Translate("advance alert watermark", err)
}
