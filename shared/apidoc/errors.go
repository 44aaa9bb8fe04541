package apidoc

import (
	_ "embed"
	"errors"
	"strings"
	"sync"
)

//go:embed snippets/retry.mjs
var retrySnippet string

// Errors is the guide's "Errors" and "Retrying safely": the envelope, every
// code the integration API answers with when and whether to retry, the
// Idempotency-Key rules (the document's x-integration-errors), and a
// complete script that retries a write safely.
type Errors struct {
	Envelope    string      `json:"envelope"`
	Codes       []ErrorCode `json:"codes"`
	Idempotency []string    `json:"idempotency"`
	Retry       Snippet     `json:"retry"`
}

// ErrorCode is one error answer.
type ErrorCode struct {
	Status int    `yaml:"status" json:"status"`
	Code   string `yaml:"code" json:"code"`
	When   string `yaml:"when" json:"when"`
	Retry  string `yaml:"retry" json:"retry"`
}

// Snippet is a complete program to save as File and run as Run says.
type Snippet struct {
	File string `json:"file"`
	Run  string `json:"run"`
	Code string `json:"code"`
}

var integrationErrors = sync.OnceValues(func() (Errors, error) {
	doc, err := parsed()
	if err != nil {
		return Errors{}, err
	}
	var e struct {
		Envelope    string      `yaml:"envelope"`
		Codes       []ErrorCode `yaml:"codes"`
		Idempotency []string    `yaml:"idempotency"`
	}
	if err := doc.Errors.Decode(&e); err != nil {
		return Errors{}, err
	}
	if e.Envelope == "" || len(e.Codes) == 0 || len(e.Idempotency) == 0 {
		return Errors{}, errors.New("apidoc: the document has no x-integration-errors envelope, codes and idempotency rules")
	}
	return Errors{Envelope: e.Envelope, Codes: e.Codes, Idempotency: e.Idempotency}, nil
})

// ErrorsFor is the guide's errors section, its script calling baseURL.
func ErrorsFor(baseURL string) (Errors, error) {
	e, err := integrationErrors()
	if err != nil {
		return Errors{}, err
	}
	e.Retry = Snippet{File: "create-asset.mjs", Run: "UNIASSET_API_KEY=ua_live_... node create-asset.mjs",
		Code: strings.Replace(retrySnippet, `"__BASE_URL__"`, jsString(baseURL), 1)}
	return e, nil
}
