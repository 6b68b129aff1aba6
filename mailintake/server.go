// Package mailintake is the email channel: an SMTP server for the service mailboxes (kind Mailbox
// in the definitions). It accepts mail only for their addresses, reads each message (sender,
// subject, text, attachments), lets the mailbox's rules choose the record type, and creates the
// work order through the intake service with the Message-ID as idempotency key, so a message
// delivered twice makes one order. A refused message gets a 5xx reply the sender's server turns
// into a bounce; a failure on our side gets 451, and the sender's server tries again later.
package mailintake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/fieldflow/fieldflow/intake"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
)

// Creator creates work orders (*intake.Service).
type Creator interface {
	CreateWorkOrder(ctx context.Context, sub intake.Submission) (process.WorkOrder, error)
}

// Store keeps the messages mailboxes took and their files (*store.Store).
type Store interface {
	GetInboundMail(ctx context.Context, mailbox, messageID string) (store.InboundMail, error)
	RecordInboundMail(ctx context.Context, m store.InboundMail) error
	SaveAttachmentOnce(ctx context.Context, f store.StoredFile) (bool, error)
	DeleteAttachment(ctx context.Context, id string) error
}

var (
	_ Creator = (*intake.Service)(nil)
	_ Store   = (*store.Store)(nil)
)

// Config is what the server needs.
type Config struct {
	// Catalog gives the current definitions, with their mailboxes (*api.Registry).
	Catalog intake.Catalog
	Intake  Creator
	Store   Store
	Logger  *zap.Logger
	// Domain is the name the server greets with; "fieldflow" when empty.
	Domain string
	// MaxMessageBytes is the largest message accepted (SIZE); default 36 MB, room for 25 MB of
	// attachments in base64.
	MaxMessageBytes int64
	// Limits bound the files and text of a message; DefaultLimits when zero.
	Limits Limits
	// Timeout bounds the work on one message after its data arrived; default 2 minutes.
	Timeout time.Duration
	// Now is the clock of attachment times; time.Now when nil.
	Now func() time.Time
}

// DefaultMaxMessageBytes is the default SIZE limit.
const DefaultMaxMessageBytes = 36 << 20

// Server is a running SMTP listener of the service mailboxes.
type Server struct {
	cfg  Config
	log  *zap.Logger
	smtp *smtp.Server
	ln   net.Listener
	// ctx is cancelled by Close, so work on a message in flight stops.
	ctx    context.Context
	cancel context.CancelFunc
}

// Listen binds addr ("127.0.0.1:0" picks a free port); Serve then answers connections.
func Listen(addr string, cfg Config) (*Server, error) {
	if cfg.Catalog == nil || cfg.Intake == nil || cfg.Store == nil {
		return nil, errors.New("mailintake: Catalog, Intake and Store are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Domain == "" {
		cfg.Domain = "fieldflow"
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.Limits == (Limits{}) {
		cfg.Limits = DefaultLimits
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mailintake: listen on %s: %w", addr, err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, ln: ln}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, remote: c.Conn().RemoteAddr().String()}, nil
	}))
	srv.Domain = cfg.Domain
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = 50
	srv.ReadTimeout = 5 * time.Minute
	srv.WriteTimeout = time.Minute
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = zap.NewStdLog(cfg.Logger.WithOptions(zap.AddCallerSkip(1)))
	s.smtp = srv
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve answers connections until Close; it then returns nil.
func (s *Server) Serve() error {
	err := s.smtp.Serve(s.ln)
	if s.ctx.Err() != nil {
		return nil
	}
	return err
}

// Close stops listening, lets messages in flight finish for up to the timeout, then cuts the
// connections.
func (s *Server) Close(ctx context.Context) error {
	err := s.smtp.Shutdown(ctx)
	_ = s.ln.Close() // in case Serve had not started yet
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		s.cancel()
		_ = s.smtp.Close()
		return nil
	}
	s.cancel()
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// recipient is a mailbox a message is for, with the address it was sent to.
type recipient struct {
	mailbox *process.Mailbox
	address string
}

// session is one SMTP conversation.
type session struct {
	s      *Server
	remote string
	from   string
	rcpts  []recipient
}

func (ss *session) Reset() {
	ss.from, ss.rcpts = "", nil
}

func (ss *session) Logout() error { return nil }

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.Reset()
	ss.from = from
	return nil
}

