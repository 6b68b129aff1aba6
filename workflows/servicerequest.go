package workflows

import (
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
	if in.Queue == nil {
		return ServiceRequestResult{}, temporal.NewNonRetryableApplicationError("the run has no queue definition", "InvalidInput", nil)
	}
	w := &serviceRequest{queue: in.Queue}
	var effects []process.Effect
	state := process.ServiceRequest{}
	start := startOf(in.Resume != nil, in.CreatedAt)
	if in.Resume != nil {
		state = *in.Resume
	} else {
		var err error
		if state, effects, err = process.CreateServiceRequest(in.Queue, in.New, in.Actor, creationTime(ctx, in.CreatedAt)); err != nil {
			return ServiceRequestResult{}, applicationError(err)
		}
	}
	w.r = newRunner(w.interpreter(), state)
	w.r.lean, w.r.callerProjects, w.r.handled = in.Lean, in.CallerProjects, in.Handled
	if in.Resume != nil {
		w.r.projected = in.Resume.Revision
	}
	if err := w.setup(ctx); err != nil {
		return ServiceRequestResult{}, err
	}
	if err := w.r.run(ctx, start, effects); err != nil {
		return ServiceRequestResult{}, err
	}
	if w.r.state.State == process.StateClosed {
		return ServiceRequestResult{Request: w.r.state}, nil
	}
	next := in
	resume := w.r.state
	next.Queue = w.queue // a migration may have changed it
	next.Resume = &resume
	next.Handled = w.r.handled
	return ServiceRequestResult{}, workflow.NewContinueAsNewError(ctx, ServiceRequestWorkflowType, next)
}

type serviceRequest struct {
	queue *process.Queue
	r     *runner[process.ServiceRequest]
}

func (w *serviceRequest) interpreter() interpreter[process.ServiceRequest] {
	return interpreter[process.ServiceRequest]{
		apply: func(sr process.ServiceRequest, a process.Action, t time.Time) (process.ServiceRequest, []process.Effect, error) {
			return process.ApplyServiceRequest(w.queue, sr, a, t)
		},
		timers:   func(sr process.ServiceRequest) []process.Timer { return process.ServiceRequestTimers(w.queue, sr) },
		closed:   func(sr process.ServiceRequest) bool { return sr.State == process.StateClosed },
		revision: func(sr process.ServiceRequest) int64 { return sr.Revision },
		project: func(ctx workflow.Context, sr process.ServiceRequest, events []process.Event) error {
			ctx = workflow.WithLocalActivityOptions(ctx, projectionOptions)
			var p *activities.Projections
			in := activities.ProjectServiceRequestInput{Request: sr, Events: events}
			return workflow.ExecuteLocalActivity(ctx, p.ProjectServiceRequest, in).Get(ctx, nil)
		},
		attributes: func(sr process.ServiceRequest) ([]string, []temporal.SearchAttributeUpdate) {
			key := append([]string{sr.Stage, string(sr.State), sr.Priority, sr.Owner, sr.Definition.Version}, slaKey(sr.SLA)...)
			return key, serviceRequestAttributes(sr)
		},
		details:   func(sr process.ServiceRequest) string { return serviceRequestDetails(w.queue, sr) },
		templates: w.queue.Templates,
		recordID:  func(sr process.ServiceRequest) string { return sr.ID },
	}
}

func (w *serviceRequest) setup(ctx workflow.Context) error {
	if err := workflow.SetUpdateHandler(ctx, UpdateCreated, w.onCreated); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, QueryRecord, func() (RequestResult, error) {
		return RequestResult{Request: w.r.state, Events: w.r.unconfirmed, Unprojected: w.r.callerProjects}, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateAct, w.act, workflow.UpdateHandlerOptions{
		Validator: func(ctx workflow.Context, in ActInput) error { return w.r.validate(ctx, in.Action) },
	}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateMigrate, w.migrate, workflow.UpdateHandlerOptions{
		Validator: func(ctx workflow.Context, in MigrateInput) error {
			_, _, err := process.MigrateServiceRequest(in.Queue, w.r.state, in.Stages, in.Actor, now(ctx))
			return applicationError(err)
		},
	})
}

// onCreated answers the update sent with the start, once the creation is in Postgres.
func (w *serviceRequest) onCreated(ctx workflow.Context, _ CreatedInput) (RequestResult, error) {
	if err := workflow.Await(ctx, func() bool { return w.r.projected >= 1 }); err != nil {
		return RequestResult{}, err
	}
	return RequestResult{Request: w.r.state}, nil
}

func (w *serviceRequest) act(ctx workflow.Context, in ActInput) (RequestResult, error) {
	sr, events, err := w.r.answer(ctx, in.Action)
	if err != nil {
		return RequestResult{}, err
	}
	return RequestResult{Request: sr, Events: events, Unprojected: w.r.callerProjects}, nil
}

// migrate moves the running request onto another version of its queue.
func (w *serviceRequest) migrate(ctx workflow.Context, in MigrateInput) (RequestResult, error) {
	sr, effects, err := process.MigrateServiceRequest(in.Queue, w.r.state, in.Stages, in.Actor, now(ctx))
	if err != nil {
		return RequestResult{}, applicationError(err)
	}
	w.queue = in.Queue
	w.r.in = w.interpreter()
	w.r.state = sr
	if err := w.r.settle(ctx, sr, effects); err != nil {
		return RequestResult{}, err
	}
	return RequestResult{Request: sr}, nil
}
