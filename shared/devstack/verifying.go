package devstack

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uniasset/integrations/shared/delivery"
)

// VerifyingReceiver is a webhook endpoint for trying the system on one machine (go
// run ./infra/local receiver): it prints each delivery with its headers and
// body, checks both signatures with the webhook's secret, answers the
// status it is told, and echoes an endpoint verification's challenge.
type VerifyingReceiver struct {
	Out io.Writer
	Now func() time.Time // nil: time.Now

	mu     sync.Mutex
	secret string
	status int
}

// receiverTolerance is how old a delivery's webhook-timestamp may be (the
// Standard Webhooks libraries' default).
const receiverTolerance = 5 * time.Minute

// maxReceived bounds what is read of a request.
const maxReceived = 1 << 20

// Set sets the secret signatures are checked with ("": not checked) and the
// status deliveries are answered (0: 200).
func (rv *VerifyingReceiver) Set(secret string, status int) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	rv.secret, rv.status = secret, status
}

func (rv *VerifyingReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rv.mu.Lock()
	secret, status := rv.secret, cmp.Or(rv.status, http.StatusOK)
	rv.mu.Unlock()
	now := time.Now()
	if rv.Now != nil {
		now = rv.Now()
	}
	var out bytes.Buffer
	defer func() { rv.mu.Lock(); _, _ = rv.Out.Write(out.Bytes()); rv.mu.Unlock() }()
	if challenge := r.Header.Get(delivery.ChallengeHeader); r.Method == http.MethodGet && challenge != "" {
		fmt.Fprintf(&out, "%s GET %s: endpoint verification, challenge echoed\n", now.Format(time.TimeOnly), r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"verification": challenge})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReceived))
	if err != nil {
		http.Error(w, "read failed", http.StatusBadRequest)
		return
	}
	fmt.Fprintf(&out, "%s %s %s: %s, webhook-id %s\n", now.Format(time.TimeOnly), r.Method, r.URL.Path, r.Header.Get("X-UniAsset-Event"), r.Header.Get("webhook-id"))
	if secret == "" {
		fmt.Fprintln(&out, "  signatures: not checked (start the receiver with --secret whsec_…)")
	} else {
		s := delivery.CheckSignatures(secret, r.Header, body, now, receiverTolerance)
		verdict := "ok"
		if !s.Valid() {
			verdict = "BAD"
		}
		fmt.Fprintf(&out, "  signatures: %s (webhook-signature %s, X-UniAsset-Signature %s, webhook-timestamp %s)\n",
			verdict, yes(s.Standard, "verifies", "does not verify"), yes(s.Spec, "verifies", "does not verify (during a rotation it is keyed by the older secret)"),
			yes(s.Fresh, "fresh", "missing or more than 5 minutes off"))
	}
	names := make([]string, 0, len(r.Header))
	for name := range r.Header {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(&out, "  %s: %s\n", name, strings.Join(r.Header[name], ", "))
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, body, "  ", "  ") == nil {
		body = pretty.Bytes()
	}
	fmt.Fprintf(&out, "  %s\n  answered %d\n", body, status)
	w.WriteHeader(status)
}

func yes(ok bool, then, otherwise string) string {
	if ok {
		return then
	}
	return otherwise
}
