package e2e

import (
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/apidoc"
	"github.com/uniasset/integrations/shared/delivery"
	"github.com/uniasset/integrations/shared/tenant"
)

// handedOut holds the ports freePort gave, each given once per run, so two
// receivers being built at once are not given the same one.
var handedOut sync.Map

// freePort is a loopback port nothing listens on now, taken below Linux's
// ephemeral range (32768 and up): the receiver binds it only after go run
// has built it, and meanwhile a test server or an outgoing connection
// could be given a port of that range, not one of these.
func freePort(t *testing.T) int {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(12000)
		if _, taken := handedOut.LoadOrStore(port, true); taken {
			continue
		}
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port in 20000-31999 after 100 tries")
	return 0
}

// The Developer Guide's receivers, each saved and run as its reader would
// (go run, node, python3, with the secret and port in the environment),
// on real deliveries: one is verified, acknowledged and printed once; its
// resend (the same webhook-id) is acknowledged as a duplicate; a request
// whose signature is wrong or not base64, or whose time is old, is refused
// 401; work that fails is answered 500 and done on the retry. It passes
// the endpoint verification, and will not start without its secret.
func TestTheGuidesReceiversVerifyRealDeliveries(t *testing.T) {
	t.Parallel()
	for _, rv := range apidoc.Receivers() {
		t.Run(rv.Language, func(t *testing.T) {
			t.Parallel()
			_, command, _ := strings.Cut(rv.Run, "PORT=8080 ")
			args := strings.Fields(command)
			if _, err := exec.LookPath(args[0]); err != nil {
				t.Fatalf("%s is needed to run the guide's %s receiver (make browser installs node)", args[0], rv.Language)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, rv.File), []byte(rv.Code), 0o644); err != nil {
				t.Fatal(err)
			}
			tid := newTenant(t, tenant.Enterprise)
			owner := token(t, tid, "Owner")
			port := freePort(t)
			url := "http://127.0.0.1:" + strconv.Itoa(port) + "/hooks"
			r := call(t, "POST", "/api/integrations/webhooks", owner, map[string]any{"name": rv.Language, "url": url, "events": []string{"asset.created"}})
			expect(t, r, http.StatusCreated, "")
			secret, hook := r.json(t)["secret"].(string), r.json(t)["id"].(string)

			// Without its secret it does not start (it would check every
			// signature with an empty key, which anyone can make).
			noSecret := exec.Command(args[0], args[1:]...)
			noSecret.Dir, noSecret.Env = dir, append(os.Environ(), "UNIASSET_WEBHOOK_SECRET=", "PORT="+strconv.Itoa(port))
			if said, err := noSecret.CombinedOutput(); err == nil || !strings.Contains(string(said), "UNIASSET_WEBHOOK_SECRET") {
				t.Fatalf("started without a secret (%v): %s", err, said)
			}

			out := &lockedBuffer{}
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Dir, cmd.Stdout, cmd.Stderr = dir, out, out
			cmd.Env = append(os.Environ(), "UNIASSET_WEBHOOK_SECRET="+secret, "PORT="+strconv.Itoa(port))
			// Its own process group: go run starts the receiver as a child,
			// which must end with it (and holds its output open until then).
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.WaitDelay = 5 * time.Second
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
			waitFor(t, 90*time.Second, rv.Language+" receiver listening", func() bool {
				c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
				if err == nil {
					c.Close()
				}
				return err == nil
			})

			// The endpoint verification: it echoes the challenge.
			expect(t, call(t, "POST", "/api/integrations/webhooks/"+hook+"/verify", owner, nil), http.StatusOK, "")

			key, _ := newKey(t, tid, "asset:create")
			asset := createAsset(t, key, nil)["assetId"].(string)
			waitFor(t, 60*time.Second, "the delivery received", func() bool { return strings.Contains(out.String(), "received asset.created msg_") })
			settled(t, tid)
			row := deliveryRow(t, tid)
			if row["status"] != delivery.Delivered || !strings.Contains(out.String(), asset) {
				t.Fatalf("row %v; the receiver printed:\n%s", row, out.String())
			}
			id := strings.Fields(out.String()[strings.Index(out.String(), "received asset.created "):])[2]

			// Its resend: the same webhook-id, acknowledged without the work again.
			expect(t, call(t, "POST", "/api/integrations/activity/"+row["id"].(string)+"/resend", owner, nil), http.StatusAccepted, "")
			waitFor(t, 60*time.Second, "the resend acknowledged as a duplicate", func() bool { return strings.Contains(out.String(), "duplicate "+id) })
			if n := strings.Count(out.String(), "received "); n != 1 {
				t.Fatalf("the work was done %d times:\n%s", n, out.String())
			}

			// post sends body to the receiver with the headers h.
			post := func(h map[string]string, body []byte) int {
				t.Helper()
				var pairs []string
				for k, v := range h {
					pairs = append(pairs, k, v)
				}
				return callAt(t, url, http.MethodPost, "", "", body, pairs...).Status
			}

			// Forged and replayed requests: refused.
			body := []byte(`{"event":"asset.created","timestamp":"2026-12-06T00:00:00.000Z","data":{"assetId":"forged"}}`)
			now := time.Now()
			signed := delivery.Headers([]string{secret}, "msg_forged", "asset.created", body, now)
			for name, h := range map[string]map[string]string{
				"another secret": delivery.Headers([]string{"whsec_" + strings.Repeat("QUJD", 8)}, "msg_forged", "asset.created", body, now),
				"an old request": delivery.Headers([]string{secret}, "msg_forged", "asset.created", body, now.Add(-10*time.Minute)),
				"another id":     with(signed, "webhook-id", "msg_other"),
				"no signature":   with(signed, "webhook-signature", ""),
				"not base64":     with(signed, "webhook-signature", "v1,!!not*base64!!"),
			} {
				if status := post(h, body); status != http.StatusUnauthorized {
					t.Errorf("%s: answered %d, want 401", name, status)
				}
			}
			if strings.Contains(out.String(), "forged") {
				t.Fatalf("a forged request was processed:\n%s", out.String())
			}

			// Work that fails gives the id back: answered 500, and the retry
			// (the same webhook-id) is done, not skipped as a duplicate.
			retried := func(body string) int {
				t.Helper()
				return post(delivery.Headers([]string{secret}, "msg_retried", "asset.created", []byte(body), time.Now()), []byte(body))
			}
			if status := retried(`{"event":`); status != http.StatusInternalServerError {
				t.Fatalf("work that failed: answered %d, want 500", status)
			}
			if status := retried(`{"event":"asset.created","timestamp":"2026-12-06T00:00:00.000Z","data":{"assetId":"retried"}}`); status/100 != 2 {
				t.Fatalf("its retry: answered %d", status)
			}
			waitFor(t, 10*time.Second, "the retry's work", func() bool { return strings.Contains(out.String(), "received asset.created msg_retried") })
		})
	}
}

