package workflows

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/fieldflow/fieldflow/activities"
	"github.com/fieldflow/fieldflow/process"
)

// record is what both record kinds give the runner.
type record interface {
	process.ServiceRequest | process.WorkOrder
}

// interpreter is one record kind's pure interpreter and how the shell shows it to Temporal.
type interpreter[S record] struct {
	apply    func(S, process.Action, time.Time) (S, []process.Effect, error)
	timers   func(S) []process.Timer
	closed   func(S) bool
	revision func(S) int64
	// project writes the record and its new events to Postgres (a local activity).
	project func(workflow.Context, S, []process.Event) error
	// attributes are the search attribute values that change during a run, and their updates.
	attributes func(S) ([]string, []temporal.SearchAttributeUpdate)
	details    func(S) string
	// templates are the message templates of the pinned definition, for notifications.
	templates map[string]*process.Template
	recordID  func(S) string
}

// runner is the Temporal shell shared by the ServiceRequest and WorkOrder workflows: it feeds the
// interpreter actions (updates, fired timers, finished effects), keeps exactly the timers the
// interpreter asks for, carries out effects, and writes every change to Postgres.
type runner[S record] struct {
	in    interpreter[S]
	state S
	// projected is the highest revision known to be written to Postgres.
	projected int64
	// inbox holds fired timers and finished effects, applied in order by the main loop.
	inbox []process.Action
	// timers are the running timers by ID.
	timers map[string]*runningTimer
	// effects counts effects in flight.
	effects   int
	published []string
	// lean: effects that only write to PostgreSQL (an invoice, an engineer's pick) run as local
	// activities, and a run that closes leaves its timers to end with it instead of cancelling
	// them — fewer history events per lifecycle. The run's input says so (Lean), not a version
	// marker, which would cost a marker and a search-attribute upsert per run; runs started
	// before it replay in their old shape.
	lean bool
	// callerProjects: the caller of an update (workflows.Client) writes the state and events the
	// update returns, before it answers; the run writes only its own steps (fired timers,
	// finished effects, signals), when the events it handed out pile up, and at its end. That is
	// one local-activity marker less per agent action. Chosen by the run's input, like lean.
	callerProjects bool
	// unconfirmed are the events handed to callers since the run last wrote the record itself.
	// Its next own projection writes them again (writes are idempotent), so an action whose
	// caller died before writing it still reaches Postgres.
	unconfirmed []process.Event
	// handled are the IDs of the last updates the record's runs applied, oldest first. The
	// server deduplicates update IDs within one run only; a run carries these on through
	// continue-as-new and answers a repeat of one with the record as it is, applying nothing.
	handled []string
}

// maxHandled bounds the update IDs a run remembers (and carries on).
const maxHandled = 1000

// maxUnconfirmed bounds the events a run hands to its callers without writing them itself.
const maxUnconfirmed = 32

type runningTimer struct {
	at     time.Time
	cancel workflow.CancelFunc
}

func newRunner[S record](in interpreter[S], state S) *runner[S] {
	r := &runner[S]{in: in, state: state, timers: map[string]*runningTimer{}}
	r.published, _ = in.attributes(state)
	return r
}

// validate is an update validator: the action must apply to the current state, unless the update
// repeats one an earlier run of the record applied.
func (r *runner[S]) validate(ctx workflow.Context, a process.Action) error {
	if r.repeated(ctx) {
		return nil
	}
	_, _, err := r.in.apply(r.state, a, now(ctx))
	return applicationError(err)
}

// step applies one action of the run's own (a fired timer, a finished effect, a signal) and
// carries out what follows: search attributes, the projection, timers and effects.
func (r *runner[S]) step(ctx workflow.Context, a process.Action) (S, error) {
	next, effects, err := r.apply(ctx, a)
	if err != nil {
		return next, err
	}
	return next, r.settle(ctx, next, effects)
}

