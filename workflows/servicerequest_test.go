package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/store/storetest"
	"github.com/fieldflow/fieldflow/worker"
	"github.com/fieldflow/fieldflow/workflows"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func billing(t *testing.T) *process.Queue {
	t.Helper()
	c, err := process.LoadDir("../definitions")
	require.NoError(t, err)
	q, ok := c.Queue("billing")
	require.True(t, ok)
	return q
}

// harness runs the ServiceRequest workflow in the SDK's test environment (virtual time) with the
// real projection writing to a private Postgres. Like workflows.Client, it writes the creation
// before the run starts and what each update hands back — unless callerDies is set.
type harness struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	store *store.Store
	id    string
	input workflows.ServiceRequestInput
	// callerDies: the callers never write what the run hands back (they died first).
	callerDies bool
}

// t0 is when every harness run starts.
var t0 = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// run writes the creation as workflows.Client does (unless the caller dies) and runs the workflow.
func (h *harness) run() {
	h.env.SetStartTime(h.input.CreatedAt)
	if !h.callerDies {
		sr, effects, err := process.CreateServiceRequest(h.input.Queue, h.input.New, h.input.Actor, h.input.CreatedAt)
		require.NoError(h.t, err)
		require.NoError(h.t, h.store.SaveServiceRequest(context.Background(), sr, process.Emitted(effects)))
	}
	h.env.ExecuteWorkflow(workflows.ServiceRequest, h.input)
}

// write is what workflows.Client does with an update's result.
func (h *harness) write(r workflows.RequestResult) {
	if r.Unprojected && !h.callerDies {
		require.NoError(h.t, h.store.SaveServiceRequest(context.Background(), r.Request, r.Events))
	}
}

// newEnv is a test environment that logs only warnings.
func newEnv() *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	return suite.NewTestWorkflowEnvironment()
}

func newHarness(t *testing.T) *harness {
	env := newEnv()
	st := storetest.New(t)
	worker.Register(env, worker.Dependencies{Store: st})
	id := uuid.NewString()
	q := billing(t)
	return &harness{t: t, env: env, store: st, id: id, input: workflows.ServiceRequestInput{
		Queue: q,
		Actor: "alice",
		// As workflows.Client starts runs.
		Lean: true, CallerProjects: true, CreatedAt: t0,
		New: process.NewServiceRequest{
			ID: id, Number: "SR-2026-000007", Queue: "billing", Subject: "Invoice charged twice",
			Contact: process.Contact{Email: "ada@example.com"}, Impact: "high", Urgency: "high",
		},
	}}
}

// outcome is what an update callback saw.
type outcome struct {
	rejected error
	err      error
	result   workflows.RequestResult
	done     bool
}

// send schedules an update at virtual time `after` and records its outcome.
func (h *harness) send(after time.Duration, name, updateID string, arg any) *outcome {
	o := &outcome{}
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(name, updateID, &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { o.rejected = err; o.done = true },
			OnComplete: func(res any, err error) {
				o.done = true
				o.err = err
				if r, ok := res.(workflows.RequestResult); ok {
					o.result = r
					h.write(r)
				}
			},
		}, arg)
	}, after)
	return o
}

func act(kind process.ActionKind, mods ...func(*process.Action)) workflows.ActInput {
	a := process.Action{Kind: kind, Actor: "alice"}
	for _, m := range mods {
		m(&a)
	}
	return workflows.ActInput{Action: a}
}

func requireRefused(t *testing.T, err error, code process.Code) {
	t.Helper()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "want an application error, got %T: %v", err, err)
	require.Equal(t, string(code), appErr.Type())
	var pe process.Error
	require.NoError(t, appErr.Details(&pe))
	require.Equal(t, code, pe.Code)
}

