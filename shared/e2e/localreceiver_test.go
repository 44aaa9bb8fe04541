package e2e

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uniasset/integrations/shared/devstack"
	"github.com/uniasset/integrations/shared/tenant"
)

// lockedBuffer is what a VerifyingReceiver prints to, read while it writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// localReceiver serves `go run ./infra/local receiver`'s handler on
// loopback; what it prints goes to out.
func localReceiver(t *testing.T) (*devstack.VerifyingReceiver, *lockedBuffer, *httptest.Server) {
	t.Helper()
	out := &lockedBuffer{}
	rv := &devstack.VerifyingReceiver{Out: out}
	srv := httptest.NewServer(rv)
	t.Cleanup(srv.Close)
	return rv, out, srv
}

// The README's receiver (go run ./infra/local receiver) on real deliveries:
// with the webhook's secret both signatures verify and the delivery is
// printed with its headers and body; with another secret they do not; it
// answers the status it is given and passes the endpoint verification.
func TestTheLocalReceiverVerifiesRealDeliveries(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	rv, out, srv := localReceiver(t)
	r := call(t, "POST", "/api/integrations/webhooks", owner, map[string]any{"name": "local", "url": srv.URL + "/hooks",
		"events": []string{"asset.created"}, "headers": map[string]string{"X-Api-Key": "receiver-key"}})
	expect(t, r, http.StatusCreated, "")
	hook, secret := r.json(t)["id"].(string), r.json(t)["secret"].(string)
	key, _ := newKey(t, tid, allPermissions...)

	rv.Set(secret, http.StatusOK)
	asset := createAsset(t, key, nil)["assetId"].(string)
	waitFor(t, 30*time.Second, "the delivery printed", func() bool { return strings.Contains(out.String(), "answered 200") })
	printed := out.String()
	for _, want := range []string{"POST /hooks: asset.created, webhook-id msg_", "signatures: ok (webhook-signature verifies, X-UniAsset-Signature verifies, webhook-timestamp fresh)",
		"X-Api-Key: receiver-key", `"assetId": "` + asset + `"`} {
		if !strings.Contains(printed, want) {
			t.Fatalf("the receiver printed no %q:\n%s", want, printed)
		}
	}

	// Another secret: both signatures refused. And the status it is told.
	rv.Set("whsec_"+strings.Repeat("QUJD", 8), http.StatusGone)
	createAsset(t, key, nil)
	waitFor(t, 30*time.Second, "the second delivery printed", func() bool { return strings.Contains(out.String(), "answered 410") })
	if second := out.String()[len(printed):]; !strings.Contains(second, "signatures: BAD (webhook-signature does not verify, X-UniAsset-Signature does not verify") {
		t.Fatalf("a delivery checked with another secret:\n%s", second)
	}
	expect(t, call(t, "POST", "/api/integrations/webhooks/"+hook+"/verify", owner, nil), http.StatusOK, "")
	if !strings.Contains(out.String(), "GET /hooks: endpoint verification, challenge echoed") {
		t.Fatalf("the verification is not printed:\n%s", out.String())
	}
}
