package workflows

import (
	"context"
	"errors"
	"fmt"
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
	err = c.start(ctx, client.StartWorkflowOptions{
		ID:                    ServiceRequestWorkflowID(in.ID),
		StaticSummary:         ServiceRequestSummary(in.Number, q, sr.Priority),
		TypedSearchAttributes: temporal.NewSearchAttributes(serviceRequestAttributes(sr)...),
	}, ServiceRequestWorkflowType, ServiceRequestInput{Queue: q, New: in, Actor: actor, Lean: true, CallerProjects: true, CreatedAt: at}, &res)
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
	handle, err := c.act(ctx, ServiceRequestWorkflowID(id), a, updateID)
	return c.requestResult(ctx, handle, err)
}

// requestResult waits for an update's result and writes it when the run left that to the caller.
func (c *Client) requestResult(ctx context.Context, handle client.WorkflowUpdateHandle, err error) (process.ServiceRequest, error) {
	var res RequestResult
	if err := updateResult(ctx, handle, err, &res); err != nil {
		return process.ServiceRequest{}, err
	}
	return c.writeRequest(ctx, res)
}

// updateResult waits for an update's result.
func updateResult(ctx context.Context, handle client.WorkflowUpdateHandle, err error, res any) error {
	if err != nil {
		return translate(err)
	}
	if err := handle.Get(ctx, res); err != nil {
		return translate(err)
	}
	return nil
}

// CheckHealth asks the Temporal frontend whether it serves.
func (c *Client) CheckHealth(ctx context.Context) error {
	if _, err := c.c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
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
	handle, err := c.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   ServiceRequestWorkflowID(id),
		UpdateID:     updateID,
		UpdateName:   UpdateMigrate,
		Args:         []any{MigrateInput{Queue: q, Stages: stages, Actor: actor}},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	return c.requestResult(ctx, handle, err)
}

// SignalServiceRequest sends an action that needs no answer (a contact's decision by link). The
// server accepts it even while no worker runs; the run applies it when it next runs.
func (c *Client) SignalServiceRequest(ctx context.Context, id string, a process.Action) error {
	if err := c.c.SignalWorkflow(ctx, ServiceRequestWorkflowID(id), "", SignalAction, ActInput{Action: a}); err != nil {
		return translate(err)
	}
	return nil
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
	err = c.start(ctx, client.StartWorkflowOptions{
		ID:                    WorkOrderWorkflowID(in.ID),
		StaticSummary:         WorkOrderSummary(in.Number, t, wo.Priority),
		TypedSearchAttributes: temporal.NewSearchAttributes(workOrderAttributes(wo)...),
	}, WorkOrderWorkflowType, WorkOrderInput{Type: t, New: in, Actor: actor, Lean: true, CallerProjects: true, CreatedAt: at}, &res)
	if err != nil {
		return process.WorkOrder{}, err
	}
	return c.writeOrder(ctx, res)
}

// ActOnWorkOrder sends a staff action to a work order's run and returns the order once the change
// is stored. updateID makes a retried action apply once; "" lets Temporal pick one.
func (c *Client) ActOnWorkOrder(ctx context.Context, id string, a process.Action, updateID string) (process.WorkOrder, error) {
	handle, err := c.act(ctx, WorkOrderWorkflowID(id), a, updateID)
	return c.orderResult(ctx, handle, err)
}

// SignalWorkOrder sends a work order an action that needs no answer.
func (c *Client) SignalWorkOrder(ctx context.Context, id string, a process.Action) error {
	if err := c.c.SignalWorkflow(ctx, WorkOrderWorkflowID(id), "", SignalAction, ActInput{Action: a}); err != nil {
		return translate(err)
	}
	return nil
}

// orderResult waits for a work-order update's result and writes it when the run left that to the
// caller.
func (c *Client) orderResult(ctx context.Context, handle client.WorkflowUpdateHandle, err error) (process.WorkOrder, error) {
	var res OrderResult
	if err := updateResult(ctx, handle, err, &res); err != nil {
		return process.WorkOrder{}, err
	}
	return c.writeOrder(ctx, res)
}
