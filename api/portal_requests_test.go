package api_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/api"
	"github.com/fieldflow/fieldflow/auth"
)

// TestPortalOffersRequestQueues: the portal lists the queues a guest may write to; a queue's page
// is its layout, field by field in order, with the labels the layout gives.
func TestPortalOffersRequestQueues(t *testing.T) {
	f := newPortalFixture(t, "")
	b := f.browser()
	p := b.get("/portal")
	require.Equal(t, http.StatusOK, p.status)
	require.Contains(t, p.body, `href="/portal?queue=technical-support"`)
	require.Contains(t, p.body, `href="/portal?queue=billing"`)

	p = b.get("/portal?queue=technical-support")
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, `action="/portal/service-requests"`)
	var order []string
	for _, m := range regexp.MustCompile(`<label for="f-([^"]+)">`).FindAllStringSubmatch(p.body, -1) {
		order = append(order, m[1])
	}
	require.Equal(t, []string{"subject", "category", "description", "fields.equipment-serial", "phone", "fields.contact-time"}, order)
	require.Contains(t, p.body, "What is wrong?")
	require.Contains(t, p.body, `<option value="connectivity/outage">Connectivity: outage</option>`)
	require.NotContains(t, p.body, `<option value="connectivity">`, "the layout offers only the categories it names")
	require.Contains(t, p.body, `name="name"`, "a guest gives their details")
	require.Contains(t, p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	formToken(t, p)

	p = b.get("/portal?queue=nope")
	require.Equal(t, http.StatusNotFound, p.status)
	require.Contains(t, p.body, "We take no requests of the kind")
}

