package alert

import (
	"testing"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/httpapi"
)

// Lead times are whole days however the number is written; anything else
// is refused under its own field.
func TestLeadTimesInput(t *testing.T) {
	for body, want := range map[string]int{`{"documentDays":14}`: 14, `{"documentDays":14.0}`: 14, `{"documentDays":1.4e1}`: 14, `{"documentDays":180}`: 180} {
		var in LeadsInput
		if err := httpapi.DecodeValid([]byte(body), &in, in.Validate); err != nil || in.DocumentDays == nil || int(*in.DocumentDays) != want {
			t.Errorf("%s: %v, %v", body, err, in.DocumentDays)
		}
	}
	for _, body := range []string{`{"documentDays":1.5}`, `{"documentDays":"7"}`, `{"documentDays":null}`, `{"documentDays":0}`,
		`{"documentDays":181}`, `{"documentDays":-1}`, `{"documentDays":1e300}`, `{"documentDays":true}`, `{"documentDays":[7]}`,
		`{"documentDays":0.99999999999999999}`, `{"documentDays":14.000000000000001}`, `{"documentDays":1e-400}`, `{"documentDays":1e999999999}`} {
		var in LeadsInput
		e, ok := apierror.From(httpapi.DecodeValid([]byte(body), &in, in.Validate))
		if !ok || len(e.Fields) != 1 || e.Fields[0].Field != "documentDays" {
			t.Errorf("%s: %+v", body, e)
		}
	}
}