// apply moves the record on by one action; a refusal changes nothing.
func (r *runner[S]) apply(ctx workflow.Context, a process.Action) (S, []process.Effect, error) {
	next, effects, err := r.in.apply(r.state, a, now(ctx))
	if err != nil {
		var zero S
		return zero, nil, applicationError(err)
	}
	r.state = next
	return next, effects, nil
}

// answer applies the action of an update. In a run whose callers project, it returns the events
// the caller writes with the new state; otherwise the run has written both before it returns, so
// a caller reads its write either way.
func (r *runner[S]) answer(ctx workflow.Context, a process.Action) (S, []process.Event, error) {
	if r.repeated(ctx) {
		return r.state, nil, nil
	}
	id := workflow.GetCurrentUpdateInfo(ctx).ID
	if !r.callerProjects {
		next, err := r.step(ctx, a)
		if err == nil {
			r.remember(id)
		}
		return next, nil, err
	}
	next, effects, err := r.apply(ctx, a)
	if err != nil {
		return next, nil, err
	}
	r.remember(id)
	events := process.Emitted(effects)
	r.handOut(ctx, events)
	r.reconcileTimers(ctx)
	r.startEffects(ctx, effects)
	return next, events, nil
}

// repeated reports whether the current update repeats one an earlier run applied.
func (r *runner[S]) repeated(ctx workflow.Context) bool {
	info := workflow.GetCurrentUpdateInfo(ctx)
	return info != nil && slices.Contains(r.handled, info.ID)
}

// remember records an applied update's ID, forgetting the oldest beyond maxHandled.
func (r *runner[S]) remember(id string) {
	r.handled = append(r.handled, id)
	if n := len(r.handled) - maxHandled; n > 0 {
		r.handled = slices.Delete(r.handled, 0, n)
	}
}

// handOut records events the caller writes, and writes them itself once too many are waiting.
func (r *runner[S]) handOut(ctx workflow.Context, events []process.Event) {
	r.publish(ctx)
	r.unconfirmed = append(r.unconfirmed, events...)
	if len(r.unconfirmed) >= maxUnconfirmed {
		if err := r.project(ctx, r.state, nil); err != nil {
			// The caller writes this state too; the run tries again at its next own step.
			workflow.GetLogger(ctx).Warn("projection of handed-out events", "error", err)
		}
	}
}

// settle publishes, projects and schedules what a new state and its effects ask for.
func (r *runner[S]) settle(ctx workflow.Context, state S, effects []process.Effect) error {
	r.publish(ctx)
	if err := r.project(ctx, state, process.Emitted(effects)); err != nil {
		return err
	}
	r.reconcileTimers(ctx)
	r.startEffects(ctx, effects)
	return nil
}

// publish keeps the search attributes and current details of the run in step with the record.
// Search attributes are sent only when they change: each upsert is an event in the history.
func (r *runner[S]) publish(ctx workflow.Context) {
	workflow.SetCurrentDetails(ctx, r.in.details(r.state))
	current, updates := r.in.attributes(r.state)
	if equalStrings(current, r.published) {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		workflow.GetLogger(ctx).Error("upsert search attributes", "error", err)
		return
	}
	r.published = current
}

// project writes the record and its new events, with the events handed out since the run's last
// own projection.
func (r *runner[S]) project(ctx workflow.Context, state S, events []process.Event) error {
	if len(r.unconfirmed) > 0 {
		events = append(r.unconfirmed, events...)
	}
	if err := r.in.project(ctx, state, events); err != nil {
		return err
	}
	r.unconfirmed = nil
	r.projected = max(r.projected, r.in.revision(state))
	return nil
}

