package appkey

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	s, err := New(strings.Repeat("k", 64))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal([]byte("whsec_abc"), "webhook:t1:wh_1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "whsec_abc") {
		t.Fatal("plaintext visible in sealed value")
	}
	again, _ := s.Seal([]byte("whsec_abc"), "webhook:t1:wh_1")
	if again == sealed {
		t.Fatal("two seals of one value are identical: nonce reused")
	}
	got, err := s.Open(sealed, "webhook:t1:wh_1")
	if err != nil || string(got) != "whsec_abc" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open(sealed, "webhook:t2:wh_1"); err != ErrOpen {
		t.Fatal("a value opened under another row's context")
	}
	other, _ := New(strings.Repeat("x", 64))
	if _, err := other.Open(sealed, "webhook:t1:wh_1"); err != ErrOpen {
		t.Fatal("a value opened under another key")
	}
	// One bit flipped in the ciphertext (replacing text characters could
	// leave the bytes as they were: the value may already end that way, and
	// base64's last character carries unused bits).
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sealed, version))
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 1
	tampered := version + base64.RawStdEncoding.EncodeToString(raw)
	if _, err := s.Open(tampered, "webhook:t1:wh_1"); err != ErrOpen {
		t.Fatal("a tampered value opened")
	}
	if _, err := New("short"); err == nil {
		t.Fatal("short key material accepted")
	}
}
