package devstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/aws/smithy-go/middleware"
)

// StartForTests starts a private stack for a test binary: its own moto on a
// free port (or AWS_ENDPOINT_URL when set, with a unique prefix), a temporary
// signing key, and cheap bcrypt so suites stay fast. Call Close when done.
func StartForTests(ctx context.Context, overrides map[string]string) (*Stack, func(), error) {
	return StartMetered(ctx, overrides)
}

// StartMetered is StartForTests with apiOptions on every function's AWS
// clients (the cost bench's meters).
func StartMetered(ctx context.Context, overrides map[string]string, apiOptions ...func(*middleware.Stack) error) (*Stack, func(), error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	dir, err := os.MkdirTemp("", "devstack-*")
	if err != nil {
		return nil, nil, err
	}
	// Short retries keep fault tests fast; the timeout leaves room for a slow
	// 200 under the race detector on a busy machine. Private receivers are
	// local httptest servers.
	o := map[string]string{"BCRYPT_COST": "4", "WEBHOOK_ALLOW_PRIVATE": "true", "DELIVERY_TIMEOUT": "5s", "RETRY_SCHEDULE": "1s,1s"}
	for k, v := range overrides {
		o[k] = v
	}
	s, err := Start(ctx, Options{
		Root: root, Endpoint: os.Getenv("AWS_ENDPOINT_URL"), MotoPort: 0, MotoLog: filepath.Join(dir, "moto.log"),
		Prefix: fmt.Sprintf("test-%d", os.Getpid()), KeyPath: filepath.Join(dir, "jwt.key"), Overrides: o, APIOptions: apiOptions,
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return s, func() { s.Close(); os.RemoveAll(dir) }, nil
}
