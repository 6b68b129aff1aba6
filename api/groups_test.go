package api_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/store"
)

// requireNoContent calls the API and requires a 204 with an empty body.
func requireNoContent(f *fixture, method, path, token string) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.server.URL+path, nil)
	require.NoError(f.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(f.t, err)
	require.Equal(f.t, http.StatusNoContent, resp.StatusCode, string(raw))
	require.Empty(f.t, raw)
}

func groupFieldErrors(a answer) []string {
	var fields []string
	for _, e := range a.body["errors"].([]any) {
		fields = append(fields, e.(map[string]any)["field"].(string))
	}
	return fields
}

func TestGroupsAPI(t *testing.T) {
	f := newFixture(t)
	dispatcher := f.token(auth.RoleDispatcher)
	engineer := f.token(auth.RoleEngineer)
	const js = "application/json"

	// Roles: staff read, dispatchers, supervisors and admins manage.
	f.problem(http.StatusUnauthorized, "GET", "/v1/groups", "", "", "")
	f.problem(http.StatusForbidden, "GET", "/v1/groups", f.token(auth.RoleIntegration), "", "")
	for _, tok := range []string{engineer, f.token(auth.RoleAgent), f.token(auth.RoleDesigner)} {
		f.problem(http.StatusForbidden, "POST", "/v1/groups", tok, js, `{"key":"hvac","title":"HVAC"}`)
		f.problem(http.StatusForbidden, "PATCH", "/v1/groups/hvac", tok, js, `{"title":"HVAC"}`)
	}
	f.problem(http.StatusForbidden, "PUT", "/v1/groups/hvac/members/erin", engineer, "", "")
	f.problem(http.StatusForbidden, "DELETE", "/v1/groups/hvac", engineer, "", "")

	list := f.call("GET", "/v1/groups", engineer, "", "")
	require.Equal(t, http.StatusOK, list.status)
	require.Equal(t, []any{}, list.body["items"])

	// Bad bodies and keys.
	f.problem(http.StatusBadRequest, "POST", "/v1/groups", dispatcher, js, `{"key":"hvac",`)
	f.problem(http.StatusBadRequest, "POST", "/v1/groups", dispatcher, js, `{"key":"hvac","lead":"x"}`)
	for body, fields := range map[string][]string{
		`{}`:                      {"key"},
		`{"key":"HVAC"}`:          {"key"},
		`{"key":"central field"}`: {"key"},
		`{"key":"-hvac"}`:         {"key"},
		`{"key":"a--b"}`:          {"key"},
		`{"key":"` + strings.Repeat("a", 65) + `"}`:               {"key"},
		`{"key":"ok","title":"` + strings.Repeat("t", 201) + `"}`: {"title"},
		`{"key":"Bad_Key","title":"x\u0007"}`:                     {"key", "title"},
	} {
		a := f.problem(http.StatusUnprocessableEntity, "POST", "/v1/groups", dispatcher, js, body)
		require.Equal(t, fields, groupFieldErrors(a), body)
	}

	// Create; the same key again is a conflict, unless it is a retry of the same request.
	a := f.call("POST", "/v1/groups", dispatcher, js, `{"key":"central-field","title":"Central field"}`)
	require.Equal(t, http.StatusCreated, a.status, a.body)
	require.Equal(t, "/v1/groups/central-field", a.header.Get("Location"))
	require.Equal(t, "central-field", a.body["key"])
	require.Equal(t, "Central field", a.body["title"])
	require.Equal(t, "alice", a.body["createdBy"])
	require.Equal(t, []any{}, a.body["members"])
	a = f.problem(http.StatusConflict, "POST", "/v1/groups", f.token(auth.RoleSupervisor), js, `{"key":"central-field","title":"Other"}`)
	require.Contains(t, a.body["detail"], "central-field")

	retry := func() answer {
		req, err := http.NewRequest("POST", f.server.URL+"/v1/groups", strings.NewReader(`{"key":"hvac"}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+dispatcher)
		req.Header.Set("Content-Type", js)
		req.Header.Set("Idempotency-Key", "create-hvac")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		return answer{status: resp.StatusCode}
	}
	require.Equal(t, http.StatusCreated, retry().status)
	require.Equal(t, http.StatusCreated, retry().status, "a retry with the same Idempotency-Key gets the first answer")
	g := f.call("GET", "/v1/groups/hvac", engineer, "", "")
	require.Equal(t, http.StatusOK, g.status)
	require.Equal(t, "hvac", g.body["title"], "the title defaults to the key")

	// Members.
	m := f.call("PUT", "/v1/groups/central-field/members/erin", dispatcher, "", "")
	require.Equal(t, http.StatusCreated, m.status, m.body)
	require.Equal(t, map[string]any{"username": "erin", "active": true}, onlyKeys(m.body, "username", "active"))
	m = f.call("PUT", "/v1/groups/central-field/members/dan", dispatcher, js, `{"active":true}`)
	require.Equal(t, http.StatusCreated, m.status, m.body)
	m = f.call("PUT", "/v1/groups/central-field/members/erin", dispatcher, js, `{"active":false}`)
	require.Equal(t, http.StatusOK, m.status, m.body)
	require.Equal(t, false, m.body["active"])
	m = f.call("PUT", "/v1/groups/central-field/members/erin", dispatcher, "", "")
	require.Equal(t, http.StatusOK, m.status, m.body)
	require.Equal(t, false, m.body["active"], "an empty body changes nothing")
	f.problem(http.StatusBadRequest, "PUT", "/v1/groups/central-field/members/erin", dispatcher, js, `{"active":"yes"}`)
	f.problem(http.StatusNotFound, "PUT", "/v1/groups/nope/members/erin", dispatcher, "", "")
	a = f.problem(http.StatusUnprocessableEntity, "PUT", "/v1/groups/central-field/members/a%20b", dispatcher, "", "")
	require.Equal(t, []string{"username"}, groupFieldErrors(a))

	g = f.call("GET", "/v1/groups/central-field", engineer, "", "")
	require.Equal(t, http.StatusOK, g.status)
	members := g.body["members"].([]any)
	require.Len(t, members, 2)
	require.Equal(t, map[string]any{"username": "dan", "active": true}, onlyKeys(members[0].(map[string]any), "username", "active"))
	require.Equal(t, map[string]any{"username": "erin", "active": false}, onlyKeys(members[1].(map[string]any), "username", "active"))

	// The members are what the automatic assignment picks from: erin is inactive.
	for i := range 3 {
		e, err := f.store.PickEngineer(context.Background(), "pick-"+string(rune('a'+i)), "central-field", store.StrategyRoundRobin)
		require.NoError(t, err)
		require.Equal(t, "dan", e)
	}

	list = f.call("GET", "/v1/groups", engineer, "", "")
	items := list.body["items"].([]any)
	require.Len(t, items, 2)
	require.Equal(t, "central-field", items[0].(map[string]any)["key"])
	require.Len(t, items[0].(map[string]any)["members"], 2)
	require.Equal(t, "hvac", items[1].(map[string]any)["key"])

	// Rename; an empty or missing title.
	p := f.call("PATCH", "/v1/groups/central-field", dispatcher, js, `{"title":"Central region"}`)
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Equal(t, "Central region", p.body["title"])
	require.Len(t, p.body["members"], 2)
	a = f.problem(http.StatusUnprocessableEntity, "PATCH", "/v1/groups/central-field", dispatcher, js, `{"title":"  "}`)
	require.Equal(t, []string{"title"}, groupFieldErrors(a))
	p = f.call("PATCH", "/v1/groups/central-field", dispatcher, js, `{}`)
	require.Equal(t, http.StatusOK, p.status)
	require.Equal(t, "Central region", p.body["title"])
	f.problem(http.StatusNotFound, "PATCH", "/v1/groups/nope", dispatcher, js, `{"title":"x"}`)
	f.problem(http.StatusBadRequest, "PATCH", "/v1/groups/central-field", dispatcher, js, `{"key":"x"}`)

	// Remove a member, then the group.
	requireNoContent(f, "DELETE", "/v1/groups/central-field/members/erin", dispatcher)
	a = f.problem(http.StatusNotFound, "DELETE", "/v1/groups/central-field/members/erin", dispatcher, "", "")
	require.Contains(t, a.body["detail"], "erin")
	g = f.call("GET", "/v1/groups/central-field", engineer, "", "")
	require.Len(t, g.body["members"], 1)
	requireNoContent(f, "DELETE", "/v1/groups/central-field", f.token(auth.RoleAdmin))
	a = f.problem(http.StatusNotFound, "GET", "/v1/groups/central-field", engineer, "", "")
	require.Contains(t, a.body["detail"], "central-field")
	f.problem(http.StatusNotFound, "DELETE", "/v1/groups/central-field", dispatcher, "", "")
}

// onlyKeys keeps the named keys of a JSON object.
func onlyKeys(m map[string]any, keys ...string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}
