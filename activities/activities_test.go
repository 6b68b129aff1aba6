package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/fieldflow/fieldflow/activities"
	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// receiver is a real HTTP server standing in for another system.
type receiver struct {
	status  int
	headers []http.Header
	bodies  [][]byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.headers = append(r.headers, req.Header.Clone())
	r.bodies = append(r.bodies, body)
	w.WriteHeader(r.status)
}

func TestWebhookDelivery(t *testing.T) {
	rcv := &receiver{status: http.StatusAccepted}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	t.Setenv("TEST_WEBHOOK_SECRET", "s3cret")
	w := &activities.Webhooks{}
	in := activities.WebhookInput{
		EffectID: "auto-0:3:0", URL: srv.URL + "/hook", SecretEnv: "TEST_WEBHOOK_SECRET",
		Event:  process.Event{Seq: 3, Type: process.EventStageChanged, Actor: "alice", Details: map[string]any{"to": "proposal"}},
		Record: map[string]any{"id": "r1", "number": "SR-1"},
	}
	res, err := w.Deliver(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, res.Status)
	require.Len(t, rcv.bodies, 1)
	h := rcv.headers[0]
	require.Equal(t, "application/json", h.Get("Content-Type"))
	require.Equal(t, "auto-0:3:0", h.Get(activities.DeliveryHeader))
	require.Equal(t, activities.Sign([]byte("s3cret"), rcv.bodies[0]), h.Get(activities.SignatureHeader), "the receiver can check the body with the shared secret")
	var payload activities.WebhookPayload
	require.NoError(t, json.Unmarshal(rcv.bodies[0], &payload))
	require.Equal(t, "auto-0:3:0", payload.DeliveryID)
	require.Equal(t, process.EventStageChanged, payload.Event.Type)
	require.Equal(t, "SR-1", payload.Record.(map[string]any)["number"])

	// A server error is retried by the activity's policy; a refusal is final.
	rcv.status = http.StatusServiceUnavailable
	_, err = w.Deliver(context.Background(), in)
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.False(t, errors.As(err, &appErr) && appErr.NonRetryable(), "a 503 is retried")
	rcv.status = http.StatusBadRequest
	_, err = w.Deliver(context.Background(), in)
	require.True(t, errors.As(err, &appErr) && appErr.NonRetryable(), "a 400 is not retried: %v", err)

	in.SecretEnv = "TEST_WEBHOOK_SECRET_UNSET"
	_, err = w.Deliver(context.Background(), in)
	require.True(t, errors.As(err, &appErr) && appErr.NonRetryable())
	require.Contains(t, err.Error(), "TEST_WEBHOOK_SECRET_UNSET")
}

func TestNotifyRendersOnce(t *testing.T) {
	st := storetest.New(t)
	m := &activities.Messages{Store: st, BaseURL: "https://ff.example/"}
	id := uuid.NewString()
	in := activities.NotifyInput{
		RecordID: id, EffectID: "sla-alert:2:0", Recipients: []string{"owner"}, Channels: []string{"email"},
		Template: &process.Template{Header: process.Header{Key: "sr-alert"}, Subject: "{{.Number}} is late", Body: "{{.Subject}} ({{.Priority}}) {{.URL}}"},
		Record:   process.ServiceRequest{ID: id, Number: "SR-2026-000009", Subject: "Wrong invoice", Priority: "high"},
	}
	_, err := m.Notify(context.Background(), in)
	require.NoError(t, err)
	_, err = m.Notify(context.Background(), in)
	require.NoError(t, err, "a retried activity")
	notes, err := st.ListNotifications(context.Background(), id)
	require.NoError(t, err)
	require.Len(t, notes, 1)
	require.Equal(t, "SR-2026-000009 is late", notes[0].Subject)
	require.Equal(t, "Wrong invoice (high) https://ff.example/v1/service-requests/"+id, notes[0].Body)

	in.EffectID = "bad"
	in.Template.Body = "{{.Nope}}"
	_, err = m.Notify(context.Background(), in)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr) && appErr.NonRetryable(), "a template that cannot render is not retried")
}

