package activities

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/fieldflow/fieldflow/internal/env"
	"github.com/fieldflow/fieldflow/process"
)

// Webhooks posts events to other systems.
type Webhooks struct {
	Client *http.Client
}

// WebhookInput is one webhook effect.
type WebhookInput struct {
	EffectID  string        `json:"effectId"`
	URL       string        `json:"url"`
	SecretEnv string        `json:"secretEnv,omitempty"`
	Event     process.Event `json:"event"`
	Record    any           `json:"record"`
}

// WebhookPayload is the JSON body of a webhook.
type WebhookPayload struct {
	DeliveryID string        `json:"deliveryId"`
	Event      process.Event `json:"event"`
	Record     any           `json:"record"`
}

// Header names of a webhook delivery.
const (
	// DeliveryHeader carries the delivery ID: the same on every retry, so receivers can deduplicate.
	DeliveryHeader = "X-Fieldflow-Delivery"
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body with the shared secret.
	SignatureHeader = "X-Fieldflow-Signature"
)

// WebhookResult is a delivery, for the record's history (the delivery log).
type WebhookResult struct {
	Status  int   `json:"status"`
	Attempt int32 `json:"attempt"`
}

// Deliver posts the payload. A 2xx answer delivers it; a 4xx (other than 408 and 429) fails it for
// good; anything else is retried by the activity's retry policy.
func (w *Webhooks) Deliver(ctx context.Context, in WebhookInput) (WebhookResult, error) {
	res, err := w.deliver(ctx, in)
	if activity.IsActivity(ctx) {
		res.Attempt = activity.GetInfo(ctx).Attempt
	}
	return res, err
}

func (w *Webhooks) deliver(ctx context.Context, in WebhookInput) (WebhookResult, error) {
	body, err := json.Marshal(WebhookPayload{DeliveryID: in.EffectID, Event: in.Event, Record: in.Record})
	if err != nil {
		return WebhookResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "BadPayload", nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.URL, bytes.NewReader(body))
	if err != nil {
		return WebhookResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("webhook URL %q: %v", in.URL, err), "BadURL", nil)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Fieldflow-Webhook/1")
	req.Header.Set(DeliveryHeader, in.EffectID)
	if in.SecretEnv != "" {
		secret, err := env.Get(in.SecretEnv)
		if err != nil {
			return WebhookResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "MissingSecret", nil)
		}
		if secret == "" {
			return WebhookResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("the webhook secret variable %s is not set on the worker", in.SecretEnv), "MissingSecret", nil)
		}
		req.Header.Set(SignatureHeader, Sign([]byte(secret), body))
	}
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 20 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return WebhookResult{}, fmt.Errorf("webhook %s: %w", in.URL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	res := WebhookResult{Status: resp.StatusCode}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return res, nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests:
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("webhook %s answered %s", in.URL, resp.Status), "WebhookRefused", nil)
	default:
		return res, fmt.Errorf("webhook %s answered %s", in.URL, resp.Status)
	}
}

// Sign is the value of the signature header for body.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
