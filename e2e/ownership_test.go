package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/auth"
)

func groupToken(t *testing.T, stackKeys interface {
	Issue(auth.Principal, time.Duration, time.Time) (string, error)
}, sub string, groups []string, roles ...auth.Role) string {
	t.Helper()
	tok, err := stackKeys.Issue(auth.Principal{Subject: sub, Roles: roles, Groups: groups}, time.Hour, time.Now())
	require.NoError(t, err)
	return tok
}

// TestOwnershipAndDetails: a request given to a team waits for a member to take it over; only its
// owner (or a supervisor) moves it; others do not even see it. Updates recompute the priority,
// the contact cannot change, and related requests show on both sides.
func TestOwnershipAndDetails(t *testing.T) {
	stack := startStack(t)
	anon := api{t: t, base: stack.APIURL}
	alice := anon.as(groupToken(t, stack.Keys, "alice", nil, auth.RoleAgent))
	bob := anon.as(groupToken(t, stack.Keys, "bob", []string{"billing-desk"}, auth.RoleAgent))
	carl := anon.as(groupToken(t, stack.Keys, "carl", []string{"sales"}, auth.RoleAgent))
	sue := anon.as(groupToken(t, stack.Keys, "sue", nil, auth.RoleSupervisor))

	team := alice.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "billing", "subject": "Refund", "contact": map[string]any{"email": "ada@example.com"}, "team": "billing-desk",
		"address": map[string]any{"line1": "1 Main St", "city": "Nicosia"}, "affectedService": "fibre-100",
	})
	require.Nil(t, team["owner"])
	teamPath := "/v1/service-requests/" + team["id"].(string)

	carl.problem(http.StatusNotFound, "GET", teamPath, nil)
	require.NotContains(t, ids(carl.must(http.StatusOK, "GET", "/v1/service-requests", nil)), team["id"])
	require.Contains(t, ids(bob.must(http.StatusOK, "GET", "/v1/service-requests", nil)), team["id"], "team members see the request")
	bob.problem(http.StatusForbidden, "POST", teamPath+"/progress", nil)
	carl.problem(http.StatusNotFound, "POST", teamPath+"/take-over", nil)
	require.Equal(t, "bob", bob.must(http.StatusOK, "POST", teamPath+"/take-over", nil)["owner"])
	require.Equal(t, "investigation", bob.must(http.StatusOK, "POST", teamPath+"/progress", nil)["stage"])
	alice.problem(http.StatusForbidden, "POST", teamPath+"/progress", nil)

	// Updates: the contact is fixed; impact recomputes the priority; a supervisor hands it over.
	p := bob.problem(http.StatusUnprocessableEntity, "PATCH", teamPath, map[string]any{"contact": map[string]any{"email": "x@example.com"}})
	require.Equal(t, "contact", p["errors"].([]any)[0].(map[string]any)["field"])
	bob.problem(http.StatusUnprocessableEntity, "PATCH", teamPath, map[string]any{"categories": []string{"cars"}})
	updated := bob.must(http.StatusOK, "PATCH", teamPath, map[string]any{"impact": "high", "urgency": "high", "tags": []string{"vip"}})
	require.Equal(t, "critical", updated["priority"])
	require.Equal(t, "15m", updated["sla"].(map[string]any)["alertTarget"])
	sue.problem(http.StatusUnprocessableEntity, "PATCH", teamPath, map[string]any{"owner": "alice"}) // no mass assignment
	handed := sue.must(http.StatusOK, "POST", teamPath+"/assign", map[string]any{"owner": "alice"})
	require.Equal(t, "alice", handed["owner"])
	require.Subset(t, eventTypes(sue.must(http.StatusOK, "GET", teamPath+"/events", nil)), []string{"owner_changed", "updated"})

	// Related requests: linking from one shows on the other.
	other := alice.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "billing", "subject": "Second invoice", "contact": map[string]any{"email": "ada@example.com"},
	})
	otherPath := "/v1/service-requests/" + other["id"].(string)
	alice.problem(http.StatusUnprocessableEntity, "PATCH", otherPath, map[string]any{"related": []string{"00000000-0000-0000-0000-000000000000"}})
	linked := alice.must(http.StatusOK, "PATCH", otherPath, map[string]any{"related": []any{team["id"]}})
	require.Equal(t, []any{team["id"]}, linked["related"])
	require.Eventually(t, func() bool {
		related, _ := alice.must(http.StatusOK, "GET", teamPath, nil)["related"].([]any)
		return len(related) == 1 && related[0] == other["id"]
	}, 10*time.Second, 100*time.Millisecond, "the link shows on the other request")
}
