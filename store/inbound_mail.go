package store

import (
	"context"
	"fmt"
	"time"

	"github.com/fieldflow/fieldflow/store/internal/db"
)

// InboundMail is a message a service mailbox turned into a work order.
type InboundMail struct {
	MessageID  string    `json:"messageId"`
	Mailbox    string    `json:"mailbox"`
	OrderID    string    `json:"orderId"`
	Sender     string    `json:"sender"`
	Subject    string    `json:"subject"`
	ReceivedAt time.Time `json:"receivedAt"`
}

// GetInboundMail reads what a mailbox made of a message; ErrNotFound when it has not taken it yet.
func (s *Store) GetInboundMail(ctx context.Context, mailbox, messageID string) (InboundMail, error) {
	r, err := s.q.GetInboundMail(ctx, db.GetInboundMailParams{MessageID: messageID, Mailbox: mailbox})
	if err != nil {
		return InboundMail{}, fmt.Errorf("store: inbound mail %q of %s: %w", messageID, mailbox, interpret(err))
	}
	return inboundMail(r), nil
}

// RecordInboundMail keeps a message a mailbox took. Recording the same message and mailbox again
// keeps the first record.
func (s *Store) RecordInboundMail(ctx context.Context, m InboundMail) error {
	if m.ReceivedAt.IsZero() {
		m.ReceivedAt = time.Now()
	}
	if err := s.q.RecordInboundMail(ctx, db.RecordInboundMailParams{MessageID: m.MessageID, Mailbox: m.Mailbox,
		OrderID: m.OrderID, Sender: m.Sender, Subject: m.Subject, ReceivedAt: m.ReceivedAt}); err != nil {
		return fmt.Errorf("store: record inbound mail %q of %s: %w", m.MessageID, m.Mailbox, err)
	}
	return nil
}

// ListInboundMailOfOrder lists the messages that made or fed a work order, oldest first.
func (s *Store) ListInboundMailOfOrder(ctx context.Context, orderID string) ([]InboundMail, error) {
	if !isUUID(orderID) {
		return nil, nil
	}
	rows, err := s.q.ListInboundMailOfOrder(ctx, orderID)
	if err != nil {
		return nil, fmt.Errorf("store: inbound mail of %s: %w", orderID, err)
	}
	out := make([]InboundMail, len(rows))
	for i, r := range rows {
		out[i] = inboundMail(r)
	}
	return out, nil
}

// SaveAttachmentOnce keeps a file whose id is derived from where it came from (a message and the
// file's place in it). Saving it again keeps the first copy and reports false; SaveAttachment
// instead fails on an id it has.
func (s *Store) SaveAttachmentOnce(ctx context.Context, f StoredFile) (bool, error) {
	n, err := s.q.SaveAttachmentOnce(ctx, db.SaveAttachmentOnceParams{ID: f.ID, RecordID: f.RecordID, Name: f.Name,
		ContentType: f.ContentType, Size: int64(len(f.Data)), Data: f.Data, CreatedBy: f.CreatedBy})
	if err != nil {
		return false, fmt.Errorf("store: save attachment %s of %s: %w", f.ID, f.RecordID, err)
	}
	return n == 1, nil
}

func inboundMail(r db.InboundMail) InboundMail {
	return InboundMail{MessageID: r.MessageID, Mailbox: r.Mailbox, OrderID: r.OrderID, Sender: r.Sender,
		Subject: r.Subject, ReceivedAt: r.ReceivedAt}
}
