package e2e

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/fieldflow/fieldflow/activities"
	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/workflows"
)

// pickTaskQueue runs pickWorkflow; its activity runs on Fieldflow's own task queue, so the stack's
// worker executes it.
const pickTaskQueue = "e2e-groups"

// pickWorkflow asks the stack's worker for an engineer, as an assignment node does.
func pickWorkflow(ctx workflow.Context, in activities.PickEngineerInput) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue: workflows.TaskQueue, StartToCloseTimeout: 10 * time.Second,
	})
	var a *activities.Assignments
	var res activities.PickEngineerResult
	err := workflow.ExecuteActivity(ctx, a.PickEngineer, in).Get(ctx, &res)
	return res.Engineer, err
}

// TestGroupsManagedOverHTTPFeedAutomaticAssignment: a supervisor creates a service group with
// three engineers over HTTP, deactivates one and removes another; the worker's round-robin pick
// then only ever gives the remaining active member, and an unknown strategy fails at once.
func TestGroupsManagedOverHTTPFeedAutomaticAssignment(t *testing.T) {
	stack := startStack(t)
	sam := api{t: t, base: stack.APIURL, token: token(t, stack, "sam", auth.RoleSupervisor)}
	eve := sam.as(token(t, stack, "eve", auth.RoleEngineer))

	g := sam.must(http.StatusCreated, "POST", "/v1/groups", map[string]any{"key": "north-field", "title": "North field"})
	require.Equal(t, "north-field", g["key"])
	sam.problem(http.StatusConflict, "POST", "/v1/groups", map[string]any{"key": "north-field", "title": "Again"})
	p := sam.problem(http.StatusUnprocessableEntity, "POST", "/v1/groups", map[string]any{"key": "North Field"})
	require.Equal(t, "key", p["errors"].([]any)[0].(map[string]any)["field"])
	eve.problem(http.StatusForbidden, "POST", "/v1/groups", map[string]any{"key": "eves-group"})

	for _, name := range []string{"nina", "ned", "noor"} {
		m := sam.must(http.StatusCreated, "PUT", "/v1/groups/north-field/members/"+name, nil)
		require.Equal(t, true, m["active"])
	}
	sam.must(http.StatusOK, "PUT", "/v1/groups/north-field/members/ned", map[string]any{"active": false})
	sam.must(http.StatusNoContent, "DELETE", "/v1/groups/north-field/members/noor", nil)
	sam.problem(http.StatusNotFound, "DELETE", "/v1/groups/north-field/members/noor", nil)

	list := eve.must(http.StatusOK, "GET", "/v1/groups", nil)
	require.Len(t, list["items"], 1)
	got := list["items"].([]any)[0].(map[string]any)
	require.Equal(t, "North field", got["title"])
	var members []string
	for _, m := range got["members"].([]any) {
		m := m.(map[string]any)
		members = append(members, m["username"].(string)+map[bool]string{true: "", false: " (inactive)"}[m["active"].(bool)])
	}
	require.Equal(t, []string{"ned (inactive)", "nina"}, members)

	// The stack's worker picks from the group as an assignment node would.
	w := sdkworker.New(stack.Client(), pickTaskQueue, sdkworker.Options{})
	w.RegisterWorkflow(pickWorkflow)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	pick := func(key, strategy string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		run, err := stack.Client().ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "e2e-pick-" + key, TaskQueue: pickTaskQueue},
			pickWorkflow, activities.PickEngineerInput{Key: key, Group: "north-field", Strategy: strategy})
		require.NoError(t, err)
		var engineer string
		err = run.Get(ctx, &engineer)
		return engineer, err
	}
	for _, key := range []string{"wo-1", "wo-2", "wo-3"} {
		engineer, err := pick(key, "round_robin")
		require.NoError(t, err)
		require.Equal(t, "nina", engineer, "ned is inactive and noor left")
	}
	_, err := pick("wo-4", "random")
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	require.Equal(t, "UnknownStrategy", appErr.Type())

	// Once the group is deleted, nobody is picked: the order waits in the pool.
	sam.must(http.StatusNoContent, "DELETE", "/v1/groups/north-field", nil)
	eve.problem(http.StatusNotFound, "GET", "/v1/groups/north-field", nil)
	engineer, err := pick("wo-5", "least_loaded")
	require.NoError(t, err)
	require.Empty(t, engineer)
}
