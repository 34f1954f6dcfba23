package bot

import (
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patientservicecenter/psc/shared/notify"
	"github.com/patientservicecenter/psc/shared/scheduling"
	"github.com/patientservicecenter/psc/shared/words"
)

// Booking is what the bot books with, bound by the bot-turn function to
// the turn's conversation and patient. Without one, appointment requests
// go to the scheduling team as a handoff.
type Booking interface {
	Directory() *scheduling.Directory
	Search(q scheduling.Query) ([]scheduling.Slot, error)
	// Book books the slot for the patient; email, when set, receives the
	// confirmation and reminders; phone (E.164), when set, the reminders
	// by text, which the patient agreed to by giving it.
	Book(slotID, email, phone string) (scheduling.Appointment, error)
	Upcoming() ([]scheduling.Appointment, error)
	Reschedule(appointmentID, slotID string) (scheduling.Appointment, error)
	Cancel(appointmentID string) (scheduling.Appointment, error)
	// SendCode emails a new one-time code to the address and returns the
	// salt and the hash it is kept as (CodeHash), never the code.
	SendCode(email string) (salt, hash string, err error)
	// CodesLocked says until when the patient may not verify (wrong
	// codes across their conversations); WrongCode counts one and says
	// until when that locks.
	CodesLocked(now time.Time) (time.Time, error)
	WrongCode(now time.Time) (time.Time, error)
	// HoldMinutes is how long a freed time is held for a waitlisted
	// patient; 0 when there is no waitlist.
	HoldMinutes() int
	// JoinWaitlist puts the patient on the waitlist for a specialty (and a
	// provider, if named), with the contacts given.
	JoinWaitlist(specialty, provider, email, phone string) error
	// LeaveWaitlist takes the patient off the waitlist and says from how
	// many entries.
	LeaveWaitlist() (int, error)
}

// Choice is a slot or appointment offered as a quick reply.
type Choice struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// Booking stages.
const (
	stageSlots       = "appointment:slots"
	stageConfirm     = "appointment:confirm"
	stageEmail       = "appointment:email"
	stagePhone       = "appointment:phone"
	stageWaitlist    = "appointment:waitlist"
	stagePickAppt    = "appointment:pick"
	stageCancelAppt  = "appointment:cancel"
	slotsOffered     = 3
	searchWindowDays = 28
	rescheduleVerb   = "reschedule"
	cancelVerb       = "cancel"
	listVerb         = "list"
	maxEmailRunes    = 254
	searchCandidates = 60
)

// offerSlots searches open times for the request being collected (or the
// appointment being moved) from after on, and offers three as quick
// replies. It reports false when the bot cannot book (no Booking, or
// nothing open), so the caller hands the request to a person.
func (t *turn) offerSlots(after time.Time) bool {
	b := t.in.Booking
	if b == nil {
		return false
	}
	dir := b.Directory()
	from := t.in.Now
	if after.After(from) {
		from = after
	}
	q := scheduling.Query{From: from, To: from.AddDate(0, 0, searchWindowDays), Limit: searchCandidates}
	if t.st.Target != "" {
		// Rescheduling: the same provider and kind of visit.
		q.Provider, q.VisitType = t.st.TargetProvider, t.st.TargetVisit
	} else {
		q.Specialty = t.st.Collected["specialty"]
		q.Provider = t.providerNamed(dir, t.st.Collected["provider"])
		if q.Provider == "" && t.st.Locale == "es" {
			q.Language = "es"
		}
	}
	slots, err := b.Search(q)
	if err == nil && len(slots) == 0 && q.Language != "" {
		q.Language = ""
		slots, err = b.Search(q)
	}
	if err != nil {
		return false
	}
	var picked []Choice
	for _, s := range slots {
		if t.fitsDays(s, dir) {
			picked = append(picked, Choice{ID: s.ID, Label: t.slotLabel(s, dir)})
		}
		if len(picked) == slotsOffered {
			break
		}
	}
	if len(picked) == 0 {
		return false
	}
	t.st.Offered = picked
	t.st.Stage = stageSlots
	t.say("slotsOffer", "care", t.careName(dir, slots[0]))
	t.quickSlots()
	return true
}

