package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/uniasset/integrations/shared/compact"
	"github.com/uniasset/integrations/shared/tenant"
)

// A key that reaches the call log in any spelling a leak takes — split by
// spaces, tabs or line breaks, cut in halves, upper-cased, URL-encoded, in
// a query string, in headers — is absent from a scan of IntegrationsTable:
// none of its secret hex is stored, in any case.
func TestKeyLeaksAreRedacted(t *testing.T) {
	t.Parallel()
	tid := newTenant(t, tenant.Enterprise)
	key, _ := newKey(t, tid, "asset:create")
	hexPart := strings.TrimPrefix(key, "ua_live_")
	half1, half2 := hexPart[:32], hexPart[32:]
	spellings := []string{
		"ua_live_ " + hexPart, "ua_live_\t" + hexPart, "ua_live_\n" + hexPart,
		"ua_live_" + half1 + "\n" + half2, "ua_live_" + half1 + " " + half2,
		strings.ToUpper(key), "Bearer%20" + key, "Bearer%20ua%5Flive%5F" + hexPart,
		url.QueryEscape(key), "ua_live_%20" + half1 + "%0A" + half2,
	}
	for i, s := range spellings {
		// A body the API refuses (an unknown field) is logged all the same.
		expect(t, call(t, "POST", "/api/integrations/assets/create", key, map[string]any{"name": "Leak", "categoryName": "C", "statusName": "S", "notes": "pasted " + s}), http.StatusBadRequest, "VALIDATION_ERROR")
		// The same in headers, in a body that is not JSON, and in a query string.
		h := strings.NewReplacer("\n", " ", "\t", " ").Replace(s) // a header value holds no line break
		call(t, "POST", "/api/integrations/assets/create?api_key="+url.QueryEscape(s), key, "not json "+s,
			"User-Agent", "erp/1.0 "+h, "Idempotency-Key", h, "X-Debug", h)
		if i == 0 {
			createAsset(t, key, map[string]any{"name": "Kept", "categoryName": "C", "statusName": "S"})
		}
	}
	stored := tenantIntegrationsText(t, tid)
	if !strings.Contains(stored, "Kept") || !strings.Contains(stored, "pasted") {
		t.Fatal("the scan found none of the tenant's call log")
	}
	// Every 12-character window of the key's secret part (after the 16 hex
	// digits of its lookup id, which the registry stores by design).
	secret := hexPart[16:]
	for i := 0; i+12 <= len(secret); i += 4 {
		for _, part := range []string{secret[i : i+12], strings.ToUpper(secret[i : i+12])} {
			if strings.Contains(stored, part) {
				at := strings.Index(stored, part)
				t.Fatalf("the key's %q is stored: …%s…", part, stored[max(0, at-80):min(len(stored), at+40)])
			}
		}
	}
}

// tenantIntegrationsText is every item of IntegrationsTable in the
// tenant's partitions, as JSON text (a Scan: tests only).
func tenantIntegrationsText(t *testing.T, tenantID string) string {
	t.Helper()
	var b strings.Builder
	p := dynamodb.NewScanPaginator(stack.DB, &dynamodb.ScanInput{
		TableName: aws.String(stack.IntegrationsTable), FilterExpression: aws.String("begins_with(PK, :t)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberS{Value: "TENANT#" + tenantID + "#"}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			// Packed text (bodies, payloads: shared/compact) is read as the text it holds.
			for name, v := range item {
				if bin, ok := v.(*types.AttributeValueMemberB); ok {
					if text, err := compact.Unpack(bin.Value); err == nil {
						item[name] = &types.AttributeValueMemberS{Value: text}
					}
				}
			}
			var m map[string]any
			if err := attributevalue.UnmarshalMap(item, &m); err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(m)
			b.Write(raw)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
