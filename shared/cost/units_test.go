package cost

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

// Sizes as DynamoDB's "Item sizes and formats" page states them.
func TestValueSizes(t *testing.T) {
	for _, c := range []struct {
		v    types.AttributeValue
		want int
	}{
		{s("Forklift"), 8},
		{s("Größe"), 7}, // UTF-8 bytes, not characters
		{n("123"), 3},   // 2 bytes for 3 digits, plus 1
		{n("0.0012300"), 3},
		{n("100"), 2}, // trailing zeros trimmed
		{n("-5.5"), 2},
		{n("1E10"), 2},
		{n("0"), 1},
		{n("1700000000000"), 2}, {n("1733475600123"), 8},
		{&types.AttributeValueMemberB{Value: []byte{1, 2, 3}}, 3},
		{&types.AttributeValueMemberBOOL{Value: true}, 1},
		{&types.AttributeValueMemberNULL{Value: true}, 1},
		{&types.AttributeValueMemberL{}, 3},
		{&types.AttributeValueMemberL{Value: []types.AttributeValue{s("a"), s("bc")}}, 3 + 2 + 3},
		{&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": s("v")}}, 3 + 1 + 1 + 1},
		{&types.AttributeValueMemberSS{Value: []string{"ab", "c"}}, 3},
	} {
		if got := ValueSize(c.v); got != c.want {
			t.Errorf("%#v: %d bytes, want %d", c.v, got, c.want)
		}
	}
	item := map[string]types.AttributeValue{"PK": s("TENANT#t1"), "count": n("42")}
	if got := ItemSize(item); got != 2+9+5+2 {
		t.Errorf("item: %d bytes, want 18 (names count)", got)
	}
}

// A write takes a unit per started KB, a strongly consistent read one per
// started 4 KB and an eventually consistent read half that; an item of
// exactly 1 KB is one unit, one byte more is two.
func TestUnitsRoundUp(t *testing.T) {
	exact := map[string]types.AttributeValue{"PK": s("x"), "body": s(strings.Repeat("a", KB-2-1-4))}
	if ItemSize(exact) != KB || WriteUnits(ItemSize(exact)) != 1 {
		t.Fatalf("a 1 KB item: %d bytes, %d WRU", ItemSize(exact), WriteUnits(ItemSize(exact)))
	}
	exact["body"] = s(strings.Repeat("a", KB-2-1-4+1))
	if WriteUnits(ItemSize(exact)) != 2 {
		t.Fatalf("1 KB + 1 byte: %d WRU, want 2", WriteUnits(ItemSize(exact)))
	}
	for _, c := range []struct {
		size       int
		consistent bool
		want       float64
	}{{0, true, 1}, {4 * KB, true, 1}, {4*KB + 1, true, 2}, {0, false, 0.5}, {9 * KB, false, 1.5}} {
		if got := ReadUnits(c.size, c.consistent); got != c.want {
			t.Errorf("read of %d bytes (consistent %v): %v RRU, want %v", c.size, c.consistent, got, c.want)
		}
	}
	if WriteUnits(0) != 1 || WriteUnits(3500) != 4 {
		t.Errorf("WRU of 0 and 3,500 bytes: %d, %d; want 1, 4", WriteUnits(0), WriteUnits(3500))
	}
}