func TestServiceRequestLifecycle(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	resolved := true

	var created process.ServiceRequest
	h.env.RegisterDelayedCallback(func() {
		var err error
		created, err = h.store.GetServiceRequest(ctx, h.id)
		require.NoError(t, err)
	}, time.Second)
	progress := h.send(time.Minute, workflows.UpdateAct, "p1", act(process.ActionProgress))
	var afterProgress process.ServiceRequest
	h.env.RegisterDelayedCallback(func() {
		// Read-your-writes: the update has completed, so the projection is there.
		var err error
		afterProgress, err = h.store.GetServiceRequest(ctx, h.id)
		require.NoError(t, err)
	}, time.Minute+time.Second)
	noReason := h.send(2*time.Minute, workflows.UpdateAct, "r0", act(process.ActionRegress))
	regress := h.send(3*time.Minute, workflows.UpdateAct, "r1", act(process.ActionRegress, func(a *process.Action) { a.Reason = "wrong queue" }))
	intoClosed := h.send(4*time.Minute, workflows.UpdateAct, "p2", act(process.ActionProgress, func(a *process.Action) { a.ToStage = "closed" }))
	closeNoFlag := h.send(5*time.Minute, workflows.UpdateAct, "c0", act(process.ActionClose))
	closeIt := h.send(6*time.Minute, workflows.UpdateAct, "c1", act(process.ActionClose, func(a *process.Action) {
		a.Resolved, a.Resolution = &resolved, "refund issued"
	}))

	h.run()
	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())

	require.Equal(t, "new", created.Stage)
	require.Equal(t, "critical", created.Priority)
	require.Equal(t, int64(1), created.Revision)

	require.NoError(t, progress.err)
	require.Equal(t, "investigation", progress.result.Request.Stage)
	require.Equal(t, "investigation", afterProgress.Stage)

	requireRefused(t, noReason.rejected, process.CodeInvalid)
	require.NoError(t, regress.err)
	require.Equal(t, "new", regress.result.Request.Stage)
	requireRefused(t, intoClosed.rejected, process.CodeNotAllowed)
	requireRefused(t, closeNoFlag.rejected, process.CodeInvalid)
	require.NoError(t, closeIt.err)

	var result workflows.ServiceRequestResult
	require.NoError(t, h.env.GetWorkflowResult(&result))
	require.Equal(t, process.StateClosed, result.Request.State)
	require.True(t, *result.Request.Resolved)
	// Rejected actions change nothing: created, progress, regress, close, and the notification the
	// queue's "on closed" automation sent.
	require.Equal(t, int64(5), result.Request.Revision)

	stored, err := h.store.GetServiceRequest(ctx, h.id)
	require.NoError(t, err)
	require.Equal(t, result.Request, stored)
	events, err := h.store.ListServiceRequestEvents(ctx, h.id, 0, 0)
	require.NoError(t, err)
	var types []process.EventType
	for _, e := range events {
		types = append(types, e.Type)
	}
	require.Equal(t, []process.EventType{process.EventCreated, process.EventStageChanged, process.EventRegressed, process.EventClosed, process.EventNotificationSent}, types)
	require.Equal(t, "wrong queue", events[2].Details["reason"])
	require.Equal(t, "alice", events[3].Actor)
	require.True(t, events[1].At.Equal(events[0].At.Add(time.Minute)), "events carry the workflow's time")

	// The notification was rendered from the pinned template and stored once.
	notes, err := h.store.ListNotifications(ctx, h.id)
	require.NoError(t, err)
	require.Len(t, notes, 1)
	require.Equal(t, "sr-closed", notes[0].Template)
	require.Equal(t, []string{"contact"}, notes[0].Recipients)
	require.Equal(t, "Your request SR-2026-000007 is closed", notes[0].Subject)
	require.Contains(t, notes[0].Body, `your request "Invoice charged twice" (SR-2026-000007) is now closed`)
}

func TestServiceRequestActionsAfterCloseAreRefused(t *testing.T) {
	h := newHarness(t)
	resolved := false
	// Two actions in the same instant: the close is applied first, the progress after it is refused.
	closeIt := h.send(time.Minute, workflows.UpdateAct, "c1", act(process.ActionClose, func(a *process.Action) { a.Resolved = &resolved }))
	late := h.send(time.Minute, workflows.UpdateAct, "p1", act(process.ActionProgress))
	h.run()
	require.NoError(t, h.env.GetWorkflowError())
	require.NoError(t, closeIt.err)
	require.True(t, late.done)
	refusal := late.rejected
	if refusal == nil {
		refusal = late.err
	}
	requireRefused(t, refusal, process.CodeNotAllowed)
}

func TestServiceRequestRejectsInvalidCreation(t *testing.T) {
	h := newHarness(t)
	h.input.New.Subject = ""
	h.callerDies = true // the Client refuses it before it starts a run
	h.run()
	require.True(t, h.env.IsWorkflowCompleted())
	requireRefused(t, errors.Unwrap(h.env.GetWorkflowError()), process.CodeInvalid)
}