// Rcpt accepts the addresses of the current mailboxes; anything else is 550.
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	mb, ok := ss.s.cfg.Catalog.Current().MailboxFor(to)
	if !ok {
		ss.s.log.Info("mail refused: no such mailbox", zap.String("to", to), zap.String("from", ss.from), zap.String("remote", ss.remote))
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: fmt.Sprintf("no mailbox %s here", to)}
	}
	for _, r := range ss.rcpts {
		if r.mailbox.Key == mb.Key {
			return nil // one order per mailbox, whichever of its addresses were used
		}
	}
	ss.rcpts = append(ss.rcpts, recipient{mailbox: mb, address: process.NormalizeAddress(to)})
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err // too large (552) or aborted: go-smtp answers
	}
	ctx, cancel := context.WithTimeout(ss.s.ctx, ss.s.cfg.Timeout)
	defer cancel()
	return ss.s.deliver(ctx, ss.from, ss.rcpts, raw)
}

// deliver turns one message into a work order per mailbox it is for. The error is the SMTP reply:
// nil (250), a refusal (5xx, the sender gets a bounce) or a temporary failure (451, the sender's
// server tries again). With several mailboxes, a temporary failure of any wins (a retry is
// harmless: the orders already made are found again), then a refusal when none took the message.
func (s *Server) deliver(ctx context.Context, envelopeFrom string, rcpts []recipient, raw []byte) error {
	msg, err := Parse(raw, s.cfg.Limits)
	if err != nil {
		var tooLarge *TooLargeError
		if errors.As(err, &tooLarge) {
			s.log.Info("mail refused", zap.String("from", envelopeFrom), zap.Error(err))
			return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: shorten(err.Error())}
		}
		s.log.Info("mail refused", zap.String("from", envelopeFrom), zap.Error(err))
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: shorten(err.Error())}
	}
	if msg.From.Address == "" {
		msg.From.Address = strings.ToLower(envelopeFrom)
	}
	var temporary, refused error
	taken := 0
	for _, rc := range rcpts {
		err := s.deliverTo(ctx, rc, msg)
		var se *smtp.SMTPError
		switch {
		case err == nil:
			taken++
		case errors.As(err, &se) && se.Code/100 == 5:
			refused = err
		default:
			temporary = err
		}
	}
	switch {
	case temporary != nil:
		return temporary
	case taken == 0 && refused != nil:
		return refused
	}
	return nil
}

// attachmentIDs derives the ids of a message's files from the message, mailbox and place.
var attachmentIDs = uuid.MustParse("5b0e7c2a-93d4-4c1f-8a6e-2f1d0c9b7e55")

// attachmentID is the id of a message's i-th file in a mailbox: the same on every delivery.
func attachmentID(mailbox, messageID string, i int) string {
	return uuid.NewSHA1(attachmentIDs, []byte(mailbox+"\n"+messageID+"\n"+strconv.Itoa(i))).String()
}

