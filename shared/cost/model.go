package cost

import (
	"fmt"
	"math"
)

// Model is what the cost bench measured, in dollars per one of each (at
// the prices in Price), and what a stored row takes. `make bench` writes it
// (infra/bench/cost-model.json); `make cost` prices a month with it.
type Model struct {
	Measured string `json:"measured"`
	// WriteAndEvent is an integration API write and its event delivered to
	// one webhook on the first attempt, one at a time: the dearest case
	// (at volume the event source mappings batch SQS requests and
	// invocations).
	WriteAndEvent float64 `json:"writeAndEvent"`
	// ExtraWebhook is each further webhook an event goes to.
	ExtraWebhook float64 `json:"extraWebhook"`
	// FailedDelivery is what a delivery failing every attempt costs more
	// than one delivered at once.
	FailedDelivery float64 `json:"failedDelivery"`
	// AlertFired is an expiry alert fired and delivered to one webhook.
	AlertFired float64 `json:"alertFired"`
	// AlertPass is one pass of the expiry alerts with nothing due.
	AlertPass float64 `json:"alertPass"`
	// EntraSync is one directory sync of 1,000 unchanged users.
	EntraSync float64 `json:"entraSync"`
	// CallRowBytes and DeliveryBytes are what one call row and one
	// delivery record take stored: the item and its index entry, each with
	// DynamoDB's 100 bytes of overhead.
	CallRowBytes  float64 `json:"callRowBytes"`
	DeliveryBytes float64 `json:"deliveryBytes"`
}

// Volume is a month of a deployment's traffic.
type Volume struct {
	Writes   float64 // integration API writes, each an event
	Webhooks float64 // webhooks an event goes to, on average
	Failing  float64 // share of deliveries that fail every attempt (0 to 1)
	Alerts   float64 // expiry alerts fired
	// EntraTenants sync a directory of 1,000 users every 15 minutes.
	EntraTenants float64
	// RetentionDays is RECORD_RETENTION_DAYS (0: rows are kept; the
	// storage line is then the month after a year of them).
	RetentionDays float64
}

// Line is one part of a month's bill.
type Line struct {
	What    string
	Dollars float64
}

// Scheduled runs a month: every 15 minutes (the template's schedules).
const scheduledRuns = 30 * 24 * 4

// Month prices a month of v.
func (m Model) Month(v Volume) ([]Line, error) {
	if v.Writes < 0 || v.Webhooks < 0 || v.Failing < 0 || v.Failing > 1 || v.Alerts < 0 || v.EntraTenants < 0 || v.RetentionDays < 0 {
		return nil, fmt.Errorf("cost: a volume is negative, or the failing share is outside 0 to 1")
	}
	deliveries := v.Writes * v.Webhooks
	kept := 12.0 // months of rows stored: a year, or the retention
	if v.RetentionDays > 0 {
		kept = math.Min(v.RetentionDays/30, 12)
	}
	stored := (v.Writes*m.CallRowBytes + deliveries*m.DeliveryBytes) * kept
	var lines []Line
	add := func(what string, dollars float64) {
		if dollars > 0 {
			lines = append(lines, Line{what, dollars})
		}
	}
	if v.Writes > 0 {
		add(fmt.Sprintf("%s API writes, each delivered to its first webhook", count(v.Writes)), v.Writes*m.WriteAndEvent)
	}
	add(fmt.Sprintf("%s deliveries to further webhooks", count(deliveries-math.Min(deliveries, v.Writes))), (deliveries-math.Min(deliveries, v.Writes))*m.ExtraWebhook)
	add(fmt.Sprintf("%s deliveries failing every attempt", count(deliveries*v.Failing)), deliveries*v.Failing*m.FailedDelivery)
	add(fmt.Sprintf("%s expiry alerts", count(v.Alerts)), v.Alerts*m.AlertFired)
	add(fmt.Sprintf("%d expiry alert passes", scheduledRuns), scheduledRuns*m.AlertPass)
	add(fmt.Sprintf("%s Entra syncs of 1,000 users", count(v.EntraTenants*scheduledRuns)), v.EntraTenants*scheduledRuns*m.EntraSync)
	add(fmt.Sprintf("storage: %.0f GB of call rows and delivery records", stored/(1<<30)), stored/(1<<30)*Price.StorageGBMonth)
	return lines, nil
}

// count spells n for a bill: 12.5M, 300k, 40.
func count(n float64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.4gM", n/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.4gk", n/1e3)
	}
	return fmt.Sprintf("%.0f", n)
}
