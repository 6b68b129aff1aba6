// Package worker registers Fieldflow's workflows and activities on a Temporal worker.
package worker

import (
	"net/http"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/fieldflow/fieldflow/activities"
	"github.com/fieldflow/fieldflow/workflows"
)

// Store is the storage the activities use.
type Store interface {
	activities.ProjectionStore
	activities.MessageStore
	activities.DefinitionStore
	activities.InvoiceStore
}

// Dependencies are what the activities need.
type Dependencies struct {
	Store Store
	// BaseURL is the public address of the API, for links in messages.
	BaseURL string
	// HTTPClient delivers webhooks; a client with a 20 s timeout when nil.
	HTTPClient *http.Client
}

// New creates a worker on the Fieldflow task queue with every workflow and activity registered.
// Start it with Run or Start.
func New(c client.Client, deps Dependencies, opts sdkworker.Options) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, opts)
	Register(w, deps)
	return w
}

// Register registers every workflow and activity on a registry (a worker, or a test environment).
func Register(r sdkworker.Registry, deps Dependencies) {
	r.RegisterWorkflowWithOptions(workflows.ServiceRequest, workflow.RegisterOptions{Name: workflows.ServiceRequestWorkflowType})
	r.RegisterWorkflowWithOptions(workflows.WorkOrder, workflow.RegisterOptions{Name: workflows.WorkOrderWorkflowType})
	r.RegisterActivity(&activities.Projections{Store: deps.Store})
	r.RegisterActivity(&activities.Messages{Store: deps.Store, BaseURL: deps.BaseURL})
	r.RegisterActivity(&activities.Webhooks{Client: deps.HTTPClient})
	r.RegisterActivity(&activities.Definitions{Store: deps.Store})
	r.RegisterActivity(&activities.Invoices{Store: deps.Store})
}
