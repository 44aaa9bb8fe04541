package delivery

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/oklog/ulid/v2"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/parallel"
	"github.com/uniasset/integrations/shared/shardmark"
	"github.com/uniasset/integrations/shared/systemlog"
	"github.com/uniasset/integrations/shared/validate"
)

// Recovery bounds (Svix's recover is the anchor: 14 days, failed only, 10,000).
const (
	RecoveryWindow = 14 * 24 * time.Hour
	MaxRecovered   = 10_000
	// recoveryPage is how many deliveries one step of a recovery reads
	// from each shard: a step is one queue message, bounded in time.
	recoveryPage = 100
)

// Recovery states.
const (
	RecoveryRunning = "running"
	RecoveryDone    = "done"
)

// Recovery re-queues what a webhook missed: every delivery of it whose
// event time is in [Since, Until] and that ended failed, each once, up to
// MaxRecovered. It runs in steps on DeliveryQueue (a message per page, in
// its tenant's group, so a large one holds back no other tenant); this
// item is its progress, which the Owner reads.
type Recovery struct {
	ID        string `dynamodbav:"recoveryId" json:"id"`
	TenantID  string `dynamodbav:"tenantId" json:"-"`
	WebhookID string `dynamodbav:"webhookId" json:"webhookId"`
	Since     string `dynamodbav:"since" json:"since"`
	Until     string `dynamodbav:"until" json:"until"`
	State     string `dynamodbav:"state" json:"state"`
	// Scanned counts the deliveries read, Queued those sent again.
	Scanned int `dynamodbav:"scanned" json:"scanned"`
	Queued  int `dynamodbav:"queued" json:"queued"`
	// Truncated: MaxRecovered were queued before the window's end;
	// ResumeFrom is the event time to recover from next.
	Truncated  bool    `dynamodbav:"truncated" json:"truncated"`
	ResumeFrom *string `dynamodbav:"resumeFrom" json:"resumeFrom"`
	CreatedAt  string  `dynamodbav:"createdAt" json:"createdAt"`
	CreatedBy  string  `dynamodbav:"createdBy" json:"createdBy"`
	UpdatedAt  string  `dynamodbav:"updatedAt" json:"updatedAt"`
	FinishedAt *string `dynamodbav:"finishedAt" json:"finishedAt"`
	// Cursor is the sort key up to which every shard has been read.
	Cursor string `dynamodbav:"cursor" json:"-"`
	// Step counts the steps taken: a step's write is conditional on it, so
	// a message SQS delivers twice takes its step once.
	Step int `dynamodbav:"step" json:"-"`
}

// recoveryMessage is a step's queue message. Redrives counts the times
// DeliveryDLQ's sweep queued it again.
type recoveryMessage struct {
	Recovery struct {
		TenantID string `json:"tenantId"`
		ID       string `json:"id"`
		Redrives int    `json:"redrives,omitempty"`
	} `json:"recovery"`
}

// Recoveries keeps recoveries and runs their steps.
type Recoveries struct {
	Store *Store
	Queue *Queue
	Now   func() time.Time
	// Concurrency bounds the records a step re-opens at once.
	Concurrency int
	// Page, Max and Next are for tests: a step's read per shard (0:
	// recoveryPage), a recovery's cap (0: MaxRecovered), and what queues
	// the next step (nil: a message on Queue, which the dispatcher takes).
	Page, Max int
	Next      func(ctx context.Context, rec Recovery) error
	// Marks are the highest shard counts written (nil: Store.Shards), so
	// a lowered DeliveryShards hides no failed delivery from a recovery.
	Marks *shardmark.Store
}

// NewRecoveryID returns a fresh recovery id.
func NewRecoveryID() string { return "rcv_" + strings.ToLower(ulid.Make().String()) }

func recoveryKey(tenantID, id string) map[string]types.AttributeValue {
	return keyschema.Recovery(tenantID, id).Attrs()
}

