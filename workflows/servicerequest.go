package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/fieldflow/fieldflow/activities"
	"github.com/fieldflow/fieldflow/process"
)

// ServiceRequest runs one service request from creation to closed, interpreting its pinned queue
// definition. Agent actions arrive as the UpdateAct update; each returns only after the new state
// is written to Postgres, so a read right after it sees the change.
func ServiceRequest(ctx workflow.Context, in ServiceRequestInput) (ServiceRequestResult, error) {
	w := &serviceRequest{queue: in.Queue}
	if err := w.setup(ctx, in); err != nil {
		return ServiceRequestResult{}, err
	}
	return w.run(ctx, in)
}

type serviceRequest struct {
	queue *process.Queue
	sr    process.ServiceRequest
	// projected is the highest revision known to be written to Postgres.
	projected int64
	// created holds the creation's events until run writes them.
	created []process.Event
	// published is the last set of search attribute values sent to the server.
	published [4]string
}

func (w *serviceRequest) setup(ctx workflow.Context, in ServiceRequestInput) error {
	if in.Queue == nil {
		return temporal.NewNonRetryableApplicationError("the run has no queue definition", "InvalidInput", nil)
	}
	if in.Resume != nil {
		w.sr = *in.Resume
		w.projected = in.Resume.Revision
	} else {
		sr, effects, err := process.CreateServiceRequest(w.queue, in.New, in.Actor, now(ctx))
		if err != nil {
			return applicationError(err)
		}
		w.sr = sr
		w.created = emitted(effects)
	}
	// The starter set the search attributes (and continue-as-new carries them over).
	w.published = attributeKey(w.sr)
	if err := workflow.SetUpdateHandler(ctx, UpdateCreated, w.onCreated); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateAct, w.act, workflow.UpdateHandlerOptions{
		Validator: w.validateAct,
	})
}

func (w *serviceRequest) run(ctx workflow.Context, in ServiceRequestInput) (ServiceRequestResult, error) {
	w.publish(ctx)
	if w.created != nil {
		if err := w.project(ctx, w.sr, w.created); err != nil {
			return ServiceRequestResult{}, err
		}
		w.created = nil
	}
	if err := workflow.Await(ctx, func() bool {
		return w.sr.State == process.StateClosed || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
	}); err != nil {
		return ServiceRequestResult{}, err
	}
	// Let every update in flight finish (and write its projection) before the run ends.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return ServiceRequestResult{}, err
	}
	if w.sr.State == process.StateClosed {
		return ServiceRequestResult{Request: w.sr}, nil
	}
	next := in
	resume := w.sr
	next.Resume = &resume
	return ServiceRequestResult{}, workflow.NewContinueAsNewError(ctx, ServiceRequestWorkflowType, next)
}

// onCreated answers the update sent with the start, once the creation is in Postgres.
func (w *serviceRequest) onCreated(ctx workflow.Context, _ CreatedInput) (RequestResult, error) {
	if err := workflow.Await(ctx, func() bool { return w.projected >= 1 }); err != nil {
		return RequestResult{}, err
	}
	return RequestResult{Request: w.sr}, nil
}

func (w *serviceRequest) validateAct(ctx workflow.Context, in ActInput) error {
	_, _, err := process.ApplyServiceRequest(w.queue, w.sr, in.Action, now(ctx))
	return applicationError(err)
}

func (w *serviceRequest) act(ctx workflow.Context, in ActInput) (RequestResult, error) {
	next, effects, err := process.ApplyServiceRequest(w.queue, w.sr, in.Action, now(ctx))
	if err != nil {
		// The validator accepted it, but an update applied in between changed the request.
		return RequestResult{}, applicationError(err)
	}
	w.sr = next
	w.publish(ctx)
	if err := w.project(ctx, next, emitted(effects)); err != nil {
		return RequestResult{}, err
	}
	return RequestResult{Request: next}, nil
}

// publish keeps the search attributes and current details of the run in step with the request.
// Search attributes are sent only when they change: each upsert is an event in the history.
func (w *serviceRequest) publish(ctx workflow.Context) {
	workflow.SetCurrentDetails(ctx, serviceRequestDetails(w.queue, w.sr))
	current := attributeKey(w.sr)
	if current == w.published {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, serviceRequestAttributes(w.sr)...); err != nil {
		workflow.GetLogger(ctx).Error("upsert search attributes", "error", err)
		return
	}
	w.published = current
}

// attributeKey holds the search attribute values that can change during a run.
func attributeKey(sr process.ServiceRequest) [4]string {
	return [4]string{sr.Stage, string(sr.State), sr.Priority, sr.Owner}
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

// project writes the request and its new events to Postgres.
func (w *serviceRequest) project(ctx workflow.Context, sr process.ServiceRequest, events []process.Event) error {
	ctx = workflow.WithLocalActivityOptions(ctx, projectionOptions)
	var p *activities.Projections
	in := activities.ProjectServiceRequestInput{Request: sr, Events: events}
	if err := workflow.ExecuteLocalActivity(ctx, p.ProjectServiceRequest, in).Get(ctx, nil); err != nil {
		return err
	}
	w.projected = max(w.projected, sr.Revision)
	return nil
}

// now is the run's deterministic time, at the precision Postgres keeps (microseconds), so the
// record and its stored events show the same instants.
func now(ctx workflow.Context) time.Time {
	return workflow.Now(ctx).UTC().Truncate(time.Microsecond)
}

// emitted collects the history events among the interpreter's effects.
func emitted(effects []process.Effect) []process.Event {
	var events []process.Event
	for _, e := range effects {
		if em, ok := e.(process.Emit); ok {
			events = append(events, em.Event)
		}
	}
	return events
}

// applicationError carries an interpreter refusal across Temporal: the type is its code and the
// details hold the whole *process.Error, so the API can answer 409 or 422 with the field list.
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
