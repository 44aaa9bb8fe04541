package metrics

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
)

// A count is one EMF line whose one dimension is the stack, with the
// stack's name in the line (EMF reads dimension values from the line).
func TestCountWritesAnEMFLine(t *testing.T) {
	SetStack("uniasset-prod")
	var buf bytes.Buffer
	Count(slog.New(slog.NewJSONHandler(&buf, nil)), "MissingDeliveryRecords", "delivery record missing", "deliveryId", "msg_1")
	var line struct {
		Level string `json:"level"`
		Msg   string `json:"msg"`
		ID    string `json:"deliveryId"`
		Value int    `json:"MissingDeliveryRecords"`
		Stack string `json:"Stack"`
		AWS   struct {
			Timestamp int64 `json:"Timestamp"`
			Metrics   []struct {
				Namespace  string     `json:"Namespace"`
				Dimensions [][]string `json:"Dimensions"`
				Metrics    []struct{ Name, Unit string }
			} `json:"CloudWatchMetrics"`
		} `json:"_aws"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	m := line.AWS.Metrics
	if line.Level != "WARN" || line.ID != "msg_1" || line.Value != 1 || line.AWS.Timestamp == 0 || len(m) != 1 ||
		line.Stack != "uniasset-prod" || len(m[0].Dimensions) != 1 || len(m[0].Dimensions[0]) != 1 || m[0].Dimensions[0][0] != "Stack" ||
		m[0].Namespace != Namespace || len(m[0].Metrics) != 1 || m[0].Metrics[0].Name != "MissingDeliveryRecords" || m[0].Metrics[0].Unit != "Count" {
		t.Fatalf("not an EMF count: %s", buf.Bytes())
	}
}
