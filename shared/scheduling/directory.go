// Package scheduling is appointments: the directory of providers, their
// weekly availability and exceptions, visit types, the open slots they
// produce, and appointments with their states and history. It has no AWS
// imports; the store that books a slot in one transaction is an adapter.
package scheduling

import (
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/patientservicecenter/psc/shared/i18n"
)

// Unit is the grid every visit and block is cut on: a booking holds each
// 15-minute unit of its visit, so two visits of different lengths can
// never overlap.
const Unit = 15 * time.Minute

// Modes of a visit.
const (
	InPerson   = "in-person"
	Telehealth = "telehealth"
)

// Text is a text in English and Spanish.
type Text = i18n.Text

// Location is where in-person visits happen.
type Location struct {
	ID      string `yaml:"id"`
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
}

// VisitType is a kind of visit and its length.
type VisitType struct {
	ID      string `yaml:"id"`
	Name    Text   `yaml:"name"`
	Minutes int    `yaml:"minutes"`
	Mode    string `yaml:"mode"`
}

// Duration is the visit's length.
func (v VisitType) Duration() time.Duration { return time.Duration(v.Minutes) * time.Minute }

// Block is a weekly stretch of a provider's time.
type Block struct {
	Days     []string `yaml:"days"`
	From     string   `yaml:"from"`
	To       string   `yaml:"to"`
	Location string   `yaml:"location"`
	Modes    []string `yaml:"modes"`

	weekdays []time.Weekday
	from, to int // minutes after midnight
}

// DateRange is a span of whole days, both ends included.
type DateRange struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// Provider is a clinician who sees patients.
type Provider struct {
	ID         string      `yaml:"id"`
	Name       string      `yaml:"name"`
	Specialty  string      `yaml:"specialty"`
	Languages  []string    `yaml:"languages"`
	VisitTypes []string    `yaml:"visitTypes"`
	Weekly     []Block     `yaml:"weekly"`
	TimeOff    []DateRange `yaml:"timeOff"`
}

// Directory is the scheduling configuration.
type Directory struct {
	TimeZone   string      `yaml:"timezone"`
	Holidays   []string    `yaml:"holidays"`
	Locations  []Location  `yaml:"locations"`
	VisitTypes []VisitType `yaml:"visitTypes"`
	Providers  []Provider  `yaml:"providers"`

	loc *time.Location
}

//go:embed directory.yaml
var directoryYAML []byte

// LoadDirectory parses and checks the embedded directory.
func LoadDirectory() (*Directory, error) { return ParseDirectory(directoryYAML) }

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// ParseDirectory parses a directory and checks it: ids well formed and
// unique, references resolve, blocks and visits on the 15-minute grid,
// dates valid.
func ParseDirectory(b []byte) (*Directory, error) {
	var d Directory
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("scheduling directory: %w", err)
	}
	loc, err := time.LoadLocation(d.TimeZone)
	if err != nil || d.TimeZone == "" {
		return nil, fmt.Errorf("scheduling directory: timezone %q is not an IANA zone", d.TimeZone)
	}
	d.loc = loc
	for _, h := range d.Holidays {
		if _, err := time.Parse(time.DateOnly, h); err != nil {
			return nil, fmt.Errorf("scheduling directory: holiday %q is not YYYY-MM-DD", h)
		}
	}
	seen := map[string]bool{}
	unique := func(kind, id string) error {
		if !idPattern.MatchString(id) || seen[kind+id] {
			return fmt.Errorf("scheduling directory: %s id %q is malformed or repeated", kind, id)
		}
		seen[kind+id] = true
		return nil
	}
	for _, l := range d.Locations {
		if err := unique("location", l.ID); err != nil {
			return nil, err
		}
		if l.Name == "" || l.Address == "" {
			return nil, fmt.Errorf("scheduling directory: location %s needs a name and an address", l.ID)
		}
	}
	for _, v := range d.VisitTypes {
		if err := unique("visit type", v.ID); err != nil {
			return nil, err
		}
		if v.Minutes <= 0 || v.Minutes%15 != 0 || v.Minutes > 240 {
			return nil, fmt.Errorf("scheduling directory: visit type %s lasts %d minutes; want a multiple of 15 up to 240", v.ID, v.Minutes)
		}
		if v.Mode != InPerson && v.Mode != Telehealth {
			return nil, fmt.Errorf("scheduling directory: visit type %s mode %q is not in-person or telehealth", v.ID, v.Mode)
		}
		if v.Name.EN == "" || v.Name.ES == "" {
			return nil, fmt.Errorf("scheduling directory: visit type %s needs a name in en and es", v.ID)
		}
	}
	for i := range d.Providers {
		p := &d.Providers[i]
		if err := unique("provider", p.ID); err != nil {
			return nil, err
		}
		if p.Name == "" || p.Specialty == "" || len(p.Languages) == 0 || len(p.VisitTypes) == 0 || len(p.Weekly) == 0 {
			return nil, fmt.Errorf("scheduling directory: provider %s needs a name, a specialty, languages, visit types and weekly blocks", p.ID)
		}
		for _, v := range p.VisitTypes {
			if _, ok := d.VisitType(v); !ok {
				return nil, fmt.Errorf("scheduling directory: provider %s offers unknown visit type %q", p.ID, v)
			}
		}
		for j := range p.Weekly {
			if err := d.checkBlock(p.ID, &p.Weekly[j]); err != nil {
				return nil, err
			}
		}
		for _, r := range p.TimeOff {
			from, err1 := time.Parse(time.DateOnly, r.From)
			to, err2 := time.Parse(time.DateOnly, r.To)
			if err1 != nil || err2 != nil || to.Before(from) {
				return nil, fmt.Errorf("scheduling directory: provider %s time off %s..%s is not a YYYY-MM-DD range", p.ID, r.From, r.To)
			}
		}
	}
	return &d, nil
}

