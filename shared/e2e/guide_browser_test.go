package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/uniasset/integrations/shared/apidoc"
	"github.com/uniasset/integrations/shared/tenant"
)

// chromium finds Debian's Chromium; `make tools` and .ci/run install it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is required for the Developer Guide page test: run `make tools` (apt-get install chromium)")
	return ""
}

// The HTML guide renders in a real browser, every example has a copy button
// that puts exactly that example on the clipboard, and a screenshot is kept.
func TestDeveloperGuidePageInChromium(t *testing.T) {
	t.Parallel()
	bin := chromium(t)
	tid := newTenant(t, tenant.Enterprise)
	page := call(t, "GET", "/api/integrations/developer-guide", token(t, tid, "Owner"), nil, "Accept", "text/html")
	expect(t, page, 200, "")
	// The page is served the way the app embeds it; a browser cannot send the admin token itself.
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", page.Header.Get("Content-Type"))
		w.Header().Set("Content-Security-Policy", page.Header.Get("Content-Security-Policy"))
		_, _ = w.Write(page.Body)
	}))
	t.Cleanup(host.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		must(err)
		return v
	}
	must(chromedp.Do(ctx, chromedp.Navigate(host.URL), chromedp.WaitVisible(chromedp.CSS("section.endpoint"))))
	title, err := chromedp.Run(ctx, chromedp.Title())
	must(err)
	buttons, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("button.copy").length`))
	must(err)
	blocks, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("pre").length`))
	must(err)
	// Two snippets (curl, JavaScript) for each integration endpoint, a
	// curl for each webhook operation, the retry script and a receiver per
	// language; and the envelope of the errors and each endpoint's
	// documented answer, which have no button.
	g, err := apidoc.NewGuide("http://127.0.0.1")
	must(err)
	want := 2*len(g.Endpoints) + len(g.Operations) + 1 + len(g.Receiving.Receivers)
	if title != "UniAsset Integrations — Developer Guide" || buttons != want || blocks != want+1+len(g.Endpoints) || len(g.Operations) < 9 {
		t.Fatalf("page: title %q, %d copy buttons, %d code blocks; want %d of each", title, buttons, blocks, want)
	}
	// Record what the page hands to the clipboard (headless Chromium has no system clipboard).
	// The label's reset two seconds later is turned off, so a slow poll
	// still sees "Copied".
	eval(`window.__copied = []; navigator.clipboard.writeText = async (t) => { window.__copied.push(t); }; window.setTimeout = () => 0; "ok"`)
	for i := range buttons {
		must(chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`button.copy[data-target="%s"]`, eval(fmt.Sprintf(`document.querySelectorAll("button.copy")[%d].dataset.target`, i)))))))
		// The copy is asynchronous: wait for it (and the label) to happen.
		waitFor(t, 10*time.Second, fmt.Sprintf("copy button %d to copy", i), func() bool {
			return eval(fmt.Sprintf(`String(window.__copied.length > %d && document.querySelectorAll("button.copy")[%d].textContent === "Copied")`, i, i)) == "true"
		})
		copied := eval(fmt.Sprintf(`window.__copied[%d] || ""`, i))
		expected := eval(fmt.Sprintf(`document.getElementById(document.querySelectorAll("button.copy")[%d].dataset.target).innerText`, i))
		label := eval(fmt.Sprintf(`document.querySelectorAll("button.copy")[%d].textContent`, i))
		if copied == "" || copied != expected || label != "Copied" {
			t.Fatalf("copy button %d: copied %q, example %q, label %q", i, copied, expected, label)
		}
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90)) // below 100: JPEG
	must(err)
	path := filepath.Join(artifactsDir(t), "developer-guide.jpg")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(shot))
}

// artifactsDir is where tests keep what a person may want to look at: TEST_ARTIFACTS_DIR or .artifacts/ in the repo.
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("TEST_ARTIFACTS_DIR")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", ".artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
