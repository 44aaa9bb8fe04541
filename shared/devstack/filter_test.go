package devstack

import (
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// The stream's filter as the template sets it: the router sees changes of
// assets, maintenance records, incidents and documents, nothing else of
// AssetsTable.
func TestTemplateStreamFilter(t *testing.T) {
	tmpl, err := LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var filter EventFilter
	for _, e := range tmpl.Resources["StreamRouterFunction"].Properties["Events"].(map[string]any) {
		if ev := e.(map[string]any); ev["Type"] == "DynamoDB" {
			if filter, err = parseFilter(ev["Properties"].(map[string]any)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(filter) == 0 {
		t.Fatal("the template's stream event has no filter")
	}
	rec := func(name, sk string) events.DynamoDBEventRecord {
		r := events.DynamoDBEventRecord{EventName: name, Change: events.DynamoDBStreamRecord{Keys: map[string]events.DynamoDBAttributeValue{
			"PK": events.NewStringAttribute("TENANT#t#ASSET#a")}}}
		if sk != "" {
			r.Change.Keys["SK"] = events.NewStringAttribute(sk)
		}
		return r
	}
	for _, c := range []struct {
		rec  events.DynamoDBEventRecord
		want bool
	}{
		{rec("INSERT", "ASSET"), true},
		{rec("MODIFY", "ASSET"), true},
		{rec("REMOVE", "ASSET"), true},
		{rec("INSERT", "MAINT#m1"), true},
		{rec("MODIFY", "INCIDENT#i1"), true},
		{rec("REMOVE", "DOC#d1"), true},
		{rec("INSERT", "ASSETS"), false}, // a literal is whole, not a prefix
		{rec("INSERT", "EXTID#erp-1"), false},
		{rec("INSERT", "doc#d1"), false},
		{rec("INSERT", ""), false},
		{rec("UNKNOWN", "ASSET"), false},
	} {
		if got := filter.Passes(c.rec); got != c.want {
			t.Errorf("%s %v: passes %v, want %v", c.rec.EventName, c.rec.Change.Keys["SK"], got, c.want)
		}
	}
}

// A pattern using what the local poller cannot evaluate fails the start,
// rather than letting records through (or not) on a guess.
func TestFilterPatternsTheLocalPollerCannotEvaluate(t *testing.T) {
	for _, p := range []string{
		`{"eventName":[{"anything-but":["REMOVE"]}]}`,
		`{"dynamodb":{"NewImage":{"n":{"N":[{"numeric":[">",0]}]}}}}`,
		`{"eventName":"INSERT"}`,
		`{"eventName":[{"prefix":"IN","suffix":"T"}]}`,
		`not json`,
	} {
		props := map[string]any{"FilterCriteria": map[string]any{"Filters": []any{map[string]any{"Pattern": p}}}}
		if _, err := parseFilter(props); err == nil {
			t.Errorf("%s: accepted", p)
		}
	}
	if f, err := parseFilter(map[string]any{}); err != nil || !f.Passes(events.DynamoDBEventRecord{}) {
		t.Errorf("no FilterCriteria: %v, %v (want every record passed)", f, err)
	}
}
