// Package cost is what AWS bills us for, computed rather than guessed: the
// DynamoDB request units of an item as DynamoDB sizes it, the list prices
// the bench turns counts into dollars with, and a meter that counts the
// units real handlers consume against any DynamoDB endpoint (moto in the
// bench), so the bill per million events is measured through the code
// that runs in production.
package cost

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// KB is DynamoDB's kilobyte (its documentation: 1 KB = 1024 bytes).
const KB = 1024

// ItemSize is an item's size as DynamoDB computes it for capacity: the sum
// over its attributes of the name's UTF-8 bytes and the value's size.
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + ValueSize(v)
	}
	return n
}

// ValueSize is one value's size without its name: a string's UTF-8 bytes;
// a number's 1 byte per two significant digits plus 1; a binary's raw
// bytes; 1 for null or a Boolean; a list or map 3 bytes plus, for each
// element, its size and 1 byte (a map's names count too); a set the sum of
// its elements.
func ValueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return NumberSize(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += ValueSize(e) + 1
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for name, e := range v.Value {
			n += len(name) + ValueSize(e) + 1
		}
		return n
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += NumberSize(s)
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, b := range v.Value {
			n += len(b)
		}
		return n
	}
	return 0
}

// NumberSize is a number's size: leading and trailing zeros are trimmed,
// then 1 byte per two significant digits, plus 1.
func NumberSize(s string) int {
	s = strings.TrimLeft(s, "+-")
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		s = s[:i] // the exponent moves the point; it adds no digits
	}
	digits := strings.Trim(strings.Replace(s, ".", "", 1), "0")
	if digits == "" {
		return 1 // zero
	}
	return (len(digits)+1)/2 + 1
}

// WriteUnits is the write request units one write of an item of size
// bytes takes: one per started KB, at least one.
func WriteUnits(size int) int { return max(1, (size+KB-1)/KB) }

// ReadUnits is the read request units one strongly consistent read of
// size bytes takes: one per started 4 KB, at least one. An eventually
// consistent read takes half.
func ReadUnits(size int, consistent bool) float64 {
	u := float64(max(1, (size+4*KB-1)/(4*KB)))
	if !consistent {
		return u / 2
	}
	return u
}
