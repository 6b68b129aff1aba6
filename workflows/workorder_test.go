package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/store/storetest"
	"github.com/fieldflow/fieldflow/worker"
	"github.com/fieldflow/fieldflow/workflows"
)

// published loads the shipped definitions and publishes them in a fresh store, as the API does.
func published(t *testing.T) (*process.Catalog, *store.Store) {
	t.Helper()
	cat, err := process.LoadDir("../definitions")
	require.NoError(t, err)
	st := storetest.New(t)
	require.NoError(t, st.PublishCatalog(context.Background(), cat))
	return cat, st
}

// updater sends updates to the workflow under test at virtual times and keeps their outcomes.
type updater struct {
	env *testsuite.TestWorkflowEnvironment
}

type woOutcome struct {
	rejected, err error
	order         process.WorkOrder
}

func (u updater) at(after time.Duration, name string, arg any) *woOutcome {
	o := &woOutcome{}
	u.env.RegisterDelayedCallback(func() {
		u.env.UpdateWorkflow(name, uuid.NewString(), &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { o.rejected = err },
			OnComplete: func(res any, err error) {
				o.err = err
				if r, ok := res.(workflows.OrderResult); ok {
					o.order = r.Order
				}
			},
		}, arg)
	}, after)
	return o
}

func woAct(kind process.ActionKind, actor string, mods ...func(*process.Action)) workflows.ActInput {
	a := process.Action{Kind: kind, Actor: actor}
	for _, m := range mods {
		m(&a)
	}
	return workflows.ActInput{Action: a}
}

func eventTypes(t *testing.T, events []process.Event) []process.EventType {
	t.Helper()
	types := make([]process.EventType, len(events))
	for i, e := range events {
		types[i] = e.Type
	}
	return types
}

