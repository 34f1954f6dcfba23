package ddb_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/patientservicecenter/psc/shared/adapter/ddb"
	"github.com/patientservicecenter/psc/shared/fault"
	"github.com/patientservicecenter/psc/shared/survey"
)

// TestSurveysStore: a survey is created once (a redelivered record finds
// it), a patient is surveyed once per window and never after opting out,
// an answer is taken once while open, a task once per survey, and the
// week index and the open-task index list what they should.
func TestSurveysStore(t *testing.T) {
	store := ddb.NewSurveys(dynamodb.NewFromConfig(env.Stack.AWSConfig()), env.Outputs.Tables["SurveysTable"], 24*time.Hour)
	ctx := context.Background()
	run := time.Now().UnixNano()
	now := time.Now().UTC()
	patient := fmt.Sprint("sp-", run)
	mk := func(conv string, at time.Time) survey.Survey {
		return survey.Survey{ID: survey.SurveyID(survey.Conversation, conv), CreatedAt: at, ExpiresAt: at.Add(time.Hour),
			Source: survey.Source{Kind: survey.Conversation, ID: conv, PatientID: patient, Queue: "billing", AgentName: "Ana", At: at}}
	}
	first := mk(fmt.Sprint("sc-", run, "-1"), now)
	if err := store.Create(ctx, first, 14*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := store.Create(ctx, first, 14*24*time.Hour); !errors.Is(err, survey.ErrExists) {
		t.Fatalf("creating it again: %v", err)
	}
	var sup *survey.Suppressed
	if err := store.Create(ctx, mk(fmt.Sprint("sc-", run, "-2"), now.Add(time.Hour)), 14*24*time.Hour); !errors.As(err, &sup) || sup.Reason != "surveyed within the window" {
		t.Fatalf("a second survey within the window: %v", err)
	}
	if err := store.Create(ctx, mk(fmt.Sprint("sc-", run, "-3"), now.Add(15*24*time.Hour)), 14*24*time.Hour); err != nil {
		t.Fatalf("a survey after the window: %v", err)
	}
	if err := store.OptOut(ctx, patient, now); err != nil {
		t.Fatal(err)
	}
	if err := store.Create(ctx, mk(fmt.Sprint("sc-", run, "-4"), now.Add(40*24*time.Hour)), 14*24*time.Hour); !errors.As(err, &sup) || sup.Reason != "opted out" {
		t.Fatalf("a survey after opting out: %v", err)
	}

	if err := store.SetDelivery(ctx, first.ID, "chat"); err != nil {
		t.Fatal(err)
	}
	answered, err := store.Answer(ctx, first.ID, survey.Answer{CSAT: 2, Comment: "slow", Sentiment: -0.5, At: now.Add(time.Minute)})
	if err != nil || answered.Answer == nil || answered.Answer.CSAT != 2 || answered.Delivery != "chat" {
		t.Fatalf("answer: %+v %v", answered, err)
	}
	if _, err := store.Answer(ctx, first.ID, survey.Answer{CSAT: 5, At: now.Add(2 * time.Minute)}); fault.CodeOf(err) != fault.Conflict {
		t.Fatalf("a second answer: %v", err)
	}
	late := mk(fmt.Sprint("sc-", run, "-3"), now.Add(15*24*time.Hour))
	if _, err := store.Answer(ctx, late.ID, survey.Answer{CSAT: 4, At: late.ExpiresAt.Add(time.Minute)}); fault.CodeOf(err) != fault.Conflict {
		t.Fatalf("an answer after the survey closed: %v", err)
	}

	task := survey.Task{ID: "tk" + first.ID[2:], SurveyID: first.ID, Reason: "low score", CSAT: 2, PatientID: patient, Kind: survey.Conversation, CreatedAt: now}
	if added, err := store.AddTask(ctx, task); err != nil || !added {
		t.Fatalf("add task: %v %v", added, err)
	}
	if added, err := store.AddTask(ctx, task); err != nil || added {
		t.Fatalf("the same task again: %v %v", added, err)
	}
	open := func() bool {
		tasks, err := store.OpenTasks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range tasks {
			if x.ID == task.ID {
				return true
			}
		}
		return false
	}
	if !open() {
		t.Fatal("the task is not listed open")
	}
	if err := store.CloseTask(ctx, task.ID, "sup-1", now); err != nil {
		t.Fatal(err)
	}
	if open() {
		t.Fatal("a closed task is listed open")
	}
	if err := store.CloseTask(ctx, task.ID, "sup-1", now); fault.CodeOf(err) != fault.Conflict {
		t.Fatalf("closing it twice: %v", err)
	}
	week, err := store.InWeeks(ctx, []string{survey.Week(now)})
	found := false
	for _, s := range week {
		found = found || s.ID == first.ID && s.Answer != nil && s.Answer.CSAT == 2
	}
	if err != nil || !found {
		t.Fatalf("the week's surveys (%d) lack the answered one: %v", len(week), err)
	}
}
