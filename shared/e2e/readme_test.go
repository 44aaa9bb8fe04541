package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/isotime"
	"github.com/uniasset/integrations/shared/msgraph/msgraphfake"
	"github.com/uniasset/integrations/shared/tenant"
)

// readmeSection returns the sh blocks of README's section titled heading
// (up to the next heading of its level or higher), in order.
func readmeSection(t *testing.T, heading string) [][]string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	start := strings.Index(text, "\n"+heading+"\n")
	if start < 0 {
		t.Fatalf("README has no section %q", heading)
	}
	level := strings.Index(heading, " ")
	text = text[start+len(heading)+2:]
	// The section ends at the next heading of its level or higher outside
	// a code block (a shell comment is not a heading).
	next := regexp.MustCompile(fmt.Sprintf(`^#{1,%d} `, level))
	fenced, at := false, 0
	for line := range strings.SplitAfterSeq(text, "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
		}
		if !fenced && next.MatchString(line) {
			text = text[:at]
			break
		}
		at += len(line)
	}
	var blocks [][]string
	for _, part := range strings.Split(text, "```sh\n")[1:] {
		body, _, ok := strings.Cut(part, "```")
		if !ok {
			t.Fatal("an unclosed sh block")
		}
		var cmds []string
		var cur string
		for _, line := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
			cur += line + "\n"
			if !strings.HasSuffix(line, "\\") {
				cmds = append(cmds, strings.TrimSpace(cur))
				cur = ""
			}
		}
		blocks = append(blocks, cmds)
	}
	return blocks
}

var (
	exported = regexp.MustCompile(`^export ([A-Z_]+)=`)
	// fromAnswer is an export README fills from the answer before it:
	// "export ASSET=asset_...   # its "assetId"".
	fromAnswer = regexp.MustCompile(`^export ([A-Z_]+)=\S+\s+# its "(\w+)"`)
	// fromRow takes the field of the first of the rows the answer lists:
	// "export ROW=api-...   # the first row's "id"".
	fromRow = regexp.MustCompile(`^export ([A-Z_]+)=\S+\s+# the first row's "(\w+)"`)
)

// answerField is field of the JSON object answer (or of its first row).
func answerField(t *testing.T, cmd string, answer []byte, field string, row bool) string {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal(answer, &obj); err != nil {
		t.Fatalf("%s: the answer before it is not a JSON object: %s", cmd, answer)
	}
	if row {
		rows, _ := obj["rows"].([]any)
		if len(rows) == 0 {
			t.Fatalf("%s: the answer before it lists no rows: %s", cmd, answer)
		}
		obj, _ = rows[0].(map[string]any)
	}
	v, ok := obj[field].(string)
	if !ok || v == "" {
		t.Fatalf("%s: the answer before it has no %q: %s", cmd, field, answer)
	}
	return v
}

// runReadme runs README commands as a user would: every curl in order
// against the stack, each of which must answer 2xx, with the variables env
// sets; an export names either one of those, or the field of the answer
// before it it takes ("# its "id"", "# the first row's "id""). handle, if
// not nil, sees each command first: it may run it itself (true) or change
// it (a port). Anything else fails the test, so a section cannot grow a
// command the test skips. It returns how many curls ran.
func runReadme(t *testing.T, blocks [][]string, env map[string]string, handle func(cmd string) (string, bool)) int {
	t.Helper()
	ran := 0
	var last []byte
	for _, block := range blocks {
		for _, cmd := range block {
			if strings.HasPrefix(cmd, "#") || cmd == "" {
				continue
			}
			if handle != nil {
				var done bool
				if cmd, done = handle(cmd); done {
					continue
				}
			}
			if m := fromAnswer.FindStringSubmatch(cmd); m != nil {
				env[m[1]] = answerField(t, cmd, last, m[2], false)
				continue
			}
			if m := fromRow.FindStringSubmatch(cmd); m != nil {
				env[m[1]] = answerField(t, cmd, last, m[2], true)
				continue
			}
			if m := exported.FindStringSubmatch(cmd); m != nil {
				if _, ok := env[m[1]]; !ok {
					t.Fatalf("README exports %s, which this test does not set: %s", m[1], cmd)
				}
				continue
			}
			if !strings.HasPrefix(cmd, "curl ") {
				t.Fatalf("a command that is not curl: %s", cmd)
			}
			sh := exec.Command("sh", "-c", "curl --fail-with-body --show-error "+strings.TrimPrefix(cmd, "curl "))
			sh.Env = os.Environ()
			for k, v := range env {
				sh.Env = append(sh.Env, k+"="+v)
			}
			out, err := sh.CombinedOutput()
			if err != nil {
				t.Fatalf("%s\n%v: %s", cmd, err, out)
			}
			ran++
			last = out
		}
	}
	return ran
}

