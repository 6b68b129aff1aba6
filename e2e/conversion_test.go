package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/workflows"
)

// TestConversionToWorkOrder: a technical-support request about faulty equipment reaches the
// resolution stage, and the queue's automation starts a repair work order, a run of its own that
// is visible in Temporal and keeps running after the request is closed.
func TestConversionToWorkOrder(t *testing.T) {
	stack := startStack(t)
	alice := api{t: t, base: stack.APIURL, token: token(t, stack, "alice", auth.RoleAgent)}
	sr := alice.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "technical-support", "subject": "Router burnt out", "description": "smoke from the box",
		"contact": map[string]any{"name": "Ada", "email": "ada@example.com"}, "categories": []string{"equipment/faulty"},
	})
	path := "/v1/service-requests/" + sr["id"].(string)
	alice.must(http.StatusOK, "POST", path+"/progress", map[string]any{"toStage": "resolution"})

	var childID string
	require.Eventually(t, func() bool {
		for _, e := range alice.must(http.StatusOK, "GET", path+"/events", nil)["items"].([]any) {
			ev := e.(map[string]any)
			if ev["type"] == "converted" {
				childID = ev["details"].(map[string]any)["id"].(string)
				return true
			}
		}
		return false
	}, 20*time.Second, 100*time.Millisecond)
	alice.must(http.StatusOK, "POST", path+"/close", map[string]any{"resolved": true})

	requireVisible(t, stack.Client(), workflows.WorkOrderWorkflowID(childID),
		"RequestType = 'work_order' AND RecordType = 'repair' AND Stage = 'dispatch' AND AssigneeGroup = 'central-field'")
	desc, err := stack.Client().DescribeWorkflowExecution(context.Background(), workflows.WorkOrderWorkflowID(childID), "")
	require.NoError(t, err)
	require.Equal(t, "Running", desc.GetWorkflowExecutionInfo().GetStatus().String(), "the work order outlives the request")

	recordHistory(t, stack.Client(), workflows.ServiceRequestWorkflowID(sr["id"].(string)), "service-request-conversion")
	recordHistory(t, stack.Client(), workflows.WorkOrderWorkflowID(childID), "work-order-converted-running")
}
