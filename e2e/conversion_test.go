package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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

// TestConvertEndpoint: an agent converts a request with the mapping its queue declares; the answer
// is the started work order. A queue without conversions answers 409.
func TestConvertEndpoint(t *testing.T) {
	stack := startStack(t)
	alice := api{t: t, base: stack.APIURL, token: token(t, stack, "alice", auth.RoleAgent)}
	sr := alice.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "technical-support", "subject": "No dial tone", "description": "since Monday",
		"contact": map[string]any{"name": "Ada", "phone": "+357 22 000000"},
	})
	path := "/v1/service-requests/" + sr["id"].(string)
	alice.problem(http.StatusUnprocessableEntity, "POST", path+"/convert", map[string]any{"recordType": "repiar"})
	wo := alice.must(http.StatusCreated, "POST", path+"/convert", map[string]any{"recordType": "repair"})
	require.Equal(t, "repair", wo["recordType"])
	require.Equal(t, sr["id"], wo["parent"])
	require.Equal(t, "No dial tone", wo["subject"])
	require.Equal(t, "From "+sr["number"].(string)+": since Monday", wo["description"])
	require.Equal(t, "+357 22 000000", wo["contact"].(map[string]any)["phone"])

	// The request links to the order; when the order closes, the request records the outcome.
	linked := alice.must(http.StatusOK, "GET", path, nil)["workOrders"].([]any)
	require.Len(t, linked, 1)
	require.Equal(t, wo["id"], linked[0].(map[string]any)["id"])
	require.Equal(t, "open", linked[0].(map[string]any)["status"])
	dan := alice.as(token(t, stack, "dan", auth.RoleDispatcher))
	dan.must(http.StatusOK, "POST", "/v1/work-orders/"+wo["id"].(string)+"/close", map[string]any{"resolved": true, "resolution": "line fixed"})
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		got := alice.must(http.StatusOK, "GET", path, nil)
		links, _ := got["workOrders"].([]any)
		require.Len(c, links, 1)
		link := links[0].(map[string]any)
		require.Equal(c, "resolved", link["status"])
		require.Equal(c, "line fixed", link["resolution"])
	}, 20*time.Second, 100*time.Millisecond)
	require.Contains(t, eventTypes(alice.must(http.StatusOK, "GET", path+"/events", nil)), "work_order_closed")

	billing := alice.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "billing", "subject": "x", "contact": map[string]any{"email": "a@example.com"},
	})
	p := alice.problem(http.StatusConflict, "POST", "/v1/service-requests/"+billing["id"].(string)+"/convert", map[string]any{"recordType": "repair"})
	require.Contains(t, p["detail"], "declares no conversions")
}
