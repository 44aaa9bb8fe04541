package adminapi

import (
	"encoding/json"
	"net/http"

	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/apikey"
	"github.com/uniasset/integrations/shared/httpapi"
)

// leakReportPath takes a secret scanner's reports of published keys
// (GitHub's secret-scanning partner program). No token: a report is
// trusted for its signature alone.
const leakReportPath = "/api/integrations/secret-scanning"

// reportLeaks verifies a report's signature over its raw body, then
// revokes each reported token that is a key of ours and answers which were.
func (a *API) reportLeaks(w http.ResponseWriter, r *http.Request) error {
	if len(a.ScanningKeys) == 0 {
		return apierror.New(apierror.NotFound, "leak reports are not configured (SECRET_SCANNING_KEYS)")
	}
	body, err := httpapi.ReadBody(r)
	if err != nil {
		return err
	}
	if a.ScanningKeys.Verify(body, r.Header.Get("Github-Public-Key-Identifier"), r.Header.Get("Github-Public-Key-Signature")) != nil {
		return apierror.New(apierror.Unauthorized, "a leak report must be signed by a configured secret-scanning key")
	}
	// An array, and fields a scanner may add are taken in stride: the
	// report is the scanner's format, not ours.
	var reports []apikey.LeakReport
	if json.Unmarshal(body, &reports) != nil || len(reports) == 0 || len(reports) > apikey.MaxLeakReports {
		return apierror.Invalid(apierror.FieldError{Field: "body", Issue: "must be an array of 1 to 50 reports {token, type, url, source}"})
	}
	found, err := a.Keys.ReportLeaks(r.Context(), reports)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, found)
	return nil
}
