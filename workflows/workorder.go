package workflows

import (
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/fieldflow/fieldflow/activities"
	"github.com/fieldflow/fieldflow/process"
)

// WorkOrder runs one work order through the nodes of its pinned record type: the same interpreter
// shell as ServiceRequest, with the work-order interpreter.
func WorkOrder(ctx workflow.Context, in WorkOrderInput) (WorkOrderResult, error) {
	if in.Type == nil {
		return WorkOrderResult{}, temporal.NewNonRetryableApplicationError("the run has no record type definition", "InvalidInput", nil)
	}
	// Runs that started before field-service dispatch existed replay as they ran: no strategy picks,
	// no report to the request on close (both add commands to the history).
	w := &workOrder{typ: in.Type, fieldService: workflow.GetVersion(ctx, "field-service", workflow.DefaultVersion, 1) >= 1}
	if !w.fieldService {
		w.typ = withoutStrategies(in.Type)
	}
	var effects []process.Effect
	var state process.WorkOrder
	start := startOf(in.Resume != nil, in.CreatedAt)
	if in.Resume != nil {
		state = *in.Resume
	} else {
		var err error
		if state, effects, err = process.CreateWorkOrder(w.typ, in.New, in.Actor, creationTime(ctx, in.CreatedAt)); err != nil {
			return WorkOrderResult{}, applicationError(err)
		}
	}
	w.r = newRunner(w.interpreter(), state)
	w.r.lean, w.r.callerProjects, w.r.handled = in.Lean, in.CallerProjects, in.Handled
	if in.Resume != nil {
		w.r.projected = in.Resume.Revision
	}
	if err := w.setup(ctx); err != nil {
		return WorkOrderResult{}, err
	}
	if err := w.r.run(ctx, start, effects); err != nil {
		return WorkOrderResult{}, err
	}
	if w.r.state.State == process.StateClosed {
		return WorkOrderResult{Order: w.r.state}, nil
	}
	next := in
	resume := w.r.state
	next.Type = w.typ
	next.Resume = &resume
	next.Handled = w.r.handled
	return WorkOrderResult{}, workflow.NewContinueAsNewError(ctx, WorkOrderWorkflowType, next)
}

type workOrder struct {
	typ          *process.WorkOrderType
	fieldService bool
	r            *runner[process.WorkOrder]
}

// withoutStrategies is t with its assignment strategies turned off (orders wait for a dispatcher).
func withoutStrategies(t *process.WorkOrderType) *process.WorkOrderType {
	c := *t
	c.Nodes = slices.Clone(t.Nodes)
	for i := range c.Nodes {
		c.Nodes[i].Strategy = ""
	}
	return &c
}

func (w *workOrder) interpreter() interpreter[process.WorkOrder] {
	return interpreter[process.WorkOrder]{
		apply: func(wo process.WorkOrder, a process.Action, t time.Time) (process.WorkOrder, []process.Effect, error) {
			out, effects, err := process.ApplyWorkOrder(w.typ, wo, a, t)
			if !w.fieldService {
				effects = slices.DeleteFunc(effects, func(e process.Effect) bool { _, ok := e.(process.ReportToParent); return ok })
			}
			return out, effects, err
		},
		timers:   func(wo process.WorkOrder) []process.Timer { return process.WorkOrderTimers(w.typ, wo) },
		closed:   func(wo process.WorkOrder) bool { return wo.State == process.StateClosed },
		revision: func(wo process.WorkOrder) int64 { return wo.Revision },
		project: func(ctx workflow.Context, wo process.WorkOrder, events []process.Event) error {
			ctx = workflow.WithLocalActivityOptions(ctx, projectionOptions)
			var p *activities.Projections
			in := activities.ProjectWorkOrderInput{Order: wo, Events: events}
			return workflow.ExecuteLocalActivity(ctx, p.ProjectWorkOrder, in).Get(ctx, nil)
		},
		attributes: func(wo process.WorkOrder) ([]string, []temporal.SearchAttributeUpdate) {
			key := append([]string{wo.Stage, string(wo.State), wo.Priority, wo.Engineer, wo.Group, wo.Definition.Version}, slaKey(wo.SLA)...)
			return key, workOrderAttributes(wo)
		},
		details:   func(wo process.WorkOrder) string { return workOrderDetails(w.typ, wo) },
		templates: w.typ.Templates,
		recordID:  func(wo process.WorkOrder) string { return wo.ID },
	}
}

func (w *workOrder) setup(ctx workflow.Context) error {
	if err := workflow.SetUpdateHandler(ctx, UpdateCreated, func(ctx workflow.Context, _ CreatedInput) (OrderResult, error) {
		if err := workflow.Await(ctx, func() bool { return w.r.projected >= 1 }); err != nil {
			return OrderResult{}, err
		}
		return OrderResult{Order: w.r.state}, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, QueryRecord, func() (OrderResult, error) {
		return OrderResult{Order: w.r.state, Events: w.r.unconfirmed, Unprojected: w.r.callerProjects}, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateAct, func(ctx workflow.Context, in ActInput) (OrderResult, error) {
		wo, events, err := w.r.answer(ctx, in.Action)
		return OrderResult{Order: wo, Events: events, Unprojected: w.r.callerProjects}, err
	}, workflow.UpdateHandlerOptions{
		Validator: func(ctx workflow.Context, in ActInput) error { return w.r.validate(ctx, in.Action) },
	}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateMigrate, func(ctx workflow.Context, in MigrateWorkOrderInput) (OrderResult, error) {
		wo, effects, err := process.MigrateWorkOrder(w.typ, in.Type, w.r.state, in.Nodes, in.Actor, now(ctx))
		if err != nil {
			return OrderResult{}, applicationError(err)
		}
		w.typ = in.Type
		if !w.fieldService {
			w.typ = withoutStrategies(in.Type)
		}
		w.r.in = w.interpreter()
		w.r.state = wo
		if err := w.r.settle(ctx, wo, effects); err != nil {
			return OrderResult{}, err
		}
		return OrderResult{Order: wo}, nil
	}, workflow.UpdateHandlerOptions{
		Validator: func(ctx workflow.Context, in MigrateWorkOrderInput) error {
			_, _, err := process.MigrateWorkOrder(w.typ, in.Type, w.r.state, in.Nodes, in.Actor, now(ctx))
			return applicationError(err)
		},
	})
}
