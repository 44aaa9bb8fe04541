package apikey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/validate"
)

// Policy is a tenant's rule for the keys it issues from now on: the
// longest a new key may live (0: no limit). GitHub's default for its
// tokens is 366 days. Keys issued before a policy keep their times.
type Policy struct {
	MaxLifetimeDays int    `dynamodbav:"maxLifetimeDays" json:"maxLifetimeDays"`
	UpdatedAt       string `dynamodbav:"updatedAt" json:"updatedAt,omitempty"`
	UpdatedBy       string `dynamodbav:"updatedBy" json:"updatedBy,omitempty"`
}

// MaxLifetime is the policy's bound as a duration (0: none).
func (p Policy) MaxLifetime() time.Duration {
	return time.Duration(p.MaxLifetimeDays) * 24 * time.Hour
}

// PolicyInput is the body of PUT /api-key-policy.
type PolicyInput struct {
	// MaxLifetimeDays: 1 to 3660, or null for no limit; required, so a
	// body that forgot it does not lift the limit.
	MaxLifetimeDays Days `json:"maxLifetimeDays"`
}

// Days is a number of days that may be null, and knows whether it was sent.
type Days struct {
	Set bool
	N   *int
}

// AcceptsNull marks Days as a field that takes null (httpapi.NullAccepter).
func (*Days) AcceptsNull() bool { return true }

// UnmarshalJSON takes null or a whole number.
func (d *Days) UnmarshalJSON(b []byte) error {
	d.Set = true
	if string(b) == "null" {
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("must be a whole number of days, or null")
	}
	d.N = &n
	return nil
}

// Validate checks a policy body.
func (in *PolicyInput) Validate() error {
	var p validate.Problems
	switch d := in.MaxLifetimeDays; {
	case !d.Set:
		p.Add("maxLifetimeDays", "is required: a whole number of days from 1 to 3660, or null for no limit")
	case d.N != nil && (*d.N < 1 || *d.N > 3660):
		p.Add("maxLifetimeDays", "must be a whole number of days from 1 to 3660, or null for no limit")
	}
	return p.Err()
}

// Lifetime applies p to a new key issued at now: the end it asked for
// (until; zero: none), or the policy's bound when it asked for none; an
// end past the bound is refused.
func (p Policy) Lifetime(until, now time.Time) (time.Time, error) {
	limit := p.MaxLifetime()
	switch {
	case limit == 0:
		return until, nil
	case until.IsZero():
		return now.Add(limit), nil
	case until.After(now.Add(limit)):
		var v validate.Problems
		v.Add("expiresAt", fmt.Sprintf("must be within the tenant's maximum key lifetime of %d days (the API key policy)", p.MaxLifetimeDays))
		return time.Time{}, v.Err()
	}
	return until, nil
}

// Cap bounds the end a rolled key inherits (zero: none) by p, rather than
// refusing it: the Owner asked for a roll, not for a lifetime.
func (p Policy) Cap(until, now time.Time) time.Time {
	if limit := p.MaxLifetime(); limit > 0 && (until.IsZero() || until.After(now.Add(limit))) {
		return now.Add(limit)
	}
	return until
}

// GetPolicy reads the tenant's key policy (none set: no limit).
func (s *Store) GetPolicy(ctx context.Context, tenantID string) (Policy, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: keyschema.KeyPolicy(tenantID).Attrs(), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Policy{}, dynamo.Translate("get api key policy", err)
	}
	var p Policy
	if out.Item != nil {
		err = attributevalue.UnmarshalMap(out.Item, &p)
	}
	return p, err
}

// PutPolicy sets the tenant's key policy.
func (s *Store) PutPolicy(ctx context.Context, tenantID string, p Policy) error {
	item, err := attributevalue.MarshalMap(p)
	if err != nil {
		return err
	}
	for n, v := range keyschema.KeyPolicy(tenantID).Attrs() {
		item[n] = v
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item})
	return dynamo.Translate("put api key policy", err)
}
