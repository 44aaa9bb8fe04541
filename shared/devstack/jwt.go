package devstack

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Local token settings: the local gateway checks exactly what API Gateway's JWT
// authorizer checks (signature, issuer, audience, expiry) with a local key.
const (
	LocalIssuer   = "https://auth.uniasset.local/"
	LocalAudience = "uniasset-integrations"
)

// Issuer signs and verifies local admin tokens. Its HS256 key lives in a file
// so that `go run ./infra/local token` and a running `make run` agree.
type Issuer struct{ key []byte }

// LoadIssuer reads the key at path, creating it (0600) on first use.
func LoadIssuer(path string) (*Issuer, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, key, 0o600); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("%s: signing key too short", path)
	}
	return &Issuer{key: key}, nil
}

// Token returns a signed token with the claims AdminApiFunction reads.
func (i *Issuer) Token(tenantID, role, sub string, ttl time.Duration) (string, error) {
	return i.Sign(map[string]any{"sub": sub, "tenant_id": tenantID, "role": role}, ttl)
}

// Sign returns a signed token with the given claims (any JSON values, so
// tests can send the wrong types) plus issuer, audience and lifetime.
func (i *Issuer) Sign(claims map[string]any, ttl time.Duration) (string, error) {
	now := time.Now()
	c := jwt.MapClaims{"iss": LocalIssuer, "aud": LocalAudience, "iat": now.Unix(), "exp": now.Add(ttl).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(i.key)
}

// Verify checks a token and returns its claims flattened to strings, the shape
// API Gateway puts in requestContext.authorizer.jwt.claims.
func (i *Issuer) Verify(token string) (map[string]string, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return i.key, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(LocalIssuer), jwt.WithAudience(LocalAudience),
		jwt.WithExpirationRequired())
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(claims))
	for k, v := range claims {
		switch x := v.(type) {
		case string:
			out[k] = x
		case float64:
			out[k] = fmt.Sprintf("%.0f", x)
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return out, nil
}