// TestNotifyApprovalLink: a message for an approval carries a signed link the approval page
// accepts for that record and approval only; without a key it fails for good, with a reason.
func TestNotifyApprovalLink(t *testing.T) {
	st := storetest.New(t)
	keys, err := auth.NewKeys([]byte("0123456789abcdef0123456789abcdef-test"))
	require.NoError(t, err)
	m := &activities.Messages{Store: st, BaseURL: "https://ff.example/", Links: keys}
	id := uuid.NewString()
	in := activities.NotifyInput{
		RecordID: id, EffectID: "ask-contact:proposal-4", Recipients: []string{"contact"}, Channels: []string{"email"}, Approval: "proposal-4",
		Record: process.ServiceRequest{ID: id, Number: "SR-2026-000010", Subject: "Refund", Contact: process.Contact{Name: "Ada", Email: "ada@example.com"}},
	}
	_, err = m.Notify(context.Background(), in)
	require.NoError(t, err)
	notes, err := st.ListNotifications(context.Background(), id)
	require.NoError(t, err)
	require.Len(t, notes, 1)
	require.Equal(t, "Your approval is needed: SR-2026-000010 Refund", notes[0].Subject)
	require.Contains(t, notes[0].Body, "Hello Ada,")
	link := regexp.MustCompile(`https://ff\.example/approve/(\S+)`).FindStringSubmatch(notes[0].Body)
	require.NotNil(t, link, notes[0].Body)
	claims, err := keys.VerifyLink(link[1], "approval")
	require.NoError(t, err)
	require.Equal(t, auth.LinkClaims{Purpose: "approval", RecordID: id, ItemID: "proposal-4"}, claims)

	in.EffectID, in.Template = "ask-contact:custom", &process.Template{Header: process.Header{Key: "ask"}, Subject: "Approve {{.Number}}", Body: "{{.ApprovalURL}} until {{.ApprovalExpires}}"}
	_, err = m.Notify(context.Background(), in)
	require.NoError(t, err)
	notes, err = st.ListNotifications(context.Background(), id)
	require.NoError(t, err)
	require.Len(t, notes, 2)
	require.Regexp(t, `^https://ff\.example/approve/\S+ until \d+ \w+ \d{4} \d\d:\d\d UTC$`, notes[1].Body)

	m.Links = nil
	in.EffectID = "ask-contact:nokey"
	_, err = m.Notify(context.Background(), in)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr) && appErr.NonRetryable())
	require.Contains(t, err.Error(), "FIELDFLOW_JWT_SECRET")
}

func TestPrepareWorkOrder(t *testing.T) {
	st := storetest.New(t)
	cat, err := process.LoadDir("../definitions")
	require.NoError(t, err)
	require.NoError(t, st.PublishCatalog(context.Background(), cat))
	d := &activities.Definitions{Store: st}
	id := uuid.NewString()
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	res, err := d.PrepareWorkOrder(context.Background(), activities.PrepareWorkOrderInput{RecordType: "repair", ID: id, Now: at})
	require.NoError(t, err)
	repair, _ := cat.WorkOrderType("repair")
	require.Equal(t, repair.Version, res.Type.Version)
	require.Equal(t, "WO-2026-000001", res.Number)
	again, err := d.PrepareWorkOrder(context.Background(), activities.PrepareWorkOrderInput{RecordType: "repair", ID: id, Now: at})
	require.NoError(t, err)
	require.Equal(t, res.Number, again.Number, "a retry keeps the number")
	_, err = d.PrepareWorkOrder(context.Background(), activities.PrepareWorkOrderInput{RecordType: "billing", ID: uuid.NewString(), Now: at})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr) && appErr.NonRetryable(), "billing is a queue, not a work-order type")
}
