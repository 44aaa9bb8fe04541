package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/isotime"
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
	if end := regexp.MustCompile(fmt.Sprintf(`(?m)^#{1,%d} `, level)).FindStringIndex(text); end != nil {
		text = text[:end[0]]
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

var exported = regexp.MustCompile(`^export ([A-Z_]+)=`)

// README's "Operations for a bad day" runs as written: every curl in it,
// in order, against the stack, with the variables its first block names
// (and RECOVERY from the recovery it starts). Each must answer 2xx; an
// export of a variable this test does not set fails it, so the section
// cannot grow a command the test skips.
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
	ran := 0
	for _, block := range readmeSection(t, "### Operations for a bad day") {
		for _, cmd := range block {
			if strings.HasPrefix(cmd, "#") || cmd == "" {
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
			var answer struct{ ID string }
			if json.Unmarshal(out, &answer) == nil && strings.HasPrefix(answer.ID, "rcv_") {
				env["RECOVERY"] = answer.ID
			}
		}
	}
	if _, ok := env["RECOVERY"]; !ok || ran < 6 {
		t.Fatalf("ran %d commands (recovery %q)", ran, env["RECOVERY"])
	}
	if v := call(t, "GET", "/api/integrations/webhooks/"+hook, owner, nil).json(t); v["verifiedAt"] == nil {
		t.Fatalf("README's verify did not verify: %v", v)
	}
}
