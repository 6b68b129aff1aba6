package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/fieldflow/fieldflow/activities"
	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/internal/smtptest"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/store/storetest"
)

// provider is a real HTTP server standing in for an SMS or WeChat gateway.
type provider struct {
	mu      sync.Mutex
	status  int
	headers []http.Header
	got     []activities.TextMessage
}

func startProvider(t *testing.T, status int) (*provider, string) {
	t.Helper()
	p := &provider{status: status}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv.URL + "/send"
}

func (p *provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m activities.TextMessage
	body, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(body, &m)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.headers = append(p.headers, r.Header.Clone())
	p.got = append(p.got, m)
	w.WriteHeader(p.status)
	if p.status >= 300 {
		_, _ = w.Write([]byte("upstream\n  gateway down"))
	}
}

func (p *provider) setStatus(s int) { p.mu.Lock(); p.status = s; p.mu.Unlock() }

func (p *provider) received() []activities.TextMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]activities.TextMessage(nil), p.got...)
}

// invitation is the rating invitation of a repair whose contact has an email and a phone.
func invitation(channels []string, priority bool) activities.NotifyInput {
	id := uuid.NewString()
	return activities.NotifyInput{
		RecordID: id, EffectID: "invite:rating:7", Recipients: []string{"contact"}, Channels: channels, Priority: priority,
		Invitation: "invite:rating:7",
		Template: &process.Template{Header: process.Header{Key: "rating-invite"}, Subject: "How did we do on {{.Number}}?",
			Body: "Hello {{.ContactName}}, please rate: {{.RatingURL}}"},
		Record: process.WorkOrder{ID: id, Number: "WO-2026-000003", RecordType: "repair", Subject: "Boiler leaking",
			Contact: process.Contact{Name: "Ada", Email: "ada@example.com", Phone: "+44 20 7946 0000"}},
	}
}

func testKeys(t *testing.T) *auth.Keys {
	t.Helper()
	keys, err := auth.NewKeys([]byte("0123456789abcdef0123456789abcdef-test"))
	require.NoError(t, err)
	return keys
}

// TestInvitationChannelPriority: with priority the channels are tried in order. WeChat has no
// provider and the SMS provider answers 502, so the email goes out and the rest is not tried;
// every outcome is kept with the message, and a retried activity sends nothing again.
func TestInvitationChannelPriority(t *testing.T) {
	st := storetest.New(t)
	sms, smsURL := startProvider(t, http.StatusBadGateway)
	sink := smtptest.Start(t)
	m := &activities.Messages{Store: st, BaseURL: "https://ff.example", Links: testKeys(t), From: "desk@ff.example",
		Mailer: activities.SMTPMailer{Addr: sink.Addr()}, SMS: activities.HTTPTextSender{URL: smsURL}}
	in := invitation([]string{"wechat", "sms", "email", "qr"}, true)

	res, err := m.Notify(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, []string{"ada@example.com"}, res.SentTo)
	require.Equal(t, map[string]string{
		"wechat": "failed: no WeChat provider configured (FIELDFLOW_WECHAT_URL)",
		"sms":    "failed: 502 from provider: upstream gateway down",
		"email":  "sent to ada@example.com",
		"qr":     "not tried: email delivered first",
	}, res.Channels)
	require.Len(t, sms.received(), 1, "the SMS provider was asked once")
	require.Len(t, sink.Messages(), 1)
	require.Contains(t, sink.Messages()[0].Raw, "Message-ID: <invite:rating:7."+in.RecordID+"@fieldflow>")
	require.Contains(t, sink.Messages()[0].Raw, "https://ff.example/rate/")

	notes, err := st.ListNotifications(context.Background(), in.RecordID)
	require.NoError(t, err)
	require.Len(t, notes, 1)
	require.NotNil(t, notes[0].SentAt)
	require.True(t, notes[0].Deliveries["email"].Sent)
	require.False(t, notes[0].Deliveries["sms"].Sent)
	require.Equal(t, "failed: 502 from provider: upstream gateway down", notes[0].Deliveries["sms"].Outcome)
	require.NotContains(t, notes[0].Deliveries, "qr", "a channel not tried is not recorded")

	again, err := m.Notify(context.Background(), in)
	require.NoError(t, err, "a retried activity")
	require.Equal(t, []string{"ada@example.com"}, again.SentTo)
	require.Equal(t, "sent to ada@example.com", again.Channels["email"])
	require.Len(t, sms.received(), 1, "nothing is sent again")
	require.Len(t, sink.Messages(), 1, "nothing is sent again")
}

