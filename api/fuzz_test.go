package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fieldflow/fieldflow/auth"
)

// FuzzRequestBodies posts arbitrary bodies to the endpoints that decode JSON: whatever arrives,
// the API answers a client error or a problem it can explain (503: Temporal is down in this
// fixture), never a 500, and every refusal is application/problem+json.
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{
		`{"queue": "billing", "subject": "x", "contact": {"email": "a@example.com"}}`,
		`{"recordType": "repair", "subject": "x", "device": {"category": "hvac"}}`,
		`{"name": "erp", "roles": ["integration"]}`,
		`{"key": "hvac", "title": "HVAC"}`,
		`{"queue": 42}`, `[]`, `{}`, `{"a":`, `null`, "\x00\xff", `{"subject": "` + strings.Repeat("x", 5000) + `"}`,
		`{"fields": {"a": {"b": {"c": [1, 2, {"d": null}]}}}}`, `{"contact": {"email": 1e309}}`,
	} {
		f.Add(seed, uint8(0))
	}
	// An empty object to every path: it once found a 500 (no intake service wired).
	for i := range 5 {
		f.Add(`{}`, uint8(i))
	}
	fx := newFixture(f)
	admin, err := fx.keys.Issue(auth.Principal{Subject: "root", Roles: []auth.Role{auth.RoleAdmin, auth.RoleSupervisor, auth.RoleAgent, auth.RoleDispatcher, auth.RoleDesigner}}, time.Hour, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	paths := []string{"/v1/service-requests", "/v1/work-orders", "/v1/api-tokens", "/v1/groups", "/v1/definitions/validate?file=x.yaml"}
	f.Fuzz(func(t *testing.T, body string, which uint8) {
		path := paths[int(which)%len(paths)]
		fuzzCall(t, fx.server.URL, "POST", path, body, admin)
	})
}

// fuzzCall sends a fuzzed body and fails on what the API must never answer: a 5xx other than 503
// (Temporal is away in these fixtures), or a refusal that is not application/problem+json. It
// returns the status.
func fuzzCall(t *testing.T, base, method, path, body, token string) int {
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("%s %s %q → %d: %s", method, path, body, resp.StatusCode, raw)
	}
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%s %s %q → %d as %s", method, path, body, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode
}
