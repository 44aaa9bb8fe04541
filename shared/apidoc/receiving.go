package apidoc

import (
	_ "embed"
	"errors"
	"strings"
	"sync"
)

// The guide's receivers, shown as they are: the tests run each file against
// real deliveries (shared/e2e: TestTheGuidesReceiversVerifyRealDeliveries).
var (
	//go:embed receivers/receiver.go
	receiverGo string
	//go:embed receivers/receiver.js
	receiverJS string
	//go:embed receivers/receiver.py
	receiverPy string
)

// Receiving is the guide's "Receiving webhooks": the headers every
// delivery carries and the rules a receiver follows (the document's
// x-webhook-delivery), and a receiver in three languages.
type Receiving struct {
	Headers   []DeliveryHeader `json:"headers"`
	Rules     []string         `json:"rules"`
	Verify    Verify           `json:"verify"`
	Receivers []Receiver       `json:"receivers"`
}

// Verify is how to check webhook-signature without a library, step by
// step, and a worked example to hold one's code against (the delivery
// package's tests sign its inputs and must get its signatures).
type Verify struct {
	Steps   []string      `yaml:"steps" json:"steps"`
	Example SignedExample `yaml:"example" json:"example"`
}

// SignedExample is one delivery's inputs and signatures.
type SignedExample struct {
	Secret           string `yaml:"secret" json:"secret"`
	WebhookID        string `yaml:"webhookId" json:"webhookId"`
	WebhookTimestamp string `yaml:"webhookTimestamp" json:"webhookTimestamp"`
	Body             string `yaml:"body" json:"body"`
	// SignedContent is what the HMAC covers: derived, so it cannot disagree.
	SignedContent     string `yaml:"-" json:"signedContent"`
	WebhookSignature  string `yaml:"webhookSignature" json:"webhookSignature"`
	UniAssetSignature string `yaml:"uniassetSignature" json:"uniassetSignature"`
}

// DeliveryHeader is one header of every delivery.
type DeliveryHeader struct {
	Name  string `yaml:"name" json:"name"`
	Value string `yaml:"value" json:"value"`
}

// Receiver is a complete webhook receiver in one language.
type Receiver struct {
	Language string `json:"language"`
	File     string `json:"file"`
	Run      string `json:"run"`
	Code     string `json:"code"`
}

// Receivers are the guide's receivers; Code is the file to save as File.
func Receivers() []Receiver {
	run := "UNIASSET_WEBHOOK_SECRET=whsec_... PORT=8080 "
	return []Receiver{
		// The build line keeps the file out of this module's build; go run
		// of the file itself ignores it.
		{"Go", "receiver.go", run + "go run receiver.go", strings.TrimPrefix(receiverGo, "//go:build ignore\n\n")},
		{"Node.js", "receiver.js", run + "node receiver.js", receiverJS},
		{"Python", "receiver.py", run + "python3 receiver.py", receiverPy},
	}
}

// Delivery reads the document's x-webhook-delivery.
var Delivery = sync.OnceValues(func() (Receiving, error) {
	doc, err := parsed()
	if err != nil {
		return Receiving{}, err
	}
	var d struct {
		Headers []DeliveryHeader `yaml:"headers"`
		Rules   []string         `yaml:"rules"`
		Verify  Verify           `yaml:"verify"`
	}
	if err := doc.Delivery.Decode(&d); err != nil {
		return Receiving{}, err
	}
	v := d.Verify
	if len(d.Headers) == 0 || len(d.Rules) == 0 || len(v.Steps) == 0 || v.Example.WebhookSignature == "" {
		return Receiving{}, errors.New("apidoc: the document has no x-webhook-delivery headers, rules and verify")
	}
	v.Example.SignedContent = v.Example.WebhookID + "." + v.Example.WebhookTimestamp + "." + v.Example.Body
	return Receiving{Headers: d.Headers, Rules: d.Rules, Verify: v, Receivers: Receivers()}, nil
})
