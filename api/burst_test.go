package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/fieldflow/fieldflow/api"
	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store/storetest"
	"github.com/fieldflow/fieldflow/workflows"
)

// fakeRuns stands in for Temporal where a test needs a run to take an action: it starts work
// orders (a start with an id already started answers the first order, as a workflow id does),
// keeps the signals sent, and takes work-order actions through act.
type fakeRuns struct {
	mu      sync.Mutex
	started map[string]process.WorkOrder
	starts  int
	signals []process.Action
	acts    int
	act     func(id string, a process.Action) (process.WorkOrder, error)
}

func (r *fakeRuns) StartServiceRequest(context.Context, *process.Queue, process.NewServiceRequest, string, process.ServiceRequest) (process.ServiceRequest, error) {
	return process.ServiceRequest{}, workflows.ErrUnavailable
}

func (r *fakeRuns) ActOnServiceRequest(context.Context, string, process.Action, string) (process.ServiceRequest, error) {
	return process.ServiceRequest{}, workflows.ErrUnavailable
}

func (r *fakeRuns) MigrateServiceRequest(context.Context, string, *process.Queue, map[string]string, string, string) (process.ServiceRequest, error) {
	return process.ServiceRequest{}, workflows.ErrUnavailable
}

func (r *fakeRuns) SignalServiceRequest(_ context.Context, _ string, a process.Action) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.signals = append(r.signals, a)
	return nil
}

func (r *fakeRuns) ActOnWorkOrder(_ context.Context, id string, a process.Action, _ string) (process.WorkOrder, error) {
	r.mu.Lock()
	r.acts++
	act := r.act
	r.mu.Unlock()
	if act == nil {
		return process.WorkOrder{}, workflows.ErrUnavailable
	}
	return act(id, a)
}

func (r *fakeRuns) CheckHealth(context.Context) error { return nil }

func (r *fakeRuns) StartWorkOrder(_ context.Context, _ *process.WorkOrderType, in process.NewWorkOrder, _ string, preview process.WorkOrder) (process.WorkOrder, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts++
	if wo, ok := r.started[in.ID]; ok {
		return wo, nil
	}
	r.started[in.ID] = preview
	return preview, nil
}

// fakeMailer counts the messages sent.
type fakeMailer struct {
	mu   sync.Mutex
	sent []string
}

func (m *fakeMailer) Send(_ context.Context, _ string, to []string, _ []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, to...)
	return nil
}

func (m *fakeMailer) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sent)
}

// burstFixture is the API over a real store with fake runs and a fake mailer; mod adjusts its
// configuration.
type burstFixture struct {
	portalFixture
	runs *fakeRuns
	mail *fakeMailer
}

