package workflows_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/store/storetest"
	"github.com/fieldflow/fieldflow/worker"
	"github.com/fieldflow/fieldflow/workflows"
)

// TestSLAAndApprovalTimersOnVirtualTime runs a queue with an SLA on the office calendar and an
// approval that times out, in the SDK's test environment: days pass in milliseconds, the alert and
// the breach fire at their business-time instants, the clock pauses in the waiting stage, and the
// unanswered approval takes its timeout path.
func TestSLAAndApprovalTimersOnVirtualTime(t *testing.T) {
	cat, err := process.Load(map[string][]byte{
		"office.yaml": mustRead(t, "../definitions/calendars/office.yaml"),
		"q.yaml": []byte(`apiVersion: fieldflow/v1
kind: ServiceRequestQueue
key: timed
calendar: office
sla:
  alert:      {critical: 1bh, high: 1bh, medium: 1bh, low: 1bh}
  completion: {critical: 8bh, high: 8bh, medium: 8bh, low: 8bh}
  pauseIn: [waiting]
stages:
  - {id: new, state: new}
  - {id: waiting, state: in_progress}
  - id: review
    state: in_progress
    approval: {approvers: [{role: supervisor}], timeout: 4bh, onTimeout: approve}
  - {id: done, state: in_progress}
  - {id: closed, state: closed}
`)})
	require.NoError(t, err)
	q, _ := cat.Queue("timed")
	env, st, u := mondayMorning(t)
	id := uuid.NewString()
	// At 12:00 local the request goes to waiting (clock paused), at 15:00 to review, and asks to move on.
	u.at(2*time.Hour, workflows.UpdateAct, act(process.ActionProgress, func(a *process.Action) { a.ToStage = "waiting" }))
	u.at(5*time.Hour, workflows.UpdateAct, act(process.ActionProgress))
	u.at(5*time.Hour+time.Minute, workflows.UpdateAct, act(process.ActionProgress))
	resolved := true
	u.at(72*time.Hour, workflows.UpdateAct, act(process.ActionClose, func(a *process.Action) { a.Resolved = &resolved }))
	env.ExecuteWorkflow(workflows.ServiceRequest, workflows.ServiceRequestInput{Queue: q, Actor: "alice", Lean: true, New: process.NewServiceRequest{
		ID: id, Number: "SR-T-1", Queue: "timed", Subject: "Timed", Contact: process.Contact{Email: "a@example.com"},
	}})
	require.NoError(t, env.GetWorkflowError())

	events, err := st.ListServiceRequestEvents(context.Background(), id, 0, 0)
	require.NoError(t, err)
	at := map[process.EventType]time.Time{}
	for _, e := range events {
		if _, seen := at[e.Type]; !seen {
			at[e.Type] = e.At
		}
	}
	nicosia := q.CalendarDef.Location()
	local := func(ty process.EventType) string { return at[ty].In(nicosia).Format("Mon 15:04") }
	require.Equal(t, "Mon 11:00", local(process.EventSLAAlert), "1bh after 10:00")
	require.Equal(t, "Mon 12:00", local(process.EventSLAPaused))
	require.Equal(t, "Mon 15:00", local(process.EventSLAResumed))
	// The approval (4bh from Monday 15:01) times out on Tuesday at 11:01 and approves.
	require.Equal(t, "Tue 11:01", local(process.EventApprovalApproved))
	// 2h counted before the pause, 6 left from Monday 15:00: 15:00–17:00, then Tuesday 09:00–13:00.
	require.Equal(t, "Tue 13:00", local(process.EventSLABreached))
	require.NotContains(t, at, process.EventApprovalRejected)

	stored, err := st.GetServiceRequest(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, process.SLABreached, stored.SLA.Status)
	require.Len(t, stored.SLA.Ledger, 3, "running, paused, running")
}

// mondayMorning is a test environment with the worker on a fresh store, starting on Monday
// 23 November 2026 at 08:00 UTC (10:00 in Nicosia), with the creation's update sent at once.
func mondayMorning(t *testing.T) (*testsuite.TestWorkflowEnvironment, *store.Store, updater) {
	t.Helper()
	env := newEnv()
	st := storetest.New(t)
	worker.Register(env, worker.Dependencies{Store: st})
	env.SetStartTime(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC))
	u := updater{env}
	u.at(0, workflows.UpdateCreated, workflows.CreatedInput{})
	return env, st, u
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	return raw
}

// TestCustomerAnswerRestartsTheClock: a request waiting for its customer (SLA paused) goes back to
// work by an automation when the customer comments, and the run arms the breach timer again from
// there: the breach fires at the business-time instant that counts the pause out.
func TestCustomerAnswerRestartsTheClock(t *testing.T) {
	cat, err := process.Load(map[string][]byte{
		"office.yaml": mustRead(t, "../definitions/calendars/office.yaml"),
		"q.yaml": []byte(`apiVersion: fieldflow/v1
kind: ServiceRequestQueue
key: answered
calendar: office
sla:
  completion: {critical: 8bh, high: 8bh, medium: 8bh, low: 8bh}
  pauseIn: [waiting]
automations:
  - on: customer_commented
    when: '= request.stage == "waiting"'
    do: [{move: work}]
stages:
  - {id: new, state: new}
  - {id: work, state: in_progress}
  - {id: waiting, state: in_progress}
  - {id: closed, state: closed}
`)})
	require.NoError(t, err)
	q, _ := cat.Queue("answered")
	env, st, u := mondayMorning(t)
	id := uuid.NewString()
	// 11:00 to work, 12:00 waiting for the customer (clock paused), who answers at 15:00.
	u.at(time.Hour, workflows.UpdateAct, act(process.ActionProgress))
	u.at(2*time.Hour, workflows.UpdateAct, act(process.ActionProgress))
	u.at(5*time.Hour, workflows.UpdateAct, act(process.ActionCustomerComment, func(a *process.Action) {
		a.Actor, a.Comment = process.CustomerActor, "It still drops every evening."
	}))
	resolved := true
	u.at(72*time.Hour, workflows.UpdateAct, act(process.ActionClose, func(a *process.Action) { a.Resolved = &resolved }))
	env.ExecuteWorkflow(workflows.ServiceRequest, workflows.ServiceRequestInput{Queue: q, Actor: "alice", Lean: true, New: process.NewServiceRequest{
		ID: id, Number: "SR-A-1", Queue: "answered", Subject: "Line drops", Contact: process.Contact{Email: "a@example.com"},
	}})
	require.NoError(t, env.GetWorkflowError())

	events, err := st.ListServiceRequestEvents(context.Background(), id, 0, 0)
	require.NoError(t, err)
	nicosia := q.CalendarDef.Location()
	var seen []string
	for _, e := range events {
		switch e.Type {
		case process.EventCustomerCommented, process.EventRegressed, process.EventSLAPaused, process.EventSLAResumed, process.EventSLABreached:
			seen = append(seen, string(e.Type)+" by "+e.Actor+" "+e.At.In(nicosia).Format("Mon 15:04"))
		}
	}
	require.Equal(t, []string{
		"sla_paused by system Mon 12:00",
		"customer_commented by contact Mon 15:00",
		"sla_resumed by system Mon 15:00",
		"regressed by automation Mon 15:00",
		// 2h counted before the pause (10:00–12:00), 6 left from 15:00: 15:00–17:00, Tuesday 09:00–13:00.
		"sla_breached by system Tue 13:00",
	}, seen)
}
