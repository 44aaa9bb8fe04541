package httpapi

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/uniasset/integrations/shared/apierror"
)

type fuzzBody struct {
	Name    string            `json:"name"`
	Count   *float64          `json:"count"`
	Events  []string          `json:"events"`
	Headers map[string]string `json:"headers"`
	Flag    *bool             `json:"flag"`
}

// Whatever the bytes, decoding answers nil or a VALIDATION_ERROR naming at
// least one field; what it accepts is valid UTF-8 JSON that encoding/json
// reads to the same value.
func FuzzDecodeStrict(f *testing.F) {
	for _, seed := range []string{
		`{"name":"a","count":1,"events":["x"],"headers":{"A":"b"},"flag":true}`,
		`{"name":"a","name":"b"}`, `{"NAME":"a"}`, `{"headers":{"A":"1","A":"2"}}`, "{\"name\":\"\xff\"}",
		`{"count":1e999}`, `{"events":[1,2]}`, `[]`, `null`, ``, `{"name":"a"} x`, `{"name":"\ud800"}`,
		`{"extra":1,"count":"2","name":7}`, `{"name":"a\u0000"}`, " \t\n{}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got fuzzBody
		err := DecodeValid(body, &got, nil)
		if err != nil {
			e, ok := apierror.From(err)
			if !ok || e.Code != apierror.Validation || len(e.Fields) == 0 {
				t.Fatalf("%q: %v is not a VALIDATION_ERROR with fields", body, err)
			}
			for _, fe := range e.Fields {
				if fe.Field == "" || fe.Issue == "" || !utf8.ValidString(fe.Field) {
					t.Fatalf("%q: empty or invalid problem %+v", body, fe)
				}
			}
			return
		}
		if !utf8.Valid(body) {
			t.Fatalf("accepted invalid UTF-8: %q", body)
		}
		var std fuzzBody
		if err := json.Unmarshal(body, &std); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", body, err)
		}
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(std)
		if string(a) != string(b) {
			t.Fatalf("%q read as %s, encoding/json reads %s", body, a, b)
		}
	})
}
