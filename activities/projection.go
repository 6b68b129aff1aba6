// Package activities holds the side effects of Fieldflow workflows: one struct per area, holding
// only its dependencies, registered once with the worker.
package activities

import (
	"context"
	"fmt"

	"github.com/fieldflow/fieldflow/process"
)

// ProjectionStore is the storage the projections write to.
type ProjectionStore interface {
	SaveServiceRequest(ctx context.Context, sr process.ServiceRequest, events []process.Event) error
	SaveWorkOrder(ctx context.Context, wo process.WorkOrder, events []process.Event) error
}

// Projections writes the Postgres projection of records: the rows that lists, reads and reports use.
type Projections struct {
	Store ProjectionStore
}

// ProjectServiceRequestInput is a request's new state and the history events that led to it.
type ProjectServiceRequestInput struct {
	Request process.ServiceRequest `json:"request"`
	Events  []process.Event        `json:"events"`
}

// ProjectServiceRequest writes the request and its events in one transaction. It is idempotent: a
// retry writes nothing twice, and an older revision never overwrites a newer one.
func (p *Projections) ProjectServiceRequest(ctx context.Context, in ProjectServiceRequestInput) error {
	if err := p.Store.SaveServiceRequest(ctx, in.Request, in.Events); err != nil {
		return fmt.Errorf("project service request %s revision %d: %w", in.Request.ID, in.Request.Revision, err)
	}
	return nil
}

// ProjectWorkOrderInput is a work order's new state and the history events that led to it.
type ProjectWorkOrderInput struct {
	Order  process.WorkOrder `json:"order"`
	Events []process.Event   `json:"events"`
}

// ProjectWorkOrder writes the work order and its events in one transaction, idempotently.
func (p *Projections) ProjectWorkOrder(ctx context.Context, in ProjectWorkOrderInput) error {
	if err := p.Store.SaveWorkOrder(ctx, in.Order, in.Events); err != nil {
		return fmt.Errorf("project work order %s revision %d: %w", in.Order.ID, in.Order.Revision, err)
	}
	return nil
}
