package config

// With and Required let the external tests (functions_test.go) parse as
// the template would.
var (
	With     = with
	Required = required
)