// Start records a recovery with a System entry naming who asked for what,
// in one transaction, and queues its first step.
func (r *Recoveries) Start(ctx context.Context, rec Recovery, webhookName string) error {
	item, err := attributevalue.MarshalMap(rec)
	if err != nil {
		return err
	}
	for k, v := range recoveryKey(rec.TenantID, rec.ID) {
		item[k] = v
	}
	at, _ := isotime.Parse(rec.CreatedAt)
	entry, err := systemlog.Item(systemlog.Entry{
		TenantID: rec.TenantID, Event: systemlog.RecoveryStarted, ResourceType: "webhook", ResourceID: rec.WebhookID, ResourceName: webhookName,
		Status: RecoveryRunning, Details: fmt.Sprintf("%s: failed deliveries from %s to %s queued again, requested by %s", rec.ID, rec.Since, rec.Until, rec.CreatedBy),
	}, at, r.Store.Retention)
	if err != nil {
		return err
	}
	_, err = r.Store.DB.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(r.Store.Table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Put: &types.Put{TableName: aws.String(r.Store.Table), Item: entry, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
	}})
	if err != nil {
		return dynamo.Translate("start recovery", err)
	}
	return r.next(ctx, rec)
}

// next queues rec's next step.
func (r *Recoveries) next(ctx context.Context, rec Recovery) error {
	if r.Next != nil {
		return r.Next(ctx, rec)
	}
	var m recoveryMessage
	m.Recovery.TenantID, m.Recovery.ID = rec.TenantID, rec.ID
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = r.Queue.SQS.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(r.Queue.URL), MessageBody: aws.String(string(body)), MessageGroupId: aws.String(rec.TenantID),
	})
	return err
}

// Get reads a recovery of the tenant; NOT_FOUND if absent (or another webhook's).
func (r *Recoveries) Get(ctx context.Context, tenantID, webhookID, id string) (Recovery, error) {
	out, err := r.Store.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Store.Table), Key: recoveryKey(tenantID, id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Recovery{}, dynamo.Translate("read recovery", err)
	}
	var rec Recovery
	if out.Item == nil {
		return rec, apierror.New(apierror.NotFound, "no recovery %q", id)
	}
	if err := attributevalue.UnmarshalMap(out.Item, &rec); err != nil {
		return rec, err
	}
	if rec.WebhookID != webhookID {
		return Recovery{}, apierror.New(apierror.NotFound, "no recovery %q", id)
	}
	return rec, nil
}

// Step takes rec's next step: it reads each shard's failed deliveries after
// the cursor, re-opens those below the point every shard has been read to
// (oldest first, to the cap), queues them, and records the progress; then
// queues the step after, unless it is done.
func (r *Recoveries) Step(ctx context.Context, tenantID, id string) error {
	out, err := r.Store.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Store.Table), Key: recoveryKey(tenantID, id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return dynamo.Translate("read recovery", err)
	}
	var rec Recovery
	if out.Item == nil {
		return nil // a message without its recovery: nothing to do
	}
	if err := attributevalue.UnmarshalMap(out.Item, &rec); err != nil || rec.State != RecoveryRunning {
		return err
	}
	from := rec.Cursor
	if from == "" {
		from = rec.Since
	}
	until := rec.Until + "~" // every delivery of the last instant ("#" < "~")
	failed, covered, scanned, err := r.read(ctx, rec, from, until)
	if err != nil {
		return err
	}
	var take []Record
	for _, f := range failed {
		if f.SK <= covered {
			take = append(take, f)
		}
	}
	slices.SortFunc(take, func(a, b Record) int { return strings.Compare(a.SK, b.SK) })
	done := covered >= until
	if room := cmp.Or(r.Max, MaxRecovered) - rec.Queued; len(take) > room {
		// Capped: stop before the first one that does not fit, at its time.
		resume, _, _ := strings.Cut(take[room].SK, "#")
		rec.Truncated, rec.ResumeFrom, done = true, &resume, true
		take, covered = take[:room], take[room].SK
	}
	queued, err := r.reopen(ctx, rec, take)
	if err != nil {
		return err
	}
	now := isotime.Format(r.now())
	rec.Scanned += scanned
	rec.Queued += queued
	rec.Cursor, rec.UpdatedAt = covered, now
	if done {
		rec.State, rec.FinishedAt = RecoveryDone, &now
	}
	if err := r.save(ctx, rec); err != nil {
		return err
	}
	if done {
		return nil
	}
	rec.Step++
	return r.next(ctx, rec)
}

