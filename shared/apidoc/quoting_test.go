package apidoc_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uniasset/integrations/shared/apidoc"
)

// Values that break naive quoting in a shell or in JavaScript.
var hostile = []string{
	"https://api.example.com",
	`https://x$(id);id'`,
	"https://x`id`\"'\\",
	"https://a'b\"c$HOME\n!x&y|z;w",
	"https://x\u2028y\u2029z</script>",
	"https://ex.com/${process.exit(7)}",
}

// Every curl snippet, pasted into a shell, passes exactly the intended
// arguments, whatever the base URL holds.
func TestCurlSnippetsAreQuotedForTheShell(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is needed to check the snippets as a shell reads them")
	}
	for _, base := range hostile {
		g, err := apidoc.NewGuide(base)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range g.Endpoints {
			// curl is replaced by a function printing each argument NUL-terminated.
			script := "curl() { printf '%s\\0' \"$@\"; }\n" + e.Curl
			cmd := exec.Command("bash", "-c", script)
			cmd.Env = []string{"UNIASSET_API_KEY=k-1", "PATH=" + os.Getenv("PATH")}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("base %q, %s: %v\n%s", base, e.OperationID, err, e.Curl)
			}
			got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
			want := []string{"-X", e.Method, base + e.Path, "-H", "Authorization: Bearer k-1", "-H", "Content-Type: application/json", "-d", e.Body}
			if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
				t.Errorf("base %q, %s: the shell read\n%q\nwant\n%q", base, e.OperationID, got, want)
			}
		}
	}
}

// Every JavaScript snippet calls fetch with exactly the intended URL, method
// and body, whatever the base URL holds.
func TestJavaScriptSnippetsAreQuoted(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is needed to check the snippets as JavaScript reads them")
	}
	dir := t.TempDir()
	for i, base := range hostile {
		g, err := apidoc.NewGuide(base)
		if err != nil {
			t.Fatal(err)
		}
		for j, e := range g.Endpoints {
			script := `const calls = [];
async function fetch(url, init) { calls.push({url, method: init.method, body: init.body, auth: init.headers.Authorization}); return {status: 201, json: async () => ({})}; }
const console = {log() {}};
(async () => {
` + e.JavaScript + `
})().then(() => process.stdout.write(JSON.stringify(calls)), (err) => { process.stderr.write(String(err)); process.exit(1); });
`
			file := filepath.Join(dir, "snippet-"+string(rune('a'+i))+string(rune('a'+j))+".js")
			if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("node", file)
			cmd.Env = []string{"UNIASSET_API_KEY=k-1", "PATH=" + os.Getenv("PATH")}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("base %q, %s: %v\n%s", base, e.OperationID, err, e.JavaScript)
			}
			var calls []struct{ URL, Method, Body, Auth string }
			if err := json.Unmarshal(out, &calls); err != nil || len(calls) != 1 {
				t.Fatalf("base %q, %s: %v %s", base, e.OperationID, err, out)
			}
			c := calls[0]
			var sent, doc any
			_ = json.Unmarshal([]byte(c.Body), &sent)
			_ = json.Unmarshal([]byte(e.Body), &doc)
			sentJSON, _ := json.Marshal(sent)
			docJSON, _ := json.Marshal(doc)
			if c.URL != base+e.Path || c.Method != e.Method || c.Auth != "Bearer k-1" || string(sentJSON) != string(docJSON) {
				t.Errorf("base %q, %s: fetch got %+v", base, e.OperationID, c)
			}
		}
	}
}
