package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Action is one POST of the load as the driver logged it.
type Action struct {
	Run  string // the run's label (sr-12, wo-3)
	Step int
	Name string // create, charge, note, progress, close, assign, accept, step, attach, rate
	// Events are the event types the action should leave in the record's history, by its actor.
	Events []string
	Key    string // Idempotency-Key
	Path   string
	Status int // the last status received (0: no answer)
	// Acked is true when a 2xx answer came back: the action was acknowledged.
	Acked    bool
	Attempts int
	Replayed bool // the acknowledgement was a replay of a stored answer
	Err      string
	// FirstErr is the first failed attempt's error; Took is from the first attempt to the answer.
	FirstErr string
	Took     time.Duration
}

// Trace is one record driven through its script.
type Trace struct {
	Label   string
	Kind    string // "service-request" or "work-order"
	Script  string // billing-resolved, billing-unresolved, installation
	ID      string
	Number  string
	Contact string // the contact's email, unique per run
	Actions []*Action
	// Done is true when every action of the script was acknowledged.
	Done bool
	// Failed says why the script stopped early.
	Failed string

	charges     int
	chargeTotal float64
	notes       int
	labor       int
	attachments int
}

// Resolved says whether the script closes the record resolved (with an invoice for its charges).
func (r *Trace) Resolved() bool { return r.Script != "billing-unresolved" }

// client sends the load's requests to the API.
type client struct {
	base   string
	tokens map[string]string // by user
	http   *http.Client
	// patience is how long one action keeps retrying with its key.
	patience time.Duration
}

type answer struct {
	status   int
	body     map[string]any
	replayed bool
}

// send makes one attempt.
func (c *client) send(ctx context.Context, user, method, path, contentType string, body []byte, key string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+c.tokens[user])
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{status: resp.StatusCode}, err
	}
	a := answer{status: resp.StatusCode, replayed: resp.Header.Get("Idempotent-Replayed") == "true"}
	if len(raw) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		_ = json.Unmarshal(raw, &a.body)
	}
	if a.body == nil {
		a.body = map[string]any{"raw": string(raw)}
	}
	return a, nil
}

// get reads a resource, retrying through outages.
func (c *client) get(ctx context.Context, user, path string) (map[string]any, error) {
	deadline := time.Now().Add(c.patience)
	for {
		a, err := c.send(ctx, user, http.MethodGet, path, "", nil, "")
		if err == nil && a.status == http.StatusOK {
			return a.body, nil
		}
		if err == nil && a.status < 500 && a.status != http.StatusTooManyRequests {
			return nil, fmt.Errorf("GET %s: %d %v", path, a.status, a.body)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("GET %s: %v (status %d)", path, err, a.status)
		}
		if a.status == http.StatusTooManyRequests {
			sleep(ctx, time.Second) // the API's rate per token; it says Retry-After: 1
			continue
		}
		sleep(ctx, 300*time.Millisecond)
	}
}

// retryable tells whether an answer leaves the action undecided, so the same key is sent again:
// no answer, a server error, or a 409 saying the first request with this key still runs.
func retryable(a answer, err error) bool {
	if err != nil || a.status == 0 || a.status >= 500 || a.status == http.StatusTooManyRequests {
		return true
	}
	if a.status == http.StatusConflict {
		t, _ := a.body["type"].(string)
		return strings.Contains(t, "idempotency-key-in-use")
	}
	return false
}

