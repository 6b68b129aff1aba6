package store

import (
	"context"
	"fmt"
	"time"

	"github.com/fieldflow/fieldflow/store/internal/db"
)

// Notification is a rendered message waiting for (or past) delivery.
type Notification struct {
	RecordID   string    `json:"recordId"`
	EffectID   string    `json:"effectId"`
	Template   string    `json:"template"`
	Recipients []string  `json:"recipients"`
	Channels   []string  `json:"channels"`
	Subject    string    `json:"subject"`
	Body       string    `json:"body"`
	CreatedAt  time.Time `json:"createdAt"`
}

// SaveNotification stores a rendered message once per effect: a retried activity adds nothing.
func (s *Store) SaveNotification(ctx context.Context, n Notification) error {
	if err := s.q.SaveNotification(ctx, db.SaveNotificationParams{
		RecordID: n.RecordID, EffectID: n.EffectID, Template: n.Template, Recipients: nonNilStrings(n.Recipients),
		Channels: nonNilStrings(n.Channels), Subject: n.Subject, Body: n.Body,
	}); err != nil {
		return fmt.Errorf("store: save notification %s of %s: %w", n.EffectID, n.RecordID, err)
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
		out[i] = Notification{RecordID: r.RecordID, EffectID: r.EffectID, Template: r.Template, Recipients: r.Recipients,
			Channels: r.Channels, Subject: r.Subject, Body: r.Body, CreatedAt: r.CreatedAt}
	}
	return out, nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
