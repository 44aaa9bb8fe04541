package apidoc

import (
	_ "embed"
	"errors"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
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
	Receivers []Receiver       `json:"receivers"`
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
	var doc struct {
		Delivery struct {
			Headers []DeliveryHeader `yaml:"headers"`
			Rules   []string         `yaml:"rules"`
		} `yaml:"x-webhook-delivery"`
	}
	if err := yaml.Unmarshal(Document, &doc); err != nil {
		return Receiving{}, err
	}
	if len(doc.Delivery.Headers) == 0 || len(doc.Delivery.Rules) == 0 {
		return Receiving{}, errors.New("apidoc: the document has no x-webhook-delivery headers and rules")
	}
	return Receiving{Headers: doc.Delivery.Headers, Rules: doc.Delivery.Rules, Receivers: Receivers()}, nil
})
