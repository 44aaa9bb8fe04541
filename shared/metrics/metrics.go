// Package metrics writes CloudWatch metrics as log lines in the embedded
// metric format (EMF): Lambda's log pipeline turns them into metrics, so a
// function counts things without calling CloudWatch.
package metrics

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// Namespace holds every metric the functions write.
const Namespace = "UniAssetIntegrations"

// Dimension is every metric's one dimension: the stack that wrote it, so
// two stacks in one account (dev and prod) keep their counts, and their
// alarms, apart. Alarms watch the total of their own stack.
const Dimension = "Stack"

var stack atomic.Pointer[string]

// SetStack names the stack this process belongs to (boot, at cold start,
// from STACK_NAME).
func SetStack(name string) { stack.Store(&name) }

// Count logs msg at warning level with attrs and counts one occurrence of
// the metric name under this process's stack.
func Count(log *slog.Logger, name, msg string, attrs ...any) {
	s := "unknown" // never set: a test, or a tool outside a function
	if p := stack.Load(); p != nil && *p != "" {
		s = *p
	}
	emf := map[string]any{
		"Timestamp": time.Now().UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace": Namespace, "Dimensions": [][]string{{Dimension}},
			"Metrics": []map[string]string{{"Name": name, "Unit": "Count"}},
		}},
	}
	log.Warn(msg, append(attrs, slog.Any("_aws", emf), slog.String(Dimension, s), slog.Int(name, 1))...)
}