// TestPortalRequestSubmissionRules: a form with mistakes comes back with every value typed, the
// reasons by field and the same token; tokens and origins are checked; JSON clients get problem
// documents. A valid request gets as far as starting its run (Temporal is down here).
func TestPortalRequestSubmissionRules(t *testing.T) {
	f := newPortalFixture(t, "")
	b := f.browser()
	token := formToken(t, b.get("/portal?queue=technical-support"))

	p := b.postForm("/portal/service-requests", url.Values{"token": {token}, "queue": {"technical-support"},
		"subject": {""}, "category": {"connectivity/outage"}, "description": {"Lights <blink>"},
		"fields.contact-time": {"night"}, "email": {"not-an-address"}, "phone": {"+357 99 123456"}})
	require.Equal(t, http.StatusUnprocessableEntity, p.status)
	require.Contains(t, p.body, "What is wrong?: is required")
	require.Contains(t, p.body, `<p class="field-error" id="e-subject" role="alert">is required</p>`)
	require.Contains(t, p.body, "Best time to call you: is not one of the choices")
	require.Contains(t, p.body, "Name: is required")
	require.Contains(t, p.body, "Email: is not an email address")
	require.Contains(t, p.body, "Lights &lt;blink&gt;", "what was written is kept, escaped")
	require.Contains(t, p.body, `<option value="connectivity/outage" selected>`)
	require.Contains(t, p.body, `value="&#43;357 99 123456"`)
	require.Contains(t, p.body, `value="not-an-address"`)
	require.Equal(t, token, formToken(t, p), "the form comes back with its token, so sending it again is idempotent")

	// No token, another browser's token, a post from another site.
	form := url.Values{"queue": {"billing"}, "subject": {"Copy please"}, "category": {"invoice/copy"}, "name": {"Ada"}, "email": {"ada@example.com"}}
	p = b.postForm("/portal/service-requests", form)
	require.Equal(t, http.StatusForbidden, p.status)
	require.Contains(t, p.body, "this form had expired or was not loaded in this browser: check it and send it again")
	require.Contains(t, p.body, `value="Copy please"`, "the form comes back filled in")
	require.NotEqual(t, token, formToken(t, p), "with a new token")
	other := f.browser()
	p = other.postForm("/portal/service-requests", cloneForm(form, "token", token))
	require.Equal(t, http.StatusForbidden, p.status, "another browser's token")
	require.Contains(t, p.body, "check it and send it again")
	problemOf(t, b.postForm("/portal/service-requests", cloneForm(form, "token", token), "Origin", "https://evil.example"), http.StatusForbidden)
	// The portal's pages send no referrer, so a browser posts their forms with Origin: null; its
	// Sec-Fetch-Site then says whether the post comes from this origin.
	problemOf(t, b.postForm("/portal/service-requests", cloneForm(form, "token", token), "Origin", "null"), http.StatusForbidden)
	problemOf(t, b.postForm("/portal/service-requests", cloneForm(form, "token", token), "Origin", "null", "Sec-Fetch-Site", "same-site"), http.StatusForbidden)
	p = b.postForm("/portal/service-requests", cloneForm(form, "token", token), "Origin", "null", "Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusServiceUnavailable, p.status, "through to the run, which is down here: %s", p.body)
	require.Contains(t, p.body, `value="Copy please"`, "the form comes back filled in")

	// JSON: problems by field; an unknown queue; a valid request reaches the run (503 here).
	a := problemOf(t, b.postJSON("/portal/service-requests", map[string]any{"queue": "billing", "name": "Ada", "email": "ada@example.com"}), http.StatusUnprocessableEntity)
	var fields []string
	for _, e := range a["errors"].([]any) {
		fields = append(fields, e.(map[string]any)["field"].(string))
	}
	require.Equal(t, []string{"category", "subject"}, fields)
	a = problemOf(t, b.postJSON("/portal/service-requests", map[string]any{"queue": "nope"}), http.StatusUnprocessableEntity)
	require.Equal(t, "queue", a["errors"].([]any)[0].(map[string]any)["field"])
	problemOf(t, b.postJSON("/portal/service-requests", map[string]any{"queue": "billing", "colour": "red"}), http.StatusBadRequest)
	a = problemOf(t, b.postJSON("/portal/service-requests", map[string]any{"queue": "billing", "subject": "Copy", "category": "invoice/copy",
		"urgency": "high", "name": "Ada", "email": "ada@example.com", "fields": map[string]any{"nope": 1}}), http.StatusUnprocessableEntity)
	require.Equal(t, []any{map[string]any{"field": "fields.nope", "message": "is not a field of the Billing form"},
		map[string]any{"field": "urgency", "message": "is not a field of the Billing form"}}, a["errors"])
	a = problemOf(t, b.postJSON("/portal/service-requests", map[string]any{"queue": "technical-support", "subject": "Down",
		"category": "connectivity/outage", "name": "Ada", "email": "ada@example.com", "fields": map[string]any{"contact-time": "night"}}), http.StatusUnprocessableEntity)
	require.Equal(t, "fields.contact-time", a["errors"].([]any)[0].(map[string]any)["field"])
	problemOf(t, b.postJSON("/portal/service-requests", map[string]any{"queue": "billing", "subject": "Copy", "category": "invoice/copy",
		"name": "Ada", "email": "ada@example.com"}), http.StatusServiceUnavailable)
}

// TestPortalGuestsOnlyWhereTheQueueTakesThem: a queue whose channels have portal but not guest
// is offered to guests only after signing in, and a guest's request to it is refused.
func TestPortalGuestsOnlyWhereTheQueueTakesThem(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS("../definitions")))
	billing := filepath.Join(dir, "service-requests", "billing.yaml")
	raw, err := os.ReadFile(billing)
	require.NoError(t, err)
	edited := strings.Replace(string(raw), "channels: [agent, online-service, portal, guest]", "channels: [agent, online-service, portal]", 1)
	require.NotEqual(t, string(raw), edited)
	require.NoError(t, os.WriteFile(billing, []byte(edited), 0o644))
	f := portalFixture{newFixtureIn(t, dir)}
	b := f.browser()

	p := b.get("/portal")
	require.Contains(t, p.body, `href="/portal?queue=technical-support"`)
	require.Contains(t, p.body, `Signed-in customers can also write to: <a href="/portal?queue=billing">Billing</a>`)
	p = b.get("/portal?queue=billing")
	require.Equal(t, http.StatusOK, p.status)
	require.Contains(t, p.body, "Billing: signed-in customers only")
	require.NotContains(t, p.body, `action="/portal/service-requests"`)

	token := formToken(t, p)
	p = b.postForm("/portal/service-requests", url.Values{"token": {token}, "queue": {"billing"}, "subject": {"Copy"},
		"category": {"invoice/copy"}, "name": {"Ada"}, "email": {"ada@example.com"}})
	require.Equal(t, http.StatusForbidden, p.status)
	require.Contains(t, p.body, "signed-in customers only")
	require.Contains(t, p.body, `value="Copy"`, "the form comes back filled in")
	a := problemOf(t, b.postJSON("/portal/service-requests", map[string]any{"queue": "billing", "subject": "Copy", "category": "invoice/copy",
		"name": "Ada", "email": "ada@example.com"}), http.StatusForbidden)
	require.Equal(t, "/problems/sign-in-required", a["type"])
	// Embedded forms are always a guest's: billing is not offered there.
	require.NotContains(t, b.get("/portal/embed").body, "queue=billing")
}

