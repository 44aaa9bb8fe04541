package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/asset"
	"github.com/uniasset/integrations/shared/dynamo"
	"github.com/uniasset/integrations/shared/idempotency"
	"github.com/uniasset/integrations/shared/keyschema"
	"github.com/uniasset/integrations/shared/tenant"
)

func TestIdempotencyKey(t *testing.T) {
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, allPermissions...)
	body := map[string]any{"name": "Sensor 1", "categoryName": "IoT", "statusName": "ACTIVE"}

	first := call(t, "POST", "/api/integrations/assets/create", key, body, "Idempotency-Key", "dev-42-reading-1")
	expect(t, first, 201, "")
	retry := call(t, "POST", "/api/integrations/assets/create", key, body, "Idempotency-Key", "dev-42-reading-1")
	expect(t, retry, 201, "")
	if string(retry.Body) != string(first.Body) || retry.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry was not a replay:\n%s\n%s", first.Body, retry.Body)
	}
	changed := map[string]any{"name": "Sensor 2", "categoryName": "IoT", "statusName": "ACTIVE"}
	expect(t, call(t, "POST", "/api/integrations/assets/create", key, changed, "Idempotency-Key", "dev-42-reading-1"), 409, "IDEMPOTENCY_CONFLICT")
	expect(t, call(t, "POST", "/api/integrations/assets/create", key, body, "Idempotency-Key", strings.Repeat("k", 256)), 400, "VALIDATION_ERROR")
	expect(t, call(t, "POST", "/api/integrations/assets/create", key, body, "Idempotency-Key", "has space"), 400, "VALIDATION_ERROR")
	if n := tenantAssetCount(t, tid); n != 1 {
		t.Fatalf("want 1 asset, found %d", n)
	}

	// A failed request is not stored: after fixing what failed, the same key runs.
	bad := map[string]any{"assetId": "asset_missing", "title": "t"}
	expect(t, call(t, "POST", "/api/integrations/assets/maintenance", key, bad, "Idempotency-Key", "m-1"), 404, "NOT_FOUND")
	expect(t, call(t, "POST", "/api/integrations/assets/maintenance", key, bad, "Idempotency-Key", "m-1"), 404, "NOT_FOUND")

	// Eight devices' worth of concurrent retries of one request make one asset.
	burst := map[string]any{"name": "Burst", "categoryName": "IoT", "statusName": "ACTIVE"}
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	bodies := make([]string, 8)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := call(t, "POST", "/api/integrations/assets/create", key, burst, "Idempotency-Key", "burst-1")
			statuses[i], bodies[i] = r.Status, string(r.Body)
		}()
	}
	wg.Wait()
	var assetBody string
	for i, s := range statuses {
		switch s {
		case 201:
			if assetBody != "" && bodies[i] != assetBody {
				t.Fatalf("two different successes for one key:\n%s\n%s", assetBody, bodies[i])
			}
			assetBody = bodies[i]
		case 409:
			if !strings.Contains(bodies[i], "IDEMPOTENCY_IN_PROGRESS") {
				t.Fatalf("unexpected 409: %s", bodies[i])
			}
		default:
			t.Fatalf("status %d: %s", s, bodies[i])
		}
	}
	if n := tenantAssetCount(t, tid); n != 2 {
		t.Fatalf("want 2 assets after the burst, found %d", n)
	}
}

