package delivery

import (
	"reflect"
	"strings"
	"testing"

	"github.com/uniasset/integrations/shared/keyschema"
)

// The record's index attribute is the one the ByResource index keys on.
func TestRecordTagsNameTheIndexAttribute(t *testing.T) {
	f, _ := reflect.TypeFor[Record]().FieldByName("ByResourcePK")
	if tag, _, _ := strings.Cut(f.Tag.Get("dynamodbav"), ","); tag != keyschema.ByResourcePK {
		t.Fatalf("Record.ByResourcePK is stored as %q, the index keys on %q", tag, keyschema.ByResourcePK)
	}
}
