package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/fieldflow/fieldflow/store"
)

// The channels a message goes out on.
const (
	ChannelEmail  = "email"
	ChannelSMS    = "sms"
	ChannelWeChat = "wechat"
	// ChannelQR sends nothing: the engineer shows the rating link's QR code on site. It counts as
	// delivered for a rating invitation, so with channel priority it stops the channels after it.
	ChannelQR = "qr"
)

// TextMessage is what an SMS or WeChat provider endpoint receives: the JSON body of a POST.
type TextMessage struct {
	// To is the contact's phone number. WeChat gateways find the account bound to it.
	To string `json:"to"`
	// Text is the rendered message body; Subject its subject line (a title for WeChat).
	Text    string `json:"text"`
	Subject string `json:"subject,omitempty"`
	// Link is the signed page the message brings the contact (a rating or approval link), for
	// providers that show it as a button.
	Link string `json:"link,omitempty"`
	// Reference is the same on every attempt at the message (effect id "." record id), so the
	// provider can drop a duplicate; it is repeated in the Idempotency-Key header.
	Reference string `json:"reference"`
}

// TextSender sends a text message through a provider (an SMS or WeChat gateway).
type TextSender interface {
	SendText(ctx context.Context, m TextMessage) error
}

// HTTPTextSender posts text messages as JSON to a provider's endpoint, with a bearer token when
// Token is set. Any 2xx answer means the provider took the message.
type HTTPTextSender struct {
	URL   string
	Token string
	// Client makes the requests; a client with a 20 s timeout when nil.
	Client *http.Client
}

// ProviderError is a provider's answer other than 2xx.
type ProviderError struct {
	Status int
	// Body is the start of the provider's answer, for the delivery log.
	Body string
}

func (e *ProviderError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("%d from provider", e.Status)
	}
	return fmt.Sprintf("%d from provider: %s", e.Status, e.Body)
}

// Temporary tells whether trying again later may help: server errors, timeouts, rate limits.
func (e *ProviderError) Temporary() bool {
	return e.Status >= 500 || e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests
}

// SendText posts m to the provider.
func (s HTTPTextSender) SendText(ctx context.Context, m TextMessage) error {
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("provider: encode message: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("provider: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", m.Reference)
	if s.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.Token)
	}
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 20 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("provider unreachable: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &ProviderError{Status: resp.StatusCode, Body: strings.Join(strings.Fields(string(answer)), " ")}
	}
	return nil
}

// outgoing is a stored message on its way out: where each channel sends it.
type outgoing struct {
	in     NotifyInput
	stored store.Notification
	// email are the recipients' addresses; phone is the contact's number (SMS and WeChat go to the
	// contact only); link is the signed page the message brings.
	email []string
	phone string
	link  string
}

// attempt is how one channel did.
type attempt struct {
	sent    bool
	to      []string
	outcome string
	// retry: a failure that may go away (a provider's 5xx, the network), not one of configuration.
	retry bool
}

func delivered(to ...string) attempt {
	return attempt{sent: true, to: to, outcome: "sent to " + strings.Join(to, ", ")}
}

func failed(retry bool, format string, args ...any) attempt {
	return attempt{outcome: "failed: " + fmt.Sprintf(format, args...), retry: retry}
}

// deliveryConfigured tells whether the worker sends messages at all; without any channel it
// keeps them in the delivery log only (development), and a message is not a failure.
func (m *Messages) deliveryConfigured() bool {
	return m.Mailer != nil || m.SMS != nil || m.WeChat != nil
}

