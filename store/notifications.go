package store

import (
	"context"
	"encoding/json"
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
	// Deliveries is how the message went out on each channel it was tried on.
	Deliveries map[string]ChannelDelivery `json:"deliveries,omitempty"`
	CreatedAt  time.Time                  `json:"createdAt"`
}

// ChannelDelivery is the outcome of a message on one channel (email, sms, wechat, qr).
type ChannelDelivery struct {
	// Sent: the channel delivered the message; a retried activity does not send on it again.
	Sent bool `json:"sent"`
	// Outcome says what happened, for the record's history: "sent to +4420…", "failed: 502 from
	// provider".
	Outcome string    `json:"outcome"`
	At      time.Time `json:"at"`
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
	return notificationFromRow(r)
}

// MarkNotificationSent records who a message was sent to.
func (s *Store) MarkNotificationSent(ctx context.Context, recordID, effectID string, to []string, at time.Time) error {
	if err := s.q.MarkNotificationSent(ctx, db.MarkNotificationSentParams{RecordID: recordID, EffectID: effectID, SentTo: nonNilStrings(to), SentAt: &at}); err != nil {
		return fmt.Errorf("store: mark notification %s of %s sent: %w", effectID, recordID, err)
	}
	return nil
}

// MarkNotificationChannel records how a message went out on one channel, keeping the other
// channels' outcomes.
func (s *Store) MarkNotificationChannel(ctx context.Context, recordID, effectID, channel string, d ChannelDelivery) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("store: mark notification %s of %s on %s: %w", effectID, recordID, channel, err)
	}
	if err := s.q.MarkNotificationChannel(ctx, db.MarkNotificationChannelParams{RecordID: recordID, EffectID: effectID, Channel: channel, Delivery: raw}); err != nil {
		return fmt.Errorf("store: mark notification %s of %s on %s: %w", effectID, recordID, channel, err)
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
		if out[i], err = notificationFromRow(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func notificationFromRow(r db.Notification) (Notification, error) {
	n := Notification{RecordID: r.RecordID, EffectID: r.EffectID, Template: r.Template, Recipients: r.Recipients,
		Channels: r.Channels, Subject: r.Subject, Body: r.Body, HTML: r.Html, SentTo: r.SentTo, SentAt: r.SentAt, CreatedAt: r.CreatedAt}
	if len(r.Deliveries) > 0 {
		if err := json.Unmarshal(r.Deliveries, &n.Deliveries); err != nil {
			return n, fmt.Errorf("store: notification %s of %s: read deliveries: %w", r.EffectID, r.RecordID, err)
		}
	}
	if len(n.Deliveries) == 0 {
		n.Deliveries = nil
	}
	return n, nil
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