// reconcileTimers starts the timers the interpreter asks for and cancels the others.
func (r *runner[S]) reconcileTimers(ctx workflow.Context) {
	wanted := r.in.timers(r.state)
	keep := map[string]bool{}
	for _, t := range wanted {
		if running, ok := r.timers[t.ID]; ok && running.at.Equal(t.At) {
			keep[t.ID] = true
		}
	}
	ids := make([]string, 0, len(r.timers))
	//workflowcheck:ignore the keys are sorted below
	for id := range r.timers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	closing := r.lean && r.in.closed(r.state)
	for _, id := range ids {
		if !keep[id] {
			if !closing {
				r.timers[id].cancel() // a closing run's timers end with it: no cancel event each
			}
			delete(r.timers, id)
		}
	}
	for _, t := range wanted {
		if keep[t.ID] {
			continue
		}
		tctx, cancel := workflow.WithCancel(ctx)
		r.timers[t.ID] = &runningTimer{at: t.At, cancel: cancel}
		d := t.At.Sub(now(ctx))
		if d < 0 {
			d = 0
		}
		id := t.ID
		workflow.Go(tctx, func(gctx workflow.Context) {
			if err := workflow.NewTimer(gctx, d).Get(gctx, nil); err != nil {
				return // cancelled
			}
			r.inbox = append(r.inbox, process.Action{Kind: process.ActionTimer, TimerID: id, Actor: "system"})
		})
	}
}

// startEffects runs notifications, webhooks and conversions in their own coroutines; each reports
// back through the inbox.
func (r *runner[S]) startEffects(ctx workflow.Context, effects []process.Effect) {
	for _, e := range effects {
		var run func(workflow.Context) (kind, id string, result map[string]string, err error)
		switch e := e.(type) {
		case process.Notify:
			run = func(gctx workflow.Context) (string, string, map[string]string, error) {
				res, err := r.notify(gctx, e)
				return "notify", e.EffectID, res, err
			}
		case process.CallWebhook:
			run = func(gctx workflow.Context) (string, string, map[string]string, error) {
				res, err := r.webhook(gctx, e)
				return "webhook", e.EffectID, res, err
			}
		case process.Relate:
			other := e
			r.effects++
			workflow.Go(ctx, func(gctx workflow.Context) {
				defer func() { r.effects-- }()
				err := workflow.SignalExternalWorkflow(gctx, ServiceRequestWorkflowID(other.Other), "", SignalAction, ActInput{Action: process.Action{
					Kind: process.ActionRelate, Actor: "system", RelatedID: other.Self, Remove: other.Remove,
				}}).Get(gctx, nil)
				if err != nil {
					// The other request is closed (its run ended) or gone: the link shows on this side only.
					workflow.GetLogger(gctx).Warn("could not tell a related request", "request", other.Other, "error", err)
				}
			})
			continue
		case process.ReportToParent:
			report := e
			r.effects++
			workflow.Go(ctx, func(gctx workflow.Context) {
				defer func() { r.effects-- }()
				err := workflow.SignalExternalWorkflow(gctx, ServiceRequestWorkflowID(report.Parent), "", SignalAction, ActInput{Action: process.Action{
					Kind: process.ActionWorkOrderClosed, Actor: "system", WorkOrder: &report.Order,
				}}).Get(gctx, nil)
				if err != nil {
					// The request is closed (its run ended): the outcome shows on the work order only.
					workflow.GetLogger(gctx).Warn("could not tell the service request", "request", report.Parent, "error", err)
				}
			})
			continue
		case process.PickEngineer:
			run = func(gctx workflow.Context) (string, string, map[string]string, error) {
				var a *activities.Assignments
				var res activities.PickEngineerResult
				err := r.storeEffect(gctx, a.PickEngineer, activities.PickEngineerInput{
					Key: r.in.recordID(r.state) + ":" + e.EffectID, Group: e.Group, Strategy: e.Strategy,
				}).Get(gctx, &res)
				return "pick", e.EffectID, map[string]string{"engineer": res.Engineer}, err
			}
		case process.IssueInvoice:
			run = func(gctx workflow.Context) (string, string, map[string]string, error) {
				var a *activities.Invoices
				var res activities.IssueInvoiceResult
				err := r.storeEffect(gctx, a.Issue, activities.IssueInvoiceInput{
					RequestID: e.RequestID, Charges: e.Charges, Total: e.Total, At: now(gctx),
				}).Get(gctx, &res)
				return "invoice", e.EffectID, map[string]string{"number": res.Number}, err
			}
		case process.StartWorkOrder:
			run = func(gctx workflow.Context) (string, string, map[string]string, error) {
				res, err := r.convert(gctx, e)
				return "convert", e.EffectID, res, err
			}
		default:
			continue
		}
		r.effects++
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer func() { r.effects-- }()
			kind, id, result, err := run(gctx)
			done := process.Action{Kind: process.ActionEffectDone, Actor: "system", EffectID: id, EffectKind: kind, Result: result}
			if err != nil {
				done.Error = errorMessage(err)
			}
			r.inbox = append(r.inbox, done)
		})
	}
}

