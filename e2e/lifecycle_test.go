package e2e

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/devstack"
	"github.com/fieldflow/fieldflow/workflows"
)

// startStack starts the whole stack on a fresh data directory; options adjust its configuration.
func startStack(t *testing.T, options ...func(*devstack.Config)) *devstack.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := devstack.Config{
		DataDir:        dataDir(t),
		DefinitionsDir: "../definitions",
		HTTPAddr:       "127.0.0.1:0",
		Logger:         zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel)),
	}
	for _, o := range options {
		o(&cfg)
	}
	stack, err := devstack.Start(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(stack.Stop)
	return stack
}

func token(t *testing.T, stack *devstack.Stack, sub string, roles ...auth.Role) string {
	t.Helper()
	tok, err := stack.Keys.Issue(auth.Principal{Subject: sub, Roles: roles}, time.Hour, time.Now())
	require.NoError(t, err)
	return tok
}

// TestServiceRequestFromNewToClosed drives one request through its whole life over HTTP against
// the real stack: PostgreSQL, the embedded Temporal server, the worker and the API.
func TestServiceRequestFromNewToClosed(t *testing.T) {
	stack := startStack(t)
	anon := api{t: t, base: stack.APIURL}
	alice := anon.as(token(t, stack, "alice", auth.RoleAgent))

	anon.must(http.StatusOK, "GET", "/healthz", nil)
	ready := anon.must(http.StatusOK, "GET", "/readyz", nil)
	require.Equal(t, map[string]any{"postgres": "ok", "temporal": "ok"}, ready["checks"])

	// Authentication and roles.
	anon.problem(http.StatusUnauthorized, "GET", "/v1/service-requests", nil)
	anon.as("not-a-token").problem(http.StatusUnauthorized, "GET", "/v1/service-requests", nil)
	engineer := anon.as(token(t, stack, "eve", auth.RoleEngineer))
	engineer.problem(http.StatusForbidden, "POST", "/v1/service-requests", map[string]any{"queue": "billing"})

	// Malformed and invalid bodies.
	alice.problem(http.StatusBadRequest, "POST", "/v1/service-requests", `{"queue": "billing",`)
	alice.problem(http.StatusBadRequest, "POST", "/v1/service-requests", map[string]any{"queue": "billing", "colour": "red"})
	p := alice.problem(http.StatusUnprocessableEntity, "POST", "/v1/service-requests", map[string]any{"queue": "nope"})
	require.Equal(t, "queue", p["errors"].([]any)[0].(map[string]any)["field"])
	p = alice.problem(http.StatusUnprocessableEntity, "POST", "/v1/service-requests", map[string]any{"queue": "billing", "impact": "huge"})
	require.Len(t, p["errors"], 3, "subject, contact and impact: %v", p["errors"])

	// Create.
	sr := alice.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "billing", "subject": "Invoice 1043 charged twice",
		"contact": map[string]any{"name": "Ada Lovelace", "email": "ada@example.com"},
		"impact":  "high", "urgency": "medium", "categories": []string{"invoice/dispute"}, "tags": []string{"vip"},
	})
	id := sr["id"].(string)
	require.Regexp(t, regexp.MustCompile(fmt.Sprintf(`^SR-%d-\d{6}$`, time.Now().Year())), sr["number"])
	require.Equal(t, "billing", sr["queue"])
	require.Equal(t, "new", sr["stage"])
	require.Equal(t, "new", sr["state"])
	require.Equal(t, "high", sr["priority"])
	require.Equal(t, "alice", sr["owner"])
	require.Equal(t, "billing", sr["definition"].(map[string]any)["key"])
	require.Len(t, sr["definition"].(map[string]any)["version"], 12)
	require.NotEmpty(t, sr["createdAt"])
	require.NotEmpty(t, sr["updatedAt"])
	require.Equal(t, sr, alice.must(http.StatusOK, "GET", "/v1/service-requests/"+id, nil))

	// Progress, regress (reason required), progress to a named stage.
	base := "/v1/service-requests/" + id
	require.Equal(t, "investigation", alice.must(http.StatusOK, "POST", base+"/progress", nil)["stage"])
	require.Equal(t, "investigation", alice.must(http.StatusOK, "GET", base, nil)["stage"], "read your writes")
	p = alice.problem(http.StatusUnprocessableEntity, "POST", base+"/regress", map[string]any{})
	require.Equal(t, "reason", p["errors"].([]any)[0].(map[string]any)["field"])
	require.Equal(t, "new", alice.must(http.StatusOK, "POST", base+"/regress", map[string]any{"reason": "the customer sent the wrong invoice"})["stage"])
	require.Equal(t, "response", alice.must(http.StatusOK, "POST", base+"/progress", map[string]any{"toStage": "response"})["stage"])
	alice.problem(http.StatusConflict, "POST", base+"/progress", nil)
	alice.problem(http.StatusConflict, "POST", base+"/progress", map[string]any{"toStage": "closed"})
	alice.problem(http.StatusUnprocessableEntity, "POST", base+"/close", map[string]any{})

	// Close, resolved; nothing moves afterwards.
	closed := alice.must(http.StatusOK, "POST", base+"/close", map[string]any{"resolved": true, "resolution": "refunded the second charge"})
	require.Equal(t, "closed", closed["stage"])
	require.Equal(t, "closed", closed["state"])
	require.Equal(t, true, closed["resolved"])
	alice.problem(http.StatusConflict, "POST", base+"/progress", nil)
	alice.problem(http.StatusConflict, "POST", base+"/regress", map[string]any{"reason": "reopen"})

	// The queue's "on closed" automation notifies the contact right after the close.
	var events map[string]any
	require.Eventually(t, func() bool {
		events = alice.must(http.StatusOK, "GET", base+"/events", nil)
		return len(events["items"].([]any)) == 6
	}, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, []string{"created", "stage_changed", "regressed", "stage_changed", "closed", "notification_sent"}, eventTypes(events))
	for _, e := range events["items"].([]any)[:5] {
		ev := e.(map[string]any)
		require.Equal(t, "alice", ev["actor"])
		require.NotEmpty(t, ev["at"])
		require.NotNil(t, ev["details"])
	}
	regressed := events["items"].([]any)[2].(map[string]any)["details"].(map[string]any)
	require.Equal(t, "the customer sent the wrong invoice", regressed["reason"])

	// Lists and unknown ids.
	require.Contains(t, ids(alice.must(http.StatusOK, "GET", "/v1/service-requests?state=closed&queue=billing&tag=vip", nil)), id)
	require.NotContains(t, ids(alice.must(http.StatusOK, "GET", "/v1/service-requests?queue=technical-support", nil)), id)
	alice.problem(http.StatusNotFound, "GET", "/v1/service-requests/00000000-0000-0000-0000-000000000000", nil)
	alice.problem(http.StatusNotFound, "POST", "/v1/service-requests/00000000-0000-0000-0000-000000000000/progress", nil)
	alice.problem(http.StatusBadRequest, "GET", "/v1/service-requests?colour=red", nil)

	// The closed run is found through Temporal visibility by its search attributes.
	requireVisible(t, stack.Client(), workflows.ServiceRequestWorkflowID(id),
		fmt.Sprintf("RequestType = 'service_request' AND Queue = 'billing' AND State = 'closed' AND Stage = 'closed' AND Priority = 'high' AND Owner = 'alice' AND DefinitionVersion = '%s'",
			sr["definition"].(map[string]any)["version"]))
	desc, err := stack.Client().DescribeWorkflowExecution(context.Background(), workflows.ServiceRequestWorkflowID(id), "")
	require.NoError(t, err)
	var summary string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(desc.GetExecutionConfig().GetUserMetadata().GetSummary(), &summary))
	require.Equal(t, sr["number"].(string)+" · Billing · high", summary)
	recordHistory(t, stack.Client(), workflows.ServiceRequestWorkflowID(id), "service-request-lifecycle")

	// The Temporal UI serves its pages.
	resp, err := http.Get(stack.UIURL + "/namespaces/default/workflows")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// requireVisible waits until a visibility query finds the run with workflowID.