// quickSlots offers the slots on offer, then "other times".
func (t *turn) quickSlots() {
	t.quick = nil
	for _, c := range t.st.Offered {
		t.quick = append(t.quick, c.Label)
	}
	t.quick = append(t.quick, t.e.c.QuickReplies["slots"].In(t.st.Locale)...)
	if b := t.in.Booking; b != nil && t.st.Target == "" && b.HoldMinutes() > 0 {
		t.quick = append(t.quick, t.e.c.QuickReplies["waitlist"].In(t.st.Locale)...)
	}
}

// providerNamed finds the provider the patient named (any word of their
// name of three letters or more), or "".
func (t *turn) providerNamed(dir *scheduling.Directory, said string) string {
	if said == "" {
		return ""
	}
	w := words.Split(said)
	for _, p := range dir.Providers {
		for _, n := range words.Split(p.Name) {
			if len(n) >= 3 && n != "dr" && slices.Contains(w, n) {
				return p.ID
			}
		}
	}
	return ""
}

// fitsDays applies the preferred days the patient chose (the "days" quick
// replies: weekday mornings, weekday afternoons, Saturday, any time).
func (t *turn) fitsDays(s scheduling.Slot, dir *scheduling.Directory) bool {
	pref := words.Split(t.st.Collected["preferredDays"])
	local := s.Start.In(dir.Zone())
	weekday := local.Weekday() >= time.Monday && local.Weekday() <= time.Friday
	choices := t.e.c.QuickReplies["days"]
	match := func(i int) bool {
		return slices.Equal(pref, words.Split(choices.EN[i])) || slices.Equal(pref, words.Split(choices.ES[i]))
	}
	switch {
	case match(0):
		return weekday && local.Hour() < 12
	case match(1):
		return weekday && local.Hour() >= 12
	case match(2):
		return local.Weekday() == time.Saturday
	}
	return true
}

var (
	dayAbbrevES   = []string{"dom", "lun", "mar", "mié", "jue", "vie", "sáb"}
	monthAbbrevES = []string{"ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"}
)

// when writes a slot's start in the center's time zone, in the patient's
// language.
func (t *turn) when(s scheduling.Slot, dir *scheduling.Directory) string {
	l := s.Start.In(dir.Zone())
	if t.st.Locale == "es" {
		return fmt.Sprintf("%s %d %s, %s", dayAbbrevES[l.Weekday()], l.Day(), monthAbbrevES[l.Month()-1], l.Format("15:04"))
	}
	return l.Format("Mon Jan 2, 3:04 PM")
}

// slotLabel is a slot as a quick reply: when, and with whom.
func (t *turn) slotLabel(s scheduling.Slot, dir *scheduling.Directory) string {
	p, _ := dir.Provider(s.Provider)
	label := t.when(s, dir) + " · " + p.Name
	if s.Mode == scheduling.Telehealth {
		label += " (video)"
	}
	return label
}

func (t *turn) careName(dir *scheduling.Directory, s scheduling.Slot) string {
	p, _ := dir.Provider(s.Provider)
	for _, sp := range t.e.c.Specialties {
		if sp.ID == p.Specialty {
			return sp.Name(t.st.Locale)
		}
	}
	return p.Specialty
}

// place is where the visit happens: the clinic and its address, or video.
func (t *turn) place(s scheduling.Slot, dir *scheduling.Directory) string {
	if s.Mode == scheduling.Telehealth {
		return map[bool]string{true: "por video", false: "by video"}[t.st.Locale == "es"]
	}
	l, _ := dir.Location(s.Location)
	return l.Name + ", " + l.Address
}

// chosen finds the offered choice the patient picked: the quick reply's
// label, its number, or its time.
func (t *turn) chosen() (Choice, bool) {
	said := strings.Join(t.words, " ")
	for i, c := range t.st.Offered {
		if said == strings.Join(words.Split(c.Label), " ") || said == strconv.Itoa(i+1) {
			return c, true
		}
	}
	var hits []Choice
	for _, c := range t.st.Offered {
		if strings.Contains(strings.Join(words.Split(c.Label), " "), said) && len(said) >= 3 {
			hits = append(hits, c)
		}
	}
	if len(hits) == 1 {
		return hits[0], true
	}
	return Choice{}, false
}

