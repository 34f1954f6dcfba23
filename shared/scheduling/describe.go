package scheduling

import (
	"errors"
	"time"
)

// SlotInfo is a slot as a person is shown it: with the directory's names,
// in a locale.
type SlotInfo struct {
	SlotID        string
	ProviderID    string
	ProviderName  string
	Specialty     string
	VisitTypeID   string
	VisitTypeName string
	Start, End    time.Time
	LocationID    string
	LocationName  string
	Address       string // empty for a video visit
	Mode          string
	TimeZone      string // the clinic's zone, in which its times are shown
}

// AppointmentInfo is an appointment as a person is shown it.
type AppointmentInfo struct {
	ID      string
	State   State
	Slot    SlotInfo
	JoinURL string
}

// Describe names slots with the directory's providers, visit types and
// locations, in the locale.
func (d *Directory) Describe(slots []Slot, locale string) []SlotInfo {
	out := make([]SlotInfo, 0, len(slots))
	for _, sl := range slots {
		p, _ := d.Provider(sl.Provider)
		v, _ := d.VisitType(sl.VisitType)
		l, _ := d.Location(sl.Location)
		info := SlotInfo{SlotID: sl.ID, ProviderID: p.ID, ProviderName: p.Name, Specialty: p.Specialty, VisitTypeID: v.ID,
			VisitTypeName: v.Name.In(locale), Start: sl.Start, End: sl.End, LocationID: l.ID, LocationName: l.Name, Address: l.Address,
			Mode: sl.Mode, TimeZone: d.Zone().String()}
		if sl.Mode == Telehealth {
			info.LocationName, info.Address = "Video visit", ""
			if locale == "es" {
				info.LocationName = "Por video"
			}
		}
		out = append(out, info)
	}
	return out
}

// DescribeAppointment is Describe for an appointment.
func (d *Directory) DescribeAppointment(a Appointment, locale string) AppointmentInfo {
	return AppointmentInfo{ID: a.ID, State: a.State, Slot: d.Describe([]Slot{a.Slot}, locale)[0], JoinURL: a.JoinURL}
}

// Unavailable is a taken slot with the open ones offered instead,
// described for the person who asked.
type Unavailable struct {
	Err          error
	Alternatives []SlotInfo
}

func (e *Unavailable) Error() string { return e.Err.Error() }

// Unwrap keeps the underlying fault's code and message.
func (e *Unavailable) Unwrap() error { return e.Err }

// Offered describes err's alternatives when it is a taken slot (Taken);
// other errors are returned as they are.
func (d *Directory) Offered(err error, locale string) error {
	var taken *Taken
	if errors.As(err, &taken) {
		return &Unavailable{Err: err, Alternatives: d.Describe(taken.Alternatives, locale)}
	}
	return err
}