// TestRepairWorkOrder drives the shipped repair process through every waiting node, with its
// timers on the virtual clock: an offer that expires, acceptance, the on-site checklist, a poor
// rating that auto-completes after three days, and the follow-up it triggers.
func TestRepairWorkOrder(t *testing.T) {
	cat, st := published(t)
	repair, _ := cat.WorkOrderType("repair")
	env := newEnv()
	// Monday 09:00 in Nicosia: the offer's 30 business minutes run at once.
	env.SetStartTime(time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC))
	keys, err := auth.NewKeys([]byte("0123456789abcdef0123456789abcdef-test"))
	require.NoError(t, err)
	worker.Register(env, worker.Dependencies{Store: st, BaseURL: "https://fieldflow.example", Keys: keys})
	id := uuid.NewString()
	in := workflows.WorkOrderInput{Type: repair, Actor: "alice", Lean: true, New: process.NewWorkOrder{
		ID: id, Number: "WO-2026-000001", RecordType: "repair", Subject: "Boiler leaking", Channel: "agent",
		Contact: process.Contact{Name: "Ada", Email: "ada@example.com"}, Device: process.Device{Category: "hvac"},
	}}
	u := updater{env}
	dispatcher := func(a *process.Action) { a.ActorRoles = []string{"dispatcher"} }
	u.at(0, workflows.UpdateCreated, workflows.CreatedInput{})
	u.at(5*time.Minute, workflows.UpdateAct, woAct(process.ActionAssign, "dan", dispatcher, func(a *process.Action) { a.Engineer = "eve" }))
	var afterExpiry process.WorkOrder
	env.RegisterDelayedCallback(func() {
		var err error
		afterExpiry, err = st.GetWorkOrder(context.Background(), id)
		require.NoError(t, err)
	}, 40*time.Minute)
	wrong := u.at(41*time.Minute, workflows.UpdateAct, woAct(process.ActionAccept, "eve"))
	u.at(45*time.Minute, workflows.UpdateAct, woAct(process.ActionAssign, "dan", dispatcher, func(a *process.Action) { a.Engineer = "frank" }))
	notHim := u.at(46*time.Minute, workflows.UpdateAct, woAct(process.ActionAccept, "eve"))
	u.at(50*time.Minute, workflows.UpdateAct, woAct(process.ActionAccept, "frank"))
	early := u.at(55*time.Minute, workflows.UpdateAct, woAct(process.ActionProgress, "frank"))
	noMinutes := u.at(60*time.Minute, workflows.UpdateAct, woAct(process.ActionCompleteStep, "frank", func(a *process.Action) { a.StepID = "diagnose" }))
	for i, step := range []process.Action{
		{StepID: "arrive"},
		{StepID: "diagnose", StepResult: "worn-seal", LaborMinutes: 40},
		{StepID: "repair", LaborMinutes: 55},
		{StepID: "photo", Note: "all dry"},
	} {
		u.at(time.Duration(61+i)*time.Minute, workflows.UpdateAct, woAct(process.ActionCompleteStep, "frank", func(a *process.Action) {
			a.StepID, a.StepResult, a.LaborMinutes, a.Note = step.StepID, step.StepResult, step.LaborMinutes, step.Note
		}))
	}
	// The photo step needs its photo before it is done.
	u.at(63*time.Minute+30*time.Second, workflows.UpdateAct, woAct(process.ActionAddAttachment, "frank", func(a *process.Action) {
		a.Attachment = &process.Attachment{ID: uuid.NewString(), Name: "unit.jpg", ContentType: "image/jpeg", Size: 1024, Step: "photo"}
	}))
	two := 2.0
	badScore := 9.0
	outOfScale := u.at(2*time.Hour, workflows.UpdateAct, woAct(process.ActionRate, "ada", func(a *process.Action) { a.Score = &badScore }))
	rated := u.at(2*time.Hour+time.Minute, workflows.UpdateAct, woAct(process.ActionRate, "ada", func(a *process.Action) { a.Score = &two; a.Comment = "still drips" }))
	// The rating node takes several ratings and auto-completes after three days; the poor
	// rating sends the order to follow-up.
	followed := u.at(4*24*time.Hour, workflows.UpdateAct, woAct(process.ActionFollowUp, "carol", func(a *process.Action) {
		a.Answers = map[string]string{"resolved": "no"}
	}))

	env.ExecuteWorkflow(workflows.WorkOrder, in)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())

	require.Equal(t, "dispatch", afterExpiry.Node, "the unanswered offer went back to dispatch")
	require.Empty(t, afterExpiry.Engineer)
	requireRefused(t, wrong.rejected, process.CodeNotAllowed)
	requireRefused(t, notHim.rejected, process.CodeNotAllowed)
	requireRefused(t, early.rejected, process.CodeNotAllowed)
	requireRefused(t, noMinutes.rejected, process.CodeInvalid)
	requireRefused(t, outOfScale.rejected, process.CodeInvalid)
	require.NoError(t, rated.err)
	require.Equal(t, "rating", rated.order.Node, "several customers may rate: the node waits for auto-complete")
	require.NoError(t, followed.err)

	var result workflows.WorkOrderResult
	require.NoError(t, env.GetWorkflowResult(&result))
	wo := result.Order
	require.Equal(t, process.StateClosed, wo.State)
	require.Equal(t, "done", wo.Node)
	require.Equal(t, "frank", wo.Engineer)
	require.Equal(t, "hvac", wo.Group)
	require.Len(t, wo.Steps, 4)
	require.Equal(t, 95, wo.Steps[1].LaborMinutes+wo.Steps[2].LaborMinutes)
	require.Equal(t, 95, wo.LaborMinutes, "the order shows its total labor time")
	require.Len(t, wo.Attachments, 1)
	require.Len(t, wo.Ratings, 2, "the rating and the follow-up survey")
	require.Equal(t, "follow_up", wo.Ratings[1].Kind)
	require.Equal(t, "follow-up-survey", wo.Ratings[1].Template)
	require.Equal(t, "repair-survey", wo.Ratings[0].Template, "the rule picked the template")
	require.True(t, wo.FollowUp.Done)
	require.Equal(t, "customer-care", wo.FollowUp.Group)
	require.Equal(t, process.SLAMet, wo.SLA.Status)

	stored, err := st.GetWorkOrder(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, wo, stored)
	events, err := st.ListWorkOrderEvents(context.Background(), id, 0, 0)
	require.NoError(t, err)
	types := eventTypes(t, events)
	for _, want := range []process.EventType{
		process.EventOffered, process.EventOfferExpired, process.EventAccepted, process.EventStepCompleted,
		process.EventRated, process.EventFollowUpStarted, process.EventFollowUpDone, process.EventClosed,
		process.EventNotificationSent,
	} {
		require.Contains(t, types, want)
	}
	require.NotContains(t, types, process.EventRatingSkipped, "a rating arrived, so the node was not skipped")

	notes, err := st.ListNotifications(context.Background(), id)
	require.NoError(t, err)
	var templates []string
	for _, n := range notes {
		templates = append(templates, n.Template)
	}
	require.ElementsMatch(t, []string{"wo-visit", "rating-invite"}, templates)
	for _, n := range notes {
		if n.Template == "rating-invite" {
			require.Contains(t, n.Body, "https://fieldflow.example/rate/", "the invitation brings its signed link")
		}
	}
}