// bookingStep runs the booking stages; it reports whether it handled the
// input.
func (t *turn) bookingStep() bool {
	b := t.in.Booking
	if b == nil {
		t.resetBooking()
		return false
	}
	dir := b.Directory()
	if t.isOnly("cancel") || t.isOnly("no") && t.st.Stage == stageCancelAppt {
		key := "apptKept"
		if t.st.Target == "" && t.st.Stage != stageVerify {
			key = "appointmentCancelled"
		}
		t.resetBooking()
		t.say(key)
		t.replies("menu")
		return true
	}
	switch t.st.Stage {
	case stageVerify:
		t.verifyStep()
		return true
	case stageSlots:
		if t.is("waitlist") && t.st.Target == "" && b.HoldMinutes() > 0 {
			t.startWaitlist()
			return true
		}
		if t.is("otherTimes") {
			last, _ := dir.Slot(t.st.Offered[len(t.st.Offered)-1].ID)
			if !t.offerSlots(last.Start.Add(time.Minute)) {
				t.noSlots()
			}
			return true
		}
		c, ok := t.chosen()
		if !ok {
			t.say("slotsPick")
			t.quickSlots()
			return true
		}
		slot, err := dir.Slot(c.ID)
		if err != nil {
			t.say("slotsPick")
			t.quickSlots()
			return true
		}
		v, _ := dir.VisitType(slot.VisitType)
		t.st.Chosen = c.ID
		t.st.Stage = stageConfirm
		t.say("slotConfirm", "slot", c.Label, "visit", v.Name.In(t.st.Locale), "place", t.place(slot, dir))
		t.replies("confirm")
	case stageConfirm:
		switch {
		case t.is("yes") && !t.isOnly("no"):
			if t.st.Target == "" && t.st.Email == "" && !t.st.EmailAsked {
				t.st.EmailAsked = true
				t.st.Stage = stageEmail
				t.say("askEmail")
				t.replies("email")
				return true
			}
			t.commit()
		default:
			t.st.Stage = stageSlots
			t.say("slotsPick")
			t.quickSlots()
		}
	case stageEmail:
		if !t.is("skip") {
			addr, err := mail.ParseAddress(strings.TrimSpace(t.in.Text))
			if err != nil || len(addr.Address) > maxEmailRunes || !strings.Contains(addr.Address, ".") {
				t.say("badEmail")
				t.replies("email")
				return true
			}
			t.st.Email = addr.Address
		}
		t.askPhone()
	case stagePhone:
		if !t.is("skip") {
			phone, err := notify.Phone(t.in.Text)
			if err != nil {
				t.say("badPhone")
				t.replies("phone")
				return true
			}
			t.st.Phone = phone
		}
		t.commit()
	case stageWaitlist:
		if t.is("waitlist") || t.is("yes") && !t.isOnly("no") {
			t.startWaitlist()
			return true
		}
		t.noSlotsHandoff()
	case stagePickAppt:
		c, ok := t.chosen()
		if !ok {
			t.say("apptPick")
			t.quick = labels(t.st.Offered)
			return true
		}
		t.st.Target = c.ID
		t.actOnTarget()
	case stageCancelAppt:
		if !t.is("yes") {
			t.resetBooking()
			t.say("apptKept")
			t.replies("menu")
			return true
		}
		a, err := b.Cancel(t.st.Target)
		t.resetBooking()
		if err != nil {
			t.say("bookingFailed")
			t.handoff(t.e.c.Queues["scheduling"], "normal", ReasonAppointment)
			return true
		}
		t.say("apptCancelled", "slot", t.when(a.Slot, dir))
		t.replies("menu")
	default:
		return false
	}
	return true
}

// askPhone asks a new booking, once, for a mobile number for text
// reminders; giving it is the patient's opt-in, so the question says what
// they agree to (US carrier rules: who sends, what, rates, STOP and HELP).
func (t *turn) askPhone() {
	if !t.e.texts || t.st.Target != "" || t.st.Phone != "" || t.st.PhoneAsked {
		t.commit()
		return
	}
	t.st.PhoneAsked = true
	t.st.Stage = stagePhone
	t.say("askPhone")
	t.replies("phone")
}

// startWaitlist takes the contacts a waitlist offer goes to (the email,
// the mobile number, each asked once), then joins.
func (t *turn) startWaitlist() {
	t.st.Waitlisting = true
	t.st.Offered, t.st.Chosen = nil, ""
	if t.st.Email == "" && !t.st.EmailAsked {
		t.st.EmailAsked = true
		t.st.Stage = stageEmail
		t.say("askEmail")
		t.replies("email")
		return
	}
	t.askPhone()
}