func TestIdempotencyLeaseAndExpiry(t *testing.T) {
	ctx := context.Background()
	s := &idempotency.Store{DB: stack.DB, Table: stack.IntegrationsTable, TTL: 24 * time.Hour}
	tid := newTenant(t, tenant.Enterprise)
	t0 := time.Now()

	claim, stored, err := s.Begin(ctx, tid, "k1", "fp-a", t0)
	if err != nil || claim == nil || stored != nil {
		t.Fatalf("first Begin: %v %v %v", claim, stored, err)
	}
	if _, _, err := s.Begin(ctx, tid, "k1", "fp-a", t0.Add(time.Second)); codeOf(err) != "IDEMPOTENCY_IN_PROGRESS" {
		t.Fatalf("concurrent Begin: %v", err)
	}
	if _, _, err := s.Begin(ctx, tid, "k1", "fp-b", t0.Add(time.Second)); codeOf(err) != "IDEMPOTENCY_CONFLICT" {
		t.Fatalf("different request: %v", err)
	}
	// The holder died: after the lease a retry of the same request takes over...
	taken, _, err := s.Begin(ctx, tid, "k1", "fp-a", t0.Add(idempotency.Lease+time.Second))
	if err != nil || taken == nil {
		t.Fatalf("takeover: %v", err)
	}
	// ...and the old holder can no longer store its result over the new one's.
	if err := claim.Complete(ctx, idempotency.Response{Status: 201, Body: "stale"}); err != nil {
		t.Fatal(err)
	}
	if err := taken.Complete(ctx, idempotency.Response{Status: 201, Body: "fresh"}); err != nil {
		t.Fatal(err)
	}
	_, stored, err = s.Begin(ctx, tid, "k1", "fp-a", t0.Add(time.Hour))
	if err != nil || stored == nil || stored.Body != "fresh" {
		t.Fatalf("replay after completion: %+v %v", stored, err)
	}
	// After 24 h the key is free again, even before DynamoDB's TTL sweep removes it.
	if c, _, err := s.Begin(ctx, tid, "k1", "fp-b", t0.Add(25*time.Hour)); err != nil || c == nil {
		t.Fatalf("expired key not reusable: %v", err)
	}
}

func codeOf(err error) string {
	if err == nil {
		return ""
	}
	e, _ := apierror.From(err)
	return string(e.Code)
}

// loseResponse puts a key's record back to what a run that wrote and then
// died (or failed to store its response) leaves: a claim whose lease is over.
func loseResponse(t *testing.T, tenantID, idem string) {
	t.Helper()
	out, err := stack.DB.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String(stack.IntegrationsTable),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: idempotencyPK(tenantID, idem)}, "SK": &types.AttributeValueMemberS{Value: "-"},
		},
		UpdateExpression:          aws.String("SET #state = :p, leaseUntil = :zero REMOVE #status, body"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames:  map[string]string{"#state": "state", "#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "in_progress"}, ":zero": &types.AttributeValueMemberN{Value: "0"}},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		t.Fatal(err)
	}
	if str(out.Attributes["applied"]) == "" {
		t.Fatal("the write did not mark the key's record as applied")
	}
}

// A process that created the asset but died before storing the response
// leaves a claim. The retry takes it over and must find the asset, not make a second.
func TestIdempotentCreateSurvivesALostResponse(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, allPermissions...)
	for i, body := range []map[string]any{
		{"name": "Gateway 9", "categoryName": "IoT", "statusName": "ACTIVE"},
		{"name": "Gateway 10", "categoryName": "IoT", "statusName": "ACTIVE", "externalId": "GW-10"},
	} {
		idem := fmt.Sprintf("boot-%d", i)
		first := call(t, "POST", "/api/integrations/assets/create", key, body, "Idempotency-Key", idem)
		expect(t, first, 201, "")
		// The record is stored under the key's hash, never the key itself.
		if pk := idempotencyPK(tid, idem); strings.Contains(pk, idem) {
			t.Fatalf("the idempotency key is in the table key in clear: %s", pk)
		}
		loseResponse(t, tid, idem)
		retry := call(t, "POST", "/api/integrations/assets/create", key, body, "Idempotency-Key", idem)
		expect(t, retry, 201, "")
		if retry.Header.Get("Idempotent-Replayed") != "" {
			t.Fatal("replayed from a response that was never stored")
		}
		if retry.json(t)["assetId"] != first.json(t)["assetId"] {
			t.Fatalf("retry made a different asset: %s vs %s", retry.Body, first.Body)
		}
	}
	if n := tenantAssetCount(t, tid); n != 2 {
		t.Fatalf("want 2 assets, found %d", n)
	}
}

