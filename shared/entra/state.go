package entra

// The pending steps of a connect (consent states), each usable once.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/keyschema"
)

// consentRequest is one step of a pending connect, under its state's hash:
// the sign-in (stage signin, with its PKCE verifier and nonce), then the
// admin consent for the Microsoft tenant and user the sign-in proved (stage
// consent).
type consentRequest struct {
	TenantID    string `dynamodbav:"tenantId"`
	Subject     string `dynamodbav:"subject"`
	Stage       string `dynamodbav:"stage"`
	RedirectURI string `dynamodbav:"redirectUri"`
	// The sign-in: the tenant segment it asked Microsoft for, and the
	// secrets only this state's holder may redeem its code with.
	SignInTenant string `dynamodbav:"signInTenant,omitempty"`
	Verifier     string `dynamodbav:"verifier,omitempty"`
	Nonce        string `dynamodbav:"nonce,omitempty"`
	// The consent: who signed in, where.
	MicrosoftTenantID string `dynamodbav:"microsoftTenantId,omitempty"`
	ObjectID          string `dynamodbav:"objectId,omitempty"`
	Username          string `dynamodbav:"username,omitempty"`

	// ExpiresAt is when it stops working, and the table's TTL attribute
	// (unix seconds; TTL deletes it later, at DynamoDB's leisure).
	ExpiresAt int64 `dynamodbav:"expiresAt"`
}

// PutState stores a connect step until it expires.
func (s *Store) PutState(ctx context.Context, stateHash string, req consentRequest, expires time.Time) error {
	req.ExpiresAt = expires.Unix()
	item, err := attributevalue.MarshalMap(req)
	if err != nil {
		return err
	}
	k := keyschema.EntraState(stateHash)
	item["PK"], item["SK"] = sv(k.PK), sv(k.SK)
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: item})
	return dynamo.Translate("put consent state", err)
}

// TakeState takes a consent request and returns it: a state works once.
// ok is false for one never issued, already used, or expired.
//
// The take is an update that marks the request with a token of this call,
// not a delete: should its answer be lost and the SDK send it again, the
// retry meets its own mark and returns the request (a delete's retry would
// find nothing, and the admin's genuine callback would read as a used
// state); any other callback meets another mark and is refused. The taken
// request is then deleted (its TTL removes it should that fail).
func (s *Store) TakeState(ctx context.Context, stateHash string, now time.Time) (req consentRequest, ok bool, err error) {
	token := make([]byte, 16)
	if _, err := rand.Read(token); err != nil {
		return req, false, err
	}
	k := keyschema.EntraState(stateHash)
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table), Key: k.Attrs(),
		UpdateExpression:          aws.String("SET takenBy = :token"),
		ConditionExpression:       aws.String("attribute_exists(PK) AND (attribute_not_exists(takenBy) OR takenBy = :token)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":token": sv(hex.EncodeToString(token))},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if dynamo.ConditionFailed(err) {
		return req, false, nil // never issued, or taken by another callback
	}
	if err != nil {
		return req, false, dynamo.Translate("take consent state", err)
	}
	if err := attributevalue.UnmarshalMap(out.Attributes, &req); err != nil {
		return req, false, err
	}
	if _, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.Table), Key: k.Attrs()}); err != nil {
		slog.Warn("entra connect: a taken consent state could not be deleted; its TTL removes it", "error", err.Error())
	}
	return req, now.Unix() < req.ExpiresAt, nil
}
