//go:build ignore

// A UniAsset webhook receiver: verifies each delivery's signature, skips
// one it has processed (by webhook-id), and acknowledges with 204.
// Run: UNIASSET_WEBHOOK_SECRET=whsec_... PORT=8080 go run receiver.go
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// verify checks webhook-signature (Standard Webhooks): an HMAC-SHA256 of
// "id.timestamp.body", keyed by the base64 part of the whsec_ secret, is one
// of its space-separated "v1,<base64>" values; and the timestamp is recent.
func verify(secret string, h http.Header, body []byte) bool {
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(secs, 0)).Abs() > 5*time.Minute {
		return false // a replay of an old request, or no timestamp
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		got, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sig, "v1,"))
		if err == nil && strings.HasPrefix(sig, "v1,") && hmac.Equal(got, want) {
			return true // during a secret rotation, one signature per secret
		}
	}
	return false
}

// process is your work: here it prints what arrived.
func process(id string, body []byte) error {
	var delivery struct {
		Event     string         `json:"event"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &delivery); err != nil {
		return err
	}
	fmt.Println("received", delivery.Event, id, delivery.Data["assetId"])
	return nil
}

func main() {
	secret := os.Getenv("UNIASSET_WEBHOOK_SECRET")
	// Without the secret every signature would be checked with an empty key.
	if key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_")); !strings.HasPrefix(secret, "whsec_") || err != nil || len(key) < 24 {
		log.Fatal("UNIASSET_WEBHOOK_SECRET must be the webhook's whsec_ secret")
	}
	var mu sync.Mutex
	// Use your database (keep ids at least 14 days: a recovery resends that
	// far back): a retry or a resend repeats the webhook-id. false: being done.
	done := map[string]bool{}
	// The endpoint verification (POST .../verify): echo the challenge.
	http.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"verification": r.Header.Get("X-UniAsset-Challenge")})
	})
	http.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) { // Go 1.22+ patterns
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20)) // the raw bytes: never re-encoded JSON
		if err != nil || !verify(secret, r.Header, body) {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		// Claim the id before the work, so a copy arriving meanwhile is not
		// done twice (nor acknowledged before the work is); give it back if
		// the work fails, so the retry does it.
		id := r.Header.Get("webhook-id")
		mu.Lock()
		finished, claimed := done[id]
		if !claimed {
			done[id] = false
		}
		mu.Unlock()
		switch {
		case finished:
			fmt.Println("duplicate", id)
			w.WriteHeader(http.StatusNoContent) // acknowledged before: acknowledge again
			return
		case claimed:
			http.Error(w, "in progress", http.StatusConflict) // another copy is being done: retried later
			return
		}
		err = process(id, body)
		mu.Lock()
		if err != nil {
			delete(done, id)
		} else {
			done[id] = true
		}
		mu.Unlock()
		if err != nil {
			http.Error(w, "try again", http.StatusInternalServerError) // retried later
			return
		}
		w.WriteHeader(http.StatusNoContent) // within 10 s; do slow work after answering
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil))
}
