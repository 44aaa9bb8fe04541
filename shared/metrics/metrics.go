// Package metrics writes CloudWatch metrics as log lines in the embedded
// metric format (EMF): Lambda's log pipeline turns them into metrics, so a
// function counts things without calling CloudWatch.
package metrics

import (
	"log/slog"
	"time"
)

// Namespace holds every metric the functions write.
const Namespace = "UniAssetIntegrations"

// Count logs msg at warning level with attrs and counts one occurrence of
// the metric name (no dimensions: alarms watch the total).
func Count(log *slog.Logger, name, msg string, attrs ...any) {
	emf := map[string]any{
		"Timestamp": time.Now().UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace": Namespace, "Dimensions": [][]string{{}},
			"Metrics": []map[string]string{{"Name": name, "Unit": "Count"}},
		}},
	}
	log.Warn(msg, append(attrs, slog.Any("_aws", emf), slog.Int(name, 1))...)
}
