// Package worker registers Fieldflow's workflows and activities on a Temporal worker.
package worker

import (
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/fieldflow/fieldflow/activities"
	"github.com/fieldflow/fieldflow/workflows"
)

// Dependencies are what the activities need.
type Dependencies struct {
	Store activities.ProjectionStore
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
	r.RegisterActivity(&activities.Projections{Store: deps.Store})
}
