package compact

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// payload is an asset.updated event of about half a kilobyte, as delivered.
const payload = `{"event":"asset.updated","timestamp":"2026-12-06T09:14:03.512Z","data":{"assetId":"01JEXQ8Z5M3N2V7K9R4T6Y8W0B",` +
	`"assetName":"Forklift 12 (north hall)","categoryName":"Vehicles","statusName":"In use","externalId":"SAP-100045",` +
	`"serialNumber":"FL-2019-88341","description":"Electric forklift, 2.5 t, yearly inspection by the vendor",` +
	`"warrantyExpiresAt":"2027-03-31T00:00:00.000Z","createdAt":"2026-11-02T08:00:00.000Z","updatedAt":"2026-12-06T09:14:03.512Z",` +
	`"version":7,"changedFields":["statusName","description"]}}`

func TestTextRoundTrips(t *testing.T) {
	for _, s := range []string{"", "ok", payload, strings.Repeat("é€𝄞", 3000), "\x00\xff not utf-8"} {
		av, err := attributevalue.Marshal(Text(s))
		if err != nil {
			t.Fatal(err)
		}
		var back Text
		if err := attributevalue.Unmarshal(av, &back); err != nil {
			t.Fatal(err)
		}
		if string(back) != s {
			t.Fatalf("%q came back as %q", s, back)
		}
	}
}

func TestTextIsStoredCompressedOnlyWhereThatIsShorter(t *testing.T) {
	av, _ := attributevalue.Marshal(Text("ok"))
	if s, ok := av.(*types.AttributeValueMemberS); !ok || s.Value != "ok" {
		t.Fatalf("a short text is stored as %#v, want the string itself", av)
	}
	av, _ = attributevalue.Marshal(Text(payload))
	b, ok := av.(*types.AttributeValueMemberB)
	if !ok {
		t.Fatalf("a payload is stored as %T, want binary", av)
	}
	// The point of the package: a half-kilobyte event takes well under half its room.
	if len(b.Value)*2 > len(payload) {
		t.Fatalf("a %d-byte payload packs to %d bytes, want under half", len(payload), len(b.Value))
	}
}

func TestRowsWrittenAsStringsStillRead(t *testing.T) {
	var back Text
	if err := attributevalue.Unmarshal(&types.AttributeValueMemberS{Value: payload}, &back); err != nil || string(back) != payload {
		t.Fatalf("a string attribute read as %q, %v", back, err)
	}
}

func TestDamagedValuesAreErrorsNotGarbage(t *testing.T) {
	packed := Pack(payload)
	for name, b := range map[string][]byte{
		"unknown version": append([]byte{9}, packed[1:]...),
		"cut short":       packed[:len(packed)/2],
	} {
		var back Text
		if err := attributevalue.Unmarshal(&types.AttributeValueMemberB{Value: b}, &back); err == nil {
			t.Errorf("%s: read as %q without an error", name, back)
		}
	}
	var back Text
	if err := attributevalue.Unmarshal(&types.AttributeValueMemberN{Value: "1"}, &back); err == nil {
		t.Error("a number read as text")
	}
}

func TestUnpackBoundsWhatItInflates(t *testing.T) {
	if _, err := Unpack(Pack(strings.Repeat("a", maxText+1))); err == nil {
		t.Fatal("a value inflating past the bound was read")
	}
}
