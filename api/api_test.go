package api_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/fieldflow/fieldflow/api"
	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/store/storetest"
	"github.com/fieldflow/fieldflow/workflows"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// fixture is the API over a real store and a Temporal client whose server is down: everything that
// is decided before a run is reached can be tested, and so can the API's answer when Temporal is
// unreachable.
type fixture struct {
	t      testing.TB
	server *httptest.Server
	keys   *auth.Keys
	store  *store.Store
	api    *api.Server
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureIn(t, "../definitions")
}

// newFixtureIn serves the definitions of dir; opts change the API's configuration.
func newFixtureIn(t testing.TB, dir string, opts ...func(*api.Config)) *fixture {
	t.Helper()
	keys, err := auth.NewKeys([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadAddr := l.Addr().String()
	require.NoError(t, l.Close())
	tc, err := client.NewLazyClient(client.Options{HostPort: deadAddr})
	require.NoError(t, err)
	t.Cleanup(tc.Close)
	st := storetest.New(t)
	// A fuzz target may not log through F: the fixture of a fuzz test logs nowhere.
	log := zap.NewNop()
	if tt, ok := t.(*testing.T); ok {
		log = zaptest.NewLogger(tt)
	}
	registry, err := api.NewRegistry(context.Background(), dir, st, log)
	require.NoError(t, err)
	cfg := api.Config{
		Logger: log, Keys: keys, Workflows: workflows.NewClient(tc, st), Store: st, Registry: registry,
		ActionTimeout: 2 * time.Second, TokenRate: -1,
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv := api.New(cfg)
	server := httptest.NewServer(srv)
	t.Cleanup(server.Close)
	return &fixture{t: t, server: server, keys: keys, store: st, api: srv}
}

func (f *fixture) token(roles ...auth.Role) string {
	tok, err := f.keys.Issue(auth.Principal{Subject: "alice", Roles: roles}, time.Hour, time.Now())
	require.NoError(f.t, err)
	return tok
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func (f *fixture) call(method, path, token, contentType, body string) answer {
	f.t.Helper()
	return f.callWith(method, path, token, contentType, body)
}

func (f *fixture) callWith(method, path, token, contentType, body string) answer {
	f.t.Helper()
	req, err := http.NewRequest(method, f.server.URL+path, strings.NewReader(body))
	require.NoError(f.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	require.NoError(f.t, json.NewDecoder(resp.Body).Decode(&a.body))
	return a
}

func (f *fixture) problem(status int, method, path, token, contentType, body string) answer {
	f.t.Helper()
	a := f.call(method, path, token, contentType, body)
	require.Equal(f.t, status, a.status, a.body)
	require.Equal(f.t, "application/problem+json", a.header.Get("Content-Type"))
	require.EqualValues(f.t, status, a.body["status"])
	require.NotEmpty(f.t, a.body["type"])
	require.NotEmpty(f.t, a.body["title"])
	return a
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	a := f.problem(http.StatusUnauthorized, "GET", "/v1/service-requests", "", "", "")
	require.Equal(t, `Bearer realm="fieldflow"`, a.header.Get("WWW-Authenticate"))
	f.problem(http.StatusUnauthorized, "GET", "/v1/service-requests", "garbage", "", "")

	other, err := auth.NewKeys([]byte(strings.Repeat("o", 32)))
	require.NoError(t, err)
	forged, err := other.Issue(auth.Principal{Subject: "mallory", Roles: []auth.Role{auth.RoleAdmin}}, time.Hour, time.Now())
	require.NoError(t, err)
	f.problem(http.StatusUnauthorized, "GET", "/v1/service-requests", forged, "", "")

	expired, err := f.keys.Issue(auth.Principal{Subject: "alice", Roles: []auth.Role{auth.RoleAgent}}, time.Minute, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	f.problem(http.StatusUnauthorized, "GET", "/v1/service-requests", expired, "", "")

	engineer := f.token(auth.RoleEngineer)
	f.problem(http.StatusForbidden, "POST", "/v1/service-requests", engineer, "application/json", `{}`)
	f.problem(http.StatusForbidden, "POST", "/v1/service-requests/x/close", engineer, "application/json", `{}`)
	require.Equal(t, http.StatusOK, f.call("GET", "/v1/service-requests", engineer, "", "").status, "staff may read")
	f.problem(http.StatusForbidden, "GET", "/v1/service-requests", f.token(), "", "")
}

func TestMalformedBodies(t *testing.T) {
	f := newFixture(t)
	agent := f.token(auth.RoleAgent)
	cases := map[string]struct {
		status      int
		contentType string
		body        string
	}{
		"not json":        {http.StatusBadRequest, "application/json", `{"queue":`},
		"empty":           {http.StatusBadRequest, "application/json", ``},
		"unknown field":   {http.StatusBadRequest, "application/json", `{"queue":"billing","colour":"red"}`},
		"wrong type":      {http.StatusBadRequest, "application/json", `{"queue":42}`},
		"two values":      {http.StatusBadRequest, "application/json", `{} {}`},
		"form":            {http.StatusUnsupportedMediaType, "application/x-www-form-urlencoded", `queue=billing`},
		"too large":       {http.StatusRequestEntityTooLarge, "application/json", `{"subject":"` + strings.Repeat("x", 2<<20) + `"}`},
		"unknown queue":   {http.StatusUnprocessableEntity, "application/json", `{"queue":"nope"}`},
		"missing queue":   {http.StatusUnprocessableEntity, "application/json", `{}`},
		"invalid choices": {http.StatusUnprocessableEntity, "application/json", `{"queue":"billing","impact":"huge","categories":["cars"]}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f.problem(tc.status, "POST", "/v1/service-requests", agent, tc.contentType, tc.body)
		})
	}
	a := f.problem(http.StatusUnprocessableEntity, "POST", "/v1/service-requests", agent, "application/json", `{"queue":"billing","impact":"huge","categories":["cars"]}`)
	var fields []string
	for _, e := range a.body["errors"].([]any) {
		fields = append(fields, e.(map[string]any)["field"].(string))
	}
	require.Equal(t, []string{"subject", "contact", "impact", "categories[0]"}, fields)

	// Refused creations use up no number.
	n, err := f.store.NextNumber(context.Background(), "00000000-0000-0000-0000-000000000001", "SR-2026-{seq}")
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	f := newFixture(t)
	f.problem(http.StatusNotFound, "GET", "/v2/nothing", "", "", "")
	f.problem(http.StatusMethodNotAllowed, "DELETE", "/healthz", "", "", "")
	f.problem(http.StatusNotFound, "GET", "/v1/service-requests/not-a-uuid", f.token(auth.RoleAgent), "", "")
	f.problem(http.StatusBadRequest, "GET", "/v1/service-requests?limit=0", f.token(auth.RoleAgent), "", "")
	f.problem(http.StatusBadRequest, "GET", "/v1/service-requests?cursor=xyz", f.token(auth.RoleAgent), "", "")
}

func TestTemporalUnreachable(t *testing.T) {
	f := newFixture(t)
	require.Equal(t, http.StatusOK, f.call("GET", "/healthz", "", "", "").status)

	ready := f.call("GET", "/readyz", "", "", "")
	require.Equal(t, http.StatusServiceUnavailable, ready.status)
	require.Equal(t, "5", ready.header.Get("Retry-After"))
	checks := ready.body["checks"].(map[string]any)
	require.Equal(t, "ok", checks["postgres"])
	require.NotEqual(t, "ok", checks["temporal"])

	a := f.problem(http.StatusServiceUnavailable, "POST", "/v1/service-requests", f.token(auth.RoleAgent), "application/json",
		`{"queue":"billing","subject":"s","contact":{"email":"a@example.com"}}`)
	require.Equal(t, "5", a.header.Get("Retry-After"))
}

func TestReportsAPI(t *testing.T) {
	f := newFixture(t)
	f.problem(http.StatusForbidden, "GET", "/v1/reports/service-requests/summary", f.token(auth.RoleAgent), "", "")
	sup := f.token(auth.RoleSupervisor)
	f.problem(http.StatusBadRequest, "GET", "/v1/reports/service-requests/summary?from=yesterday", sup, "", "")
	f.problem(http.StatusBadRequest, "GET", "/v1/reports/service-requests/analysis?from=2026-11-02&to=2026-11-01", sup, "", "")
	ok := f.call("GET", "/v1/reports/service-requests/summary?from=2026-11-01&to=2026-11-30", sup, "", "")
	require.Equal(t, http.StatusOK, ok.status)
	require.Equal(t, "2026-12-01T00:00:00Z", ok.body["to"], "to includes its whole day")
	require.Empty(t, ok.body["queues"])
}
