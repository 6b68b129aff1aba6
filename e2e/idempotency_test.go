package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/auth"
)

// TestIdempotencyKeys: a retried POST with the same Idempotency-Key gets the first answer and does
// nothing twice; the same key with another body is refused.
func TestIdempotencyKeys(t *testing.T) {
	stack := startStack(t)
	alice := api{t: t, base: stack.APIURL, token: token(t, stack, "alice", auth.RoleAgent)}

	create := map[string]any{
		"queue": "billing", "subject": "Refund for the outage", "contact": map[string]any{"name": "Ada", "email": "ada@example.com"},
	}
	first := alice.do("POST", "/v1/service-requests", create, "Idempotency-Key", "k1")
	require.Equal(t, http.StatusCreated, first.Status, first.Raw)
	require.Empty(t, first.Header.Get("Idempotent-Replayed"))
	retry := alice.do("POST", "/v1/service-requests", create, "Idempotency-Key", "k1")
	require.Equal(t, http.StatusCreated, retry.Status, retry.Raw)
	require.Equal(t, "true", retry.Header.Get("Idempotent-Replayed"))
	require.Equal(t, first.Raw, retry.Raw, "the same record, answered again")
	list := alice.must(http.StatusOK, "GET", "/v1/service-requests", nil)
	require.Equal(t, []string{first.Body["id"].(string)}, ids(list), "one record")

	// The same key with another body.
	other := map[string]any{"queue": "billing", "subject": "Something else", "contact": map[string]any{"email": "ada@example.com"}}
	p := alice.problem(http.StatusUnprocessableEntity, "POST", "/v1/service-requests", other, "Idempotency-Key", "k1")
	require.Equal(t, "/problems/idempotency-key-reused", p["type"])

	// A retried close with charges: the first answer again, one invoice.
	path := "/v1/service-requests/" + first.Body["id"].(string)
	alice.must(http.StatusOK, "POST", path+"/charges", map[string]any{"kind": "service", "description": "Refund handling", "unitPrice": 40}, "Idempotency-Key", "charge-1")
	charged := alice.do("POST", path+"/charges", map[string]any{"kind": "service", "description": "Refund handling", "unitPrice": 40}, "Idempotency-Key", "charge-1")
	require.Equal(t, "true", charged.Header.Get("Idempotent-Replayed"))
	require.Len(t, charged.Body["charges"], 1, "the charge is added once")

	closeBody := map[string]any{"resolved": true, "resolution": "refunded"}
	closed := alice.do("POST", path+"/close", closeBody, "Idempotency-Key", "close-1")
	require.Equal(t, http.StatusOK, closed.Status, closed.Raw)
	var record map[string]any
	require.Eventually(t, func() bool {
		record = alice.must(http.StatusOK, "GET", path, nil)
		return record["invoice"] != nil
	}, 20*time.Second, 100*time.Millisecond)
	// The run has ended; a retry is answered from the key, not refused with 409.
	again := alice.do("POST", path+"/close", closeBody, "Idempotency-Key", "close-1")
	require.Equal(t, http.StatusOK, again.Status, again.Raw)
	require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	require.Equal(t, closed.Raw, again.Raw)
	// A new key is a new action: refused now, since the request is closed.
	alice.problem(http.StatusConflict, "POST", path+"/close", closeBody, "Idempotency-Key", "close-2")
	p = alice.problem(http.StatusUnprocessableEntity, "POST", path+"/close", map[string]any{"resolved": false}, "Idempotency-Key", "close-1")
	require.Equal(t, "/problems/idempotency-key-reused", p["type"])

	require.EqualValues(t, 40, record["invoice"].(map[string]any)["total"])
	types := eventTypes(alice.must(http.StatusOK, "GET", path+"/events", nil))
	require.Equal(t, 1, count(types, "invoice_issued"))
	require.Equal(t, 1, count(types, "closed"))
}
