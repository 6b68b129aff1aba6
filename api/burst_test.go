package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/activities"
	"github.com/fieldflow/fieldflow/api"
	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/internal/smtptest"
	"github.com/fieldflow/fieldflow/process"
)

// burstFixture is the normal fixture (a real store, Temporal down) whose API sends its mail
// over SMTP to a receiver inside the test; mods adjust its configuration.
type burstFixture struct {
	portalFixture
	mail *smtptest.Receiver
}

func newBurstFixture(t *testing.T, mods ...func(*api.Config)) burstFixture {
	t.Helper()
	mail := smtptest.Start(t)
	withMail := func(c *api.Config) {
		c.Mailer, c.MailFrom = activities.SMTPMailer{Addr: mail.Addr()}, "desk@fieldflow.test"
	}
	return burstFixture{portalFixture{newFixtureIn(t, "../definitions", append([]func(*api.Config){withMail}, mods...)...)}, mail}
}

// mails is how many messages the receiver has got.
func (f burstFixture) mails() int { return len(f.mail.Messages()) }

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
	f := newBurstFixture(t)
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
			require.Equal(t, accepted, f.mails(), "one email per code sent, none for a refusal")
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

// TestPortalCodeAskedTwiceSendsOneEmail: asking again for a sign-in code right after one was sent
// gets the same answer and sends no second email; the code sent stays the valid one.
func TestPortalCodeAskedTwiceSendsOneEmail(t *testing.T) {
	f := newBurstFixture(t)
	b := f.browser()
	first := b.postJSON("/portal/code", map[string]any{"email": "ada@example.com"})
	require.Equal(t, http.StatusAccepted, first.status, first.body)
	second := b.postJSON("/portal/code", map[string]any{"email": "ADA@example.com"})
	require.Equal(t, http.StatusAccepted, second.status, second.body)
	var a1, a2 map[string]any
	require.NoError(t, json.Unmarshal([]byte(first.body), &a1))
	require.NoError(t, json.Unmarshal([]byte(second.body), &a2))
	require.Equal(t, a1["expiresAt"], a2["expiresAt"], "the same code")
	require.Equal(t, 1, f.mails())

	// The form, double-clicked: one email, the same page twice.
	form := url.Values{"token": {formToken(t, b.get("/portal"))}, "email": {"grace@example.com"}}
	for range 2 {
		p := b.postForm("/portal/code", form)
		require.Equal(t, http.StatusOK, p.status, p.body)
		require.Contains(t, p.body, "We emailed a six-digit code to grace@example.com")
	}
	require.Equal(t, 2, f.mails())

	// Many at once for one address: still one email.
	burst(t, 20, 10, func(int) *http.Request {
		req, err := http.NewRequest("POST", f.server.URL+"/portal/code", strings.NewReader(`{"email":"lin@example.com"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "198.51.100.9")
		return req
	})
	require.Equal(t, 3, f.mails())
	var to [][]string
	for _, m := range f.mail.Messages() {
		require.Equal(t, "desk@fieldflow.test", m.From)
		to = append(to, m.To)
	}
	require.Equal(t, [][]string{{"ada@example.com"}, {"grace@example.com"}, {"lin@example.com"}}, to, "one email per address, to it")
}

// A rating, or an approval, posted again while its run records the first is in
// e2e/public_idempotency_test.go, over a real run. Here: a link whose answer the record already
// holds, which is decided without a run.

// TestRatingRecordedPostedAgain: a rating recorded without a template: the same score and comment
// posted again get the confirmation, other answers are refused (410).
func TestRatingRecordedPostedAgain(t *testing.T) {
	f := newBurstFixture(t)
	_, plain := f.ratingOrder(func(wo *process.WorkOrder) {
		wo.Rating, wo.Node, wo.UsedInvitations = nil, "done", []string{"invite:rating:7"}
		wo.Ratings = []process.RatingRecord{{Node: "rating", Score: 5, Scale: "five-star", Comment: "Great", By: "contact"}}
	})
	requireHTML(t, f.htmlPage("POST", plain, url.Values{"score": {"5"}, "comment": {" Great "}}), http.StatusOK, "Thank you")
	requireHTML(t, f.htmlPage("POST", plain, url.Values{"score": {"5"}}), http.StatusGone, "Already rated")
}

// TestApprovalDecidedPostedAgain: an approval the record shows decided, by the contact through
// the run or by staff: the same decision posted again is acknowledged, the other refused (409).
func TestApprovalDecidedPostedAgain(t *testing.T) {
	f := newBurstFixture(t)
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
}

// tokenFor is a staff token for another subject.
func (f *fixture) tokenFor(sub string, roles ...auth.Role) string {
	tok, err := f.keys.Issue(auth.Principal{Subject: sub, Roles: roles}, time.Hour, time.Now())
	require.NoError(f.t, err)
	return tok
}
