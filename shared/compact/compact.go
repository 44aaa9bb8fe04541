// Package compact stores long text in DynamoDB as a compressed binary
// attribute. DynamoDB bills a write per started kilobyte of the whole item,
// before and after it, and again for each index the item is projected into,
// whatever the write changes: a delivery's payload is paid for on every
// attempt's update, and a call row's bodies once in the table and once in
// the index. Deflated, a JSON body of half a kilobyte takes about a third of
// the room, and the request and response of one call (which repeat each
// other's fields) little more than one of them.
//
// The stored form is a version byte and a raw deflate stream primed with a
// dictionary of the words our payloads and headers are made of (so that even
// a short body compresses). Text is kept as a plain string attribute where
// compressing would not make it smaller, and a string attribute (what rows
// written before this package hold) reads back as it is.
package compact

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// version1 is the first byte of a value deflated with dictionary1. The
// dictionary is part of the stored format: a change to it is a new version,
// and every version stays readable.
const version1 = 1

// dictionary1 primes the compressor with what a payload, a call's headers
// and our answers are made of, the likeliest last (deflate finds nearer
// matches with shorter codes).
var dictionary1 = []byte(`text/html; charset=utf-8 <html><head><title></title></head><body></body></html>` +
	`"x-amzn-trace-id":"Root=1-","x-forwarded-proto":"https","x-forwarded-port":"443","x-forwarded-for":"",` +
	`"accept-encoding":"gzip, deflate, br","accept":"*/*","connection":"keep-alive","content-length":"",` +
	`"user-agent":"","idempotency-key":"","host":"","authorization":"[REDACTED]","content-type":"application/json",` +
	`{"error":{"code":"VALIDATION_ERROR","message":"","details":[{"field":"","issue":""}]}}` +
	`"warrantyExpiresAt":"","serialNumber":"","description":"","documentId":"","maintenanceId":"","performedAt":"",` +
	`"dueAt":"","title":"","type":"","expiresAt":"","geoPosition":{"latitude":,"longitude":,"accuracy":,"recordedAt":""},` +
	`"previousGeoPosition":null,"assignment":{"userId":"","departmentId":"","assignedAt":""},"previousAssignment":null,` +
	`"changedFields":["statusName","assetName"],"version":1,"status":"","name":"",` +
	`{"event":"asset.created","timestamp":"2026-12-06T00:00:00.000Z","data":{"assetId":"","assetName":"",` +
	`"categoryName":"","statusName":"","externalId":"","createdAt":"2026-12-06T00:00:00.000Z","updatedAt":"2026-12-06T00:00:00.000Z"}}`)

// Text is a string stored compressed where that makes it smaller.
type Text string

var writers = sync.Pool{New: func() any {
	w, err := flate.NewWriterDict(io.Discard, flate.BestCompression, dictionary1)
	if err != nil {
		panic(err) // only for a bad level
	}
	return w
}}

// Pack returns s compressed, with its version byte.
func Pack(s string) []byte {
	var buf bytes.Buffer
	buf.Grow(len(s)/2 + 16)
	buf.WriteByte(version1)
	w := writers.Get().(*flate.Writer)
	defer writers.Put(w)
	w.Reset(&buf)
	_, _ = w.Write([]byte(s)) // writes to a bytes.Buffer do not fail
	_ = w.Close()
	return buf.Bytes()
}

// maxText bounds what a stored value may inflate to: the largest item
// DynamoDB holds is 400 KB, and nothing we store is longer than its body.
const maxText = 4 << 20

// Unpack reverses Pack.
func Unpack(b []byte) (string, error) {
	if len(b) == 0 {
		return "", nil
	}
	if b[0] != version1 {
		return "", fmt.Errorf("compact: unknown version %d", b[0])
	}
	r := flate.NewReaderDict(bytes.NewReader(b[1:]), dictionary1)
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, maxText+1))
	if err != nil {
		return "", fmt.Errorf("compact: %w", err)
	}
	if len(out) > maxText {
		return "", errors.New("compact: value too long")
	}
	return string(out), nil
}

// MarshalDynamoDBAttributeValue stores t deflated, or as a string where
// that is no longer.
func (t Text) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) {
	if len(t) > 0 {
		if b := Pack(string(t)); len(b) < len(t) {
			return &types.AttributeValueMemberB{Value: b}, nil
		}
	}
	return &types.AttributeValueMemberS{Value: string(t)}, nil
}

// UnmarshalDynamoDBAttributeValue reads either form.
func (t *Text) UnmarshalDynamoDBAttributeValue(av types.AttributeValue) error {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		*t = Text(v.Value)
	case *types.AttributeValueMemberB:
		s, err := Unpack(v.Value)
		if err != nil {
			return err
		}
		*t = Text(s)
	case *types.AttributeValueMemberNULL:
		*t = ""
	default:
		return fmt.Errorf("compact: a %T is not text", av)
	}
	return nil
}
