// Package baseline is the benchmark's yardstick: the service-request lifecycle Fieldflow
// interprets, written by hand as plain Temporal code the way a team without Fieldflow would. One
// workflow per request, started with an update that answers once the request is stored; each
// agent action is a validated update whose handler writes the new state and its event to
// PostgreSQL in an activity (regular by default, local when Input.Local) and answers after the
// write; with an SLA, two timers run while the request is open; closing resolved with charges writes the
// invoice in the same transaction. No interpreter, no definitions.
package baseline

import (
	"context"
	"encoding/json"

	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TaskQueue is the baseline worker's task queue.
const TaskQueue = "baseline"

// The workflow's and its updates' names.
const (
	WorkflowName  = "BaselineServiceRequest"
	UpdateCreated = "created"
	UpdateAct     = "act"
)

// Schema creates the baseline's tables: the request, its events and its invoice.
const Schema = `
CREATE TABLE IF NOT EXISTS baseline_requests (
    id text PRIMARY KEY, stage text NOT NULL, state text NOT NULL, revision bigint NOT NULL,
    doc jsonb NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS baseline_events (
    request_id text NOT NULL, seq bigint NOT NULL, type text NOT NULL, at timestamptz NOT NULL,
    details jsonb NOT NULL DEFAULT '{}', PRIMARY KEY (request_id, seq));
CREATE TABLE IF NOT EXISTS baseline_invoices (
    request_id text PRIMARY KEY, total numeric NOT NULL, at timestamptz NOT NULL);`

// Stages are the request's stages, in order; the last one closes it.
var Stages = []string{"new", "investigation", "proposal", "response", "closed"}

// Request is the record.
type Request struct {
	ID       string    `json:"id"`
	Subject  string    `json:"subject"`
	Stage    string    `json:"stage"`
	State    string    `json:"state"`
	Charges  []float64 `json:"charges"`
	Resolved bool      `json:"resolved"`
	Revision int64     `json:"revision"`
	// AlertAt and DueAt are the SLA's instants (zero without an SLA).
	AlertAt time.Time `json:"alertAt"`
	DueAt   time.Time `json:"dueAt"`
	Alerted bool      `json:"alerted"`
	Overdue bool      `json:"overdue"`
}

// Input starts a request.
type Input struct {
	ID, Subject string
	// Local runs the writes as local activities instead of regular ones.
	Local bool
	// SLA arms the two SLA timers (an alert while the request is new, and its due time), as
	// Fieldflow does for a queue with an SLA.
	SLA bool
}

// Action is an agent's action: progress, charge (Amount) or close (Resolved).
type Action struct {
	Kind     string  `json:"kind"`
	Amount   float64 `json:"amount,omitempty"`
	Resolved bool    `json:"resolved,omitempty"`
}

// Save is one write: the request as it is now, the event that made it so, and the invoice when
// it was issued.
type Save struct {
	Request Request         `json:"request"`
	Event   string          `json:"event"`
	Details json.RawMessage `json:"details,omitempty"`
	Invoice *float64        `json:"invoice,omitempty"`
	At      time.Time       `json:"at"`
}

// Activities writes to PostgreSQL.
type Activities struct {
	Pool *pgxpool.Pool
}

// Save writes a step in one transaction; a retry writes nothing twice.
func (a *Activities) Save(ctx context.Context, s Save) error {
	doc, err := json.Marshal(s.Request)
	if err != nil {
		return err
	}
	tx, err := a.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	r := s.Request
	if _, err := tx.Exec(ctx, `INSERT INTO baseline_requests (id, stage, state, revision, doc, updated_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO UPDATE SET stage = $2, state = $3, revision = $4, doc = $5, updated_at = $6
WHERE baseline_requests.revision < $4`, r.ID, r.Stage, r.State, r.Revision, doc, s.At); err != nil {
		return err
	}
	details := s.Details
	if details == nil {
		details = json.RawMessage("{}")
	}
	if _, err := tx.Exec(ctx, `INSERT INTO baseline_events (request_id, seq, type, at, details) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING`, r.ID, r.Revision, s.Event, s.At, details); err != nil {
		return err
	}
	if s.Invoice != nil {
		if _, err := tx.Exec(ctx, `INSERT INTO baseline_invoices (request_id, total, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			r.ID, *s.Invoice, s.At); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// Register registers the workflow and its activities on a worker.
func Register(w worker.Registry, a *Activities) {
	w.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	w.RegisterActivity(a)
}

var (
	activityOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second},
	}
	localOptions = workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second},
	}
)

type run struct {
	in      Input
	req     Request
	saved   int64
	cancels map[string]workflow.CancelFunc
}

// Workflow runs one request from creation to closed.
func Workflow(ctx workflow.Context, in Input) (Request, error) {
	now := workflow.Now(ctx).UTC()
	r := &run{in: in, cancels: map[string]workflow.CancelFunc{}, req: Request{
		ID: in.ID, Subject: in.Subject, Stage: Stages[0], State: "new", Revision: 1, Charges: []float64{},
	}}
	if in.SLA {
		r.req.AlertAt, r.req.DueAt = now.Add(8*time.Hour), now.Add(72*time.Hour)
	}
	if err := workflow.SetUpdateHandler(ctx, UpdateCreated, func(ctx workflow.Context) (Request, error) {
		err := workflow.Await(ctx, func() bool { return r.saved >= 1 })
		return r.req, err
	}); err != nil {
		return Request{}, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateAct, r.act, workflow.UpdateHandlerOptions{
		Validator: func(_ workflow.Context, a Action) error { _, _, _, err := r.apply(a); return err },
	}); err != nil {
		return Request{}, err
	}
	if err := r.save(ctx, Save{Request: r.req, Event: "created", At: now}); err != nil {
		return Request{}, err
	}
	if in.SLA {
		r.timer(ctx, "alert", r.req.AlertAt, func() { r.req.Alerted = true })
		r.timer(ctx, "due", r.req.DueAt, func() { r.req.Overdue = true })
	}
	if err := workflow.Await(ctx, func() bool { return r.req.State == "closed" && workflow.AllHandlersFinished(ctx) }); err != nil {
		return Request{}, err
	}
	return r.req, nil
}

// cancel stops a timer, if it runs.
func (r *run) cancel(id string) {
	if cancel, ok := r.cancels[id]; ok {
		cancel()
		delete(r.cancels, id)
	}
}

func (r *run) timer(ctx workflow.Context, id string, at time.Time, fired func()) {
	tctx, cancel := workflow.WithCancel(ctx)
	r.cancels[id] = cancel
	workflow.Go(tctx, func(gctx workflow.Context) {
		if workflow.NewTimer(gctx, at.Sub(workflow.Now(gctx))).Get(gctx, nil) == nil {
			fired()
		}
	})
}

// apply is the whole process: what an action does to the request.
func (r *run) apply(a Action) (Request, string, *float64, error) {
	next := r.req
	next.Charges = append([]float64(nil), r.req.Charges...)
	if next.State == "closed" {
		return next, "", nil, temporal.NewNonRetryableApplicationError("the request is closed", "NotAllowed", nil)
	}
	var invoice *float64
	var event string
	switch a.Kind {
	case "progress":
		i := 0
		for i < len(Stages) && Stages[i] != next.Stage {
			i++
		}
		if i+2 >= len(Stages) {
			return next, "", nil, temporal.NewNonRetryableApplicationError("no further stage before closing", "NotAllowed", nil)
		}
		next.Stage, next.State, event = Stages[i+1], "in_progress", "stage_changed"
	case "charge":
		if a.Amount <= 0 {
			return next, "", nil, temporal.NewNonRetryableApplicationError("a charge needs an amount", "Invalid", nil)
		}
		next.Charges, event = append(next.Charges, a.Amount), "charge_added"
	case "close":
		next.Stage, next.State, next.Resolved, event = "closed", "closed", a.Resolved, "closed"
		if a.Resolved && len(next.Charges) > 0 {
			total := 0.0
			for _, c := range next.Charges {
				total += c
			}
			invoice = &total
		}
	default:
		return next, "", nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown action %q", a.Kind), "Invalid", nil)
	}
	next.Revision++
	return next, event, invoice, nil
}

func (r *run) act(ctx workflow.Context, a Action) (Request, error) {
	next, event, invoice, err := r.apply(a)
	if err != nil {
		return Request{}, err
	}
	left := r.req.Stage == "new" && next.Stage != "new"
	r.req = next
	if left {
		r.cancel("alert")
	}
	if next.State == "closed" {
		r.cancel("due")
	}
	if err := r.save(ctx, Save{Request: next, Event: event, Invoice: invoice, At: workflow.Now(ctx).UTC()}); err != nil {
		return Request{}, err
	}
	return next, nil
}

func (r *run) save(ctx workflow.Context, s Save) error {
	var a *Activities
	var err error
	if r.in.Local {
		err = workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, localOptions), a.Save, s).Get(ctx, nil)
	} else {
		err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions), a.Save, s).Get(ctx, nil)
	}
	if err != nil {
		return err
	}
	r.saved = max(r.saved, s.Request.Revision)
	return nil
}
