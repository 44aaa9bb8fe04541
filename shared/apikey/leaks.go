package apikey

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/crypto/bcrypt"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/redact"
	"github.com/uniasset/integrations/shared/systemlog"
)

// LeakTokenType is the type a secret scanner reports our keys under.
const LeakTokenType = "uniasset_api_key"

// MaxLeakReports bounds the tokens one report checks: each one that looks
// like a key costs a bcrypt comparison.
const MaxLeakReports = 50

// ScanningKeys are the public keys leak reports are signed with, by the
// identifier a report names (GitHub's secret-scanning partner program:
// ECDSA P-256, the signature over the raw body with SHA-256, ASN.1 DER,
// base64, in Github-Public-Key-Signature; the key's id in
// Github-Public-Key-Identifier).
type ScanningKeys map[string]*ecdsa.PublicKey

// ParseScanningKeys reads "id=base64 of the PKIX (DER) public key" pairs,
// comma-separated, as the configuration gives them ("" is none).
func ParseScanningKeys(s string) (ScanningKeys, error) {
	keys := ScanningKeys{}
	for _, pair := range strings.Split(s, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		id, b64, ok := strings.Cut(pair, "=")
		der, err := base64.StdEncoding.DecodeString(b64)
		if !ok || id == "" || err != nil {
			return nil, fmt.Errorf("a secret-scanning key must be id=base64 of its DER public key")
		}
		pub, err := x509.ParsePKIXPublicKey(der)
		ec, isEC := pub.(*ecdsa.PublicKey)
		if err != nil || !isEC {
			return nil, fmt.Errorf("secret-scanning key %s is not an ECDSA public key", id)
		}
		keys[id] = ec
	}
	return keys, nil
}

// Verify checks a report's signature: body signed by the key named keyID.
func (k ScanningKeys) Verify(body []byte, keyID, signature string) error {
	pub, ok := k[keyID]
	sig, err := base64.StdEncoding.DecodeString(signature)
	if !ok || err != nil {
		return errors.New("unknown key or malformed signature")
	}
	sum := sha256.Sum256(body)
	if !ecdsa.VerifyASN1(pub, sum[:], sig) {
		return errors.New("bad signature")
	}
	return nil
}

// LeakReport is one token a scanner found, and where.
type LeakReport struct {
	Token  string `json:"token"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Source string `json:"source"`
}

// LeakFeedback is the answer for one reported token, in the shape GitHub
// takes back: the token's SHA-256, its type, and whether it was one of
// ours (true_positive) or not (false_positive).
type LeakFeedback struct {
	TokenHash string `json:"token_hash"`
	TokenType string `json:"token_type"`
	Label     string `json:"label"`
}

// ReportLeaks revokes each reported token that is a key of ours, at once,
// with a System entry in its tenant's Activity Log naming where it leaked,
// and answers which were. A key revoked before is still reported found.
func (s *Service) ReportLeaks(ctx context.Context, reports []LeakReport) ([]LeakFeedback, error) {
	out := make([]LeakFeedback, 0, len(reports))
	for _, r := range reports {
		sum := sha256.Sum256([]byte(r.Token))
		fb := LeakFeedback{TokenHash: hex.EncodeToString(sum[:]), TokenType: r.Type, Label: "false_positive"}
		k, found, err := s.match(ctx, r.Token)
		if err != nil {
			return nil, err
		}
		if found {
			fb.Label = "true_positive"
			if err := s.Store.revokeLeaked(ctx, k, r, s.now()); err != nil {
				return nil, err
			}
		}
		out = append(out, fb)
	}
	return out, nil
}

// match finds the key a token is, if it is one (no cache, no source limit:
// a signed report is not a client guessing).
func (s *Service) match(ctx context.Context, token string) (Key, bool, error) {
	if !WellFormed(token) || !s.AcceptLegacy && !Checksummed(token) {
		return Key{}, false, nil
	}
	li, found, err := s.Store.resolve(ctx, LookupID(token))
	if err != nil || !found {
		return Key{}, false, err
	}
	k, found, err := s.Store.Get(ctx, li.TenantID, li.KeyID)
	if err != nil || !found {
		return Key{}, false, err
	}
	return k, bcrypt.CompareHashAndPassword([]byte(k.Hash), []byte(token)) == nil, nil
}

// revokeLeaked revokes k as leaked, with the System entry, in one
// transaction; a key already revoked is left as it is.
func (s *Store) revokeLeaked(ctx context.Context, k Key, r LeakReport, now time.Time) error {
	where := redact.String(truncate(r.URL, 500))
	if r.Source != "" {
		where += " (" + redact.String(truncate(r.Source, 50)) + ")"
	}
	entry, err := systemlog.Item(systemlog.Entry{TenantID: k.TenantID, Event: systemlog.KeyLeaked, ResourceType: "apiKey", ResourceID: k.ID,
		ResourceName: k.Name, Status: "revoked", Details: fmt.Sprintf("the key %s… was found published at %s by a secret scanner and revoked; create or roll a new one", k.Prefix, where)}, now, s.Retention)
	if err != nil {
		return err
	}
	_, err = s.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(s.Table), Key: keyKey(k.TenantID, k.ID),
			UpdateExpression:    aws.String("SET revokedAt = :now, revokedBy = :by"),
			ConditionExpression: aws.String("attribute_exists(PK) AND attribute_not_exists(revokedAt)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":now": &types.AttributeValueMemberS{Value: isotime.Format(now)}, ":by": &types.AttributeValueMemberS{Value: "secret-scanning"},
			},
		}},
		{Put: &types.Put{TableName: aws.String(s.Table), Item: entry, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
	}})
	if dynamo.ConditionFailed(err) {
		return nil // revoked already
	}
	return dynamo.Translate("revoke a leaked api key", err)
}