func requireVisible(t *testing.T, c client.Client, workflowID, query string) {
	t.Helper()
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		require.NoError(ct, err)
		var found []string
		for _, e := range resp.GetExecutions() {
			found = append(found, e.GetExecution().GetWorkflowId())
		}
		require.Contains(ct, found, workflowID)
	}, 20*time.Second, 100*time.Millisecond, "query: %s", query)
}

func TestCreationIsIdempotent(t *testing.T) {
	stack := startStack(t)
	alice := api{t: t, base: stack.APIURL, token: token(t, stack, "alice", auth.RoleAgent)}
	body := map[string]any{"queue": "technical-support", "subject": "Router down", "contact": map[string]any{"phone": "+357 22 000000"}}
	first := alice.must(http.StatusCreated, "POST", "/v1/service-requests", body, "Idempotency-Key", "k-1")
	again := alice.must(http.StatusCreated, "POST", "/v1/service-requests", body, "Idempotency-Key", "k-1")
	require.Equal(t, first["id"], again["id"])
	require.Equal(t, first["number"], again["number"])
	other := alice.must(http.StatusCreated, "POST", "/v1/service-requests", body, "Idempotency-Key", "k-2")
	require.NotEqual(t, first["id"], other["id"])
	require.True(t, strings.HasPrefix(other["number"].(string), "TS-"))

	// A retried action with the same key applies once.
	base := "/v1/service-requests/" + first["id"].(string)
	one := alice.must(http.StatusOK, "POST", base+"/progress", nil, "Idempotency-Key", "p-1")
	two := alice.must(http.StatusOK, "POST", base+"/progress", nil, "Idempotency-Key", "p-1")
	require.Equal(t, "triage", one["stage"])
	require.Equal(t, one, two)
	require.Equal(t, []string{"created", "stage_changed"}, eventTypes(alice.must(http.StatusOK, "GET", base+"/events", nil)))

	// Close it so the run finishes and its history is complete.
	alice.must(http.StatusOK, "POST", base+"/close", map[string]any{"resolved": false}, "Idempotency-Key", "c-1")
	recordHistory(t, stack.Client(), workflows.ServiceRequestWorkflowID(first["id"].(string)), "service-request-idempotent")
}