// TestInvitationBySMS: the SMS provider gets the JSON payload with the signed rating link, the
// reference and the bearer token; with priority nothing else is sent.
func TestInvitationBySMS(t *testing.T) {
	st := storetest.New(t)
	keys := testKeys(t)
	sms, smsURL := startProvider(t, http.StatusAccepted)
	sink := smtptest.Start(t)
	m := &activities.Messages{Store: st, BaseURL: "https://ff.example", Links: keys, From: "desk@ff.example",
		Mailer: activities.SMTPMailer{Addr: sink.Addr()}, SMS: activities.HTTPTextSender{URL: smsURL, Token: "sms-secret"}}
	in := invitation([]string{"wechat", "sms", "email", "qr"}, true)

	res, err := m.Notify(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, []string{"+44 20 7946 0000"}, res.SentTo)
	require.Equal(t, "sent to +44 20 7946 0000", res.Channels["sms"])
	require.Equal(t, "not tried: sms delivered first", res.Channels["email"])
	require.Empty(t, sink.Messages(), "no email")

	got := sms.received()
	require.Len(t, got, 1)
	reference := "invite:rating:7." + in.RecordID
	require.Equal(t, "+44 20 7946 0000", got[0].To)
	require.Equal(t, reference, got[0].Reference)
	require.Equal(t, "How did we do on WO-2026-000003?", got[0].Subject)
	require.Equal(t, "Hello Ada, please rate: "+got[0].Link, got[0].Text)
	token, ok := strings.CutPrefix(got[0].Link, "https://ff.example/rate/")
	require.True(t, ok, got[0].Link)
	order, inv, err := keys.VerifyRatingLink(token)
	require.NoError(t, err)
	require.Equal(t, in.RecordID, order)
	require.Equal(t, "invite:rating:7", inv)
	h := sms.headers[0]
	require.Equal(t, "Bearer sms-secret", h.Get("Authorization"))
	require.Equal(t, "application/json", h.Get("Content-Type"))
	require.Equal(t, reference, h.Get("Idempotency-Key"))
}

// TestInvitationWithoutPriority: every channel is tried; one that fails does not fail the
// message, and the outcome of each is reported.
func TestInvitationWithoutPriority(t *testing.T) {
	st := storetest.New(t)
	sms, smsURL := startProvider(t, http.StatusOK)
	wechat, wechatURL := startProvider(t, http.StatusBadRequest)
	m := &activities.Messages{Store: st, BaseURL: "https://ff.example", Links: testKeys(t),
		SMS: activities.HTTPTextSender{URL: smsURL}, WeChat: activities.HTTPTextSender{URL: wechatURL}}
	in := invitation([]string{"qr", "wechat", "sms", "email"}, false)

	res, err := m.Notify(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, map[string]string{
		"qr":     "shown on site: the engineer shows the rating QR code",
		"wechat": "failed: 400 from provider: upstream gateway down",
		"sms":    "sent to +44 20 7946 0000",
		"email":  "failed: no mail server configured (FIELDFLOW_SMTP_ADDR)",
	}, res.Channels)
	require.Len(t, sms.received(), 1)
	require.Len(t, wechat.received(), 1)

	// With priority, qr listed first delivers the invitation by itself.
	in = invitation([]string{"qr", "sms"}, true)
	res, err = m.Notify(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, "not tried: qr delivered first", res.Channels["sms"])
	require.Len(t, sms.received(), 1)
}

