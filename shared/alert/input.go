package alert

import "github.com/uniasset/integrations/shared/validate"

// LeadsInput is the body of PATCH /api/integrations/alert-settings: any of
// the lead times, in whole days.
type LeadsInput struct {
	MaintenanceDays *Days `json:"maintenanceDays"`
	DocumentDays    *Days `json:"documentDays"`
	WarrantyDays    *Days `json:"warrantyDays"`
}

// Days is a whole number of days written as any JSON number with no
// fraction (14, 14.0 and 1.4e1 alike: JSON Schema's integer).
type Days int

func (d *Days) UnmarshalJSON(b []byte) error {
	n, err := validate.Whole(b, "must be a whole number of days from 1 to 180")
	*d = Days(n)
	return err
}

func (in *LeadsInput) Validate() error {
	var p validate.Problems
	given := 0
	for _, f := range []struct {
		name string
		v    *Days
	}{{"maintenanceDays", in.MaintenanceDays}, {"documentDays", in.DocumentDays}, {"warrantyDays", in.WarrantyDays}} {
		if f.v == nil {
			continue
		}
		given++
		if int(*f.v) < MinLeadDays || int(*f.v) > MaxLeadDays {
			p.Add(f.name, "must be a whole number of days from 1 to 180")
		}
	}
	if given == 0 {
		p.Add("body", "give at least one of maintenanceDays, documentDays, warrantyDays")
	}
	return p.Err()
}

// Apply sets the lead times given in l.
func (in *LeadsInput) Apply(l *Leads) {
	for _, f := range []struct {
		v  *Days
		to *int
	}{{in.MaintenanceDays, &l.MaintenanceDays}, {in.DocumentDays, &l.DocumentDays}, {in.WarrantyDays, &l.WarrantyDays}} {
		if f.v != nil {
			*f.to = int(*f.v)
		}
	}
}
