package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/workflows"
)

// TestRatingsOfInstallations drives two installations through the pool, the checklist and their
// ten-point rating node, where staff record the customers' ratings; GET /v1/ratings lists them and
// /v1/ratings/summary averages them per engineer and per record type.
func TestRatingsOfInstallations(t *testing.T) {
	stack := startStack(t)
	anon := api{t: t, base: stack.APIURL}
	sam := anon.as(token(t, stack, "sam", auth.RoleSupervisor))
	dan := anon.as(token(t, stack, "dan", auth.RoleDispatcher))

	// install brings an installation to its rating node, done by engineer.
	install := func(engineer string) (api, string) {
		t.Helper()
		eng := anon.as(groupToken(t, stack.Keys, engineer, []string{"installers"}, auth.RoleEngineer))
		wo := dan.must(http.StatusCreated, "POST", "/v1/work-orders", map[string]any{
			"recordType": "installation", "subject": "New heat pump", "contact": map[string]any{"email": "ada@example.com"},
		})
		path := "/v1/work-orders/" + wo["id"].(string)
		dan.must(http.StatusOK, "POST", path+"/assign", map[string]any{"group": "installers"})
		var item string
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			items := eng.must(http.StatusOK, "GET", "/v1/todo/pool", nil)["items"].([]any)
			require.Len(c, items, 1)
			item = items[0].(map[string]any)["id"].(string)
		}, 20*time.Second, 100*time.Millisecond)
		eng.must(http.StatusOK, "POST", "/v1/todo/"+item+"/claim", nil)
		eng.must(http.StatusOK, "POST", path+"/steps/site-survey/complete", map[string]any{"laborMinutes": 20})
		eng.must(http.StatusOK, "POST", path+"/steps/mount/complete", map[string]any{"laborMinutes": 90})
		eng.must(http.StatusOK, "POST", path+"/steps/test/complete", map[string]any{"note": "runs quietly"})
		eng.must(http.StatusOK, "POST", path+"/progress", nil) // the handover is optional
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			got := eng.must(http.StatusOK, "GET", path, nil)
			require.Equal(c, "rating", got["node"])
		}, 20*time.Second, 100*time.Millisecond)
		return eng, path
	}

	ann, annPath := install("ann")
	ann.problem(http.StatusUnprocessableEntity, "POST", annPath+"/ratings", map[string]any{"score": 11})
	ann.problem(http.StatusUnprocessableEntity, "POST", annPath+"/ratings", map[string]any{"comment": "no score"})
	rated := ann.must(http.StatusOK, "POST", annPath+"/ratings", map[string]any{"score": 9, "comment": "neat and quick"})
	require.Equal(t, "closed", rated["state"], "one rating completes the node; the order ends")
	ann.problem(http.StatusConflict, "POST", annPath+"/ratings", map[string]any{"score": 9})
	recordHistory(t, stack.Client(), workflows.WorkOrderWorkflowID(annPath[len("/v1/work-orders/"):]), "work-order-installation-rated")

	ben, benPath := install("ben")
	ben.must(http.StatusOK, "POST", benPath+"/ratings", map[string]any{"score": 6})

	// The engineers do not read rating data; supervisors and dispatchers do.
	ann.problem(http.StatusForbidden, "GET", "/v1/ratings", nil)
	sam.problem(http.StatusBadRequest, "GET", "/v1/ratings?stars=5", nil)

	list := sam.must(http.StatusOK, "GET", "/v1/ratings?recordType=installation", nil)
	items := list["items"].([]any)
	require.Len(t, items, 2)
	newest := items[0].(map[string]any)
	require.Equal(t, benPath, "/v1/work-orders/"+newest["orderId"].(string), "newest first")
	require.Equal(t, "ben", newest["engineer"])
	require.Equal(t, "installers", newest["group"])
	require.Equal(t, "rating", newest["node"])
	require.Equal(t, "customer", newest["kind"])
	require.Equal(t, "ten-point", newest["scale"])
	require.Equal(t, "standard-survey", newest["template"])
	require.Equal(t, "ben", newest["by"])
	require.InDelta(t, 0.6, newest["normalizedScore"], 1e-9)
	oldest := items[1].(map[string]any)
	require.Equal(t, "ann", oldest["engineer"])
	require.Equal(t, "neat and quick", oldest["comment"])

	page := dan.must(http.StatusOK, "GET", "/v1/ratings?limit=1", nil)
	require.Len(t, page["items"], 1)
	next := dan.must(http.StatusOK, "GET", "/v1/ratings?limit=1&cursor="+page["nextCursor"].(string), nil)
	require.Equal(t, oldest["orderId"], next["items"].([]any)[0].(map[string]any)["orderId"])
	require.Empty(t, dan.must(http.StatusOK, "GET", "/v1/ratings?engineer=ann&kind=follow_up", nil)["items"])
	today := time.Now().UTC().Format("2006-01-02")
	require.Len(t, sam.must(http.StatusOK, "GET", "/v1/ratings?from="+today+"&to="+today, nil)["items"], 2)

	summary := sam.must(http.StatusOK, "GET", "/v1/ratings/summary", nil)
	byEngineer := summary["byEngineer"].([]any)
	require.Len(t, byEngineer, 2)
	require.Equal(t, "ann", byEngineer[0].(map[string]any)["engineer"])
	require.InDelta(t, 0.9, byEngineer[0].(map[string]any)["averageNormalized"], 1e-9)
	require.Equal(t, "ben", byEngineer[1].(map[string]any)["engineer"])
	require.InDelta(t, 0.6, byEngineer[1].(map[string]any)["averageNormalized"], 1e-9)
	require.Equal(t, []any{map[string]any{
		"recordType": "installation", "count": float64(2), "averageNormalized": 0.75,
		"scales": []any{map[string]any{"scale": "ten-point", "count": float64(2), "average": 7.5}},
	}}, summary["byRecordType"])
	one := sam.must(http.StatusOK, "GET", "/v1/ratings/summary?engineer=ben", nil)
	require.Len(t, one["byEngineer"], 1)
}
