package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/auth"
)

// TestSecurityHeaders: every answer — a public page's, an API answer, an error — carries the
// headers that stop sniffing, framing and referrer leaks; API answers are never cached.
func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	for _, a := range []answer{
		f.call("GET", "/healthz", "", "", ""),
		f.call("GET", "/v1/todo", f.token(auth.RoleAgent), "", ""),
		f.call("GET", "/v1/service-requests/nope", f.token(auth.RoleAgent), "", ""),
		f.call("POST", "/v1/service-requests", "", "application/json", "{}"),
	} {
		require.Equal(t, "nosniff", a.header.Get("X-Content-Type-Options"))
		require.Equal(t, "DENY", a.header.Get("X-Frame-Options"))
		require.Equal(t, "no-referrer", a.header.Get("Referrer-Policy"))
	}
	require.Equal(t, "no-store", f.call("GET", "/v1/todo", f.token(auth.RoleAgent), "", "").header.Get("Cache-Control"))
	require.Empty(t, f.call("GET", "/healthz", "", "", "").header.Get("Cache-Control"))
	require.Equal(t, http.StatusUnauthorized, f.call("POST", "/v1/service-requests", "", "application/json", "{}").status)
}