// storeEffect runs an effect that only writes to PostgreSQL: a local activity in a lean run (no
// scheduled/started/completed events, no extra workflow task), a regular one before.
func (r *runner[S]) storeEffect(ctx workflow.Context, activity, input any) workflow.Future {
	if r.lean {
		return workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, storeEffectOptions), activity, input)
	}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, effectOptions), activity, input)
}

// listen feeds the actions that arrive as signals into the inbox.
func (r *runner[S]) listen(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, SignalAction)
	workflow.Go(ctx, func(gctx workflow.Context) {
		for {
			var in ActInput
			if !ch.Receive(gctx, &in) {
				return
			}
			r.inbox = append(r.inbox, in.Action)
		}
	})
}

// run brings a run to its end: a new record is settled first (projection, timers, effects) — or,
// when its starter wrote the creation, handed out like an update's change —, a resumed one
// restarts its timers; then the loop runs until the record is closed or the server suggests
// continuing as new. Whatever the run handed out and did not write itself is written last.
func (r *runner[S]) run(ctx workflow.Context, start runStart, effects []process.Effect) error {
	r.listen(ctx)
	switch start {
	case resumed:
		r.reconcileTimers(ctx)
	case createdByStarter:
		r.handOut(ctx, process.Emitted(effects))
		r.reconcileTimers(ctx)
		r.startEffects(ctx, effects)
	default:
		if err := r.settle(ctx, r.state, effects); err != nil {
			return err
		}
	}
	if err := r.loop(ctx); err != nil {
		return err
	}
	if len(r.unconfirmed) > 0 || r.projected < r.in.revision(r.state) {
		return r.project(ctx, r.state, nil)
	}
	return nil
}

// startOf tells how a run begins from its input.
func startOf(resume bool, createdAt time.Time) runStart {
	switch {
	case resume:
		return resumed
	case !createdAt.IsZero():
		return createdByStarter
	}
	return created
}

// creationTime is the instant a record is created at: the starter's, when it wrote the creation
// (its copy and the run's must be the same), else the run's own time.
func creationTime(ctx workflow.Context, createdAt time.Time) time.Time {
	if !createdAt.IsZero() {
		return createdAt
	}
	return now(ctx)
}

// runStart is how a run begins.
type runStart int

const (
	// created: the run creates the record and writes the creation itself.
	created runStart = iota
	// createdByStarter: the starter (workflows.Client) wrote the creation, as the run makes it.
	createdByStarter
	// resumed: the run continues a record carried over by continue-as-new.
	resumed
)

// loop applies fired timers and finished effects until the record is closed (or the server
// suggests continuing as new) and nothing is left in flight: no effect, no handler, no action.
func (r *runner[S]) loop(ctx workflow.Context) error {
	for {
		if err := workflow.Await(ctx, func() bool {
			return len(r.inbox) > 0 || (r.effects == 0 && (r.in.closed(r.state) || workflow.GetInfo(ctx).GetContinueAsNewSuggested()))
		}); err != nil {
			return err
		}
		if len(r.inbox) > 0 {
			a := r.inbox[0]
			r.inbox = r.inbox[1:]
			if _, err := r.step(ctx, a); err != nil {
				var appErr *temporal.ApplicationError
				if !errors.As(err, &appErr) {
					return err
				}
				// An internal action the record no longer accepts: nothing to do.
				workflow.GetLogger(ctx).Warn("internal action refused", "kind", a.Kind, "error", err)
			}
			continue
		}
		// Quiet: let the updates in flight finish; they may have started more work.
		if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
			return err
		}
		if r.effects == 0 && len(r.inbox) == 0 {
			return nil
		}
	}
}