// do performs act, retrying with the same Idempotency-Key until an answer decides it or patience
// runs out; extra409 retries a 409 "not allowed now" for a while too (an offer not made yet).
func (c *client) do(ctx context.Context, act *Action, user, contentType string, body []byte, extra409 time.Duration) (map[string]any, error) {
	start := time.Now()
	defer func() { act.Took = time.Since(start) }()
	for {
		act.Attempts++
		a, err := c.send(ctx, user, http.MethodPost, act.Path, contentType, body, act.Key)
		act.Status = a.status
		if err == nil && a.status >= 200 && a.status < 300 {
			act.Acked, act.Replayed, act.Err = true, a.replayed, ""
			return a.body, nil
		}
		if err != nil {
			act.Err = err.Error()
		} else {
			act.Err = fmt.Sprintf("%d %v", a.status, a.body)
		}
		if act.FirstErr == "" {
			act.FirstErr = act.Err
		}
		again := retryable(a, err) || (a.status == http.StatusConflict && time.Since(start) < extra409)
		if !again || time.Since(start) > c.patience || ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %s", act.Name, act.Path, act.Err)
		}
		sleep(ctx, 250*time.Millisecond)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// driver runs scripts and keeps the log of every action.
type driver struct {
	c    *client
	mu   sync.Mutex
	runs []*Trace
	seq  map[string]int
	// prefix makes keys and contacts unique to this soak.
	prefix string
}

func (d *driver) newRun(kind, script string) *Trace {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq[kind]++
	short := map[string]string{"service-request": "sr", "work-order": "wo"}[kind]
	r := &Trace{Label: fmt.Sprintf("%s-%d", short, d.seq[kind]), Kind: kind, Script: script}
	r.Contact = fmt.Sprintf("%s-%s@soak.example.com", d.prefix, r.Label)
	d.runs = append(d.runs, r)
	return r
}

// Runs are the runs so far.
func (d *driver) Runs() []*Trace {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*Trace(nil), d.runs...)
}

// act logs and performs one action of run r.
func (d *driver) act(ctx context.Context, r *Trace, name, user, path string, body any, events []string, extra409 time.Duration) (map[string]any, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	return d.actRaw(ctx, r, name, user, path, "application/json", raw, events, extra409)
}

func (d *driver) actRaw(ctx context.Context, r *Trace, name, user, path, contentType string, raw []byte, events []string, extra409 time.Duration) (map[string]any, error) {
	act := &Action{Run: r.Label, Step: len(r.Actions) + 1, Name: name, Events: events, Path: path}
	act.Key = fmt.Sprintf("%s-%s-%d", d.prefix, r.Label, act.Step)
	if raw == nil {
		contentType = ""
	}
	d.mu.Lock()
	r.Actions = append(r.Actions, act)
	d.mu.Unlock()
	return d.c.do(ctx, act, user, contentType, raw, extra409)
}

// runScript drives r from creation to its end.
func (d *driver) runScript(ctx context.Context, r *Trace) {
	var err error
	switch r.Kind {
	case "service-request":
		err = d.serviceRequest(ctx, r)
	default:
		err = d.workOrder(ctx, r)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		r.Failed = err.Error()
		return
	}
	r.Done = true
}

// create creates the trace's record and notes its id and number.
func (d *driver) create(ctx context.Context, r *Trace, actor, path string, body map[string]any) error {
	rec, err := d.act(ctx, r, "create", actor, path, body, []string{"created"}, 0)
	if err != nil {
		return err
	}
	r.ID, _ = rec["id"].(string)
	r.Number, _ = rec["number"].(string)
	return nil
}

// serviceRequest: a billing request created, charged, noted, moved through its stages and closed
// (resolved: one invoice and one email; unresolved: no invoice, one email).
func (d *driver) serviceRequest(ctx context.Context, r *Trace) error {
	if err := d.create(ctx, r, "alice", "/v1/service-requests", map[string]any{
		"queue": "billing", "subject": "Soak " + r.Label, "description": "crash test load",
		"contact": map[string]any{"name": "Soak " + r.Label, "email": r.Contact},
	}); err != nil {
		return err
	}
	base := "/v1/service-requests/" + r.ID
	for i := range 2 {
		price := float64(10*(i+1)) + 0.5
		if _, err := d.act(ctx, r, "charge", "alice", base+"/charges", map[string]any{
			"kind": "service", "description": fmt.Sprintf("work %d", i+1), "quantity": 1, "unitPrice": price,
		}, []string{"charge_added"}, 0); err != nil {
			return err
		}
		r.charges++
		r.chargeTotal += price
	}
	if _, err := d.act(ctx, r, "note", "alice", base+"/notes", map[string]any{"text": "called the contact"}, []string{"note_added"}, 0); err != nil {
		return err
	}
	r.notes++
	for range 3 { // new -> investigation -> proposal -> response
		if _, err := d.act(ctx, r, "progress", "alice", base+"/progress", nil, []string{"stage_changed"}, 0); err != nil {
			return err
		}
	}
	_, err := d.act(ctx, r, "close", "alice", base+"/close", map[string]any{"resolved": r.Resolved(), "resolution": "done by the soak"}, []string{"closed"}, 0)
	return err
}