func TestServiceRequestContinuesAsNewWithItsState(t *testing.T) {
	h := newHarness(t)
	progress := h.send(time.Minute, workflows.UpdateAct, "p1", act(process.ActionProgress))
	h.env.RegisterDelayedCallback(func() { h.env.SetContinueAsNewSuggested(true) }, 2*time.Minute)
	h.run()
	require.NoError(t, progress.err)

	err := h.env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "want continue-as-new, got %v", err)
	require.Equal(t, workflows.ServiceRequestWorkflowType, can.WorkflowType.Name)

	var next workflows.ServiceRequestInput
	require.NoError(t, converterFor().FromPayloads(can.Input, &next))
	require.NotNil(t, next.Resume)
	require.Equal(t, "investigation", next.Resume.Stage)
	require.Equal(t, int64(2), next.Resume.Revision)
	require.Equal(t, h.input.Queue.Version, next.Queue.Version, "the pinned definition travels on")
	require.Equal(t, []string{"p1"}, next.Handled, "the applied update IDs travel on")

	// The next run resumes from the carried state and does not create the request again. The
	// first run's progress, retried with its update ID after the switch, applies nothing.
	env := newEnv()
	worker.Register(env, worker.Dependencies{Store: h.store})
	var repeat, resumed outcome
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateAct, "p1", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { repeat.rejected = err },
			OnComplete: func(res any, err error) {
				repeat.err = err
				repeat.result, _ = res.(workflows.RequestResult)
			},
		}, act(process.ActionProgress))
	}, 30*time.Second)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateAct, "p2", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { resumed.rejected = err },
			OnComplete: func(res any, err error) {
				resumed.err = err
				resumed.result, _ = res.(workflows.RequestResult)
				h.write(resumed.result)
			},
		}, act(process.ActionClose, func(a *process.Action) { b := true; a.Resolved = &b }))
	}, time.Minute)
	env.ExecuteWorkflow(workflows.ServiceRequest, next)
	require.NoError(t, env.GetWorkflowError())
	require.NoError(t, repeat.rejected)
	require.NoError(t, repeat.err)
	require.Equal(t, "investigation", repeat.result.Request.Stage, "the repeat moved nothing")
	require.Equal(t, int64(2), repeat.result.Request.Revision)
	require.Empty(t, repeat.result.Events)
	require.NoError(t, resumed.err)
	require.Equal(t, int64(3), resumed.result.Request.Revision)
	events, err := h.store.ListServiceRequestEvents(context.Background(), h.id, 0, 0)
	require.NoError(t, err)
	require.Len(t, events, 4, "created, stage_changed, closed and the closing notification")
}

func converterFor() converter.DataConverter { return converter.GetDefaultDataConverter() }

// TestHandedOutChangesReachPostgresWithoutTheirCaller: the callers of the updates die before they
// write what the run hands them. The run does not write each action itself, but once 32 events
// wait it writes them, and at its end it writes the rest: nothing acknowledged by the run is
// missing from Postgres, and nothing is there twice.
func TestHandedOutChangesReachPostgresWithoutTheirCaller(t *testing.T) {
	h := newHarness(t)
	h.callerDies = true
	q := *h.input.Queue
	q.SLA = nil // no SLA timers: the run takes no step of its own before it closes
	h.input.Queue = &q
	ctx := context.Background()
	revisionAt := func(after time.Duration) *int64 {
		rev := new(int64)
		h.env.RegisterDelayedCallback(func() {
			sr, err := h.store.GetServiceRequest(ctx, h.id)
			if err == nil {
				*rev = sr.Revision
			} else {
				require.ErrorIs(t, err, store.ErrNotFound)
				*rev = 0
			}
		}, after)
		return rev
	}
	afterCreation := revisionAt(time.Second)
	var sent []*outcome
	for i := range 40 {
		a := act(process.ActionProgress)
		if i%2 == 1 {
			a = act(process.ActionRegress, func(a *process.Action) { a.Reason = fmt.Sprintf("back %d", i) })
		}
		sent = append(sent, h.send(time.Duration(i+1)*time.Minute, workflows.UpdateAct, fmt.Sprintf("u%d", i), a))
	}
	afterTen := revisionAt(10*time.Minute + time.Second)
	afterForty := revisionAt(40*time.Minute + time.Second)
	resolved := true
	h.send(50*time.Minute, workflows.UpdateAct, "close", act(process.ActionClose, func(a *process.Action) { a.Resolved = &resolved }))
	h.run()
	require.NoError(t, h.env.GetWorkflowError())
	for i, o := range sent {
		require.NoError(t, o.err, "update %d", i)
		require.Len(t, o.result.Events, 1, "update %d hands out its event", i)
		require.True(t, o.result.Unprojected)
	}

	require.Equal(t, int64(0), *afterCreation, "the run leaves the creation to its starter")
	require.Equal(t, int64(0), *afterTen, "and each action to its caller")
	// The creation and 31 actions are 32 events: the 31st action made the run write them.
	require.Equal(t, int64(32), *afterForty)

	var result workflows.ServiceRequestResult
	require.NoError(t, h.env.GetWorkflowResult(&result))
	stored, err := h.store.GetServiceRequest(ctx, h.id)
	require.NoError(t, err)
	require.Equal(t, result.Request, stored)
	events, err := h.store.ListServiceRequestEvents(ctx, h.id, 0, 0)
	require.NoError(t, err)
	require.Len(t, events, int(result.Request.Revision), "one event per revision, none twice")
	for i, e := range events {
		require.Equal(t, int64(i+1), e.Seq)
	}
}
