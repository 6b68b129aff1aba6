package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/store"
)

// post sends a POST with an Idempotency-Key and returns the answer with its raw body.
func (f *fixture) post(path, token, key, body string) (answer, string) {
	f.t.Helper()
	req, err := http.NewRequest("POST", f.server.URL+path, strings.NewReader(body))
	require.NoError(f.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(f.t, err)
	a := answer{status: resp.StatusCode, header: resp.Header}
	require.NoError(f.t, json.Unmarshal(raw, &a.body), string(raw))
	return a, string(raw)
}

func TestIdempotencyReplayAndReuse(t *testing.T) {
	f := newFixture(t)
	sup := f.token(auth.RoleSupervisor)

	first, raw := f.post("/v1/groups", sup, "k1", `{"key":"hvac","title":"HVAC"}`)
	require.Equal(t, http.StatusCreated, first.status, raw)
	require.Empty(t, first.header.Get("Idempotent-Replayed"))

	// The group goes away; the retry still gets the first answer and creates nothing.
	require.Equal(t, http.StatusNoContent, f.delete("/v1/groups/hvac", sup))
	again, rawAgain := f.post("/v1/groups", sup, "k1", `{"key":"hvac","title":"HVAC"}`)
	require.Equal(t, http.StatusCreated, again.status)
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	require.Equal(t, raw, rawAgain, "the same body")
	require.Equal(t, first.header.Get("Location"), again.header.Get("Location"))
	require.Equal(t, first.header.Get("Content-Type"), again.header.Get("Content-Type"))
	require.Equal(t, http.StatusNotFound, f.call("GET", "/v1/groups/hvac", sup, "", "").status, "the handler did not run again")

	// The same key with another body.
	reused, _ := f.post("/v1/groups", sup, "k1", `{"key":"hvac","title":"Other"}`)
	require.Equal(t, http.StatusUnprocessableEntity, reused.status)
	require.Equal(t, "application/problem+json", reused.header.Get("Content-Type"))
	require.Equal(t, "/problems/idempotency-key-reused", reused.body["type"])
	// … or another path.
	reused, _ = f.post("/v1/service-requests", sup, "k1", `{"key":"hvac","title":"HVAC"}`)
	require.Equal(t, http.StatusUnprocessableEntity, reused.status)
	require.Equal(t, "/problems/idempotency-key-reused", reused.body["type"])

	// Keys belong to their caller: another user's k1 is a new request.
	bobTok, err := f.keys.Issue(auth.Principal{Subject: "bob", Roles: []auth.Role{auth.RoleSupervisor}}, time.Hour, time.Now())
	require.NoError(t, err)
	bob, raw := f.post("/v1/groups", bobTok, "k1", `{"key":"hvac","title":"HVAC"}`)
	require.Equal(t, http.StatusCreated, bob.status, raw)
	require.Empty(t, bob.header.Get("Idempotent-Replayed"))

	// A client error is final and replayed too.
	bad, raw := f.post("/v1/groups", sup, "k2", `{"title":"no key"}`)
	require.Equal(t, http.StatusUnprocessableEntity, bad.status, raw)
	badAgain, rawAgain := f.post("/v1/groups", sup, "k2", `{"title":"no key"}`)
	require.Equal(t, "true", badAgain.header.Get("Idempotent-Replayed"))
	require.Equal(t, raw, rawAgain)
	require.Equal(t, "application/problem+json", badAgain.header.Get("Content-Type"))

	// A refusal that changed nothing (409) is not kept: the retry runs again.
	_, _ = f.post("/v1/groups", sup, "", `{"key":"plumbing"}`)
	taken, _ := f.post("/v1/groups", sup, "k3", `{"key":"plumbing","title":"x"}`)
	require.Equal(t, http.StatusConflict, taken.status)
	require.Equal(t, http.StatusNoContent, f.delete("/v1/groups/plumbing", sup))
	created, raw := f.post("/v1/groups", sup, "k3", `{"key":"plumbing","title":"x"}`)
	require.Equal(t, http.StatusCreated, created.status, raw)
	require.Empty(t, created.header.Get("Idempotent-Replayed"))
}

func TestIdempotencyServerErrorsAreNotKept(t *testing.T) {
	f := newFixture(t)
	agent := f.token(auth.RoleAgent)
	body := `{"queue":"billing","subject":"s","contact":{"email":"a@example.com"}}`
	// Temporal is down: 503, and the key stays free for a retry — with any body.
	for i := 0; i < 2; i++ {
		a, raw := f.post("/v1/service-requests", agent, "sr-1", body)
		require.Equal(t, http.StatusServiceUnavailable, a.status, raw)
		require.Empty(t, a.header.Get("Idempotent-Replayed"))
	}
	a, raw := f.post("/v1/service-requests", agent, "sr-1", `{"queue":"billing","subject":"other","contact":{"email":"a@example.com"}}`)
	require.Equal(t, http.StatusServiceUnavailable, a.status, raw)
}

func TestIdempotencyExpiry(t *testing.T) {
	t.Setenv("FIELDFLOW_IDEMPOTENCY_TTL", "1s")
	f := newFixture(t)
	sup := f.token(auth.RoleSupervisor)
	a, raw := f.post("/v1/groups", sup, "k1", `{"key":"hvac"}`)
	require.Equal(t, http.StatusCreated, a.status, raw)
	require.Equal(t, http.StatusNoContent, f.delete("/v1/groups/hvac", sup))
	a, _ = f.post("/v1/groups", sup, "k1", `{"key":"hvac"}`)
	require.Equal(t, "true", a.header.Get("Idempotent-Replayed"), "still remembered")

	time.Sleep(1100 * time.Millisecond)
	a, raw = f.post("/v1/groups", sup, "k1", `{"key":"hvac"}`)
	require.Equal(t, http.StatusCreated, a.status, raw)
	require.Empty(t, a.header.Get("Idempotent-Replayed"), "an expired key is a new request")
	require.Equal(t, http.StatusOK, f.call("GET", "/v1/groups/hvac", sup, "", "").status)
	// … even with another body.
	time.Sleep(1100 * time.Millisecond)
	a, raw = f.post("/v1/groups", sup, "k1", `{"key":"pumps"}`)
	require.Equal(t, http.StatusCreated, a.status, raw)
}

func TestIdempotencyConcurrentDuplicates(t *testing.T) {
	f := newFixture(t)
	sup := f.token(auth.RoleSupervisor)
	body := `{"key":"hvac","title":"HVAC"}`

	// A request still running: its key is claimed (as the middleware does), so a duplicate is told
	// to come back.
	sum := sha256.Sum256([]byte("POST /v1/groups\n" + body))
	_, first, err := f.store.BeginIdempotent(context.Background(), store.IdempotentRequest{
		Principal: "alice", Key: "running", Method: "POST", Path: "/v1/groups", Hash: sum[:],
	}, time.Hour, time.Hour)
	require.NoError(t, err)
	require.True(t, first)
	busy, raw := f.post("/v1/groups", sup, "running", body)
	require.Equal(t, http.StatusConflict, busy.status, raw)
	require.Equal(t, "/problems/idempotency-key-in-use", busy.body["type"])
	require.Equal(t, "1", busy.header.Get("Retry-After"))

	// Duplicates sent together: one runs, the others get its answer or a 409 to retry.
	const n = 8
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i], _ = f.post("/v1/groups", sup, "together", body)
		}()
	}
	wg.Wait()
	ran := 0
	for _, a := range answers {
		switch {
		case a.status == http.StatusCreated && a.header.Get("Idempotent-Replayed") == "":
			ran++
		case a.status == http.StatusCreated:
		case a.status == http.StatusConflict:
			require.Equal(t, "/problems/idempotency-key-in-use", a.body["type"])
		default:
			t.Fatalf("unexpected answer %d %v", a.status, a.body)
		}
	}
	require.Equal(t, 1, ran, "exactly one ran")
	after, _ := f.post("/v1/groups", sup, "together", body)
	require.Equal(t, http.StatusCreated, after.status)
	require.Equal(t, "true", after.header.Get("Idempotent-Replayed"))
}

func (f *fixture) delete(path, token string) int {
	f.t.Helper()
	req, err := http.NewRequest("DELETE", f.server.URL+path, nil)
	require.NoError(f.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(f.t, err)
	resp.Body.Close()
	return resp.StatusCode
}
