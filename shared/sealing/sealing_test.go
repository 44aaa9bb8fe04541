package sealing

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
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

type fakeSecrets struct {
	value string
	err   error
	asked string
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.asked = aws.ToString(in.SecretId)
	if f.err != nil {
		return nil, f.err
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(f.value)}, nil
}

// Load reads the named secret once and seals with it; a read that fails
// says which secret, and a value too short for a key is refused.
func TestLoad(t *testing.T) {
	sm := &fakeSecrets{value: strings.Repeat("k", 64)}
	s, err := Load(context.Background(), sm, "arn:aws:secretsmanager:eu-west-1:1:secret:app")
	if err != nil || sm.asked != "arn:aws:secretsmanager:eu-west-1:1:secret:app" {
		t.Fatalf("load: %v, asked %q", err, sm.asked)
	}
	sealed, err := s.Seal([]byte("x"), "ctx")
	if err != nil {
		t.Fatal(err)
	}
	if other, _ := New(strings.Repeat("k", 64)); other == nil {
		t.Fatal("same material")
	} else if got, err := other.Open(sealed, "ctx"); err != nil || string(got) != "x" {
		t.Fatalf("the loaded key is not the secret's: %v", err)
	}
	if _, err := Load(context.Background(), &fakeSecrets{err: errors.New("AccessDenied")}, "app"); err == nil || !strings.Contains(err.Error(), "app") {
		t.Fatalf("a failed read: %v", err)
	}
	if _, err := Load(context.Background(), &fakeSecrets{value: "short"}, "app"); err == nil {
		t.Fatal("a short secret was accepted")
	}
}