// deliver sends a stored message on its channels: in order, stopping at the first that delivers it
// with Priority, else on every channel. Each channel's outcome is kept with the message, so a
// retried activity sends again on no channel that already delivered it. When no channel
// delivers, the error carries the outcomes (as its details) and is retried unless every failure
// is one of configuration.
func (m *Messages) deliver(ctx context.Context, out outgoing) (NotifyResult, error) {
	channels := out.in.Channels
	if len(channels) == 0 {
		channels = []string{ChannelEmail}
	}
	res := NotifyResult{Channels: map[string]string{}}
	var sent, retry bool
	for i, ch := range channels {
		if prev, ok := out.stored.Deliveries[ch]; ok && prev.Sent {
			res.Channels[ch] = prev.Outcome
			sent = true
			res.SentTo = appendNew(res.SentTo, m.destinations(ch, out)...)
		} else {
			a := m.send(ctx, ch, out)
			res.Channels[ch] = a.outcome
			sent, retry = sent || a.sent, retry || a.retry
			res.SentTo = appendNew(res.SentTo, a.to...)
			if m.deliveryConfigured() {
				d := store.ChannelDelivery{Sent: a.sent, Outcome: a.outcome, At: time.Now().UTC()}
				if err := m.Store.MarkNotificationChannel(ctx, out.in.RecordID, out.in.EffectID, ch, d); err != nil {
					return res, err
				}
			}
		}
		if sent && out.in.Priority {
			for _, rest := range channels[i+1:] {
				res.Channels[rest] = "not tried: " + ch + " delivered first"
			}
			break
		}
	}
	switch {
	case sent:
		if err := m.Store.MarkNotificationSent(ctx, out.in.RecordID, out.in.EffectID, res.SentTo, time.Now()); err != nil {
			return res, err
		}
	case !m.deliveryConfigured():
		// Kept in the delivery log only, as every message is on a worker that sends none.
	default:
		parts := make([]string, len(channels))
		for i, ch := range channels {
			parts[i] = ch + ": " + strings.TrimPrefix(res.Channels[ch], "failed: ")
		}
		return res, temporal.NewApplicationErrorWithOptions("no channel delivered the message ("+strings.Join(parts, "; ")+")", "NotDelivered",
			temporal.ApplicationErrorOptions{NonRetryable: !retry, Details: []any{res}})
	}
	return res, nil
}

// send sends the message on one channel.
func (m *Messages) send(ctx context.Context, ch string, out outgoing) attempt {
	if !m.deliveryConfigured() && ch != ChannelQR {
		return attempt{outcome: "kept in the delivery log: the worker has no email, SMS or WeChat delivery configured"}
	}
	switch ch {
	case ChannelEmail:
		switch {
		case m.Mailer == nil:
			return failed(false, "no mail server configured (FIELDFLOW_SMTP_ADDR)")
		case len(out.email) == 0:
			return failed(false, "no email address for %s", strings.Join(out.in.Recipients, ", "))
		}
		msg := buildMessage(m.From, out.email, out.stored.Subject, out.stored.Body, out.stored.HTML, out.in.EffectID+"."+out.in.RecordID+"@fieldflow", time.Now())
		if err := m.Mailer.Send(ctx, m.From, out.email, msg); err != nil {
			// An SMTP server's 5xx answer is final; its 4xx and a lost connection may pass.
			var reply *textproto.Error
			return failed(!errors.As(err, &reply) || reply.Code < 500, "%s", err.Error())
		}
		return delivered(out.email...)
	case ChannelSMS:
		return m.sendText(ctx, m.SMS, "no SMS provider configured (FIELDFLOW_SMS_URL)", out)
	case ChannelWeChat:
		return m.sendText(ctx, m.WeChat, "no WeChat provider configured (FIELDFLOW_WECHAT_URL)", out)
	case ChannelQR:
		if out.in.Invitation == "" {
			return failed(false, "a QR code is shown only for a rating invitation")
		}
		return attempt{sent: true, outcome: "shown on site: the engineer shows the rating QR code"}
	default:
		return failed(false, "unknown channel %q", ch)
	}
}

// sendText sends the message to the contact's phone through a provider.
func (m *Messages) sendText(ctx context.Context, p TextSender, unconfigured string, out outgoing) attempt {
	switch {
	case p == nil:
		return failed(false, "%s", unconfigured)
	case out.phone == "":
		return failed(false, "the contact has no phone number")
	}
	err := p.SendText(ctx, TextMessage{
		To: out.phone, Text: out.stored.Body, Subject: out.stored.Subject, Link: out.link,
		Reference: out.in.EffectID + "." + out.in.RecordID,
	})
	var refused *ProviderError
	switch {
	case errors.As(err, &refused):
		return failed(refused.Temporary(), "%s", refused.Error())
	case err != nil:
		return failed(true, "%s", err.Error())
	}
	return delivered(out.phone)
}

// destinations is where a channel sends the message (for one that delivered it on an earlier
// attempt).
func (m *Messages) destinations(ch string, out outgoing) []string {
	switch ch {
	case ChannelEmail:
		return out.email
	case ChannelSMS, ChannelWeChat:
		return []string{out.phone}
	}
	return nil
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		if it != "" && !slices.Contains(list, it) {
			list = append(list, it)
		}
	}
	return list
}