// deliverTo makes the work order of one mailbox.
func (s *Server) deliverTo(ctx context.Context, rc recipient, msg *Message) error {
	mb := rc.mailbox
	log := s.log.With(zap.String("mailbox", mb.Key), zap.String("message_id", msg.ID), zap.String("from", msg.From.Address))
	if prev, err := s.cfg.Store.GetInboundMail(ctx, mb.Key, msg.ID); err == nil {
		log.Info("mail already taken", zap.String("order", prev.OrderID))
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		log.Error("mail not taken: store", zap.Error(err))
		return temporaryFailure()
	}
	route, err := mb.Route(process.MailEnv{From: msg.From.Address, FromName: msg.From.Name, To: rc.address,
		Subject: msg.Subject, Body: msg.Body, Attachments: len(msg.Attachments)})
	if err != nil {
		log.Error("mail not taken: the mailbox's rules failed; fix the definition", zap.Error(err))
		return temporaryFailure()
	}
	if route.Refused() {
		log.Info("mail refused by a mailbox rule", zap.Int("rule", route.Rule))
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "the service mailbox does not take this message"}
	}

	actor := "email:" + mb.Key
	orderID := intake.OrderID(actor, msg.ID)
	now := s.cfg.Now().UTC()
	files := make([]process.Attachment, 0, len(msg.Attachments))
	var dropped []string
	for i, a := range msg.Attachments {
		ctype := fileType(a.Data, a.ContentType)
		if !slices.Contains(AcceptedTypes, ctype) {
			dropped = append(dropped, fmt.Sprintf("%s (%s)", a.Name, ctype))
			continue
		}
		id := attachmentID(mb.Key, msg.ID, i)
		if _, err := s.cfg.Store.SaveAttachmentOnce(ctx, store.StoredFile{ID: id, RecordID: orderID, Name: a.Name,
			ContentType: ctype, CreatedBy: actor, Data: a.Data}); err != nil {
			log.Error("mail not taken: save attachment", zap.Error(err))
			return temporaryFailure()
		}
		files = append(files, process.Attachment{ID: id, Name: a.Name, ContentType: ctype, Size: int64(len(a.Data)), By: actor, At: now})
	}
	description := msg.Body
	if len(dropped) > 0 {
		description = strings.TrimSpace(description + "\n\n[Files not kept, of a type work orders do not take: " + strings.Join(dropped, ", ") + "]")
	}
	subject := msg.Subject
	if subject == "" {
		subject = "(no subject)"
	}
	wo, err := s.cfg.Intake.CreateWorkOrder(ctx, intake.Submission{Actor: actor, Key: msg.ID, Order: process.NewWorkOrder{
		RecordType: route.RecordType, Channel: process.ChannelEmail, Subject: subject, Description: description,
		Contact: process.Contact{Name: msg.From.Name, Email: msg.From.Address}, Attachments: files,
	}})
	if err != nil {
		var refusal *process.Error
		var dup *intake.ErrDuplicateRef
		if errors.As(err, &refusal) || errors.As(err, &dup) {
			// No order holds the files: remove them.
			for _, f := range files {
				_ = s.cfg.Store.DeleteAttachment(context.WithoutCancel(ctx), f.ID)
			}
			log.Info("mail refused", zap.String("record_type", route.RecordType), zap.Error(err))
			return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: shorten(err.Error())}
		}
		log.Error("mail not taken: create work order", zap.String("record_type", route.RecordType), zap.Error(err))
		return temporaryFailure()
	}
	if err := s.cfg.Store.RecordInboundMail(ctx, store.InboundMail{MessageID: msg.ID, Mailbox: mb.Key, OrderID: wo.ID,
		Sender: msg.From.Address, Subject: subject, ReceivedAt: now}); err != nil {
		// The order exists; a redelivery finds it again through its idempotency key.
		log.Warn("inbound mail not recorded", zap.String("order", wo.ID), zap.Error(err))
	}
	log.Info("work order created from mail", zap.String("order", wo.ID), zap.String("number", wo.Number),
		zap.String("record_type", wo.RecordType), zap.Int("attachments", len(files)), zap.Strings("files_not_kept", dropped))
	return nil
}

// AcceptedTypes are the file types work orders keep from mail: the same as the API takes in uploads.
var AcceptedTypes = []string{"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf", "text/plain",
	"text/csv", "application/zip", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

// fileType is a file's type as its content says (the sender's word is taken only where the content
// cannot tell), so a file is never served as something it is not.
func fileType(data []byte, declared string) string {
	ctype, _, _ := strings.Cut(http.DetectContentType(data), ";")
	if ctype == "application/octet-stream" || (ctype == "text/plain" && declared == "text/csv") {
		return declared
	}
	return ctype
}

func temporaryFailure() error {
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "the message could not be taken now; try again later"}
}

// shorten makes a reason fit one reply line.
func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > 200 {
		s = string([]rune(s)[:200]) + "…"
	}
	return s
}
