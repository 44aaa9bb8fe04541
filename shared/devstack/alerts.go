package devstack

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
)

// SimulatedAlertsRefused is a pass as of a time SimulatedAlerts cannot run:
// outside the range it takes, or already covered by an earlier one.
type SimulatedAlertsRefused struct{ Reason string }

func (e *SimulatedAlertsRefused) Error() string { return e.Reason }

// simulatedWatermark is where passes as of other times keep their watermark.
var simulatedWatermark = keyschema.Key{PK: keyschema.AlertWatermark().PK, SK: "SIMULATED"}

// SimulatedAlerts runs one expiry alerts pass as of at (go run ./infra/local
// alerts --at), so tomorrow's alerts can be seen today. Such passes keep a
// watermark of their own, starting from now: the schedule's stays where
// real time has it, so seeing next month's alerts today does not silence
// this month's. They only move forward: one as of a time an earlier one
// covered is refused with the time to ask for instead (its window would end
// before it starts, and what the earlier one fired was sent).
func (s *Stack) SimulatedAlerts(ctx context.Context, at, now time.Time) (alert.Result, error) {
	if at.Before(now.Add(-alert.MaxLateness)) || at.After(now.AddDate(10, 0, 0)) {
		return alert.Result{}, &SimulatedAlertsRefused{"at must be between 30 days ago and 10 years ahead"}
	}
	simulated := *s.Alerts
	simulated.Watermark.Key = simulatedWatermark
	item := simulatedWatermark.Attrs()
	item["at"] = &types.AttributeValueMemberS{Value: isotime.Format(now.Add(-alert.PassLag))}
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.IntegrationsTable), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(PK)")})
	if err != nil && !dynamo.ConditionFailed(err) {
		return alert.Result{}, err
	}
	from, err := simulated.Watermark.From(ctx, at.Add(-alert.PassLag))
	if err != nil {
		return alert.Result{}, err
	}
	if !at.Add(-alert.PassLag).After(from) {
		return alert.Result{}, &SimulatedAlertsRefused{fmt.Sprintf("the simulated passes have already looked up to %s (they only move forward, "+
			"and what they fired is sent): ask for a time after %s", isotime.Format(from), from.Add(alert.PassLag).UTC().Format(time.RFC3339))}
	}
	return simulated.Run(ctx, at)
}