func (d *Directory) checkBlock(provider string, b *Block) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("scheduling directory: provider %s block %v %s-%s: %s", provider, b.Days, b.From, b.To, fmt.Sprintf(format, args...))
	}
	for _, day := range b.Days {
		wd, ok := weekdays[day]
		if !ok {
			return bad("day %q is not mon..sun", day)
		}
		b.weekdays = append(b.weekdays, wd)
	}
	var err error
	if b.from, err = clockMinutes(b.From); err != nil {
		return bad("%v", err)
	}
	if b.to, err = clockMinutes(b.To); err != nil {
		return bad("%v", err)
	}
	if b.from%15 != 0 || b.to%15 != 0 || b.to <= b.from {
		return bad("a block runs forward and starts and ends on a quarter hour")
	}
	if _, ok := d.Location(b.Location); !ok {
		return bad("unknown location %q", b.Location)
	}
	if len(b.Modes) == 0 {
		return bad("no modes")
	}
	for _, m := range b.Modes {
		if m != InPerson && m != Telehealth {
			return bad("mode %q is not in-person or telehealth", m)
		}
	}
	return nil
}

func clockMinutes(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("time %q is not HH:MM", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Zone is the directory's time zone.
func (d *Directory) Zone() *time.Location { return d.loc }

// VisitType returns a visit type by id.
func (d *Directory) VisitType(id string) (VisitType, bool) {
	i := slices.IndexFunc(d.VisitTypes, func(v VisitType) bool { return v.ID == id })
	if i < 0 {
		return VisitType{}, false
	}
	return d.VisitTypes[i], true
}

// Location returns a location by id.
func (d *Directory) Location(id string) (Location, bool) {
	i := slices.IndexFunc(d.Locations, func(l Location) bool { return l.ID == id })
	if i < 0 {
		return Location{}, false
	}
	return d.Locations[i], true
}

// Provider returns a provider by id.
func (d *Directory) Provider(id string) (Provider, bool) {
	i := slices.IndexFunc(d.Providers, func(p Provider) bool { return p.ID == id })
	if i < 0 {
		return Provider{}, false
	}
	return d.Providers[i], true
}

// Specialties lists the specialties providers have, in directory order.
func (d *Directory) Specialties() []string {
	var out []string
	for _, p := range d.Providers {
		if !slices.Contains(out, p.Specialty) {
			out = append(out, p.Specialty)
		}
	}
	return out
}

// closed reports whether the provider does not work on the day (a holiday
// or their time off).
func (d *Directory) closed(p Provider, day string) bool {
	if slices.Contains(d.Holidays, day) {
		return true
	}
	for _, r := range p.TimeOff {
		if day >= r.From && day <= r.To {
			return true
		}
	}
	return false
}