// TestRatingAutoCompletes: nobody rates, so the rating node is force-skipped and the order goes on.
func TestRatingAutoCompletes(t *testing.T) {
	cat, st := published(t)
	installation, _ := cat.WorkOrderType("installation")
	env := newEnv()
	worker.Register(env, worker.Dependencies{Store: st})
	id := uuid.NewString()
	u := updater{env}
	u.at(0, workflows.UpdateCreated, workflows.CreatedInput{})
	u.at(time.Minute, workflows.UpdateAct, woAct(process.ActionAssign, "dan", func(a *process.Action) { a.Group, a.Engineer = "installers", "gus" }))
	u.at(2*time.Minute, workflows.UpdateAct, woAct(process.ActionAccept, "gus"))
	u.at(5*time.Minute+30*time.Second, workflows.UpdateAct, woAct(process.ActionAddAttachment, "gus", func(a *process.Action) {
		a.Attachment = &process.Attachment{ID: uuid.NewString(), Name: "warranty.pdf", ContentType: "application/pdf", Size: 2048, Step: "handover"}
	}))
	for i, step := range []string{"site-survey", "mount", "test", "handover"} {
		u.at(time.Duration(3+i)*time.Minute, workflows.UpdateAct, woAct(process.ActionCompleteStep, "gus", func(a *process.Action) {
			a.StepID, a.LaborMinutes = step, 30
		}))
	}
	env.ExecuteWorkflow(workflows.WorkOrder, workflows.WorkOrderInput{Type: installation, Actor: "alice", Lean: true, New: process.NewWorkOrder{
		ID: id, Number: "IN-2026-000001", RecordType: "installation", Subject: "New heat pump", Channel: "agent",
		Fields: map[string]string{"value": "1200"},
	}})
	require.NoError(t, env.GetWorkflowError())
	var result workflows.WorkOrderResult
	require.NoError(t, env.GetWorkflowResult(&result))
	require.Equal(t, process.StateClosed, result.Order.State)
	events, err := st.ListWorkOrderEvents(context.Background(), id, 0, 0)
	require.NoError(t, err)
	types := eventTypes(t, events)
	require.Contains(t, types, process.EventRatingSkipped)
	require.NotContains(t, types, process.EventApprovalRequested, "a value under 5000 needs no approval")
	last := events[len(events)-1]
	require.Equal(t, process.EventClosed, last.Type)
	require.WithinDuration(t, events[0].At.Add(5*24*time.Hour+6*time.Minute), last.At, time.Minute, "closed when the five-day auto-complete fired")
}