// README's "Operations for a bad day" runs as written, with the variables
// its first block names (and RECOVERY from the recovery it starts).
func TestReadmeOperationsRun(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run README's commands as a user would")
	}
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	rv := newReceiver(t, nil)
	hook, _ := createWebhook(t, tid, rv.URL, "asset.created")
	key, _ := newKey(t, tid, "asset:create")
	createAsset(t, key, nil)
	settled(t, tid)
	env := map[string]string{
		"BASE": server.URL, "TOKEN": owner, "WEBHOOK": hook, "ROW": asString(deliveryRow(t, tid)["id"]),
		"SINCE": isotime.Format(time.Now().Add(-24 * time.Hour)),
	}
	ran := runReadme(t, readmeSection(t, "### Operations for a bad day"), env, nil)
	if !strings.HasPrefix(env["RECOVERY"], "rcv_") || ran < 6 {
		t.Fatalf("ran %d commands (recovery %q)", ran, env["RECOVERY"])
	}
	if v := call(t, "GET", "/api/integrations/webhooks/"+hook, owner, nil).json(t); v["verifiedAt"] == nil {
		t.Fatalf("README's verify did not verify: %v", v)
	}
}

// README's "Try it" walkthrough of keys and the integration API runs as
// written (its first block: the second needs a receiver on port 9000), and
// leaves what it says: the rolled key revoked, the old one working through
// its overlap, the keys with an allowlist, a rate limit and an end, and the
// tenant's lifetime policy.
func TestReadmeTryItRuns(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run README's commands as a user would")
	}
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	env := map[string]string{"BASE": server.URL, "TOKEN": owner}
	blocks := readmeSection(t, "## Try it")
	if ran := runReadme(t, blocks[:1], env, nil); ran < 14 {
		t.Fatalf("ran %d commands", ran)
	}
	if !strings.HasPrefix(env["ASSET"], "asset_") || env["KEY_ID"] == env["NEW_KEY_ID"] {
		t.Fatalf("variables: %v", env)
	}
	if !works(t, env["KEY"]) {
		t.Fatal("the rolled key stopped before its overlap")
	}
	byName := map[string][]map[string]any{}
	for _, k := range call(t, "GET", "/api/integrations/api-keys", owner, nil).json(t)["apiKeys"].([]any) {
		k := k.(map[string]any)
		byName[asString(k["name"])] = append(byName[asString(k["name"])], k)
	}
	for id, status := range map[string]string{env["KEY_ID"]: "active", env["NEW_KEY_ID"]: "revoked"} {
		found := false
		for _, k := range byName["ERP Connector - Production"] {
			found = found || k["id"] == id && k["status"] == status
		}
		if !found {
			t.Fatalf("key %s is not %s: %v", id, status, byName["ERP Connector - Production"])
		}
	}
	for _, k := range byName["ERP Connector - Production"] {
		if l, _ := k["rateLimit"].(map[string]any); l["requests"] != float64(50) || l["per"] != "second" {
			t.Fatalf("the PATCH's limit, passed on by the roll: %v", k)
		}
	}
	if len(byName["Plant gateway"]) != 1 || len(byName["Plant gateway"][0]["allowedIps"].([]any)) != 3 ||
		len(byName["Fleet trackers"]) != 1 || byName["Fleet trackers"][0]["rateLimit"] == nil ||
		len(byName["Contractor sync"]) != 1 || byName["Contractor sync"][0]["expiresAt"] == nil {
		t.Fatalf("keys: %v", byName)
	}
	if p := call(t, "GET", "/api/integrations/api-key-policy", owner, nil).json(t); p["maxLifetimeDays"] != float64(366) {
		t.Fatalf("policy: %v", p)
	}
}

