package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/metrics"
)

// Poisoned reports whether err is one item's own fault —
// trying the same call again fails the same way — and says why in words
// that carry no value of the item: DynamoDB refused a write as invalid (a
// delivery record over the 400 KB item limit), or an item (the alert's, its
// asset's, a webhook's, a tenant's settings) does not decode. Anything else (throttling, a
// network or service error, a cancelled context) is an outage of ours that
// every item would meet: the caller fails and is retried whole.
func Poisoned(err error) (reason string, ok bool) {
	var p poisoned
	if errors.As(err, &p) {
		return p.reason, true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if ae.ErrorCode() == "ValidationException" {
			return "DynamoDB refused the write: " + ae.ErrorMessage(), true
		}
		return "", false
	}
	var typ *attributevalue.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("an item does not decode: %s where %v belongs", typ.Value, typ.Type), true
	}
	var dec *attributevalue.UnmarshalError
	if errors.As(err, &dec) {
		return fmt.Sprintf("an item does not decode into %v", dec.Type), true // its value is left out: it could be anything
	}
	var js *json.UnsupportedValueError
	if errors.As(err, &js) {
		return "the alert's payload cannot be encoded", true
	}
	return "", false
}

// undecodable reports whether err is an item's failure to decode (and not,
// say, a refusal of the request, which would be ours).
func undecodable(err error) bool {
	var typ *attributevalue.UnmarshalTypeError
	var dec *attributevalue.UnmarshalError
	return errors.As(err, &typ) || errors.As(err, &dec)
}

// decodeEach decodes each item, leaving out one that does not decode
// (logged with its key, never its values, and counted as
// MetricItemsFailed): our own records (an index entry, a kept alert) in
// another shape, after a faulty release, must not stop every tenant's
// passes.
func decodeEach[T any](items []map[string]types.AttributeValue, what string) []T {
	out := make([]T, 0, len(items))
	for _, item := range items {
		var v T
		if err := attributevalue.UnmarshalMap(item, &v); err != nil {
			reason, _ := Poisoned(err)
			pk, _ := item["PK"].(*types.AttributeValueMemberS)
			sk, _ := item["SK"].(*types.AttributeValueMemberS)
			var k [2]string
			if pk != nil && sk != nil {
				k = [2]string{pk.Value, sk.Value}
			}
			metrics.Count(slog.Default(), MetricItemsFailed, what+" does not decode; skipped", "pk", k[0], "sk", k[1], "reason", reason)
			continue
		}
		out = append(out, v)
	}
	return out
}

// queryDecoded reads every page of a query, decoding each item (decodeEach).
func queryDecoded[T any](ctx context.Context, db dynamo.API, in *dynamodb.QueryInput, op, what string) ([]T, error) {
	p := dynamodb.NewQueryPaginator(db, in)
	var out []T
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, dynamo.Translate(op, err)
		}
		out = append(out, decodeEach[T](page.Items, what)...)
	}
	return out, nil
}

// poisoned is a failure known to be an item's alone.
type poisoned struct{ reason string }

func (p poisoned) Error() string { return p.reason }

// unreadable is the failure of an alert whose item or asset cannot be read
// into its data: the item's own, whatever the decoder's error.
func unreadable(err error) error {
	reason, ok := Poisoned(err)
	if !ok {
		reason = "the item cannot be read"
	}
	return poisoned{reason}
}