func with(h map[string]string, name, value string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		out[k] = v
	}
	out[name] = value
	return out
}

// Every header the guide lists is on a real delivery, and a delivery
// carries no other (but the webhook's own and the transport's).
func TestTheGuideListsEveryDeliveryHeader(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	rv := newReceiver(t, nil)
	// No headers of its own: those are the Owner's, not the guide's.
	expect(t, call(t, "POST", "/api/integrations/webhooks", token(t, tid, "Owner"), map[string]any{"name": "headers", "url": rv.URL, "events": []string{"asset.created"}}), http.StatusCreated, "")
	key, _ := newKey(t, tid, "asset:create")
	createAsset(t, key, nil)
	waitFor(t, 30*time.Second, "the delivery", func() bool { return len(rv.requests()) == 1 })
	got := rv.requests()[0].Header
	recv, err := apidoc.Delivery()
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, h := range recv.Headers {
		listed = append(listed, http.CanonicalHeaderKey(h.Name))
		if got.Get(h.Name) == "" {
			t.Errorf("the guide lists %s; the delivery has none", h.Name)
		}
	}
	for name := range got {
		if !slices.Contains(listed, name) && !slices.Contains([]string{"Content-Length", "Accept-Encoding"}, name) {
			t.Errorf("the delivery carries %s, which the guide does not list", name)
		}
	}
}

// The guide's retry script, saved and run as its reader would (node, the
// key in the environment), creates the asset once: run again, its answer
// is the first one replayed, for the same asset.
func TestTheGuidesRetryScriptAppliesAWriteOnce(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is needed to run the guide's retry script (make browser installs it)")
	}
	e, err := apidoc.ErrorsFor(server.URL)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, e.Retry.File), []byte(e.Retry.Code), 0o644); err != nil {
		t.Fatal(err)
	}
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, "asset:create")
	run := func() []string {
		cmd := exec.Command("node", e.Retry.File)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "UNIASSET_API_KEY="+key)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return strings.Fields(string(out))
	}
	first, second := run(), run()
	if len(first) != 3 || first[0] != "201" || first[1] != "applied" || !strings.HasPrefix(first[2], "asset_") {
		t.Fatalf("first run: %v", first)
	}
	if len(second) != 3 || second[0] != "201" || second[1] != "replayed" || second[2] != first[2] {
		t.Fatalf("second run: %v, after %v", second, first)
	}
}
