package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/template"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/fieldflow/fieldflow/printout"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
)

// MessageStore keeps rendered messages and their delivery.
type MessageStore interface {
	SaveNotification(ctx context.Context, n store.Notification) (store.Notification, error)
	MarkNotificationSent(ctx context.Context, recordID, effectID string, to []string, at time.Time) error
	MarkNotificationChannel(ctx context.Context, recordID, effectID, channel string, d store.ChannelDelivery) error
}

// Messages renders notifications for records, keeps them (the delivery log) and sends them on
// their channels: email through the mailer, SMS and WeChat through providers, and the QR code the
// engineer shows on site for a rating invitation. A worker with none of them configured keeps the
// messages in the log only.
type Messages struct {
	Store MessageStore
	// BaseURL is where links in messages point (the API's public address).
	BaseURL string
	// Mailer sends email; nil keeps messages in the log only.
	Mailer Mailer
	// From is the sender address of email.
	From string
	// SMS and WeChat send text messages to the contact's phone through providers; nil: the
	// channel fails (unless nothing at all is configured).
	SMS    TextSender
	WeChat TextSender
	// StaffDomain, when set, gives staff an address: user NAME is NAME@StaffDomain.
	StaffDomain string
	// Links signs the links contacts answer approvals through; without it, asking a contact for an
	// approval fails (the run records the failed delivery).
	Links ApprovalLinker
}

// ApprovalLinker signs a contact's approval and rating links (auth.Keys does).
type ApprovalLinker interface {
	ApprovalURL(baseURL, recordID, approvalID string, now time.Time) (string, time.Time, error)
	RatingURL(baseURL, orderID, invitation string, now time.Time, expires *time.Time) (string, time.Time, error)
}

// approvalMessage is what a contact receives for an approval when the definition names no template.
var approvalMessage = process.Template{
	Header:  process.Header{Key: "approval-link"},
	Subject: "Your approval is needed: {{.Number}} {{.Subject}}",
	Body: `Hello {{.ContactName}},

your request {{.Number}} ({{.Subject}}) needs your approval before we go on.
Approve or reject it here, no login needed:
{{.ApprovalURL}}

The link works until {{.ApprovalExpires}}.
`,
}

// NotifyInput is one notify effect: the template (pinned with the definition), who gets it, and the
// record it is about.
type NotifyInput struct {
	RecordID   string            `json:"recordId"`
	EffectID   string            `json:"effectId"`
	Template   *process.Template `json:"template"`
	Recipients []string          `json:"recipients"`
	Channels   []string          `json:"channels,omitempty"`
	Priority   bool              `json:"priority,omitempty"`
	Record     any               `json:"record"`
	// Print sends the record's printout (HTML) instead of a template; Title names its queue.
	Print bool   `json:"print,omitempty"`
	Title string `json:"title,omitempty"`
	// Approval is the approval whose signed link the message brings the contact.
	Approval string `json:"approval,omitempty"`
	// Invitation is the rating invitation whose signed link (RatingURL) the message brings the
	// contact; the link works until InvitationExpires (a default span when nil).
	Invitation        string     `json:"invitation,omitempty"`
	InvitationExpires *time.Time `json:"invitationExpires,omitempty"`
}

// NotifyResult tells where the message went, for the record's history.
type NotifyResult struct {
	SentTo []string `json:"sentTo,omitempty"`
	// Channels is the outcome on each channel: "sent to ada@example.com", "failed: 502 from
	// provider", "not tried: email delivered first".
	Channels map[string]string `json:"channels,omitempty"`
}