// leaveWaitlist takes the patient off the waitlist, when they ask.
func (t *turn) leaveWaitlist() {
	n, err := t.in.Booking.LeaveWaitlist()
	switch {
	case err != nil:
		t.say("bookingFailed")
		t.handoff(t.e.c.Queues["scheduling"], "normal", ReasonAppointment)
		return
	case n == 0:
		t.say("waitlistNotOn")
	default:
		t.say("waitlistLeft")
	}
	t.replies("menu")
}

// joinWaitlist puts the patient on the waitlist for what they asked.
func (t *turn) joinWaitlist() {
	b := t.in.Booking
	dir := b.Directory()
	specialty := t.st.Collected["specialty"]
	t.st.Waitlisting = false
	if err := b.JoinWaitlist(specialty, t.providerNamed(dir, t.st.Collected["provider"]), t.st.Email, t.st.Phone); err != nil {
		t.say("bookingFailed")
		t.handoff(t.e.c.Queues["scheduling"], "normal", ReasonAppointment)
		t.resetBooking()
		return
	}
	care := specialty
	for _, s := range t.e.c.Specialties {
		if s.ID == specialty {
			care = s.Name(t.st.Locale)
		}
	}
	t.say("waitlistJoined", "care", care, "minutes", strconv.Itoa(b.HoldMinutes()))
	if t.st.Phone != "" {
		t.say("waitlistText", "phone", notify.Masked(t.st.Phone))
	}
	t.resetBooking()
	t.st.Collected = nil
	t.replies("menu")
}

// commit books (or moves) the chosen slot; for a patient joining the
// waitlist, it joins.
func (t *turn) commit() {
	if t.st.Waitlisting {
		t.joinWaitlist()
		return
	}
	b := t.in.Booking
	dir := b.Directory()
	var (
		a   scheduling.Appointment
		err error
	)
	moving := t.st.Target != ""
	if moving {
		a, err = b.Reschedule(t.st.Target, t.st.Chosen)
	} else {
		a, err = b.Book(t.st.Chosen, t.st.Email, t.st.Phone)
	}
	var taken *scheduling.Taken
	switch {
	case errors.As(err, &taken) && len(taken.Alternatives) > 0:
		t.st.Offered = nil
		for _, s := range taken.Alternatives {
			t.st.Offered = append(t.st.Offered, Choice{ID: s.ID, Label: t.slotLabel(s, dir)})
		}
		t.st.Stage = stageSlots
		t.say("slotTaken")
		t.quickSlots()
		return
	case err != nil:
		t.say("bookingFailed")
		t.handoff(t.e.c.Queues["scheduling"], "normal", ReasonAppointment)
		t.resetBooking()
		return
	}
	p, _ := dir.Provider(a.Slot.Provider)
	v, _ := dir.VisitType(a.Slot.VisitType)
	key := "booked"
	if moving {
		key = "rescheduled"
	}
	t.say(key, "slot", t.when(a.Slot, dir), "provider", p.Name, "visit", v.Name.In(t.st.Locale), "place", t.place(a.Slot, dir), "ref", scheduling.Reference(a.ID))
	// Promise only the reminders that will go out (notify plans those
	// still ahead).
	ahead, texts := 0, 0
	for _, r := range notify.Plan(a, t.in.Now, notify.Quiet{}) {
		if r.Kind.Texted() {
			texts++
		} else {
			ahead++
		}
	}
	switch ahead {
	case 2:
		t.say("remindBoth")
	case 0:
		t.say("remindNone")
	default:
		t.say("remind2h")
	}
	if texts > 0 {
		t.say("remindText", "phone", notify.Masked(a.PatientPhone))
	}
	if a.JoinURL != "" {
		t.say("bookedVideo", "link", a.JoinURL)
	}
	t.resetBooking()
	t.st.Collected = nil
	t.replies("menu")
}

