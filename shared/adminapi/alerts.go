package adminapi

import (
	"math/big"
	"net/http"
	"strconv"
	"strings"

	"github.com/uniasset/integrations/shared/alert"
	"github.com/uniasset/integrations/shared/apierror"
	"github.com/uniasset/integrations/shared/httpapi"
	"github.com/uniasset/integrations/shared/validate"
)

// alertSettings is the body of GET and PATCH /alert-settings.
type alertSettings struct {
	alert.Leads
	Defaults  alert.Leads `json:"defaults"`
	UpdatedAt *string     `json:"updatedAt"`
	UpdatedBy *string     `json:"updatedBy"`
}

func viewSettings(st alert.Settings) alertSettings {
	v := alertSettings{Leads: st.Leads, Defaults: alert.DefaultLeads}
	if st.UpdatedAt != "" {
		v.UpdatedAt, v.UpdatedBy = &st.UpdatedAt, &st.UpdatedBy
	}
	return v
}

func (a *API) getAlertSettings(w http.ResponseWriter, r *http.Request, u User) error {
	st, err := a.Alerts.Get(r.Context(), u.TenantID)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, viewSettings(st))
	return nil
}

// leadsInput is PATCH /alert-settings: any of the lead times, in whole days.
type leadsInput struct {
	MaintenanceDays *days `json:"maintenanceDays"`
	DocumentDays    *days `json:"documentDays"`
	WarrantyDays    *days `json:"warrantyDays"`
}

// days is a whole number of days written as any JSON number with no
// fraction (14, 14.0 and 1.4e1 alike: JSON Schema's integer).
type days int

func (d *days) UnmarshalJSON(b []byte) error {
	n, err := parseWhole(b, "must be a whole number of days from 1 to 180")
	*d = days(n)
	return err
}

// parseWhole reads a JSON number whose exact value is whole (14, 14.0,
// 1.4e1), at most 1e9 either side of zero; anything else — a fraction, one
// that would round to whole as a float (0.99999999999999999, 1e-400), a
// string, boolean or null — is a VALIDATION_ERROR with issue.
func parseWhole(b []byte, issue string) (int, error) {
	bad := apierror.Invalid(apierror.FieldError{Field: "body", Issue: issue})
	s := string(b)
	if s == "" || len(s) > 64 || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return 0, bad
	}
	// Bound the exponent before big.Rat expands it: 1e999999999 is a short
	// way to ask for a very large number.
	if _, exp, ok := strings.Cut(strings.ToLower(s), "e"); ok {
		if e, err := strconv.Atoi(exp); err != nil || e < -64 || e > 64 {
			return 0, bad
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || !r.IsInt() || r.Num().CmpAbs(big.NewInt(1e9)) > 0 {
		return 0, bad
	}
	return int(r.Num().Int64()), nil
}

func (in *leadsInput) Validate() error {
	var p validate.Problems
	given := 0
	for _, f := range []struct {
		name string
		v    *days
	}{{"maintenanceDays", in.MaintenanceDays}, {"documentDays", in.DocumentDays}, {"warrantyDays", in.WarrantyDays}} {
		if f.v == nil {
			continue
		}
		given++
		if int(*f.v) < alert.MinLeadDays || int(*f.v) > alert.MaxLeadDays {
			p.Add(f.name, "must be a whole number of days from 1 to 180")
		}
	}
	if given == 0 {
		p.Add("body", "give at least one of maintenanceDays, documentDays, warrantyDays")
	}
	return p.Err()
}

func (a *API) patchAlertSettings(w http.ResponseWriter, r *http.Request, u User) error {
	var in leadsInput
	if err := httpapi.ReadValid(r, &in, in.Validate); err != nil {
		return err
	}
	st, err := a.Alerts.Change(r.Context(), u.TenantID, u.Subject, a.Now(), func(l *alert.Leads) {
		for _, f := range []struct {
			v  *days
			to *int
		}{{in.MaintenanceDays, &l.MaintenanceDays}, {in.DocumentDays, &l.DocumentDays}, {in.WarrantyDays, &l.WarrantyDays}} {
			if f.v != nil {
				*f.to = int(*f.v)
			}
		}
	})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, viewSettings(st))
	return nil
}