// TestNotifyEveryChannelFails: when no channel delivers the message the activity fails with each
// channel's outcome in the error's details. A provider's 5xx is retried, and the retry sends on
// no channel that already delivered; a failure of configuration is final.
func TestNotifyEveryChannelFails(t *testing.T) {
	st := storetest.New(t)
	sms, smsURL := startProvider(t, http.StatusServiceUnavailable)
	m := &activities.Messages{Store: st, BaseURL: "https://ff.example", Links: testKeys(t), SMS: activities.HTTPTextSender{URL: smsURL}}
	in := invitation([]string{"sms", "wechat"}, true)

	_, err := m.Notify(context.Background(), in)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	require.False(t, appErr.NonRetryable(), "a 503 may pass")
	require.Contains(t, err.Error(), "sms: 503 from provider")
	require.Contains(t, err.Error(), "wechat: no WeChat provider configured")
	var details activities.NotifyResult
	require.NoError(t, appErr.Details(&details))
	require.Equal(t, "failed: 503 from provider: upstream gateway down", details.Channels["sms"])

	sms.setStatus(http.StatusOK)
	res, err := m.Notify(context.Background(), in)
	require.NoError(t, err, "the retry")
	require.Equal(t, "sent to +44 20 7946 0000", res.Channels["sms"])
	require.Len(t, sms.received(), 2)

	// Configuration: no phone for the contact, and no provider at all for WeChat.
	in = invitation([]string{"sms", "wechat"}, false)
	in.Record = process.WorkOrder{ID: in.RecordID, Number: "WO-2026-000004", RecordType: "repair", Contact: process.Contact{Name: "Bo", Email: "bo@example.com"}}
	_, err = m.Notify(context.Background(), in)
	require.True(t, errors.As(err, &appErr), "%v", err)
	require.True(t, appErr.NonRetryable(), "configuration does not mend itself")
	require.Contains(t, err.Error(), "sms: the contact has no phone number")
	require.Len(t, sms.received(), 2)
}

// faultyStore is the real store whose first MarkNotificationSent fails, as when the worker
// crashes after sending.
type faultyStore struct {
	*store.Store
	failed bool
}

func (f *faultyStore) MarkNotificationSent(ctx context.Context, recordID, effectID string, to []string, at time.Time) error {
	if !f.failed {
		f.failed = true
		return errors.New("connection lost")
	}
	return f.Store.MarkNotificationSent(ctx, recordID, effectID, to, at)
}

// TestNotifyRetryResumes: an attempt that sent on every channel but could not record the end is
// retried; the retry sends on no channel again and reports where the message went.
func TestNotifyRetryResumes(t *testing.T) {
	st := &faultyStore{Store: storetest.New(t)}
	sms, smsURL := startProvider(t, http.StatusOK)
	sink := smtptest.Start(t)
	m := &activities.Messages{Store: st, BaseURL: "https://ff.example", Links: testKeys(t), From: "desk@ff.example",
		Mailer: activities.SMTPMailer{Addr: sink.Addr()}, SMS: activities.HTTPTextSender{URL: smsURL}}
	in := invitation([]string{"sms", "email"}, false)

	_, err := m.Notify(context.Background(), in)
	require.ErrorContains(t, err, "connection lost")
	res, err := m.Notify(context.Background(), in)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"+44 20 7946 0000", "ada@example.com"}, res.SentTo)
	require.Equal(t, map[string]string{"sms": "sent to +44 20 7946 0000", "email": "sent to ada@example.com"}, res.Channels)
	require.Len(t, sms.received(), 1)
	require.Len(t, sink.Messages(), 1)
}

// TestNotifyKeptInTheLogWithoutDelivery: a worker with no email, SMS or WeChat configured keeps
// the message in the delivery log and does not fail it.
func TestNotifyKeptInTheLogWithoutDelivery(t *testing.T) {
	st := storetest.New(t)
	m := &activities.Messages{Store: st, BaseURL: "https://ff.example", Links: testKeys(t)}
	in := invitation([]string{"sms", "email"}, false)
	res, err := m.Notify(context.Background(), in)
	require.NoError(t, err)
	require.Empty(t, res.SentTo)
	require.Contains(t, res.Channels["sms"], "kept in the delivery log")
	notes, err := st.ListNotifications(context.Background(), in.RecordID)
	require.NoError(t, err)
	require.Len(t, notes, 1)
	require.Nil(t, notes[0].SentAt)
}
