package store

import (
	"context"
	"fmt"
	"time"

	"github.com/fieldflow/fieldflow/store/internal/db"
)

// Notification is a rendered message and its delivery.
type Notification struct {
	RecordID   string     `json:"recordId"`
	EffectID   string     `json:"effectId"`
	Template   string     `json:"template"`
	Recipients []string   `json:"recipients"`
	Channels   []string   `json:"channels"`
	Subject    string     `json:"subject"`
	Body       string     `json:"body"`
	HTML       string     `json:"html,omitempty"`
	SentTo     []string   `json:"sentTo,omitempty"`
	SentAt     *time.Time `json:"sentAt,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
}

// SaveNotification stores a rendered message once per effect and returns what is stored: a retried
// activity finds the message (and whether it was sent) as the first attempt left it.
func (s *Store) SaveNotification(ctx context.Context, n Notification) (Notification, error) {
	if err := s.q.SaveNotification(ctx, db.SaveNotificationParams{
		RecordID: n.RecordID, EffectID: n.EffectID, Template: n.Template, Recipients: nonNilStrings(n.Recipients),
		Channels: nonNilStrings(n.Channels), Subject: n.Subject, Body: n.Body, Html: n.HTML,
	}); err != nil {
		return n, fmt.Errorf("store: save notification %s of %s: %w", n.EffectID, n.RecordID, err)
	}
	r, err := s.q.GetNotification(ctx, db.GetNotificationParams{RecordID: n.RecordID, EffectID: n.EffectID})
	if err != nil {
		return n, fmt.Errorf("store: read notification %s of %s: %w", n.EffectID, n.RecordID, err)
	}
	return notificationFromRow(r), nil
}

// MarkNotificationSent records who a message was sent to.
func (s *Store) MarkNotificationSent(ctx context.Context, recordID, effectID string, to []string, at time.Time) error {
	if err := s.q.MarkNotificationSent(ctx, db.MarkNotificationSentParams{RecordID: recordID, EffectID: effectID, SentTo: nonNilStrings(to), SentAt: &at}); err != nil {
		return fmt.Errorf("store: mark notification %s of %s sent: %w", effectID, recordID, err)
	}
	return nil
}

// ListNotifications lists the messages of a record, oldest first.
func (s *Store) ListNotifications(ctx context.Context, recordID string) ([]Notification, error) {
	if !isUUID(recordID) {
		return nil, ErrNotFound
	}
	rows, err := s.q.ListNotifications(ctx, recordID)
	if err != nil {
		return nil, fmt.Errorf("store: list notifications of %s: %w", recordID, err)
	}
	out := make([]Notification, len(rows))
	for i, r := range rows {
		out[i] = notificationFromRow(r)
	}
	return out, nil
}

func notificationFromRow(r db.Notification) Notification {
	return Notification{RecordID: r.RecordID, EffectID: r.EffectID, Template: r.Template, Recipients: r.Recipients,
		Channels: r.Channels, Subject: r.Subject, Body: r.Body, HTML: r.Html, SentTo: r.SentTo, SentAt: r.SentAt, CreatedAt: r.CreatedAt}
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