// Stop ends a running recovery whose steps keep failing (DeliveryDLQ's
// sweep, after MaxRedrives): it is done, truncated, and resumes from where
// every shard had been read, so the Owner can start the rest again.
func (r *Recoveries) Stop(ctx context.Context, tenantID, id string) error {
	out, err := r.Store.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.Store.Table), Key: recoveryKey(tenantID, id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return dynamo.Translate("read recovery", err)
	}
	var rec Recovery
	if out.Item == nil {
		return nil
	}
	if err := attributevalue.UnmarshalMap(out.Item, &rec); err != nil || rec.State != RecoveryRunning {
		return err
	}
	resume := rec.Since
	if rec.Cursor != "" {
		resume, _, _ = strings.Cut(rec.Cursor, "#")
	}
	now := isotime.Format(r.now())
	rec.State, rec.Truncated, rec.ResumeFrom, rec.FinishedAt, rec.UpdatedAt = RecoveryDone, true, &resume, &now, now
	return r.save(ctx, rec)
}

func (r *Recoveries) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// read queries every shard of the webhook's deliveries after from (up to
// until) for failed ones, a page each. covered is how far every shard has
// been read: the least of the pages' ends (until for a shard read to the end).
func (r *Recoveries) read(ctx context.Context, rec Recovery, from, until string) (failed []Record, covered string, scanned int, err error) {
	shards := max(r.Store.Shards, 1)
	if r.Marks != nil {
		shards = r.Marks.Read(ctx).Shards(shardmark.Deliveries, r.Store.Shards)
	}
	pages := make([][]Record, shards)
	ends := make([]string, shards)
	counts := make([]int, shards)
	err = parallel.Each(ctx, shards, shards, func(ctx context.Context, i int) error {
		out, err := r.Store.DB.Query(ctx, &dynamodb.QueryInput{
			TableName: aws.String(r.Store.Table), IndexName: aws.String(keyschema.ByResource),
			KeyConditionExpression:   aws.String("#pk = :pk AND SK BETWEEN :from AND :until"),
			FilterExpression:         aws.String("#status = :failed"),
			ExpressionAttributeNames: map[string]string{"#pk": keyschema.ByResourcePK, "#status": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk":     &types.AttributeValueMemberS{Value: keyschema.WebhookDeliveriesPK(rec.TenantID, rec.WebhookID, i)},
				":from":   &types.AttributeValueMemberS{Value: from + "\x00"}, // after the cursor
				":until":  &types.AttributeValueMemberS{Value: until},
				":failed": &types.AttributeValueMemberS{Value: Failed},
			},
			Limit: aws.Int32(int32(cmp.Or(r.Page, recoveryPage))),
		})
		if err != nil {
			return dynamo.Translate("read a webhook's deliveries", err)
		}
		counts[i] = int(out.ScannedCount)
		ends[i] = until
		if out.LastEvaluatedKey != nil {
			if sk, ok := out.LastEvaluatedKey["SK"].(*types.AttributeValueMemberS); ok {
				ends[i] = sk.Value
			}
		}
		return attributevalue.UnmarshalListOfMaps(out.Items, &pages[i])
	})
	if err != nil {
		return nil, "", 0, err
	}
	covered = slices.Min(ends)
	for i := range pages {
		failed = append(failed, pages[i]...)
		scanned += counts[i]
	}
	return failed, covered, scanned, nil
}

