package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/uniasset/integrations/shared/apikey"
	"github.com/uniasset/integrations/shared/tenant"
)

// scanner stands in for GitHub's secret scanning: an ECDSA P-256 key whose
// public half the admin API is configured with, signing reports as GitHub
// does (the raw body, SHA-256, ASN.1 DER, base64).
type scanner struct {
	id  string
	key *ecdsa.PrivateKey
}

func newScanner(t *testing.T) scanner {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return scanner{id: "scanner-test-key", key: k}
}

func (s scanner) config(t *testing.T) string {
	der, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return s.id + "=" + base64.StdEncoding.EncodeToString(der)
}

func (s scanner) sign(t *testing.T, body []byte) string {
	sum := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// A signed report of a published key revokes it at once, writes a System
// row naming where it was found, and answers which tokens were ours; a
// report with a bad or missing signature, an unknown key id, or a tampered
// body changes nothing; a stack without scanning keys answers 404.
func TestLeakReportRevokes(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	owner := token(t, tid, "Owner")
	key, id := newKey(t, tid, "asset:create")
	gh := newScanner(t)
	api := adminAPI(t)
	keys, err := apikey.ParseScanningKeys(gh.config(t))
	if err != nil {
		t.Fatal(err)
	}
	api.ScanningKeys = keys
	h := api.Handler()
	post := func(body []byte, keyID, sig string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/api/integrations/secret-scanning", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Github-Public-Key-Identifier", keyID)
		req.Header.Set("Github-Public-Key-Signature", sig)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	const where = "https://github.com/acme/erp-sync/blob/0123456789abcdef/config.yml"
	report, _ := json.Marshal([]map[string]string{
		{"token": key, "type": apikey.LeakTokenType, "url": where, "source": "content"},
		{"token": "ua_live_" + strings.Repeat("0", 64), "type": apikey.LeakTokenType, "url": where},
	})
	// Refused: nothing revoked.
	other := newScanner(t)
	for _, w := range []*httptest.ResponseRecorder{
		post(report, gh.id, ""), post(report, gh.id, "not base64!"), post(report, "another-key", gh.sign(t, report)),
		post(report, gh.id, other.sign(t, report)), post([]byte(strings.Replace(string(report), "erp-sync", "erp-syn", 1)), gh.id, gh.sign(t, report)),
	} {
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("an unverified report answered %d: %s", w.Code, w.Body)
		}
	}
	if !works(t, key) {
		t.Fatal("an unverified report revoked the key")
	}
	bad, _ := json.Marshal([]any{})
	if w := post(bad, gh.id, gh.sign(t, bad)); w.Code != http.StatusBadRequest {
		t.Fatalf("an empty report answered %d", w.Code)
	}

	w := post(report, gh.id, gh.sign(t, report))
	if w.Code != http.StatusOK {
		t.Fatalf("a signed report answered %d: %s", w.Code, w.Body)
	}
	var got []apikey.LeakFeedback
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(key))
	if len(got) != 2 || got[0].Label != "true_positive" || got[0].TokenHash != hex.EncodeToString(sum[:]) || got[1].Label != "false_positive" {
		t.Fatalf("feedback: %+v", got)
	}
	if works(t, key) {
		t.Fatal("a reported key still works")
	}
	rows := call(t, "GET", "/api/integrations/api-keys", owner, nil).json(t)["apiKeys"].([]any)
	for _, r := range rows {
		if m := r.(map[string]any); m["id"] == id && (m["status"] != "revoked" || m["revokedBy"] != "secret-scanning") {
			t.Fatalf("the reported key in the registry: %v", m)
		}
	}
	sys := string(call(t, "GET", "/api/integrations/activity?source=system", owner, nil).Body)
	if strings.Count(sys, `"event":"apikey.leaked"`) != 1 || !strings.Contains(sys, "erp-sync") || strings.Contains(sys, key[20:40]) {
		t.Fatalf("System rows: %s", sys)
	}
	// Reported again: still ours, nothing more written.
	if w := post(report, gh.id, gh.sign(t, report)); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "true_positive") {
		t.Fatalf("a second report: %d %s", w.Code, w.Body)
	}
	if s := string(call(t, "GET", "/api/integrations/activity?source=system", owner, nil).Body); strings.Count(s, `"event":"apikey.leaked"`) != 1 {
		t.Fatal("a second report wrote a second System row")
	}
	// The stack itself has no scanning keys configured.
	r := callAt(t, server.URL, "POST", "/api/integrations/secret-scanning", "", report, "Github-Public-Key-Identifier", gh.id, "Github-Public-Key-Signature", gh.sign(t, report))
	expect(t, r, http.StatusNotFound, "NOT_FOUND")
}
