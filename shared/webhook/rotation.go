package webhook

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/systemlog"
	"github.com/uniasset/integrations/shared/validate"
)

// Rotation bounds: a leaked secret can be replaced at once, but rotations
// cannot be used to grow a webhook's signatures without end.
const (
	MaxRotations    = 5
	RotationWindow  = 24 * time.Hour
	DefaultOverlap  = 24 * time.Hour
	MaxOverlapHours = 72
)

// RotateInput is the body of POST /webhooks/{id}/rotate-secret (empty: a
// new secret, the old one valid for DefaultOverlap).
type RotateInput struct {
	// Secret is the caller's own new secret (the same form as on create).
	Secret *string `json:"secret"`
	// OverlapHours is how long the replaced secrets keep signing: 0 ends
	// them now (a leaked secret).
	OverlapHours *int `json:"overlapHours"`
}

// Validate checks a rotation body.
func (in *RotateInput) Validate() error {
	var p validate.Problems
	if in.Secret != nil && !ValidSecret(*in.Secret) {
		p.Add("secret", "must be whsec_ followed by the base64 of 24 to 64 random bytes")
	}
	if in.OverlapHours != nil && (*in.OverlapHours < 0 || *in.OverlapHours > MaxOverlapHours) {
		p.Add("overlapHours", fmt.Sprintf("must be a whole number of hours from 0 to %d", MaxOverlapHours))
	}
	return p.Err()
}

// Overlap is how long the replaced secrets keep signing.
func (in RotateInput) Overlap() time.Duration {
	if in.OverlapHours == nil {
		return DefaultOverlap
	}
	return time.Duration(*in.OverlapHours) * time.Hour
}

// Previous is a secret a rotation replaced, still signing until Until.
type Previous struct {
	Secret string `json:"secret"`
	Until  string `json:"until"`
}

// Rotate makes next w's secret at now. The replaced secret keeps signing
// for overlap beside it, as do earlier ones whose overlap has not ended; an
// overlap of 0 ends them all now. It refuses a sixth rotation within
// RotationWindow and says when the oldest of them leaves the window.
func (w *Webhook) Rotate(next string, overlap time.Duration, now time.Time) (retryAt time.Time, ok bool) {
	since := isotime.Format(now.Add(-RotationWindow))
	recent := slices.DeleteFunc(slices.Clone(w.Rotations), func(at string) bool { return at <= since })
	if len(recent) >= MaxRotations {
		oldest, _ := isotime.Parse(slices.Min(recent))
		return oldest.Add(RotationWindow), false
	}
	var kept []Previous
	if overlap > 0 {
		kept = w.validPrevious(now)
		kept = append(kept, Previous{Secret: w.Secret, Until: isotime.Format(now.Add(overlap))})
	}
	w.Previous, w.Secret = kept, next
	w.PreviousUntil = ""
	for _, p := range kept {
		w.PreviousUntil = max(w.PreviousUntil, p.Until)
	}
	w.Rotations = append(recent, isotime.Format(now))
	return time.Time{}, true
}

// validPrevious is the replaced secrets still signing at now, oldest first.
func (w Webhook) validPrevious(now time.Time) []Previous {
	at := isotime.Format(now)
	var out []Previous
	for _, p := range w.Previous {
		if p.Until > at {
			out = append(out, p)
		}
	}
	return out
}

// SigningSecrets is every secret that signs a delivery at now: the current
// one first, then the replaced ones still in their overlap, newest first.
// The last is the oldest, which keys the spec's single X-UniAsset-Signature
// until its overlap ends (see delivery.Headers).
func (w Webhook) SigningSecrets(now time.Time) []string {
	out := []string{w.Secret}
	prev := w.validPrevious(now)
	for i := len(prev) - 1; i >= 0; i-- {
		out = append(out, prev[i].Secret)
	}
	return out
}

// Rotate writes w's rotation (after Webhook.Rotate) over the revision it
// was read at, with a System entry saying who rotated it (never the
// secret), in one transaction.
func (s *Store) Rotate(ctx context.Context, w Webhook, by string, overlap time.Duration) error {
	if err := s.seal(&w); err != nil {
		return err
	}
	rotations, err := attributevalue.Marshal(w.Rotations)
	if err != nil {
		return err
	}
	values := map[string]types.AttributeValue{
		":sealed": &types.AttributeValueMemberS{Value: w.Sealed}, ":rotations": rotations,
		":at": &types.AttributeValueMemberS{Value: w.UpdatedAt}, ":one": &types.AttributeValueMemberN{Value: "1"},
		":prev": &types.AttributeValueMemberN{Value: strconv.FormatInt(w.Revision, 10)},
	}
	update := "SET sealed = :sealed, rotations = :rotations, updatedAt = :at"
	if w.PreviousUntil != "" {
		update += ", previousUntil = :until"
		values[":until"] = &types.AttributeValueMemberS{Value: w.PreviousUntil}
	} else {
		update += " REMOVE previousUntil"
	}
	cond := revisionCond(w.Revision)
	details := fmt.Sprintf("signing secret rotated by %s; the replaced secret stops signing now", by)
	if overlap > 0 {
		details = fmt.Sprintf("signing secret rotated by %s; the replaced secret signs beside it until %s", by, w.PreviousUntil)
	}
	entry, err := systemlog.Item(systemlog.Entry{
		TenantID: w.TenantID, Event: systemlog.SecretRotated, ResourceType: "webhook", ResourceID: w.ID, ResourceName: w.Name,
		Status: w.Status, Details: details,
	}, s.now(), s.Retention)
	if err != nil {
		return err
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(s.Table), Key: itemKey(w.TenantID, w.ID),
			UpdateExpression: aws.String(update + " ADD #revision :one"), ConditionExpression: aws.String(cond),
			ExpressionAttributeNames: map[string]string{"#revision": "revision"}, ExpressionAttributeValues: values,
		}},
		{Put: &types.Put{TableName: aws.String(s.Table), Item: entry, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
	}})
	if dynamo.ConditionFailed(err) {
		return apierror.New(apierror.Conflict, "the webhook changed or was deleted meanwhile; reload and retry")
	}
	return dynamo.Translate("rotate webhook secret", err)
}