// README's webhook walkthrough (the second block of "Try it") runs as
// written, with the local receiver it names checking the signatures: every
// operation answers 2xx, the receiver prints a verified asset.created and
// echoes the verification challenge, and the webhook is gone at the end.
func TestReadmeWebhooksRun(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run README's commands as a user would")
	}
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	rv, out, srv := localReceiver(t)
	env := map[string]string{"BASE": server.URL, "TOKEN": owner}
	blocks := readmeSection(t, "## Try it")
	if len(blocks) < 2 {
		t.Fatalf("README's Try it has %d blocks, want the webhook one second", len(blocks))
	}
	verified := func() bool {
		return strings.Contains(out.String(), "asset.created, webhook-id msg_") && strings.Contains(out.String(), "signatures: ok")
	}
	ran := runReadme(t, blocks[1:2], env, func(cmd string) (string, bool) {
		// README's port, free or not on this machine: the test's receiver's.
		cmd = strings.ReplaceAll(cmd, "127.0.0.1:9000", srv.Listener.Addr().String())
		if strings.HasPrefix(cmd, "go run ./infra/local receiver ") {
			if !strings.Contains(cmd, "--secret $SECRET") {
				t.Fatalf("README's receiver is not given the webhook's secret: %s", cmd)
			}
			rv.Set(env["SECRET"], http.StatusOK)
			return cmd, true
		}
		if strings.Contains(cmd, "activity?webhookId=$WEBHOOK") {
			// As README says: once the receiver has printed a delivery.
			waitFor(t, 30*time.Second, "the receiver to print a verified delivery", verified)
		}
		return cmd, false
	})
	if ran < 15 {
		t.Fatalf("ran %d commands", ran)
	}
	printed := out.String()
	for _, want := range []string{"X-Api-Key: receiver-key", "endpoint verification, challenge echoed"} {
		if !strings.Contains(printed, want) {
			t.Fatalf("the receiver printed no %q:\n%s", want, printed)
		}
	}
	if strings.Contains(printed, "signatures: BAD") {
		t.Fatalf("a delivery did not verify with the secret README gives the receiver:\n%s", printed)
	}
	if !strings.HasPrefix(env["DELIVERY"], "whk-") || env["ROW"] == "" {
		t.Fatalf("variables: %v", env)
	}
	expect(t, call(t, "GET", "/api/integrations/webhooks/"+env["WEBHOOK"], owner, nil), http.StatusNotFound, "")
}

// README's way of looking inside the local stack runs as written: the
// environment file the stack writes (make run: .local/aws.env) lets the
// AWS CLI scan and query its tables and read its queue, IAM enforced.
func TestReadmeLooksInsideTheTables(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Fatal("the AWS CLI is needed to run README's commands as a user would")
	}
	env := filepath.Join(t.TempDir(), "aws.env")
	if err := stack.WriteAWSEnv(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(env); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the credentials file: %v %v", info, err)
	}
	var block []string
	for _, b := range readmeSection(t, "## Local stack") {
		if len(b) > 0 && b[0] == "source .local/aws.env" {
			block = b
		}
	}
	if len(block) < 4 {
		t.Fatalf("README's Local stack has no block starting with source .local/aws.env: %v", block)
	}
	// An asset of the demo tenant, for the query of one asset's partition.
	key, _ := newKey(t, "demo-enterprise", "asset:create")
	asset := asString(createAsset(t, key, nil)["assetId"])
	for _, cmd := range block[1:] {
		if cmd == "" || strings.HasPrefix(cmd, "#") {
			continue
		}
		if !strings.HasPrefix(cmd, "aws ") {
			t.Fatalf("a command that is not aws: %s", cmd)
		}
		sh := exec.Command("bash", "-c", "set -e; source "+env+"; "+cmd+" --output json")
		// Only what the file sets: no profile or credentials of this machine's.
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "AWS_") {
				sh.Env = append(sh.Env, kv)
			}
		}
		sh.Env = append(sh.Env, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "ASSET="+asset)
		out, err := sh.CombinedOutput()
		if err != nil {
			t.Fatalf("%s\n%v: %s", cmd, err, out)
		}
		var answer map[string]any
		if err := json.Unmarshal(out, &answer); err != nil {
			t.Fatalf("%s: not JSON: %s", cmd, out)
		}
		if strings.Contains(cmd, "TENANT#demo-enterprise\"") && !strings.Contains(string(out), "PROFILE") {
			t.Fatalf("%s: the demo tenant's items hold no profile: %s", cmd, out)
		}
		if strings.Contains(cmd, "#ASSET#$ASSET") && !strings.Contains(string(out), asset) {
			t.Fatalf("%s: the asset's partition does not hold it: %s", cmd, out)
		}
	}
}

// README's "Start here" runs as written in bash (its first line's address
// and token this stack's): a key, then a first asset created with it.
func TestReadmeStartHereRuns(t *testing.T) {
	t.Parallel()
	blocks := readmeSection(t, "## Start here")
	if len(blocks) != 1 || !strings.HasPrefix(blocks[0][0], "export BASE=http://127.0.0.1:3000 TOKEN=$(go run ./infra/local token") {
		t.Fatalf("README's Start here: %v", blocks)
	}
	tid := newTenant(t, tenant.Enterprise)
	script := "set -euo pipefail\nexport BASE=" + server.URL + " TOKEN=" + token(t, tid, "Owner") + "\n" + strings.Join(blocks[0][1:], "\n")
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var asset map[string]any
	if err := json.Unmarshal(out, &asset); err != nil || !strings.HasPrefix(asString(asset["assetId"]), "asset_") || asset["assetName"] != "Forklift A-17" {
		t.Fatalf("the first write answered: %s", out)
	}
}

