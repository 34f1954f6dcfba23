package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/survey"
)

// FollowUps is what supervisors' follow-up actions need of the surveys.
type FollowUps interface {
	OpenTasks(ctx context.Context) ([]survey.Task, error)
	CloseTask(ctx context.Context, id, by string, at time.Time) error
	InWeeks(ctx context.Context, weeks []string) ([]survey.Survey, error)
}

// WithFollowUps lets supervisors see and close follow-up tasks and read
// the CSAT figures.
func (s *Service) WithFollowUps(f FollowUps) *Service {
	s.followUps = f
	return s
}

// maxWeeks bounds a CSAT request.
const maxWeeks = 12

// followUp runs the supervisors' actions: tasks, closeTask, csat.
func (s *Service) followUp(ctx context.Context, c Connection, f Request) error {
	me := Identity{Roles: c.Roles}
	if !me.Has(RoleSupervisor) && !me.Has(RoleAdmin) {
		return fault.Errorf(fault.Forbidden, "only supervisors see follow-ups and satisfaction figures")
	}
	if s.followUps == nil {
		return fmt.Errorf("agent service: %s without follow-ups configured", f.Action)
	}
	switch f.Action {
	case ActionTasks:
		return s.sendTasks(ctx, c, f.RequestID)
	case ActionCloseTask:
		if err := s.followUps.CloseTask(ctx, f.TaskID, c.AgentID, s.now()); err != nil {
			return err
		}
		return s.sendTasks(ctx, c, f.RequestID)
	default: // csat
		weeks := f.Weeks
		if weeks <= 0 || weeks > maxWeeks {
			weeks = 4
		}
		var names []string
		now := s.now()
		for i := weeks - 1; i >= 0; i-- {
			names = append(names, survey.Week(now.AddDate(0, 0, -7*i)))
		}
		all, err := s.followUps.InWeeks(ctx, names)
		if err != nil {
			return err
		}
		frame := CSAT{RequestID: f.RequestID, Weeks: names,
			ByAgent: survey.Figures(all, func(s survey.Survey) string { return nonEmpty(s.AgentName, "bot") }),
			ByQueue: survey.Figures(all, func(s survey.Survey) string { return nonEmpty(s.Queue, "bot") }),
			ByWeek:  survey.Figures(all, func(s survey.Survey) string { return survey.Week(s.CreatedAt) })}
		if overall := survey.Figures(all, func(survey.Survey) string { return "all" }); len(overall) == 1 {
			frame.Overall = overall[0]
		}
		return s.fan.To(ctx, c.ID, frame)
	}
}

func (s *Service) sendTasks(ctx context.Context, c Connection, requestID string) error {
	tasks, err := s.followUps.OpenTasks(ctx)
	if err != nil {
		return err
	}
	return s.fan.To(ctx, c.ID, Tasks{RequestID: requestID, Tasks: tasks})
}

func nonEmpty(v, fallback string) string {
	if v == "" {
		return fallback
	}
	return v
}
