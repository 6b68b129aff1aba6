package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/activities"
	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/devstack"
	"github.com/fieldflow/fieldflow/internal/smtptest"
	"github.com/fieldflow/fieldflow/worker"
)

// mailbox is the test's SMTP server (smtptest: go-smtp over TCP on a loopback port); the worker's
// mail goes there.
type mailbox struct {
	*smtptest.Receiver
}

// received is one message the mailbox got: envelope sender and recipients, and the data as sent.
type received struct {
	from string
	to   []string
	data string
}

func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	return &mailbox{smtptest.Start(t)}
}

// mailer makes the stack's worker send its email to the mailbox.
func (m *mailbox) mailer(cfg *devstack.Config) {
	cfg.Mail = func(d *worker.Dependencies) {
		d.Mailer, d.MailFrom = activities.SMTPMailer{Addr: m.Addr()}, "desk@fieldflow.test"
	}
}

// body is the decoded text of a received message (quoted-printable, as the worker sends it).
func (r received) body(t *testing.T) string {
	t.Helper()
	return smtptest.Message{From: r.from, To: r.to, Raw: r.data}.Body(t)
}

// received is what the mailbox got so far, in order.
func (m *mailbox) received() []received {
	var out []received
	for _, msg := range m.Messages() {
		out = append(out, received{from: msg.From, to: msg.To, data: msg.Raw})
	}
	return out
}

// TestEmailOverSMTP: the billing queue's "on closed" automation emails the contact, and an agent
// emails the request's printout; both go over SMTP to a real server and are in the delivery log.
func TestEmailOverSMTP(t *testing.T) {
	box := startMailbox(t)
	stack := startStack(t, box.mailer)
	alice := api{t: t, base: stack.APIURL, token: token(t, stack, "alice", auth.RoleAgent)}
	sr := alice.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "billing", "subject": "Copy of invoice 77", "contact": map[string]any{"name": "Ada", "email": "ada@example.com"},
	})
	path := "/v1/service-requests/" + sr["id"].(string)

	page := alice.do("GET", path+"/print", nil)
	require.Equal(t, http.StatusOK, page.Status)
	require.Contains(t, page.Raw, "Copy of invoice 77")
	alice.must(http.StatusOK, "POST", path+"/email", nil)
	require.Eventually(t, func() bool { return len(box.received()) >= 1 }, 20*time.Second, 100*time.Millisecond)
	printed := box.received()[0]
	require.Equal(t, "desk@fieldflow.test", printed.from)
	require.Equal(t, []string{"ada@example.com"}, printed.to)
	require.Contains(t, printed.data, "Subject: Your request "+sr["number"].(string))
	require.Contains(t, printed.data, "text/html")

	alice.must(http.StatusOK, "POST", path+"/close", map[string]any{"resolved": true})
	require.Eventually(t, func() bool { return len(box.received()) >= 2 }, 20*time.Second, 100*time.Millisecond)
	closed := box.received()[1]
	require.Contains(t, closed.data, "Subject: Your request "+sr["number"].(string)+" is closed")
	require.Contains(t, closed.data, "Hello Ada")
	var sent map[string]any
	require.Eventually(t, func() bool {
		for _, e := range alice.must(http.StatusOK, "GET", path+"/events", nil)["items"].([]any) {
			ev := e.(map[string]any)
			if ev["type"] == "notification_sent" && ev["details"].(map[string]any)["sentTo"] == "ada@example.com" {
				sent = ev
			}
		}
		return sent != nil
	}, 10*time.Second, 100*time.Millisecond, "the delivery log says where the mail went")
}