// TestConversionStartsAWorkOrder: an automation of the technical-support queue converts an
// equipment fault into a repair work order, a child run that outlives the request.
func TestConversionStartsAWorkOrder(t *testing.T) {
	cat, st := published(t)
	queue, _ := cat.Queue("technical-support")
	env := newEnv()
	worker.Register(env, worker.Dependencies{Store: st})
	id := uuid.NewString()
	u := updater{env}
	u.at(0, workflows.UpdateCreated, workflows.CreatedInput{})
	toResolution := u.at(time.Minute, workflows.UpdateAct, act(process.ActionProgress, func(a *process.Action) { a.ToStage = "resolution" }))
	resolved := true
	u.at(time.Hour, workflows.UpdateAct, act(process.ActionClose, func(a *process.Action) { a.Resolved = &resolved }))
	// The child outlives the request; close it too, or the test environment waits for it for ever.
	var childClosed error
	env.RegisterDelayedCallback(func() {
		events, err := st.ListServiceRequestEvents(context.Background(), id, 0, 0)
		require.NoError(t, err)
		for _, e := range events {
			if e.Type == process.EventConverted {
				no := false
				childClosed = env.UpdateWorkflowByID(workflows.WorkOrderWorkflowID(e.Details["id"].(string)), workflows.UpdateAct, "close-child",
					&testsuite.TestUpdateCallback{OnAccept: func() {}, OnReject: func(error) {}, OnComplete: func(any, error) {}},
					woAct(process.ActionClose, "alice", func(a *process.Action) { a.Resolved = &no }))
			}
		}
	}, 2*time.Hour)
	// The closing child reports to its request (closed by then: the signal fails, and that is fine).
	var report workflows.ActInput
	env.OnSignalExternalWorkflow(mock.Anything, workflows.ServiceRequestWorkflowID(id), "", workflows.SignalAction, mock.Anything).
		Return(func(_, _, _, _ string, arg any) error {
			report = arg.(workflows.ActInput)
			return errors.New("the request's run has ended")
		}).Once()
	env.ExecuteWorkflow(workflows.ServiceRequest, workflows.ServiceRequestInput{Queue: queue, Actor: "alice", Lean: true, New: process.NewServiceRequest{
		ID: id, Number: "TS-2026-000001", Queue: "technical-support", Subject: "Router burnt out", Description: "smoke from the box",
		Contact: process.Contact{Name: "Ada", Email: "ada@example.com"}, Categories: []string{"equipment/faulty"},
	}})
	require.NoError(t, env.GetWorkflowError())
	require.NoError(t, toResolution.err)

	events, err := st.ListServiceRequestEvents(context.Background(), id, 0, 0)
	require.NoError(t, err)
	var converted *process.Event
	for i := range events {
		if events[i].Type == process.EventConverted {
			converted = &events[i]
		}
	}
	require.NotNil(t, converted, "events: %v", events)
	childID := converted.Details["id"].(string)
	require.Regexp(t, `^WO-\d{4}-000001$`, converted.Details["number"])
	child, err := st.GetWorkOrder(context.Background(), childID)
	require.NoError(t, err)
	require.Equal(t, "repair", child.RecordType)
	require.Equal(t, id, child.Parent)
	require.Equal(t, "Router burnt out", child.Subject)
	require.Equal(t, "From TS-2026-000001: smoke from the box", child.Description)
	require.Equal(t, "ada@example.com", child.Contact.Email)
	require.Equal(t, "service-request", child.Channel)
	require.NoError(t, childClosed)
	require.Equal(t, process.StateClosed, child.State, "the child ran on after its parent closed, until it was closed itself")
	require.Equal(t, process.ActionWorkOrderClosed, report.Action.Kind)
	require.Equal(t, process.WorkOrderLink{ID: childID, Number: child.Number, RecordType: "repair", Status: "unresolved", ClosedAt: child.ClosedAt}, *report.Action.WorkOrder)

	parent, err := st.GetServiceRequest(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, []process.WorkOrderLink{{ID: childID, Number: child.Number, RecordType: "repair", Status: "open"}}, parent.WorkOrders,
		"the request links to the order it made")
}
