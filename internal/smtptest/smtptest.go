// Package smtptest is test support: a real SMTP server (github.com/emersion/go-smtp) on a
// loopback port that keeps every message it receives, for tests of code that sends mail. It is a
// normal package so that the tests of every package can import it; nothing outside tests uses it.
package smtptest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// Message is one message as the receiver got it.
type Message struct {
	// From is the envelope sender (MAIL FROM), To the envelope recipients (RCPT TO).
	From string
	To   []string
	// Raw is the message data sent after DATA, headers and body, with CRLF line ends and the
	// dot-stuffing undone.
	Raw string
}

// Body is the decoded text of the message: its body with the Content-Transfer-Encoding undone,
// or for a multipart message the decoded text of each part, one after the other and a line
// break between them.
func (m Message) Body(t testing.TB) string {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(m.Raw))
	require.NoError(t, err, "smtptest: parse message")
	text, err := decode(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	require.NoError(t, err, "smtptest: decode message body")
	return text
}

func decode(contentType, encoding string, body io.Reader) (string, error) {
	if media, params, err := mime.ParseMediaType(contentType); err == nil && strings.HasPrefix(media, "multipart/") {
		var out strings.Builder
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return out.String(), nil
			}
			if err != nil {
				return "", err
			}
			text, err := decode(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			if err != nil {
				return "", err
			}
			if out.Len() > 0 {
				out.WriteString("\n")
			}
			out.WriteString(text)
		}
	}
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	return string(b), err
}

// Receiver is an SMTP server listening on 127.0.0.1 that accepts every message.
type Receiver struct {
	ln  net.Listener
	srv *smtp.Server

	mu      sync.Mutex
	mail    []Message
	arrived chan struct{} // closed and replaced on every message
}

// Start starts a receiver on a free loopback port; it stops when the test ends.
func Start(t testing.TB) *Receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "smtptest: listen")
	r := &Receiver{ln: ln, arrived: make(chan struct{})}
	r.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{r: r}, nil }))
	r.srv.Domain = "smtptest.local"
	r.srv.ReadTimeout, r.srv.WriteTimeout = time.Minute, time.Minute
	r.srv.ErrorLog = log.New(io.Discard, "", 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = r.srv.Close()
		<-done
	})
	return r
}

// Addr is the host:port the receiver listens on.
func (r *Receiver) Addr() string { return r.ln.Addr().String() }

// Messages are the messages received so far, in the order they arrived.
func (r *Receiver) Messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.mail...)
}

// Wait waits up to timeout until at least n messages have arrived and returns them all; the test
// fails when they do not.
func (r *Receiver) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		got, arrived := append([]Message(nil), r.mail...), r.arrived
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-arrived:
		case <-deadline.C:
			require.FailNowf(t, "smtptest: too few messages", "%d of %d arrived within %s", len(got), n, timeout)
			return nil
		}
	}
}

func (r *Receiver) add(m Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mail = append(r.mail, m)
	close(r.arrived)
	r.arrived = make(chan struct{})
}

// session collects one message at a time.
type session struct {
	r   *Receiver
	cur Message
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.cur = Message{From: from}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *session) Data(rd io.Reader) error {
	var b bytes.Buffer
	if _, err := b.ReadFrom(rd); err != nil {
		return err
	}
	s.cur.Raw = b.String()
	s.r.add(s.cur)
	s.cur = Message{}
	return nil
}

func (s *session) Reset()        { s.cur = Message{} }
func (s *session) Logout() error { return nil }