// Notify renders the message, keeps it once per effect and sends it on its channels (see
// deliver): with Priority in order until one delivers it, else on all. A message already sent (a
// retried activity) is not sent again, and a retry sends on no channel that already delivered it.
// When no channel delivers it, the error's details hold the NotifyResult.
func (m *Messages) Notify(ctx context.Context, in NotifyInput) (NotifyResult, error) {
	data, phone, err := messageData(in.Record, m.BaseURL)
	if err != nil {
		return NotifyResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "BadRecord", nil)
	}
	n := store.Notification{RecordID: in.RecordID, EffectID: in.EffectID, Recipients: in.Recipients, Channels: in.Channels}
	if in.Approval != "" {
		if m.Links == nil {
			return NotifyResult{}, temporal.NewNonRetryableApplicationError("no key to sign approval links: set FIELDFLOW_JWT_SECRET for the worker", "NoLinkKey", nil)
		}
		url, expires, err := m.Links.ApprovalURL(m.BaseURL, in.RecordID, in.Approval, time.Now())
		if err != nil {
			return NotifyResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "NoLinkKey", nil)
		}
		data.ApprovalURL, data.ApprovalExpires = url, expires.Format("2 January 2006 15:04 MST")
		if in.Template == nil {
			in.Template = &approvalMessage
		}
	}
	if in.Invitation != "" {
		if m.Links == nil {
			return NotifyResult{}, temporal.NewNonRetryableApplicationError("no key to sign rating links: set FIELDFLOW_JWT_SECRET for the worker", "NoLinkKey", nil)
		}
		url, expires, err := m.Links.RatingURL(m.BaseURL, in.RecordID, in.Invitation, time.Now(), in.InvitationExpires)
		if err != nil {
			return NotifyResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "NoLinkKey", nil)
		}
		data.RatingURL, data.RatingExpires = url, expires.Format("2 January 2006 15:04 MST")
	}
	switch {
	case in.Print:
		var sr process.ServiceRequest
		raw, _ := json.Marshal(in.Record)
		if err := json.Unmarshal(raw, &sr); err != nil {
			return NotifyResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "BadRecord", nil)
		}
		n.Template = "printout"
		n.Subject = "Your request " + sr.Number + ": " + sr.Subject
		n.Body = fmt.Sprintf("Your request %s (%s) is in stage %s. The details are attached as a page.\n%s\n", sr.Number, sr.Subject, sr.Stage, data.URL)
		if n.HTML, err = printout.Render(sr, in.Title); err != nil {
			return NotifyResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "TemplateFailed", nil)
		}
	case in.Template == nil:
		return NotifyResult{}, temporal.NewNonRetryableApplicationError("the definition has no such template", "MissingTemplate", nil)
	default:
		n.Template = in.Template.Key
		if n.Subject, err = render(in.Template.Subject, data); err != nil {
			return NotifyResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "TemplateFailed", nil)
		}
		if n.Body, err = render(in.Template.Body, data); err != nil {
			return NotifyResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "TemplateFailed", nil)
		}
	}
	stored, err := m.Store.SaveNotification(ctx, n)
	if err != nil {
		return NotifyResult{}, err
	}
	if stored.SentAt != nil {
		res := NotifyResult{SentTo: stored.SentTo}
		for ch, d := range stored.Deliveries {
			if res.Channels == nil {
				res.Channels = map[string]string{}
			}
			res.Channels[ch] = d.Outcome
		}
		return res, nil
	}
	link := data.RatingURL
	if link == "" {
		link = data.ApprovalURL
	}
	return m.deliver(ctx, outgoing{in: in, stored: stored, email: m.addresses(in.Recipients, data), phone: phone, link: link})
}

// addresses finds email addresses for recipients: the contact's, and staff's when StaffDomain is
// set. Teams, groups and roles have no address of their own and are left to the to-do center.
func (m *Messages) addresses(recipients []string, data process.MessageData) []string {
	var to []string
	add := func(a string) {
		if a != "" && !slices.Contains(to, a) {
			to = append(to, a)
		}
	}
	for _, r := range recipients {
		word, name, _ := strings.Cut(r, ":")
		switch {
		case r == "contact":
			add(data.ContactEmail)
		case (r == "owner" || r == "assignee" || r == "engineer") && m.StaffDomain != "":
			if data.Owner != "" {
				add(data.Owner + "@" + m.StaffDomain)
			}
		case word == "user" && name != "" && m.StaffDomain != "":
			add(name + "@" + m.StaffDomain)
		}
	}
	return to
}

// messageData reads the fields templates use from a record (a service request or a work order),
// and the contact's phone number.
func messageData(record any, baseURL string) (process.MessageData, string, error) {
	raw, err := json.Marshal(record)
	if err != nil {
		return process.MessageData{}, "", err
	}
	var r struct {
		ID         string `json:"id"`
		Number     string `json:"number"`
		Subject    string `json:"subject"`
		Priority   string `json:"priority"`
		Stage      string `json:"stage"`
		RecordType string `json:"recordType"`
		Owner      string `json:"owner"`
		Engineer   string `json:"engineer"`
		Contact    struct {
			Name  string `json:"name"`
			Email string `json:"email"`
			Phone string `json:"phone"`
		} `json:"contact"`
		SLA struct {
			DueAt string `json:"dueAt"`
		} `json:"sla"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return process.MessageData{}, "", err
	}
	path := "/v1/service-requests/"
	if r.RecordType != "" {
		path = "/v1/work-orders/"
	}
	owner := r.Owner
	if r.Engineer != "" {
		owner = r.Engineer
	}
	return process.MessageData{
		Number: r.Number, Subject: r.Subject, Priority: r.Priority, Stage: r.Stage, ContactName: r.Contact.Name,
		DueAt: r.SLA.DueAt, URL: strings.TrimSuffix(baseURL, "/") + path + r.ID,
		ContactEmail: r.Contact.Email, Owner: owner,
	}, strings.TrimSpace(r.Contact.Phone), nil
}

func render(text string, data process.MessageData) (string, error) {
	t, err := template.New("message").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	return b.String(), nil
}