// Records live 24 hours: the same key and body sent after that is a new
// request, and creates a new asset (the id comes from the record, not the key).
func TestAKeyUsedAgainAfterItsRecordExpiredCreatesAnew(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, allPermissions...)
	body := map[string]any{"name": "Daily", "categoryName": "IoT", "statusName": "ACTIVE"}
	first := call(t, "POST", "/api/integrations/assets/create", key, body, "Idempotency-Key", "daily-job")
	expect(t, first, 201, "")
	if _, err := stack.DB.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String(stack.IntegrationsTable),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: idempotencyPK(tid, "daily-job")}, "SK": &types.AttributeValueMemberS{Value: "-"},
		},
		UpdateExpression:          aws.String("SET expiresAt = :past"), // what TTL deletes, lazily
		ExpressionAttributeValues: map[string]types.AttributeValue{":past": &types.AttributeValueMemberN{Value: "1"}},
	}); err != nil {
		t.Fatal(err)
	}
	again := call(t, "POST", "/api/integrations/assets/create", key, body, "Idempotency-Key", "daily-job")
	expect(t, again, 201, "")
	if again.Header.Get("Idempotent-Replayed") != "" || again.json(t)["assetId"] == first.json(t)["assetId"] {
		t.Fatalf("a key used again after its record expired was answered from the old one: %s", again.Body)
	}
	if n := tenantAssetCount(t, tid); n != 2 {
		t.Fatalf("want 2 assets, found %d", n)
	}
}

// The same for a maintenance record: a retry after the stored response was
// lost finds the record the first run wrote instead of adding a second.
func TestIdempotentMaintenanceSurvivesLostRecord(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, allPermissions...)
	a := createAsset(t, key, nil)
	body := map[string]any{"assetId": a["assetId"], "title": "Oil change", "dueAt": "2027-01-10"}
	first := call(t, "POST", "/api/integrations/assets/maintenance", key, body, "Idempotency-Key", "mnt-retry-1")
	expect(t, first, 201, "")
	loseResponse(t, tid, "mnt-retry-1")
	retry := call(t, "POST", "/api/integrations/assets/maintenance", key, body, "Idempotency-Key", "mnt-retry-1")
	expect(t, retry, 201, "")
	if retry.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("the retry was replayed from a record that was deleted")
	}
	if retry.json(t)["maintenanceId"] != first.json(t)["maintenanceId"] {
		t.Fatalf("retry made a different record: %s vs %s", retry.Body, first.Body)
	}
	out, err := stack.DB.Query(context.Background(), &dynamodb.QueryInput{
		TableName:              aws.String(stack.AssetsTable),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :m)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: assetItem(t, tid, a["assetId"].(string))["PK"].(*types.AttributeValueMemberS).Value},
			":m":  &types.AttributeValueMemberS{Value: "MAINT#"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 1 {
		t.Fatalf("want 1 maintenance record, found %d", len(out.Items))
	}
}

// An update, assignment or position whose response was lost after it was
// written (the process died, or storing the response failed) is not applied
// a second time by the retry: the write recorded itself on the claim in the
// same transaction, and the retry answers with the asset as it is.
func TestIdempotentWritesAreNotAppliedTwiceAfterALostResponse(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, allPermissions...)
	id := createAsset(t, key, nil)["assetId"]
	for i, c := range []struct {
		path string
		body map[string]any
	}{
		{"/api/integrations/assets/update", map[string]any{"assetId": id, "statusName": "IN_REPAIR"}},
		{"/api/integrations/assets/assignment", map[string]any{"assetId": id, "userId": "user_7"}},
		{"/api/integrations/assets/geo-position", map[string]any{"assetId": id, "latitude": 52.5, "longitude": 13.4}},
	} {
		idem := fmt.Sprintf("lost-response-%d", i)
		first := call(t, "POST", c.path, key, c.body, "Idempotency-Key", idem)
		expect(t, first, 200, "")
		version := first.json(t)["version"]
		loseResponse(t, tid, idem) // the response was never stored; the record is a claim whose holder is gone
		retry := call(t, "POST", c.path, key, c.body, "Idempotency-Key", idem)
		expect(t, retry, 200, "")
		if retry.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("%s: replayed from a response that was never stored", c.path)
		}
		if got := retry.json(t)["version"]; got != version {
			t.Fatalf("%s: the retry wrote again: version %v after the first run's %v", c.path, got, version)
		}
		if stored := str(assetItem(t, tid, id.(string))["version"]); fmt.Sprint(version) != stored {
			t.Fatalf("%s: stored version %s, want %v", c.path, stored, version)
		}
		again := call(t, "POST", c.path, key, c.body, "Idempotency-Key", idem)
		if again.Header.Get("Idempotent-Replayed") != "true" || again.json(t)["version"] != version {
			t.Fatalf("%s: the retry's answer was not stored for the next one: %s", c.path, again.Body)
		}
	}
}

