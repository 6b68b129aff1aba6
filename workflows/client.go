package workflows

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/fieldflow/fieldflow/activities"
	"github.com/fieldflow/fieldflow/process"
)

// ErrNotFound means there is no run for the record, or it has already finished.
var ErrNotFound = errors.New("workflows: no open run for this record")

// ErrFinished means a run with this id existed and has finished (a closed record).
var ErrFinished = errors.New("workflows: the run of this record has finished")

// ErrUnavailable means the Temporal server could not be reached; the caller may retry later.
var ErrUnavailable = errors.New("workflows: Temporal is unavailable")

// Client starts Fieldflow runs and sends them actions. It is the only place that speaks to the
// Temporal client about service requests and work orders. It also writes to Postgres what the
// runs hand back to their callers (see runner.callerProjects): a creation, and each action's new
// state and events, before it returns them.
type Client struct {
	c     client.Client
	store activities.ProjectionStore
	// unreachable: the last call found the Temporal frontend unreachable. The next calls first
	// check its health with a short timeout (probeTimeout), so while it stays down they fail in
	// about that time instead of at their deadline, which the SDK spends retrying.
	unreachable atomic.Bool
}

// probeTimeout bounds the health check a call makes while the frontend is thought unreachable.
const probeTimeout = 2 * time.Second

// call runs f, a call to Temporal whose errors are translated: first, when the frontend was found
// unreachable, a quick health check; then f, noting whether it found the frontend unreachable.
func (c *Client) call(ctx context.Context, f func() error) error {
	if c.unreachable.Load() {
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		err := c.CheckHealth(pctx)
		cancel()
		if err != nil {
			return err
		}
	}
	err := f()
	if errors.Is(err, ErrUnavailable) {
		c.unreachable.Store(true)
	}
	return err
}

// NewClient wraps a connected Temporal client and the store the records are written to.
func NewClient(c client.Client, store activities.ProjectionStore) *Client {
	return &Client{c: c, store: store}
}

// StartServiceRequest creates a request at the instant at, starts its run and writes the request
// to Postgres before returning it; the run creates the same request from the same input. Starting
// a request whose run exists already returns that run's request, so a retried creation with the
// same id creates nothing new.
func (c *Client) StartServiceRequest(ctx context.Context, q *process.Queue, in process.NewServiceRequest, actor string, at time.Time) (process.ServiceRequest, error) {
	at = at.UTC().Truncate(time.Microsecond)
	sr, effects, err := process.CreateServiceRequest(q, in, actor, at)
	if err != nil {
		return process.ServiceRequest{}, err
	}
	res := RequestResult{Request: sr, Events: process.Emitted(effects), Unprojected: true}
	err = c.call(ctx, func() error {
		return c.start(ctx, client.StartWorkflowOptions{
			ID:                    ServiceRequestWorkflowID(in.ID),
			StaticSummary:         ServiceRequestSummary(in.Number, q, sr.Priority),
			TypedSearchAttributes: temporal.NewSearchAttributes(serviceRequestAttributes(sr)...),
		}, ServiceRequestWorkflowType, ServiceRequestInput{Queue: q, New: in, Actor: actor, Lean: true, CallerProjects: true, CreatedAt: at}, &res)
	})
	if err != nil {
		return process.ServiceRequest{}, err
	}
	return c.writeRequest(ctx, res)
}

