package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"

	"go.temporal.io/sdk/temporal"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
)

// MessageStore keeps rendered messages.
type MessageStore interface {
	SaveNotification(ctx context.Context, n store.Notification) error
}

// Messages renders notification templates for records and queues the messages for delivery.
type Messages struct {
	Store MessageStore
	// BaseURL is where links in messages point (the API's public address).
	BaseURL string
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
}

// Notify renders the message and stores it once per effect.
func (m *Messages) Notify(ctx context.Context, in NotifyInput) error {
	if in.Template == nil {
		return temporal.NewNonRetryableApplicationError("the definition has no such template", "MissingTemplate", nil)
	}
	data, err := messageData(in.Record, m.BaseURL)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), "BadRecord", nil)
	}
	subject, err := render(in.Template.Subject, data)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), "TemplateFailed", nil)
	}
	body, err := render(in.Template.Body, data)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), "TemplateFailed", nil)
	}
	return m.Store.SaveNotification(ctx, store.Notification{
		RecordID: in.RecordID, EffectID: in.EffectID, Template: in.Template.Key,
		Recipients: in.Recipients, Channels: in.Channels, Subject: subject, Body: body,
	})
}

// messageData reads the fields templates use from a record (a service request or a work order).
func messageData(record any, baseURL string) (process.MessageData, error) {
	raw, err := json.Marshal(record)
	if err != nil {
		return process.MessageData{}, err
	}
	var r struct {
		ID         string `json:"id"`
		Number     string `json:"number"`
		Subject    string `json:"subject"`
		Priority   string `json:"priority"`
		Stage      string `json:"stage"`
		RecordType string `json:"recordType"`
		Contact    struct {
			Name string `json:"name"`
		} `json:"contact"`
		SLA struct {
			DueAt string `json:"dueAt"`
		} `json:"sla"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return process.MessageData{}, err
	}
	path := "/v1/service-requests/"
	if r.RecordType != "" {
		path = "/v1/work-orders/"
	}
	return process.MessageData{
		Number: r.Number, Subject: r.Subject, Priority: r.Priority, Stage: r.Stage, ContactName: r.Contact.Name,
		DueAt: r.SLA.DueAt, URL: strings.TrimSuffix(baseURL, "/") + path + r.ID,
	}, nil
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