// README's "Microsoft Entra ID locally" runs as written, typed into one
// shell against this stack and its fake Microsoft (whose Contoso admin is
// signed in): the consent connects, the first sync lists Contoso's groups,
// and after the mappings and "sync now" the accounts are what README says.
// Between commands it waits, as README tells the reader to, for the sync.
// Not parallel: the Entra tests share the fake's signed-in user.
func TestReadmeEntraLocallyRuns(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run README's commands as a user would")
	}
	const tid = "demo-enterprise"
	blocks := readmeSection(t, "### Microsoft Entra ID locally")
	if len(blocks) != 1 || !strings.HasPrefix(blocks[0][0], "TOKEN=$(go run ./infra/local token --tenant "+tid+")") {
		t.Fatalf("README's Entra walkthrough: %v", blocks)
	}
	stack.Microsoft.SignInAs(msgraphfake.Demo(), "", false)
	// Disconnected after, so the demo tenant can connect again (-count=2).
	t.Cleanup(func() {
		expect(t, call(t, "POST", "/api/integrations/entra/disconnect", token(t, tid, "Owner"), nil), http.StatusNoContent, "")
	})
	sh := newShell(t, os.Environ())
	run := func(cmd string) string {
		t.Helper()
		out, status := sh.run(t, strings.ReplaceAll(cmd, "http://127.0.0.1:3000", server.URL))
		if status != 0 || strings.Contains(out, `"error"`) {
			t.Fatalf("%s\nexit %d: %s", cmd, status, out)
		}
		return out
	}
	// This stack's token in place of make run's.
	run("TOKEN=" + token(t, tid, "Owner"))
	count := func(out, list string) map[string]int {
		t.Helper()
		var page map[string]any
		if err := json.Unmarshal([]byte(out), &page); err != nil {
			t.Fatalf("not a page of %s: %s", list, out)
		}
		items, _ := page[list].([]any)
		n := map[string]int{"total": len(items)}
		for _, it := range items {
			if it, ok := it.(map[string]any); ok {
				n[asString(it["role"])]++
			}
		}
		return n
	}
	var lastSync string
	for _, cmd := range blocks[0][1:] {
		switch {
		case strings.HasPrefix(cmd, "curl -s $A/groups"):
			if !strings.Contains(cmd, "# 17 groups") {
				t.Fatalf("README's groups step no longer says 17 groups: %s", cmd)
			}
			waitFor(t, 60*time.Second, "the first sync", func() bool {
				lastSync, _ = connection(t, tid)["lastSyncAt"].(string)
				return lastSync != ""
			})
			if n := count(run(cmd), "groups")["total"]; n != 17 {
				t.Fatalf("%d groups after the first sync, README says 17", n)
			}
		case strings.HasPrefix(cmd, "curl -s \"$A/users"):
			if !strings.Contains(cmd, "# 27 accounts: 1 Owner, 2 Admins, 24 Members") {
				t.Fatalf("README's accounts step says other numbers: %s", cmd)
			}
			waitSynced(t, tid, lastSync)
			if n := count(run(cmd), "users"); n["total"] != 27 || n["Owner"] != 1 || n["Admin"] != 2 || n["Member"] != 24 {
				t.Fatalf("accounts %v, README says 27: 1 Owner, 2 Admins, 24 Members", n)
			}
		case strings.HasPrefix(cmd, "curl -sL \"$URL\""):
			if out := run(cmd); !strings.Contains(out, `"outcome":"connected"`) {
				t.Fatalf("the consent answered %s", out)
			}
		case strings.HasPrefix(cmd, "curl -s -X POST $A/sync"):
			if out := run(cmd); !strings.Contains(out, `"queued":true`) {
				t.Fatalf("sync now answered %s", out)
			}
		default:
			run(cmd)
		}
	}
	if lastSync == "" {
		t.Fatal("README's walkthrough lists no groups")
	}
}

// README's scoping of a webhook (the first block of "Webhooks") runs as
// written and leaves the filter it shows.
func TestReadmeWebhookFilterRuns(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	hook, _ := createWebhook(t, tid, newReceiver(t, nil).URL, "asset.created")
	blocks := readmeSection(t, "## Webhooks")
	if len(blocks) == 0 || len(blocks[0]) != 1 || !strings.Contains(blocks[0][0], `"filter"`) {
		t.Fatalf("README's Webhooks does not start with the filter's PATCH: %v", blocks)
	}
	if ran := runReadme(t, blocks[:1], map[string]string{"BASE": server.URL, "TOKEN": owner, "WEBHOOK": hook}, nil); ran != 1 {
		t.Fatalf("ran %d commands", ran)
	}
	f, _ := call(t, "GET", "/api/integrations/webhooks/"+hook, owner, nil).json(t)["filter"].(map[string]any)
	if fmt.Sprint(f["categoryName"]) != "[Vehicles]" || fmt.Sprint(f["departmentId"]) != "[dept_fleet]" {
		t.Fatalf("the webhook's filter: %v", f)
	}
}