// projectionOptions: the projection is a local activity (no extra history events per action) that
// retries until Postgres takes the write; it is idempotent, so a retry after a crash is harmless.
var projectionOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout: 10 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    100 * time.Millisecond,
		BackoffCoefficient: 2,
		MaximumInterval:    10 * time.Second,
	},
}

// storeEffectOptions: invoices and picks are PostgreSQL writes keyed so a retry repeats nothing;
// they retry until the database takes them.
var storeEffectOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout: 10 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    100 * time.Millisecond,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
	},
}

// effectOptions: notifications and webhooks retry with backoff for about a day before they are
// recorded as failed.
var effectOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    10 * time.Minute,
		MaximumAttempts:    150,
	},
}

// notify renders and sends a message; the result (where it went) goes into the delivery's event.
func (r *runner[S]) notify(ctx workflow.Context, n process.Notify) (map[string]string, error) {
	ctx = workflow.WithActivityOptions(ctx, effectOptions)
	var a *activities.Messages
	var res activities.NotifyResult
	in := activities.NotifyInput{
		RecordID: r.in.recordID(r.state), EffectID: n.EffectID, Template: r.in.templates[n.Template],
		Recipients: n.Recipients, Channels: n.Channels, Priority: n.Priority, Record: r.state, Print: n.Print, Title: n.Title, Approval: n.Approval,
	}
	if n.Invitation {
		in.Invitation, in.InvitationExpires = n.EffectID, n.InvitationExpires
	}
	err := workflow.ExecuteActivity(ctx, a.Notify, in).Get(ctx, &res)
	var failed *temporal.ApplicationError
	if errors.As(err, &failed) && failed.HasDetails() {
		_ = failed.Details(&res) // when no channel delivered it: each channel's outcome
	}
	out := map[string]string{}
	if len(res.SentTo) > 0 {
		out["sentTo"] = strings.Join(res.SentTo, ", ")
	}
	for _, ch := range workflow.DeterministicKeys(res.Channels) {
		out["channel."+ch] = res.Channels[ch]
	}
	return out, err
}

// webhook delivers a webhook; the result (status, attempts) goes into the delivery's event.
func (r *runner[S]) webhook(ctx workflow.Context, w process.CallWebhook) (map[string]string, error) {
	ctx = workflow.WithActivityOptions(ctx, effectOptions)
	var a *activities.Webhooks
	var res activities.WebhookResult
	err := workflow.ExecuteActivity(ctx, a.Deliver, activities.WebhookInput{
		EffectID: w.EffectID, URL: w.URL, SecretEnv: w.SecretEnv, Event: w.Event, Record: r.state,
	}).Get(ctx, &res)
	out := map[string]string{"url": w.URL}
	if res.Status != 0 {
		out["status"] = fmt.Sprint(res.Status)
		out["attempt"] = fmt.Sprint(res.Attempt)
	}
	return out, err
}

// now is the run's deterministic time, at the precision Postgres keeps (microseconds), so the
// record and its stored events show the same instants.
func now(ctx workflow.Context) time.Time {
	return workflow.Now(ctx).UTC().Truncate(time.Microsecond)
}

// applicationError carries an interpreter refusal across Temporal: the type is its code and the
// details hold the whole process.Error, so the API can answer 404, 409 or 422 with the field list.
func applicationError(err error) error {
	var pe *process.Error
	if !errors.As(err, &pe) {
		return err
	}
	return temporal.NewApplicationErrorWithOptions(pe.Message, string(pe.Code), temporal.ApplicationErrorOptions{
		NonRetryable: true,
		Details:      []any{*pe},
	})
}

// errorMessage is the innermost message of an activity or child failure.
func errorMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
