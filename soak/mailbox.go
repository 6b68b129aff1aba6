package soak

import (
	"bytes"
	"io"
	"log"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Mailbox is a real SMTP server on a loopback port that keeps every message it receives: the
// worker's email goes there, and the verifier counts it by Message-ID.
type Mailbox struct {
	ln  net.Listener
	srv *smtp.Server

	mu   sync.Mutex
	mail []Mail
	// Hold, when set, is called in DATA before the message is accepted (a slow mail server).
	Hold func(Mail)
}

// Mail is one message as received.
type Mail struct {
	To        []string
	MessageID string
	Subject   string
	At        time.Time
}

// StartMailbox listens on a free loopback port.
func StartMailbox() (*Mailbox, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	m := &Mailbox{ln: ln}
	m.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{m: m}, nil }))
	m.srv.Domain = "soak.local"
	m.srv.ReadTimeout, m.srv.WriteTimeout = time.Minute, time.Minute
	m.srv.ErrorLog = log.New(io.Discard, "", 0)
	go func() { _ = m.srv.Serve(ln) }()
	return m, nil
}

// Addr is the host:port to give FIELDFLOW_SMTP_ADDR.
func (m *Mailbox) Addr() string { return m.ln.Addr().String() }

// Close stops the server.
func (m *Mailbox) Close() error { return m.srv.Close() }

// Messages are the messages received so far.
func (m *Mailbox) Messages() []Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Mail(nil), m.mail...)
}

type mailSession struct {
	m  *Mailbox
	to []string
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error { s.to = nil; return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, strings.ToLower(to))
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil {
		return err
	}
	got := Mail{To: s.to, At: time.Now()}
	if msg, err := mail.ReadMessage(&b); err == nil {
		got.MessageID = msg.Header.Get("Message-Id")
		got.Subject = msg.Header.Get("Subject")
	}
	if hold := s.m.Hold; hold != nil {
		hold(got)
	}
	s.m.mu.Lock()
	s.m.mail = append(s.m.mail, got)
	s.m.mu.Unlock()
	s.to = nil
	return nil
}

func (s *mailSession) Reset()        { s.to = nil }
func (s *mailSession) Logout() error { return nil }
