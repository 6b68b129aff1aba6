package e2e

import (
	"bufio"
	"io"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/activities"
	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/devstack"
	"github.com/fieldflow/fieldflow/worker"
)

// mailbox is an SMTP server inside the test: it speaks the protocol for real over TCP and keeps
// what it receives.
type mailbox struct {
	ln   net.Listener
	mu   sync.Mutex
	mail []received
}

type received struct {
	from string
	to   []string
	data string
}

func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	m := &mailbox{ln: ln}
	go m.serve()
	t.Cleanup(func() { ln.Close() })
	return m
}

// mailer makes the stack's worker send its email to the mailbox.
func (m *mailbox) mailer(cfg *devstack.Config) {
	cfg.Mail = func(d *worker.Dependencies) {
		d.Mailer, d.MailFrom = activities.SMTPMailer{Addr: m.ln.Addr().String()}, "desk@fieldflow.test"
	}
}

// body is the decoded text of a received message (quoted-printable, as the worker sends it).
func (r received) body(t *testing.T) string {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(r.data))
	require.NoError(t, err)
	b, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	require.NoError(t, err)
	return string(b)
}

func (m *mailbox) serve() {
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			return
		}
		go m.session(conn)
	}
}

func (m *mailbox) session(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	say := func(s string) { _, _ = conn.Write([]byte(s + "\r\n")) }
	say("220 mailbox.test ESMTP")
	var cur received
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 mailbox.test")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			cur = received{from: strings.Trim(strings.TrimSpace(line)[10:], "<>")}
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			cur.to = append(cur.to, strings.Trim(strings.TrimSpace(line)[8:], "<>"))
			say("250 ok")
		case cmd == "DATA":
			say("354 go on")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			cur.data = b.String()
			m.mu.Lock()
			m.mail = append(m.mail, cur)
			m.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

func (m *mailbox) received() []received {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]received(nil), m.mail...)
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