// startChange begins a reschedule or a cancellation: the patient's
// upcoming appointments, picked from if there are several.
func (t *turn) startChange(verb string) {
	b := t.in.Booking
	if b == nil {
		t.requestPerson(t.e.c.Queues["scheduling"], ReasonAppointment, "handoff")
		return
	}
	if !t.st.Verified {
		t.stepUp(verb) // a record is shown or changed for a verified patient only
		return
	}
	appts, ok := t.upcoming()
	if !ok {
		return
	}
	if verb == listVerb {
		t.listAppointments(appts)
		return
	}
	t.st.Verb = verb
	dir := b.Directory()
	if len(appts) == 1 {
		t.st.Target = appts[0].ID
		t.actOnTarget()
		return
	}
	t.st.Offered = nil
	for _, a := range appts[:min(len(appts), slotsOffered)] {
		t.st.Offered = append(t.st.Offered, Choice{ID: a.ID, Label: t.slotLabel(a.Slot, dir)})
	}
	t.st.Stage = stagePickAppt
	t.say("apptPick")
	t.quick = labels(t.st.Offered)
}

// listAppointments tells a verified patient their upcoming visits: when,
// with whom, what, where, and the confirmation number.
func (t *turn) listAppointments(appts []scheduling.Appointment) {
	dir := t.in.Booking.Directory()
	var lines []string
	for _, a := range appts {
		p, _ := dir.Provider(a.Slot.Provider)
		v, _ := dir.VisitType(a.Slot.VisitType)
		line := t.e.c.Text["apptLine"].In(t.st.Locale)
		line = strings.NewReplacer("{slot}", t.when(a.Slot, dir), "{provider}", p.Name, "{visit}", v.Name.In(t.st.Locale),
			"{place}", t.place(a.Slot, dir), "{ref}", scheduling.Reference(a.ID)).Replace(line)
		lines = append(lines, line)
	}
	t.say("apptList", "list", strings.Join(lines, "\n"))
	t.replies("apptActions")
}

// upcoming reads the patient's upcoming appointments; when it cannot, or
// there are none, it says so (a failed read goes to the scheduling team)
// and reports false.
func (t *turn) upcoming() ([]scheduling.Appointment, bool) {
	appts, err := t.in.Booking.Upcoming()
	if err != nil {
		t.say("bookingFailed")
		t.handoff(t.e.c.Queues["scheduling"], "normal", ReasonAppointment)
		return nil, false
	}
	if len(appts) == 0 {
		t.say("apptNone")
		t.replies("menu")
		return nil, false
	}
	return appts, true
}

// actOnTarget asks to confirm a cancellation, or offers times to move the
// appointment to.
func (t *turn) actOnTarget() {
	b := t.in.Booking
	dir := b.Directory()
	appts, err := b.Upcoming()
	i := slices.IndexFunc(appts, func(a scheduling.Appointment) bool { return a.ID == t.st.Target })
	if err != nil || i < 0 {
		t.resetBooking()
		t.say("apptNone")
		t.replies("menu")
		return
	}
	a := appts[i]
	if t.st.Verb == cancelVerb {
		p, _ := dir.Provider(a.Slot.Provider)
		t.st.Stage = stageCancelAppt
		t.say("cancelConfirm", "slot", t.when(a.Slot, dir), "provider", p.Name)
		t.replies("cancelAppt")
		return
	}
	t.st.TargetProvider, t.st.TargetVisit = a.Slot.Provider, a.Slot.VisitType
	if !t.offerSlots(time.Time{}) {
		t.noSlots()
	}
}

// noSlots hands a request the bot cannot fit to the scheduling team.
// noSlots answers a request no open time fits: the waitlist, or a person
// of the scheduling team; a move (or no waitlist) goes to the team.
func (t *turn) noSlots() {
	if b := t.in.Booking; b != nil && t.st.Target == "" && b.HoldMinutes() > 0 {
		t.st.Offered = nil
		t.st.Stage = stageWaitlist
		t.say("slotsNoneWaitlist", "summary", t.collectedSummary(), "minutes", strconv.Itoa(b.HoldMinutes()))
		t.replies("waitlistAsk")
		return
	}
	t.noSlotsHandoff()
}

func (t *turn) noSlotsHandoff() {
	t.say("slotsNone", "summary", t.collectedSummary())
	t.handoff(t.e.c.Queues["scheduling"], "normal", ReasonAppointment)
	t.resetBooking()
}

func (t *turn) resetBooking() {
	t.st.Verify, t.st.Waitlisting = nil, false
	t.st.Offered, t.st.Chosen, t.st.Target, t.st.TargetProvider, t.st.TargetVisit, t.st.Verb = nil, "", "", "", "", ""
	if strings.HasPrefix(t.st.Stage, "appointment:") {
		t.st.Stage = stageOpen
	}
}

func labels(cs []Choice) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Label)
	}
	return out
}