func newBurstFixture(t *testing.T, mod func(*api.Config)) burstFixture {
	t.Helper()
	keys, err := auth.NewKeys([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	st := storetest.New(t)
	registry, err := api.NewRegistry(context.Background(), "../definitions", st, zaptest.NewLogger(t))
	require.NoError(t, err)
	runs := &fakeRuns{started: map[string]process.WorkOrder{}}
	mail := &fakeMailer{}
	cfg := api.Config{Logger: zaptest.NewLogger(t), Keys: keys, Workflows: runs, Store: st, Registry: registry,
		ActionTimeout: 2 * time.Second, Mailer: mail, TokenRate: -1}
	if mod != nil {
		mod(&cfg)
	}
	server := httptest.NewServer(api.New(cfg))
	t.Cleanup(server.Close)
	return burstFixture{portalFixture{&fixture{t: t, server: server, keys: keys, store: st}}, runs, mail}
}

// burstAnswer is one answer of a burst.
type burstAnswer struct {
	status int
	header http.Header
	body   string
}

// burst sends n requests, conc at a time; req makes the i-th.
func burst(t *testing.T, n, conc int, req func(i int) *http.Request) []burstAnswer {
	t.Helper()
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conc},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(hc.CloseIdleConnections)
	out := make([]burstAnswer, n)
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				resp, err := hc.Do(req(i))
				if err != nil {
					errs[i] = err
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				out[i], errs[i] = burstAnswer{status: resp.StatusCode, header: resp.Header, body: string(b)}, err
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	return out
}

// requireLimited checks a burst's answers: each the normal answer or 429 with Retry-After (and
// the problem document when problem is set), no server error, and at least one 429.
func requireLimited(t *testing.T, name string, answers []burstAnswer, normal int, problem bool) {
	t.Helper()
	limited := 0
	for i, a := range answers {
		require.Less(t, a.status, 500, "%s #%d: %s", name, i, a.body)
		if a.status != http.StatusTooManyRequests {
			require.Equal(t, normal, a.status, "%s #%d: %s", name, i, a.body)
			continue
		}
		limited++
		require.Regexp(t, `^[1-9][0-9]*$`, a.header.Get("Retry-After"), "%s #%d", name, i)
		if problem {
			require.Equal(t, "application/problem+json", a.header.Get("Content-Type"), "%s #%d", name, i)
			var p map[string]any
			require.NoError(t, json.Unmarshal([]byte(a.body), &p))
			require.Equal(t, "/problems/rate-limited", p["type"])
			require.EqualValues(t, 429, p["status"])
		} else {
			require.Equal(t, "text/html; charset=utf-8", a.header.Get("Content-Type"), "%s #%d", name, i)
		}
	}
	require.Positive(t, limited, "%s: a burst of %d from one address is limited", name, len(answers))
	require.Positive(t, len(answers)-limited, "%s: the first requests pass", name)
}

// pendingApproval stores a service request waiting for its contact's approval and returns the
// path of the approval link.
func (f burstFixture) pendingApproval(mods ...func(*process.ApprovalState)) (process.ServiceRequest, string) {
	f.t.Helper()
	now := time.Now().UTC()
	ap := process.ApprovalState{ID: "refund", Approvers: []process.Approver{{Contact: true}}, Needed: 1,
		Decisions: []process.Decision{}, Status: "pending", RequestedAt: now, DueAt: now.Add(48 * time.Hour), OnTimeout: "reject"}
	for _, m := range mods {
		m(&ap)
	}
	sr := process.ServiceRequest{ID: uuid.NewString(), Number: "SR-2026-" + fmt.Sprint(time.Now().UnixNano()%1_000_000), Queue: "billing",
		Stage: "proposal", State: process.StateInProgress, Priority: "medium", Subject: "Refund for the outage",
		Approvals: []process.ApprovalState{ap}, Tags: []string{}, CreatedAt: now, UpdatedAt: now, Revision: 3}
	require.NoError(f.t, f.store.SaveServiceRequest(context.Background(), sr, nil))
	link, _, err := f.keys.ApprovalURL("http://x", sr.ID, ap.ID, now)
	require.NoError(f.t, err)
	return sr, strings.TrimPrefix(link, "http://x")
}

// TestPublicPagesUnderBurst: one address firing 300 requests, 20 at a time, at each public page
// gets the page or 429 with Retry-After, never a server error; another address is not affected.
func TestPublicPagesUnderBurst(t *testing.T) {
	f := newBurstFixture(t, nil)
	_, approval := f.pendingApproval()
	base := f.server.URL
	get := func(path string) func(int) *http.Request {
		return func(int) *http.Request {
			req, err := http.NewRequest("GET", base+path, nil)
			require.NoError(t, err)
			return req
		}
	}
	code := func(i int) *http.Request {
		req, err := http.NewRequest("POST", base+"/portal/code", strings.NewReader(fmt.Sprintf(`{"email":"burst%d@example.com"}`, i)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	for k, c := range []struct {
		name    string
		req     func(int) *http.Request
		normal  int
		problem bool
	}{
		{"GET /portal", get("/portal"), http.StatusOK, true},
		{"POST /portal/code", code, http.StatusAccepted, true},
		{"GET /rate/<bad token>", get("/rate/not-a-token"), http.StatusBadRequest, false},
		{"GET /d/<unknown code>", get("/d/ZZZZ9999"), http.StatusNotFound, true},
		{"GET /approve/<token>", get(approval), http.StatusOK, false},
	} {
		// Each page from its own address: the portal's pages share one budget per address.
		addr := fmt.Sprintf("203.0.113.%d", k+1)
		answers := burst(t, 300, 20, func(i int) *http.Request {
			req := c.req(i)
			req.Header.Set("X-Forwarded-For", addr)
			return req
		})
		requireLimited(t, c.name, answers, c.normal, c.problem)
		if c.name == "POST /portal/code" {
			accepted := 0
			for _, a := range answers {
				if a.status == http.StatusAccepted {
					accepted++
				}
			}
			require.Equal(t, accepted, f.mail.count(), "one email per code sent, none for a refusal")
		}
		// Another client is served meanwhile.
		req := c.req(1000)
		req.Header.Set("X-Forwarded-For", "198.51.100.7")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, c.normal, resp.StatusCode, "%s from another address", c.name)
	}
}

// TestTokenRateLimit: /v1 is limited per caller; a burst with one token is answered 200 or 429
// (a problem with Retry-After and RateLimit headers), and other tokens are not affected.
func TestTokenRateLimit(t *testing.T) {
	f := newBurstFixture(t, func(c *api.Config) { c.TokenRate, c.TokenBurst = 2, 10 })
	alice, bob := f.token(auth.RoleAgent), f.tokenFor("bob", auth.RoleAgent)
	list := func(token string) func(int) *http.Request {
		return func(int) *http.Request {
			req, err := http.NewRequest("GET", f.server.URL+"/v1/work-orders", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+token)
			return req
		}
	}
	answers := burst(t, 300, 20, list(alice))
	requireLimited(t, "GET /v1/work-orders", answers, http.StatusOK, true)
	for _, a := range answers {
		require.Equal(t, "10", a.header.Get("RateLimit-Limit"))
		require.Regexp(t, `^[0-9]+$`, a.header.Get("RateLimit-Remaining"))
	}
	last := f.call("GET", "/v1/work-orders", alice, "", "")
	require.Equal(t, http.StatusTooManyRequests, last.status, "alice's bucket is empty")
	require.Equal(t, "0", last.header.Get("RateLimit-Remaining"))

	// Another subject has its own bucket.
	b := f.call("GET", "/v1/work-orders", bob, "", "")
	require.Equal(t, http.StatusOK, b.status, b.body)
	require.Equal(t, "9", b.header.Get("RateLimit-Remaining"))
	// So has an integration's API token.
	_, secret, err := f.store.CreateAPIToken(context.Background(), "erp", []string{"agent"}, nil, "admin")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, f.call("GET", "/v1/work-orders", secret, "", "").status)
	requireLimited(t, "GET /v1/work-orders with an API token", burst(t, 100, 20, list(secret)), http.StatusOK, true)
	require.Equal(t, http.StatusOK, f.call("GET", "/v1/work-orders", bob, "", "").status, "bob is not slowed by the others")

	// Public pages are not counted against tokens, nor tokens against pages.
	require.Equal(t, http.StatusOK, f.browser().get("/portal").status)
}

// TestTokenRateSettingsFromTheEnvironment: FIELDFLOW_TOKEN_RATE and FIELDFLOW_TOKEN_BURST apply
// when the configuration leaves them zero; a negative rate disables the limit.
func TestTokenRateSettingsFromTheEnvironment(t *testing.T) {
	t.Setenv("FIELDFLOW_TOKEN_RATE", "0.01")
	t.Setenv("FIELDFLOW_TOKEN_BURST", "2")
	f := newBurstFixture(t, func(c *api.Config) { c.TokenRate, c.TokenBurst = 0, 0 })
	tok := f.token(auth.RoleAgent)
	require.Equal(t, http.StatusOK, f.call("GET", "/v1/work-orders", tok, "", "").status)
	require.Equal(t, http.StatusOK, f.call("GET", "/v1/work-orders", tok, "", "").status)
	limited := f.problem(http.StatusTooManyRequests, "GET", "/v1/work-orders", tok, "", "")
	require.Equal(t, "2", limited.header.Get("RateLimit-Limit"))
	require.NotEmpty(t, limited.header.Get("Retry-After"))

	t.Setenv("FIELDFLOW_TOKEN_RATE", "-1")
	f = newBurstFixture(t, func(c *api.Config) { c.TokenRate, c.TokenBurst = 0, 0 })
	tok = f.token(auth.RoleAgent)
	for range 50 {
		a := f.call("GET", "/v1/work-orders", tok, "", "")
		require.Equal(t, http.StatusOK, a.status)
		require.Empty(t, a.header.Get("RateLimit-Limit"))
	}
}

var orderNumber = regexp.MustCompile(`WO-\d{4}-\d{6}`)

// TestPortalFormSentTwiceMakesOneOrder: the form's one-time token is the order's idempotency key;
// the same form sent again (a double click, a reload) answers the same order, a new form makes a
// new one. A JSON post with the same Idempotency-Key does the same.
func TestPortalFormSentTwiceMakesOneOrder(t *testing.T) {
	f := newBurstFixture(t, nil)
	b := f.browser()
	form := url.Values{"token": {formToken(t, b.get("/portal"))}, "recordType": {"repair"}, "subject": {"Boiler leaks"},
		"description": {"Water under the boiler."}, "name": {"Grace Hopper"}, "email": {"grace@example.com"}}
	first := b.postForm("/portal/work-orders", form)
	require.Equal(t, http.StatusCreated, first.status, first.body)
	number := orderNumber.FindString(first.body)
	require.NotEmpty(t, number, first.body)
	again := b.postForm("/portal/work-orders", form)
	require.Equal(t, http.StatusCreated, again.status, again.body)
	require.Equal(t, number, orderNumber.FindString(again.body), "the same confirmation")
	require.Len(t, f.runs.started, 1, "one order")

	form.Set("token", formToken(t, b.get("/portal")))
	other := b.postForm("/portal/work-orders", form)
	require.Equal(t, http.StatusCreated, other.status, other.body)
	require.NotEqual(t, number, orderNumber.FindString(other.body), "a new form is a new order")
	require.Len(t, f.runs.started, 2)

	body := map[string]any{"recordType": "repair", "subject": "Boiler leaks", "name": "Grace Hopper", "email": "grace@example.com"}
	var ids []string
	for range 2 {
		p := b.postJSON("/portal/work-orders", body, "Idempotency-Key", "k-1")
		require.Equal(t, http.StatusCreated, p.status, p.body)
		var wo map[string]any
		require.NoError(t, json.Unmarshal([]byte(p.body), &wo))
		ids = append(ids, wo["id"].(string))
	}
	require.Equal(t, ids[0], ids[1])
	require.Len(t, f.runs.started, 3)
}

// TestPortalCodeAskedTwiceSendsOneEmail: asking again for a sign-in code right after one was sent
// gets the same answer and sends no second email; the code sent stays the valid one.
func TestPortalCodeAskedTwiceSendsOneEmail(t *testing.T) {
	f := newBurstFixture(t, nil)
	b := f.browser()
	first := b.postJSON("/portal/code", map[string]any{"email": "ada@example.com"})
	require.Equal(t, http.StatusAccepted, first.status, first.body)
	second := b.postJSON("/portal/code", map[string]any{"email": "ADA@example.com"})
	require.Equal(t, http.StatusAccepted, second.status, second.body)
	var a1, a2 map[string]any
	require.NoError(t, json.Unmarshal([]byte(first.body), &a1))
	require.NoError(t, json.Unmarshal([]byte(second.body), &a2))
	require.Equal(t, a1["expiresAt"], a2["expiresAt"], "the same code")
	require.Equal(t, 1, f.mail.count())

	// The form, double-clicked: one email, the same page twice.
	form := url.Values{"token": {formToken(t, b.get("/portal"))}, "email": {"grace@example.com"}}
	for range 2 {
		p := b.postForm("/portal/code", form)
		require.Equal(t, http.StatusOK, p.status, p.body)
		require.Contains(t, p.body, "We emailed a six-digit code to grace@example.com")
	}
	require.Equal(t, 2, f.mail.count())

	// Many at once for one address: still one email.
	burst(t, 20, 10, func(int) *http.Request {
		req, err := http.NewRequest("POST", f.server.URL+"/portal/code", strings.NewReader(`{"email":"lin@example.com"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "198.51.100.9")
		return req
	})
	require.Equal(t, 3, f.mail.count())
}

// TestRatingPostedAgain: once the rating is recorded, the same answers posted again get the same
// confirmation and reach the run no more; other answers are refused (410).
func TestRatingPostedAgain(t *testing.T) {
	f := newBurstFixture(t, nil)
	f.runs.act = func(id string, a process.Action) (process.WorkOrder, error) {
		// The run records the rating and projects the order.
		ctx := context.Background()
		wo, err := f.store.GetWorkOrder(ctx, id)
		if err != nil {
			return wo, err
		}
		wo.UsedInvitations = append(wo.UsedInvitations, a.Invitation)
		wo.Ratings = append(wo.Ratings, process.RatingRecord{Node: wo.Rating.Node, Score: *a.Score, Scale: "five-star", Comment: a.Comment,
			Answers: a.Answers, Template: wo.Rating.Template, By: a.Actor, At: time.Now()})
		wo.Rating, wo.Node, wo.Revision = nil, "done", wo.Revision+1
		return wo, f.store.SaveWorkOrder(ctx, wo, nil)
	}
	wo, link := f.ratingOrder()
	answers := url.Values{"score": {"4"}, "q_fixed": {"yes"}, "comment": {"Quick and tidy"}}
	requireHTML(t, f.htmlPage("POST", link, answers), http.StatusOK, "Thank you", wo.Number)
	requireHTML(t, f.htmlPage("POST", link, answers), http.StatusOK, "Thank you", wo.Number, "Your rating is recorded")
	require.Equal(t, 1, f.runs.acts, "the second post reached no run")

	for _, other := range []url.Values{
		{"score": {"2"}, "q_fixed": {"yes"}, "comment": {"Quick and tidy"}},
		{"score": {"4"}, "q_fixed": {"no"}, "comment": {"Quick and tidy"}},
		{"score": {"4"}, "q_fixed": {"yes"}},
	} {
		p := f.htmlPage("POST", link, other)
		requireHTML(t, p, http.StatusGone, "Already rated", "cannot be changed")
		require.NotContains(t, p.body, "<form")
	}
	require.Equal(t, 1, f.runs.acts)
	// The page itself says the link is used.
	requireHTML(t, f.htmlPage("GET", link, nil), http.StatusGone, "Already rated")

	// A rating recorded without a template: score and comment are compared.
	_, plain := f.ratingOrder(func(wo *process.WorkOrder) {
		wo.Rating, wo.Node, wo.UsedInvitations = nil, "done", []string{"invite:rating:7"}
		wo.Ratings = []process.RatingRecord{{Node: "rating", Score: 5, Scale: "five-star", Comment: "Great", By: "contact"}}
	})
	requireHTML(t, f.htmlPage("POST", plain, url.Values{"score": {"5"}, "comment": {" Great "}}), http.StatusOK, "Thank you")
	requireHTML(t, f.htmlPage("POST", plain, url.Values{"score": {"5"}}), http.StatusGone, "Already rated")
}

// TestApprovalPostedAgain: the contact's decision posted again gets the same confirmation and
// sends no second signal; the other decision is refused (409), before and after the run has
// applied the first.
func TestApprovalPostedAgain(t *testing.T) {
	f := newBurstFixture(t, nil)
	sr, link := f.pendingApproval()
	approve := url.Values{"decision": {"approve"}, "comment": {"fine by me"}}
	requireHTML(t, f.htmlPage("POST", link, approve), http.StatusOK, "Thank you", "Your approval is recorded", sr.Number)
	requireHTML(t, f.htmlPage("POST", link, approve), http.StatusOK, "Thank you", "Your approval is recorded")
	p := f.htmlPage("POST", link, url.Values{"decision": {"reject"}})
	requireHTML(t, p, http.StatusConflict, "Already decided", "You already sent your approval")
	require.NotContains(t, p.body, "<form")
	require.Len(t, f.runs.signals, 1, "one decision sent")
	require.Equal(t, "approve", f.runs.signals[0].Decision)

	// Applied by the run (and remembered by the record, not the server): the same again.
	now := time.Now().UTC()
	_, decided := f.pendingApproval(func(ap *process.ApprovalState) {
		ap.Status, ap.DecidedAt = "rejected", &now
		ap.Decisions = []process.Decision{{By: "contact", Decision: "reject", Comment: "too much", At: now}}
	})
	requireHTML(t, f.htmlPage("POST", decided, url.Values{"decision": {"reject"}}), http.StatusOK, "Thank you", "Your rejection is recorded")
	requireHTML(t, f.htmlPage("POST", decided, url.Values{"decision": {"approve"}}), http.StatusConflict, "Already decided", "You already sent your rejection")
	requireHTML(t, f.htmlPage("GET", decided, nil), http.StatusOK, "Already decided", "rejected")

	// Decided by staff: the same outcome is acknowledged, the other refused.
	_, byStaff := f.pendingApproval(func(ap *process.ApprovalState) {
		ap.Status, ap.DecidedAt = "approved", &now
		ap.Decisions = []process.Decision{{By: "alice", Decision: "approve", At: now}}
	})
	requireHTML(t, f.htmlPage("POST", byStaff, url.Values{"decision": {"approve"}}), http.StatusOK, "Already decided")
	requireHTML(t, f.htmlPage("POST", byStaff, url.Values{"decision": {"reject"}}), http.StatusConflict, "Already decided", "not recorded")
	require.Len(t, f.runs.signals, 1)
}

// tokenFor is a staff token for another subject.
func (f *fixture) tokenFor(sub string, roles ...auth.Role) string {
	tok, err := f.keys.Issue(auth.Principal{Subject: sub, Roles: roles}, time.Hour, time.Now())
	require.NoError(f.t, err)
	return tok
}

var _ api.Workflows = (*fakeRuns)(nil)
