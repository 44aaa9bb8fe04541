package entra

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/uniasset/integrations/shared/sqsbatch"
	"github.com/uniasset/integrations/shared/tenant"
)

// Job is one tenant's sync, as a queue message.
type Job struct {
	TenantID string `json:"tenantId"`
	Reason   string `json:"reason"` // schedule, manual, connect, approval
}

// SQSAPI is the queue calls jobs make.
type SQSAPI = sqsbatch.API

// Jobs queues syncs on EntraSyncQueue.
type Jobs struct {
	SQS SQSAPI
	URL string
}

// Enqueue queues one sync per tenant.
func (j *Jobs) Enqueue(ctx context.Context, reason string, tenantIDs ...string) error {
	return j.enqueue(ctx, reason, 0, tenantIDs...)
}

// retryBusy is how long a job that found another sync running waits.
const retryBusy = 30 * time.Second

func (j *Jobs) enqueue(ctx context.Context, reason string, delay time.Duration, tenantIDs ...string) error {
	jobs := make([]Job, len(tenantIDs))
	for i, t := range tenantIDs {
		jobs[i] = Job{TenantID: t, Reason: reason}
	}
	return sqsbatch.Send(ctx, j.SQS, j.URL, "queue entra syncs", jobs, delay, func(j Job) string { return j.TenantID })
}

// Function is EntraSyncFunction: on the schedule it queues one job per
// connected tenant (so thousands fit in a tick, and one tenant's failure
// does not stop the others); from the queue it runs each job's sync.
type Function struct {
	Syncer *Syncer
	Jobs   *Jobs
}

// Handle takes either event: an SQS batch, or the schedule's invocation.
func (f *Function) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err == nil && len(ev.Records) > 0 && ev.Records[0].EventSource == "aws:sqs" {
		return f.HandleSQS(ctx, ev)
	}
	n, err := f.FanOut(ctx)
	return map[string]int{"queued": n}, err
}

// FanOut queues a sync for every connected tenant and returns how many.
func (f *Function) FanOut(ctx context.Context) (int, error) {
	n := 0
	err := f.Syncer.Store.Scheduled(ctx, func(ids []string) error {
		n += len(ids)
		return f.Jobs.Enqueue(ctx, "schedule", ids...)
	})
	slog.Info("entra sync: schedule fanned out", "tenants", n)
	return n, err
}

// HandleSQS runs each job; a job whose sync failed for a reason of ours
// (the store) is reported failed, so SQS retries it and, after
// maxReceiveCount, moves it to the DLQ. A directory Microsoft would not
// let it read is not a failed job: the connection says so, and the next
// tick tries again.
func (f *Function) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, m := range ev.Records {
		var j Job
		if err := json.Unmarshal([]byte(m.Body), &j); err != nil || !tenant.ValidID(j.TenantID) {
			slog.Error("entra sync: dropping a malformed job", "messageId", m.MessageId)
			continue
		}
		out, err := f.Syncer.Sync(ctx, j.TenantID)
		if err == nil && out.Busy && j.Reason != "schedule" {
			// "Sync now" (or a connect, an approval) while another sync runs:
			// that one may have read the directory before the change the
			// Owner is waiting for, so this job runs again after it.
			err = f.Jobs.enqueue(ctx, j.Reason, retryBusy, j.TenantID)
		}
		if err != nil {
			slog.Error("entra sync failed; the job is retried", "tenant", j.TenantID, "error", err.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			continue
		}
		slog.Info("entra sync", "tenant", j.TenantID, "reason", j.Reason, "ran", out.Ran, "outcome", out.Result.Outcome,
			"provisioned", out.Result.Provisioned, "roleChanges", out.Result.RoleChanges, "deprovisioned", out.Result.Deprovisioned, "held", out.Result.Held)
	}
	return resp, nil
}