// workOrder: an installation assigned to eve, accepted, its checklist worked through with a
// photo, the rating invitation mailed, and the customer's rating recorded, which closes it.
func (d *driver) workOrder(ctx context.Context, r *Trace) error {
	if err := d.create(ctx, r, "dan", "/v1/work-orders", map[string]any{
		"recordType": "installation", "subject": "Soak " + r.Label,
		"contact": map[string]any{"name": "Soak " + r.Label, "email": r.Contact},
	}); err != nil {
		return err
	}
	base := "/v1/work-orders/" + r.ID
	if _, err := d.act(ctx, r, "assign", "dan", base+"/assign", map[string]any{"group": "installers", "engineer": "eve"}, []string{"assigned"}, 0); err != nil {
		return err
	}
	if _, err := d.act(ctx, r, "accept", "eve", base+"/accept", nil, []string{"accepted"}, 30*time.Second); err != nil {
		return err
	}
	for _, step := range []string{"site-survey", "mount", "test"} {
		if _, err := d.act(ctx, r, "step", "eve", base+"/steps/"+step+"/complete", map[string]any{"laborMinutes": 7}, []string{"step_completed"}, 30*time.Second); err != nil {
			return err
		}
		r.labor += 7
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.SetBoundary("soak-" + strconv.Itoa(len(r.Actions)) + "-" + r.Label)
	_ = mw.WriteField("step", "handover")
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="warranty.txt"`)
	h.Set("Content-Type", "text/plain")
	fw, _ := mw.CreatePart(h)
	_, _ = fw.Write([]byte("warranty card of " + r.Label))
	_ = mw.Close()
	if _, err := d.actRaw(ctx, r, "attach", "eve", base+"/attachments", mw.FormDataContentType(), buf.Bytes(), []string{"attachment_added"}, 0); err != nil {
		return err
	}
	r.attachments++
	if _, err := d.act(ctx, r, "step", "eve", base+"/steps/handover/complete", nil, []string{"step_completed"}, 30*time.Second); err != nil {
		return err
	}
	// The customer is rated after the invitation went out, as on site.
	if err := d.waitForEvent(ctx, "dan", base+"/events", "notification_sent", 2*d.c.patience); err != nil {
		return err
	}
	_, err := d.act(ctx, r, "rate", "dan", base+"/ratings", map[string]any{"score": 9, "comment": "soak"}, []string{"rated", "closed"}, 30*time.Second)
	return err
}

// waitForEvent polls a history until an event of the type is there.
func (d *driver) waitForEvent(ctx context.Context, user, path, typ string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		body, err := d.c.get(ctx, user, path)
		if err == nil && slicesContains(eventTypes(body, false), typ) {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return errors.Join(fmt.Errorf("no %s event in %s within %s", typ, path, within), err)
		}
		sleep(ctx, 300*time.Millisecond)
	}
}

// eventTypes lists the types of a history's events; byPeople keeps only those with a person as
// actor (the system's own events — invoices, notifications, node changes — are left out).
func eventTypes(body map[string]any, byPeople bool) []string {
	items, _ := body["items"].([]any)
	var out []string
	for _, it := range items {
		e, _ := it.(map[string]any)
		if byPeople && e["actor"] == "system" {
			continue
		}
		t, _ := e["type"].(string)
		out = append(out, t)
	}
	return out
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
