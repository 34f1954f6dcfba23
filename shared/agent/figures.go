package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/kpi"
)

// KPIReport answers kpis: the service center's figures of the last days,
// grouped by queue, agent, day or hour.
type KPIReport struct {
	RequestID string
	By        string
	Days      []string
	Rows      []kpi.Row
	At        time.Time
}

// WithFigures lets supervisors read the KPIs, counted in the clinic's
// zone.
func (s *Service) WithFigures(store kpi.Store, zone *time.Location) *Service {
	s.figures, s.zone = store, zone
	return s
}

// kpis answers supervisors (and admins) with the figures of the last
// f.Days days (default 7, today included), by f.By (default queue).
func (s *Service) kpis(ctx context.Context, c Connection, f Request) error {
	me := Identity{Roles: c.Roles}
	if !me.Has(RoleSupervisor) && !me.Has(RoleAdmin) {
		return fault.Errorf(fault.Forbidden, "only supervisors see the figures")
	}
	if s.figures == nil {
		return fmt.Errorf("agent service: kpis without figures configured")
	}
	days, by := f.Days, f.By
	if days <= 0 {
		days = 7
	}
	if by == "" {
		by = kpi.ByQueue
	}
	zone := s.zone
	if zone == nil {
		zone = time.UTC
	}
	now := s.now().In(zone)
	var names []string
	for i := days - 1; i >= 0; i-- {
		names = append(names, now.AddDate(0, 0, -i).Format("2006-01-02"))
	}
	rows, err := kpi.Report(ctx, s.figures, names, by)
	if err != nil {
		return err
	}
	return s.fan.To(ctx, c.ID, KPIReport{RequestID: f.RequestID, By: by, Days: names, Rows: rows, At: s.now()})
}