// TestPortalEmbedding: only the embeddable form may be framed, and only by the configured
// origins; the rest keeps frame-ancestors 'none'. A configured origin gets CORS answers, others
// none, and JSON posts from another origin are refused.
func TestPortalEmbedding(t *testing.T) {
	t.Setenv(api.EmbedOriginsEnv, "https://shop.example, http://localhost:3000/ not-an-origin")
	f := newPortalFixture(t, "")
	b := f.browser()

	p := b.get("/portal/embed?queue=billing")
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.header.Get("Content-Security-Policy"), "frame-ancestors https://shop.example http://localhost:3000;")
	require.Empty(t, p.header.Get("X-Frame-Options"))
	require.Contains(t, p.body, `name="embed" value="1"`)
	require.NotContains(t, p.body, `action="/portal/code"`, "no sign-in inside a frame")
	binding := regexp.MustCompile(`name="binding" value="([0-9a-f]{32})"`).FindStringSubmatch(p.body)
	require.NotNil(t, binding)
	list := b.get("/portal/embed")
	require.Contains(t, list.body, `href="/portal/embed?queue=technical-support"`)

	for _, path := range []string{"/portal", "/portal?queue=billing", "/portal/requests/nope"} {
		p := b.get(path)
		require.Contains(t, p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'", path)
		require.Equal(t, "DENY", p.header.Get("X-Frame-Options"), path)
	}

	// The embedded form's token is bound to the value it carries, not to a cookie (a frame on
	// another site gets none): a fresh client posts it. Mistakes come back framed and filled in.
	token := formToken(t, p)
	fresh := f.browser()
	form := url.Values{"token": {token}, "embed": {"1"}, "binding": {binding[1]}, "queue": {"billing"}, "subject": {"Copy"}, "name": {"Ada"}}
	got := fresh.postForm("/portal/service-requests", form)
	require.Equal(t, http.StatusUnprocessableEntity, got.status, got.body)
	require.Contains(t, got.header.Get("Content-Security-Policy"), "frame-ancestors https://shop.example")
	require.Contains(t, got.body, `name="binding" value="`+binding[1]+`"`)
	require.Contains(t, got.body, "What is it about?: is required")
	got = fresh.postForm("/portal/service-requests", cloneForm(form, "binding", strings.Repeat("0", 32)))
	require.Equal(t, http.StatusForbidden, got.status)

	pre := b.send("OPTIONS", "/portal/service-requests", "", "", "Origin", "https://shop.example", "Access-Control-Request-Method", "POST")
	require.Equal(t, http.StatusNoContent, pre.status)
	require.Equal(t, "https://shop.example", pre.header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, pre.header.Get("Access-Control-Allow-Headers"), "Content-Type")
	pre = b.send("OPTIONS", "/portal/service-requests", "", "", "Origin", "https://evil.example")
	require.Equal(t, http.StatusNoContent, pre.status)
	require.Empty(t, pre.header.Get("Access-Control-Allow-Origin"))

	a := b.postJSON("/portal/service-requests", map[string]any{"queue": "billing"}, "Origin", "https://shop.example", "Sec-Fetch-Site", "cross-site")
	problemOf(t, a, http.StatusUnprocessableEntity)
	require.Equal(t, "https://shop.example", a.header.Get("Access-Control-Allow-Origin"))
	problemOf(t, b.postJSON("/portal/service-requests", map[string]any{"queue": "billing"}, "Origin", "https://evil.example"), http.StatusForbidden)
}

// TestRequestStatusLinks: a status link that is not signed, is signed for something else or has
// expired gets a page saying so; one for a request the store does not have says so too.
func TestRequestStatusLinks(t *testing.T) {
	f := newPortalFixture(t, "")
	b := f.browser()
	p := b.get("/portal/requests/not-a-token")
	require.Equal(t, http.StatusBadRequest, p.status)
	require.Contains(t, p.body, "This link does not work")

	rating, err := f.keys.IssueLink(auth.LinkClaims{Purpose: "rating", RecordID: "r1", ItemID: "x"}, time.Hour, time.Now())
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, b.get("/portal/requests/"+rating).status, "a rating link is not a status link")

	expired, err := f.keys.IssueLink(auth.LinkClaims{Purpose: "request-status", RecordID: "r1", ItemID: "SR-1"}, time.Hour, time.Now().Add(-2*time.Hour))
	require.NoError(t, err)
	require.Equal(t, http.StatusGone, b.get("/portal/requests/"+expired).status)

	missing, err := f.keys.IssueLink(auth.LinkClaims{Purpose: "request-status", RecordID: "0198c2a4-0000-7000-8000-000000000000", ItemID: "SR-1"}, time.Hour, time.Now())
	require.NoError(t, err)
	p = b.get("/portal/requests/" + missing)
	require.Equal(t, http.StatusNotFound, p.status)
	require.Contains(t, p.body, "SR-1")
	p = b.postForm("/portal/requests/"+missing+"/comments", url.Values{"comment": {"Hello"}})
	require.Equal(t, http.StatusNotFound, p.status)
}

// TestRequestPagesRateLimit: the request pages share the portal's budget per address; over it a
// browser gets a page asking it to wait (framable on the embeddable form), a JSON client a 429
// problem.
func TestRequestPagesRateLimit(t *testing.T) {
	t.Setenv(api.EmbedOriginsEnv, "https://shop.example")
	f := newPortalFixture(t, "")
	b := f.browser()
	for range 100 {
		if b.get("/portal").status == http.StatusTooManyRequests {
			break
		}
	}
	p := b.get("/portal/requests/not-a-token")
	require.Equal(t, http.StatusTooManyRequests, p.status)
	require.Equal(t, "text/html; charset=utf-8", p.header.Get("Content-Type"))
	require.Contains(t, p.body, "Please wait a moment")
	require.NotEmpty(t, p.header.Get("Retry-After"))
	require.Contains(t, p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	p = b.get("/portal/embed")
	require.Equal(t, http.StatusTooManyRequests, p.status)
	require.Contains(t, p.header.Get("Content-Security-Policy"), "frame-ancestors https://shop.example")
	problemOf(t, b.postJSON("/portal/service-requests", map[string]any{"queue": "billing"}), http.StatusTooManyRequests)
}