// A run whose claim a retry has taken over (its lease ran out) cannot write:
// its transaction carries the claim's token.
func TestAWriteUnderATakenOverClaimChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, allPermissions...)
	id := createAsset(t, key, nil)["assetId"].(string)
	store := &idempotency.Store{DB: stack.DB, Table: stack.IntegrationsTable, TTL: time.Hour}
	assets := &asset.Store{DB: stack.DB, Table: stack.AssetsTable}
	t0 := time.Now()
	slow, _, err := store.Begin(ctx, tid, "taken-over", "fp", t0)
	if err != nil {
		t.Fatal(err)
	}
	retry, _, err := store.Begin(ctx, tid, "taken-over", "fp", t0.Add(idempotency.Lease+time.Second))
	if err != nil || retry == nil || retry.Applied != "" {
		t.Fatalf("takeover: %+v %v", retry, err)
	}
	name := "late write"
	m := slow.Mark(id)
	if _, err := assets.Update(ctx, tid, id, "apikey:x", asset.UpdateInput{Name: &name}, &m); !errors.Is(err, asset.ErrClaimLost) {
		t.Fatalf("a write under a lost claim: %v, want ErrClaimLost", err)
	}
	if got := str(assetItem(t, tid, id)["assetName"]); got == name {
		t.Fatal("the write under a lost claim was applied")
	}
	m = retry.Mark(id)
	if _, err := assets.Update(ctx, tid, id, "apikey:x", asset.UpdateInput{Name: &name}, &m); err != nil {
		t.Fatalf("the holder's write: %v", err)
	}
	again, _, err := store.Begin(ctx, tid, "taken-over", "fp", t0.Add(2*idempotency.Lease+2*time.Second))
	if err != nil || again == nil || again.Applied != id {
		t.Fatalf("a later takeover must learn the write happened: %+v %v", again, err)
	}
}

// lostAnswers makes every PutItem and UpdateItem apply and then answer as the
// SDK's retry of it would: the write's own condition failed against itself.
type lostAnswers struct{ dynamo.API }

func (l lostAnswers) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if _, err := l.API.PutItem(ctx, in, o...); err != nil {
		return nil, err
	}
	return nil, &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed"), Item: in.Item}
}

func (l lostAnswers) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureNone
	in.ReturnValues = types.ReturnValueAllNew
	out, err := l.API.UpdateItem(ctx, in, o...)
	if err != nil {
		return nil, err
	}
	return nil, &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed"), Item: out.Attributes}
}

// A claim whose own write was applied but answered as refused (the SDK
// retried after a lost answer) is still this request's, not another's.
func TestAClaimWhoseAnswerWasLostIsStillHeld(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tid := newTenant(t, tenant.Enterprise)
	lossy := &idempotency.Store{DB: lostAnswers{stack.DB}, Table: stack.IntegrationsTable, TTL: time.Hour}
	t0 := time.Now()
	claim, stored, err := lossy.Begin(ctx, tid, "lost-put", "fp", t0)
	if err != nil || claim == nil || stored != nil || claim.Seed == "" {
		t.Fatalf("a put whose answer was lost: %+v %v %v", claim, stored, err)
	}
	taken, _, err := lossy.Begin(ctx, tid, "lost-put", "fp", t0.Add(idempotency.Lease+time.Second))
	if err != nil || taken == nil || taken.Seed != claim.Seed {
		t.Fatalf("a takeover whose answer was lost: %+v %v", taken, err)
	}
}

// idempotencyPK is where the record of a client's key lives: under the key's
// SHA-256, never the key itself.
func idempotencyPK(tenantID, key string) string {
	sum := sha256.Sum256([]byte(key))
	return keyschema.Idempotency(tenantID, hex.EncodeToString(sum[:])).PK
}
