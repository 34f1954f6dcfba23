package scheduling

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Slot is a time a provider can see a patient for a visit type.
type Slot struct {
	ID        string
	Provider  string
	VisitType string
	Start     time.Time
	End       time.Time
	Location  string
	Mode      string
}

// Units lists the starts of the 15-minute units the slot takes.
func (s Slot) Units() []time.Time {
	var out []time.Time
	for t := s.Start; t.Before(s.End); t = t.Add(Unit) {
		out = append(out, t)
	}
	return out
}

// slotTime is how a slot id writes its start: UTC, to the minute.
const slotTime = "20060102T1504Z"

// SlotID names a slot: provider, visit type and start, so any slot a
// client names can be checked against the directory.
func SlotID(provider, visitType string, start time.Time) string {
	return provider + "~" + visitType + "~" + start.UTC().Format(slotTime)
}

// Query selects open slots. Empty fields do not filter.
type Query struct {
	Specialty string
	Provider  string
	Location  string
	Language  string
	// Mode is in-person or telehealth.
	Mode string
	// VisitType, when empty, is each provider's first visit type of the
	// mode (or their first).
	VisitType string
	From, To  time.Time
	Limit     int
}

// MaxSearchDays bounds a search's range.
const MaxSearchDays = 62

// Validate checks the query against the directory.
func (d *Directory) Validate(q Query) error {
	if q.To.Before(q.From) || q.To.Sub(q.From) > MaxSearchDays*24*time.Hour {
		return fmt.Errorf("a search runs forward over at most %d days", MaxSearchDays)
	}
	if q.Provider != "" {
		if _, ok := d.Provider(q.Provider); !ok {
			return fmt.Errorf("unknown provider %q", q.Provider)
		}
	}
	if q.Specialty != "" && !slices.Contains(d.Specialties(), q.Specialty) {
		return fmt.Errorf("unknown specialty %q", q.Specialty)
	}
	if q.Location != "" {
		if _, ok := d.Location(q.Location); !ok {
			return fmt.Errorf("unknown location %q", q.Location)
		}
	}
	if q.VisitType != "" {
		if _, ok := d.VisitType(q.VisitType); !ok {
			return fmt.Errorf("unknown visit type %q", q.VisitType)
		}
	}
	if q.Mode != "" && q.Mode != InPerson && q.Mode != Telehealth {
		return fmt.Errorf("mode must be in-person or telehealth")
	}
	return nil
}

// Matching lists the providers a query may give slots of.
func (d *Directory) Matching(q Query) []Provider {
	var out []Provider
	for _, p := range d.Providers {
		if (q.Provider == "" || p.ID == q.Provider) && (q.Specialty == "" || p.Specialty == q.Specialty) &&
			(q.Language == "" || slices.Contains(p.Languages, q.Language)) {
			out = append(out, p)
		}
	}
	return out
}

// visitTypeFor picks the visit type of a query for a provider.
func (d *Directory) visitTypeFor(p Provider, q Query) (VisitType, bool) {
	if q.VisitType != "" {
		if !slices.Contains(p.VisitTypes, q.VisitType) {
			return VisitType{}, false
		}
		v, _ := d.VisitType(q.VisitType)
		return v, q.Mode == "" || v.Mode == q.Mode
	}
	for _, id := range p.VisitTypes {
		v, _ := d.VisitType(id)
		if q.Mode == "" || v.Mode == q.Mode {
			return v, true
		}
	}
	return VisitType{}, false
}

// Candidates lists the slots the providers' weekly blocks give over the
// query's range, without holidays and time off, soonest first (then by
// provider): every slot that could be open, before bookings are taken
// out.
func (d *Directory) Candidates(q Query) []Slot {
	var out []Slot
	for _, p := range d.Matching(q) {
		v, ok := d.visitTypeFor(p, q)
		if !ok {
			continue
		}
		out = append(out, d.providerSlots(p, v, q)...)
	}
	slices.SortFunc(out, func(a, b Slot) int { return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Provider, b.Provider)) })
	return out
}

func (d *Directory) providerSlots(p Provider, v VisitType, q Query) []Slot {
	var out []Slot
	first := q.From.In(d.loc)
	day := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, d.loc)
	for ; day.Before(q.To); day = day.AddDate(0, 0, 1) {
		if d.closed(p, day.Format(time.DateOnly)) {
			continue
		}
		for _, b := range p.Weekly {
			if !slices.Contains(b.weekdays, day.Weekday()) || !slices.Contains(b.Modes, v.Mode) ||
				(q.Location != "" && b.Location != q.Location) {
				continue
			}
			step := v.Minutes
			for m := b.from; m+v.Minutes <= b.to; m += step {
				start := time.Date(day.Year(), day.Month(), day.Day(), m/60, m%60, 0, 0, d.loc)
				if start.Before(q.From) || !start.Before(q.To) {
					continue
				}
				out = append(out, Slot{ID: SlotID(p.ID, v.ID, start), Provider: p.ID, VisitType: v.ID, Start: start.UTC(),
					End: start.Add(v.Duration()).UTC(), Location: b.Location, Mode: v.Mode})
			}
		}
	}
	return out
}

// Slot checks a slot id against the directory: the provider offers the
// visit type and works then (a block of theirs holds it, on a day that is
// not a holiday or time off). It returns the slot.
func (d *Directory) Slot(id string) (Slot, error) {
	parts := strings.Split(id, "~")
	if len(parts) != 3 {
		return Slot{}, fmt.Errorf("slot %q is not a slot id", id)
	}
	start, err := time.Parse(slotTime, parts[2])
	if err != nil {
		return Slot{}, fmt.Errorf("slot %q is not a slot id", id)
	}
	p, ok := d.Provider(parts[0])
	if !ok {
		return Slot{}, fmt.Errorf("slot %q names an unknown provider", id)
	}
	v, ok := d.visitTypeFor(p, Query{VisitType: parts[1]})
	if !ok {
		return Slot{}, fmt.Errorf("slot %q names a visit type the provider does not offer", id)
	}
	for _, s := range d.providerSlots(p, v, Query{From: start, To: start.Add(time.Minute)}) {
		if s.ID == id {
			return s, nil
		}
	}
	return Slot{}, fmt.Errorf("slot %q is not in the provider's schedule", id)
}