// reopen puts each failed delivery back to pending for a new round of the
// whole retry schedule, once per recovery (a step taken twice finds them
// marked), and queues those it re-opened.
func (r *Recoveries) reopen(ctx context.Context, rec Recovery, recs []Record) (int, error) {
	opened := make([]bool, len(recs))
	now := isotime.Format(r.now())
	err := parallel.Each(ctx, len(recs), max(r.Concurrency, 1), func(ctx context.Context, i int) error {
		// Not cancelled with the others when one fails: a write DynamoDB
		// made whose answer was cut off would leave its delivery pending
		// and never queued.
		_, err := r.Store.DB.UpdateItem(context.WithoutCancel(ctx), &dynamodb.UpdateItemInput{
			TableName: aws.String(r.Store.Table), Key: recs[i].Key().attrs(r.Store.Shards),
			UpdateExpression:         aws.String("SET #status = :pending, roundFrom = attempts, recoveredBy = :id, updatedAt = :now REMOVE roundAttempts, nextAttemptAt, inFlightUntil, redrives"),
			ConditionExpression:      aws.String("#status = :failed AND (attribute_not_exists(recoveredBy) OR recoveredBy <> :id)"),
			ExpressionAttributeNames: map[string]string{"#status": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pending": &types.AttributeValueMemberS{Value: Pending}, ":failed": &types.AttributeValueMemberS{Value: Failed},
				":id": &types.AttributeValueMemberS{Value: rec.ID}, ":now": &types.AttributeValueMemberS{Value: now},
			},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if held, refused := dynamo.Refused(err); refused {
			// Resent, recovered or delivered meanwhile; or re-opened by
			// this recovery in an earlier try of this step whose queueing
			// failed: still unattempted, it is queued again (a second
			// message for a delivery is harmless: each attempt is claimed once).
			var cur Record
			if held != nil && attributevalue.UnmarshalMap(held, &cur) == nil {
				opened[i] = cur.Status == Pending && cur.RecoveredBy == rec.ID && cur.Attempts == cur.RoundFrom && cur.InFlightUntil == ""
			}
			return nil
		}
		opened[i] = err == nil
		return dynamo.Translate("recover delivery", err)
	})
	// What was re-opened is queued even if another record failed to open:
	// the step's retry would not find it failed again, and it would wait
	// pending with no message.
	var keys []Key
	for i, ok := range opened {
		if ok {
			keys = append(keys, recs[i].Key())
		}
	}
	enq := &Enqueuer{Store: r.Store, Queue: r.Queue, Now: r.now}
	if serr := enq.SendOrEnd(ctx, keys, "the recovery could not queue it; recover it again"); serr != nil {
		return 0, serr
	}
	return len(keys), err
}

// save writes rec's progress over the step it read (an UpdateItem: the
// dispatcher may not put items in a tenant's partition).
func (r *Recoveries) save(ctx context.Context, rec Recovery) error {
	values := map[string]types.AttributeValue{
		":step": &types.AttributeValueMemberN{Value: strconv.Itoa(rec.Step)}, ":next": &types.AttributeValueMemberN{Value: strconv.Itoa(rec.Step + 1)},
	}
	names := map[string]string{"#step": "step"}
	var set []string
	for _, f := range []struct {
		name  string
		value any
	}{
		{"scanned", rec.Scanned}, {"queued", rec.Queued}, {"truncated", rec.Truncated}, {"resumeFrom", rec.ResumeFrom},
		{"cursor", rec.Cursor}, {"updatedAt", rec.UpdatedAt}, {"state", rec.State}, {"finishedAt", rec.FinishedAt},
	} {
		av, err := attributevalue.Marshal(f.value)
		if err != nil {
			return err
		}
		names["#"+f.name], values[":"+f.name] = f.name, av
		set = append(set, "#"+f.name+" = :"+f.name)
	}
	_, err := r.Store.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(r.Store.Table), Key: recoveryKey(rec.TenantID, rec.ID),
		UpdateExpression:    aws.String("SET " + strings.Join(set, ", ") + ", #step = :next"),
		ConditionExpression: aws.String("#step = :step"), ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	})
	if dynamo.ConditionFailed(err) {
		return nil // another copy of this step's message took it
	}
	return dynamo.Translate("record recovery progress", err)
}

// RecoverInput is the body of POST /webhooks/{id}/recover.
type RecoverInput struct {
	Since string  `json:"since"`
	Until *string `json:"until"`
}

// Window checks the body against now and returns the window as the
// delivery records' times write it: since at most RecoveryWindow back,
// until (default now) after since and not in the future.
func (in RecoverInput) Window(now time.Time) (since, until string, err error) {
	var p validate.Problems
	s, serr := isotime.Parse(in.Since)
	switch {
	case in.Since == "":
		p.Add("since", "is required: an ISO 8601 time at most 14 days ago")
	case serr != nil:
		p.Add("since", "must be an ISO 8601 time such as 2026-12-01T00:00:00Z")
	case s.Before(now.Add(-RecoveryWindow)):
		p.Add("since", "must be at most 14 days ago")
	case s.After(now):
		p.Add("since", "must not be in the future")
	}
	u := now
	if in.Until != nil {
		var uerr error
		if u, uerr = isotime.Parse(*in.Until); uerr != nil {
			p.Add("until", "must be an ISO 8601 time such as 2026-12-02T00:00:00Z")
		} else if u.After(now) {
			u = now // the future holds nothing to recover yet
		} else if serr == nil && !u.After(s) {
			p.Add("until", "must be after since")
		}
	}
	if err := p.Err(); err != nil {
		return "", "", err
	}
	return isotime.Format(s), isotime.Format(u), nil
}
