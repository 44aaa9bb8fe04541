// Package tenant holds plans, roles and the tenant profile that gates features.
package tenant

import (
	"context"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/keyschema"
)

// Plan is a tenant's subscription tier.
type Plan string

const (
	Starter    Plan = "starter"
	Growth     Plan = "growth"
	Enterprise Plan = "enterprise"
)

func (p Plan) rank() int {
	switch p {
	case Starter:
		return 1
	case Growth:
		return 2
	case Enterprise:
		return 3
	}
	return 0 // unknown or missing plan: below every tier
}

// AtLeast reports whether p includes everything min does.
func (p Plan) AtLeast(min Plan) bool { return p.rank() >= min.rank() }

// Role is a user's role inside a tenant, from the JWT's role claim.
type Role string

const (
	Owner   Role = "Owner"
	Admin   Role = "Admin"
	Manager Role = "Manager"
	Member  Role = "Member"
	Viewer  Role = "Viewer"
)

// Profile is the tenant's plan and flags.
type Profile struct {
	TenantID string `dynamodbav:"tenantId" json:"tenantId"`
	Name     string `dynamodbav:"name" json:"name"`
	Plan     Plan   `dynamodbav:"plan" json:"plan"`
	// An operator's override of the integration API's per-tenant limit
	// (0: the configured default); never shown in a response.
	APIRateLimit int `dynamodbav:"apiRateLimit,omitempty" json:"-"`
	APIRateBurst int `dynamodbav:"apiRateBurst,omitempty" json:"-"`
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidID reports whether s can be a tenant id; ids are embedded in keys, so '#' must never get in.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// decode reads a profile item; a missing item is a tenant with no plan.
func decode(tenantID string, item map[string]types.AttributeValue) (Profile, error) {
	p := Profile{TenantID: tenantID}
	if item == nil {
		return p, nil
	}
	err := attributevalue.UnmarshalMap(item, &p)
	p.TenantID = tenantID
	return p, err
}

// Store reads and writes profiles in IntegrationsTable.
type Store struct {
	DB    dynamo.API
	Table string
}

// Get reads the profile with a strongly consistent read, so a plan change applies at once.
func (s *Store) Get(ctx context.Context, tenantID string) (Profile, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: keyschema.Profile(tenantID).Attrs(), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Profile{}, dynamo.Translate("get tenant profile", err)
	}
	return decode(tenantID, out.Item)
}

// Read is a read of a tenant's profile for another store to batch with its
// own items. into starts as a tenant with no plan, which it stays if the
// profile does not exist.
func (s *Store) Read(tenantID string, into *Profile) dynamo.Read {
	*into = Profile{TenantID: tenantID}
	return dynamo.Read{Table: s.Table, Key: keyschema.Profile(tenantID).Attrs(), Found: func(item map[string]types.AttributeValue) error {
		p, err := decode(tenantID, item)
		*into = p
		return err
	}}
}

// Put writes a profile (the local stack's seeding and tests use it; the main app owns plans).
func (s *Store) Put(ctx context.Context, p Profile) error {
	item, err := attributevalue.MarshalMap(p)
	if err != nil {
		return err
	}
	for k, v := range keyschema.Profile(p.TenantID).Attrs() {
		item[k] = v
	}
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item})
	return dynamo.Translate("put tenant profile", err)
}
