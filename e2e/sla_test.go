package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/fieldflow/fieldflow/activities"
	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/devstack"
	"github.com/fieldflow/fieldflow/workflows"
)

// hooks is a local receiver of webhooks.
type hooks struct {
	mu         sync.Mutex
	deliveries []delivery
}

type delivery struct {
	header http.Header
	body   []byte
}

func (h *hooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.deliveries = append(h.deliveries, delivery{header: r.Header.Clone(), body: body})
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (h *hooks) all() []delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]delivery(nil), h.deliveries...)
}

// TestSLAAlertFiresASignedWebhook: a queue with targets in seconds alerts and breaches within
// seconds of real time; the alert posts a signed webhook to a local receiver, the breach shows on
// the record, in its ledger and in Temporal visibility.
func TestSLAAlertFiresASignedWebhook(t *testing.T) {
	receiver := &hooks{}
	srv := httptest.NewServer(receiver)
	defer srv.Close()
	t.Setenv("FAST_HOOK_SECRET", "e2e-secret")
	defs := copyTree(t, "../definitions")
	require.NoError(t, os.WriteFile(filepath.Join(defs, "service-requests", "fast.yaml"), []byte(`apiVersion: fieldflow/v1
kind: ServiceRequestQueue
key: fast
title: Fast lane
sla:
  alert:      {critical: 2s, high: 2s, medium: 2s, low: 2s}
  completion: {critical: 5s, high: 5s, medium: 5s, low: 5s}
  pauseIn: [waiting]
  onAlert:  [{webhook: {url: "`+srv.URL+`/alert", secretEnv: FAST_HOOK_SECRET}}]
  onBreach: [{webhook: {url: "`+srv.URL+`/breach"}}]
stages:
  - {id: new, state: new}
  - {id: waiting, state: in_progress}
  - {id: work, state: in_progress}
  - {id: closed, state: closed}
`), 0o644))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{
		DataDir: dataDir(t), DefinitionsDir: defs, HTTPAddr: "127.0.0.1:0",
		Logger: zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel)),
	})
	require.NoError(t, err)
	t.Cleanup(stack.Stop)
	alice := api{t: t, base: stack.APIURL, token: token(t, stack, "alice", auth.RoleAgent)}
	sr := alice.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "fast", "subject": "Outage", "contact": map[string]any{"email": "ada@example.com"},
	})
	path := "/v1/service-requests/" + sr["id"].(string)
	require.NotEmpty(t, sr["sla"].(map[string]any)["dueAt"])

	require.Eventually(t, func() bool { return len(receiver.all()) >= 2 }, 30*time.Second, 100*time.Millisecond)
	alert := receiver.all()[0]
	require.Equal(t, activities.Sign([]byte("e2e-secret"), alert.body), alert.header.Get(activities.SignatureHeader))
	require.NotEmpty(t, alert.header.Get(activities.DeliveryHeader))
	var payload activities.WebhookPayload
	require.NoError(t, json.Unmarshal(alert.body, &payload))
	require.Equal(t, "sla_alert", string(payload.Event.Type))
	require.Empty(t, receiver.all()[1].header.Get(activities.SignatureHeader), "the breach hook has no secret")

	var got map[string]any
	require.Eventually(t, func() bool {
		got = alice.must(http.StatusOK, "GET", path, nil)
		return got["sla"].(map[string]any)["status"] == "breached"
	}, 10*time.Second, 100*time.Millisecond)
	ledger := got["sla"].(map[string]any)["ledger"].([]any)
	require.Len(t, ledger, 1)
	require.Equal(t, "running", ledger[0].(map[string]any)["state"])
	types := eventTypes(alice.must(http.StatusOK, "GET", path+"/events", nil))
	require.Subset(t, types, []string{"sla_alert", "sla_breached", "webhook_delivered"})
	requireVisible(t, stack.Client(), workflows.ServiceRequestWorkflowID(sr["id"].(string)), "SlaBreached = true AND Queue = 'fast'")
	recordHistory(t, stack.Client(), workflows.ServiceRequestWorkflowID(sr["id"].(string)), "service-request-sla-alert-breach")
}
