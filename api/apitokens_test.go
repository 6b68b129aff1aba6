package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/auth"
)

// TestAPITokens: an admin creates a token for another system (shown once), the system calls the
// API with it under its name and roles, and once revoked it is refused at once.
func TestAPITokens(t *testing.T) {
	f := newFixture(t)
	admin := f.token(auth.RoleAdmin)
	f.problem(http.StatusForbidden, "POST", "/v1/api-tokens", f.token(auth.RoleSupervisor), "application/json", `{"name": "erp", "roles": ["integration"]}`)
	f.problem(http.StatusUnprocessableEntity, "POST", "/v1/api-tokens", admin, "application/json", `{"name": "ERP!", "roles": ["boss", "admin"]}`)

	created := f.call("POST", "/v1/api-tokens", admin, "application/json", `{"name": "erp", "roles": ["integration"]}`)
	require.Equal(t, http.StatusCreated, created.status, created.body)
	secret := created.body["token"].(string)
	require.Regexp(t, `^ffk_`, secret)
	f.problem(http.StatusConflict, "POST", "/v1/api-tokens", admin, "application/json", `{"name": "erp", "roles": ["integration"]}`)

	list := f.call("GET", "/v1/api-tokens", admin, "", "")
	require.Equal(t, http.StatusOK, list.status)
	require.Len(t, list.body["items"], 1)
	require.NotContains(t, list.body["items"].([]any)[0], "token", "the secret is never shown again")

	// The system reads its work orders (none yet) under its roles; staff endpoints stay closed.
	mine := f.call("GET", "/v1/work-orders", secret, "", "")
	require.Equal(t, http.StatusOK, mine.status, mine.body)
	f.problem(http.StatusForbidden, "GET", "/v1/service-requests", secret, "", "")
	f.problem(http.StatusUnauthorized, "GET", "/v1/work-orders", secret+"x", "", "")

	id := created.body["id"].(string)
	requireNoContent(f, "DELETE", "/v1/api-tokens/"+id, admin)
	f.problem(http.StatusUnauthorized, "GET", "/v1/work-orders", secret, "", "")
	f.problem(http.StatusNotFound, "DELETE", "/v1/api-tokens/"+id, admin, "", "")
}
