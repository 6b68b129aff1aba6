package workflows

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/fieldflow/fieldflow/process"
)

// ErrNotFound means there is no run for the record, or it has already finished.
var ErrNotFound = errors.New("workflows: no open run for this record")

// ErrFinished means a run with this id existed and has finished (a closed record).
var ErrFinished = errors.New("workflows: the run of this record has finished")

// ErrUnavailable means the Temporal server could not be reached; the caller may retry later.
var ErrUnavailable = errors.New("workflows: Temporal is unavailable")

// Client starts Fieldflow runs and sends them actions. It is the only place that speaks to the
// Temporal client about service requests.
type Client struct {
	c client.Client
}

// NewClient wraps a connected Temporal client.
func NewClient(c client.Client) *Client { return &Client{c: c} }

// StartServiceRequest starts the run of a new request and returns it once it is stored. preview is
// the request as the interpreter will create it (for the summary and search attributes). Starting
// a request whose run exists already returns that run's request, so a retried creation with the
// same id creates nothing new.
func (c *Client) StartServiceRequest(ctx context.Context, q *process.Queue, in process.NewServiceRequest, actor string, preview process.ServiceRequest) (process.ServiceRequest, error) {
	handle, err := c.updateWithStart(ctx, client.StartWorkflowOptions{
		ID:                    ServiceRequestWorkflowID(in.ID),
		StaticSummary:         ServiceRequestSummary(in.Number, q, preview.Priority),
		TypedSearchAttributes: temporal.NewSearchAttributes(serviceRequestAttributes(preview)...),
	}, ServiceRequestWorkflowType, ServiceRequestInput{Queue: q, New: in, Actor: actor, Lean: true})
	return requestResult(ctx, handle, err)
}

// updateWithStart starts a run (or finds the one with the same ID) and waits for its UpdateCreated:
// the record once it is stored.
func (c *Client) updateWithStart(ctx context.Context, opts client.StartWorkflowOptions, workflowType string, input any) (client.WorkflowUpdateHandle, error) {
	opts.TaskQueue = TaskQueue
	opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
	opts.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
	return c.c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: c.c.NewWithStartWorkflowOperation(opts, workflowType, input),
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName:   UpdateCreated,
			Args:         []any{CreatedInput{}},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
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
	return requestResult(ctx, handle, err)
}

// requestResult waits for an update's result: the request as it was stored.
func requestResult(ctx context.Context, handle client.WorkflowUpdateHandle, err error) (process.ServiceRequest, error) {
	if err != nil {
		return process.ServiceRequest{}, translate(err)
	}
	var res RequestResult
	if err := handle.Get(ctx, &res); err != nil {
		return process.ServiceRequest{}, translate(err)
	}
	return res.Request, nil
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
	return requestResult(ctx, handle, err)
}

// SignalServiceRequest sends an action that needs no answer (a contact's decision by link). The
// server accepts it even while no worker runs; the run applies it when it next runs.
func (c *Client) SignalServiceRequest(ctx context.Context, id string, a process.Action) error {
	if err := c.c.SignalWorkflow(ctx, ServiceRequestWorkflowID(id), "", SignalAction, ActInput{Action: a}); err != nil {
		return translate(err)
	}
	return nil
}

// StartWorkOrder starts the run of a new work order with its record type pinned and returns the
// order once it is stored. preview is the order as the interpreter will create it. Starting an
// order whose run exists already returns that run's order (a retried creation creates nothing).
func (c *Client) StartWorkOrder(ctx context.Context, t *process.WorkOrderType, in process.NewWorkOrder, actor string, preview process.WorkOrder) (process.WorkOrder, error) {
	handle, err := c.updateWithStart(ctx, client.StartWorkflowOptions{
		ID:                    WorkOrderWorkflowID(in.ID),
		StaticSummary:         WorkOrderSummary(in.Number, t, preview.Priority),
		TypedSearchAttributes: temporal.NewSearchAttributes(workOrderAttributes(preview)...),
	}, WorkOrderWorkflowType, WorkOrderInput{Type: t, New: in, Actor: actor, Lean: true})
	return orderResult(ctx, handle, err)
}

// ActOnWorkOrder sends a staff action to a work order's run and returns the order once the change
// is stored. updateID makes a retried action apply once; "" lets Temporal pick one.
func (c *Client) ActOnWorkOrder(ctx context.Context, id string, a process.Action, updateID string) (process.WorkOrder, error) {
	handle, err := c.act(ctx, WorkOrderWorkflowID(id), a, updateID)
	return orderResult(ctx, handle, err)
}

// SignalWorkOrder sends a work order an action that needs no answer.
func (c *Client) SignalWorkOrder(ctx context.Context, id string, a process.Action) error {
	if err := c.c.SignalWorkflow(ctx, WorkOrderWorkflowID(id), "", SignalAction, ActInput{Action: a}); err != nil {
		return translate(err)
	}
	return nil
}

// orderResult waits for a work-order update's result: the order as it was stored.
func orderResult(ctx context.Context, handle client.WorkflowUpdateHandle, err error) (process.WorkOrder, error) {
	if err != nil {
		return process.WorkOrder{}, translate(err)
	}
	var res OrderResult
	if err := handle.Get(ctx, &res); err != nil {
		return process.WorkOrder{}, translate(err)
	}
	return res.Order, nil
}
