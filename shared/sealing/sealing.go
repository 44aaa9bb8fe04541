// Package sealing seals secrets at rest (webhook signing secrets and custom
// headers, later Entra credentials) with XChaCha20-Poly1305 under a key held in
// Secrets Manager (AppKeySecret). Each ciphertext is bound to the item it
// belongs to by associated data, so a sealed value copied to another row fails to open.
package sealing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"

	"github.com/uniasset/integrations/shared/awsclient"
)

// version prefixes every sealed value so the scheme can change without ambiguity.
const version = "v1:"

// Sealer encrypts and decrypts with one derived key.
type Sealer struct{ key []byte }

// New derives the sealing key from the secret material with HKDF-SHA256, so the
// secret may be any string (Secrets Manager generates printable characters).
func New(material string) (*Sealer, error) {
	if len(material) < 32 {
		return nil, errors.New("sealing: key material must be at least 32 characters")
	}
	key := make([]byte, chacha20poly1305.KeySize)
	// The HKDF info keeps the package's first name ("appkey"): it is part of
	// the derived key, so changing it would leave every sealed value unreadable.
	if _, err := io.ReadFull(hkdf.New(sha256.New, []byte(material), nil, []byte("uniasset-integrations appkey v1")), key); err != nil {
		return nil, err
	}
	return &Sealer{key: key}, nil
}

// Load reads the key material from Secrets Manager.
func Load(ctx context.Context, sm awsclient.Secrets, secretID string) (*Sealer, error) {
	material, err := awsclient.ReadSecret(ctx, sm, secretID)
	if err != nil {
		return nil, fmt.Errorf("sealing: %w", err)
	}
	return New(material)
}

// Seal encrypts plaintext bound to context (for example "webhook:<tenant>:<id>").
func (s *Sealer) Seal(plaintext []byte, context string) (string, error) {
	aead, err := chacha20poly1305.NewX(s.key)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := aead.Seal(nonce, nonce, plaintext, []byte(context))
	return version + base64.RawStdEncoding.EncodeToString(sealed), nil
}

// ErrOpen means the value was not sealed by this key for this context.
var ErrOpen = errors.New("sealing: cannot open sealed value")

// Open decrypts a value sealed with the same key and context.
func (s *Sealer) Open(sealed, context string) ([]byte, error) {
	if !strings.HasPrefix(sealed, version) {
		return nil, ErrOpen
	}
	raw, err := base64.RawStdEncoding.DecodeString(sealed[len(version):])
	if err != nil {
		return nil, ErrOpen
	}
	aead, err := chacha20poly1305.NewX(s.key)
	if err != nil {
		return nil, err
	}
	if len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(context))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