// start starts a run, eagerly when this process also runs a worker (the first workflow task then
// runs here, without a round trip through the task queue). When the run exists already, found
// is set to the record it holds (QueryRecord).
func (c *Client) start(ctx context.Context, opts client.StartWorkflowOptions, workflowType string, input, found any) error {
	opts.TaskQueue = TaskQueue
	opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL
	opts.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
	opts.EnableEagerStart = true
	_, err := c.c.ExecuteWorkflow(ctx, opts, workflowType, input)
	if err == nil {
		return nil
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if !errors.As(err, &started) {
		return translate(err)
	}
	v, err := c.c.QueryWorkflow(ctx, opts.ID, "", QueryRecord)
	if err != nil {
		if errors.Is(translate(err), ErrUnavailable) {
			return translate(err)
		}
		// A run from before QueryRecord: it wrote its record itself.
		return fmt.Errorf("%w: %v", ErrFinished, err)
	}
	return v.Get(found)
}

// writeRequest writes what a run handed back, when it is the caller's to write.
func (c *Client) writeRequest(ctx context.Context, res RequestResult) (process.ServiceRequest, error) {
	if res.Unprojected {
		if err := c.store.SaveServiceRequest(ctx, res.Request, res.Events); err != nil {
			return process.ServiceRequest{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	}
	return res.Request, nil
}

// writeOrder is writeRequest for work orders.
func (c *Client) writeOrder(ctx context.Context, res OrderResult) (process.WorkOrder, error) {
	if res.Unprojected {
		if err := c.store.SaveWorkOrder(ctx, res.Order, res.Events); err != nil {
			return process.WorkOrder{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	}
	return res.Order, nil
}

// act sends an action to a run as an UpdateAct and waits for it to complete.
func (c *Client) act(ctx context.Context, workflowID string, a process.Action, updateID string) (client.WorkflowUpdateHandle, error) {
	return c.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflowID,
		UpdateID:     updateID,
		UpdateName:   UpdateAct,
		Args:         []any{ActInput{Action: a}},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
}

// ActOnServiceRequest sends an agent action to a request's run and returns the request once the
// change is stored. updateID makes a retried action apply once; "" lets Temporal pick one.
func (c *Client) ActOnServiceRequest(ctx context.Context, id string, a process.Action, updateID string) (process.ServiceRequest, error) {
	return c.requestResult(ctx, func() (client.WorkflowUpdateHandle, error) {
		return c.act(ctx, ServiceRequestWorkflowID(id), a, updateID)
	})
}

// requestResult sends an update, waits for its result and writes it when the run left that to the
// caller.
func (c *Client) requestResult(ctx context.Context, send func() (client.WorkflowUpdateHandle, error)) (process.ServiceRequest, error) {
	var res RequestResult
	if err := c.update(ctx, send, &res); err != nil {
		return process.ServiceRequest{}, err
	}
	return c.writeRequest(ctx, res)
}

// update sends an update and waits for its result.
func (c *Client) update(ctx context.Context, send func() (client.WorkflowUpdateHandle, error), res any) error {
	return c.call(ctx, func() error {
		handle, err := send()
		if err != nil {
			return translate(err)
		}
		return translate(handle.Get(ctx, res))
	})
}

// CheckHealth asks the Temporal frontend whether it serves.
func (c *Client) CheckHealth(ctx context.Context) error {
	if _, err := c.c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		c.unreachable.Store(true)
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	c.unreachable.Store(false)
	return nil
}

// translate turns Temporal errors into the errors callers handle: *process.Error for refusals,
// ErrNotFound, ErrUnavailable.
func translate(err error) error {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		switch process.Code(appErr.Type()) {
		case process.CodeInvalid, process.CodeNotAllowed, process.CodeNotFound, process.CodeForbidden:
			var pe process.Error
			if appErr.HasDetails() && appErr.Details(&pe) == nil {
				return &pe
			}
			return &process.Error{Code: process.Code(appErr.Type()), Message: appErr.Message()}
		}
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return fmt.Errorf("%w: %v", ErrFinished, err)
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	if errors.As(err, &unavailable) || errors.As(err, &deadline) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return err
}

// MigrateServiceRequest moves a running request onto another version of its queue.
func (c *Client) MigrateServiceRequest(ctx context.Context, id string, q *process.Queue, stages map[string]string, actor, updateID string) (process.ServiceRequest, error) {
	return c.requestResult(ctx, func() (client.WorkflowUpdateHandle, error) {
		return c.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID:   ServiceRequestWorkflowID(id),
			UpdateID:     updateID,
			UpdateName:   UpdateMigrate,
			Args:         []any{MigrateInput{Queue: q, Stages: stages, Actor: actor}},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		})
	})
}

// SignalServiceRequest sends an action that needs no answer (a contact's decision by link). The
// server accepts it even while no worker runs; the run applies it when it next runs.
func (c *Client) SignalServiceRequest(ctx context.Context, id string, a process.Action) error {
	return c.call(ctx, func() error {
		return translate(c.c.SignalWorkflow(ctx, ServiceRequestWorkflowID(id), "", SignalAction, ActInput{Action: a}))
	})
}

// StartWorkOrder creates a work order at the instant at with its record type pinned, starts its
// run and writes the order to Postgres before returning it. Starting an order whose run exists
// already returns that run's order (a retried creation creates nothing).
func (c *Client) StartWorkOrder(ctx context.Context, t *process.WorkOrderType, in process.NewWorkOrder, actor string, at time.Time) (process.WorkOrder, error) {
	at = at.UTC().Truncate(time.Microsecond)
	wo, effects, err := process.CreateWorkOrder(t, in, actor, at)
	if err != nil {
		return process.WorkOrder{}, err
	}
	res := OrderResult{Order: wo, Events: process.Emitted(effects), Unprojected: true}
	err = c.call(ctx, func() error {
		return c.start(ctx, client.StartWorkflowOptions{
			ID:                    WorkOrderWorkflowID(in.ID),
			StaticSummary:         WorkOrderSummary(in.Number, t, wo.Priority),
			TypedSearchAttributes: temporal.NewSearchAttributes(workOrderAttributes(wo)...),
		}, WorkOrderWorkflowType, WorkOrderInput{Type: t, New: in, Actor: actor, Lean: true, CallerProjects: true, CreatedAt: at}, &res)
	})
	if err != nil {
		return process.WorkOrder{}, err
	}
	return c.writeOrder(ctx, res)
}

// ActOnWorkOrder sends a staff action to a work order's run and returns the order once the change
// is stored. updateID makes a retried action apply once; "" lets Temporal pick one.
func (c *Client) ActOnWorkOrder(ctx context.Context, id string, a process.Action, updateID string) (process.WorkOrder, error) {
	var res OrderResult
	send := func() (client.WorkflowUpdateHandle, error) { return c.act(ctx, WorkOrderWorkflowID(id), a, updateID) }
	if err := c.update(ctx, send, &res); err != nil {
		return process.WorkOrder{}, err
	}
	return c.writeOrder(ctx, res)
}

// SignalWorkOrder sends a work order an action that needs no answer.
func (c *Client) SignalWorkOrder(ctx context.Context, id string, a process.Action) error {
	return c.call(ctx, func() error {
		return translate(c.c.SignalWorkflow(ctx, WorkOrderWorkflowID(id), "", SignalAction, ActInput{Action: a}))
	})
}
