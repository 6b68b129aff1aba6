package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap/zaptest"

	"github.com/fieldflow/fieldflow/api"
	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/intake"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store/storetest"
	"github.com/fieldflow/fieldflow/workflows"
)

// portalFixture is the API with work-order intake over a real store and a Temporal server that is
// down: every portal rule decided before a run starts can be tested.
type portalFixture struct {
	*fixture
}

func newPortalFixture(t *testing.T, publicURL string) portalFixture {
	t.Helper()
	keys, err := auth.NewKeys([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadAddr := l.Addr().String()
	require.NoError(t, l.Close())
	tc, err := client.NewLazyClient(client.Options{HostPort: deadAddr})
	require.NoError(t, err)
	t.Cleanup(tc.Close)
	st := storetest.New(t)
	registry, err := api.NewRegistry(context.Background(), "../definitions", st, zaptest.NewLogger(t))
	require.NoError(t, err)
	wf := workflows.NewClient(tc, st)
	srv := api.New(api.Config{
		Logger: zaptest.NewLogger(t), Keys: keys, Workflows: wf, Store: st, Registry: registry,
		ActionTimeout: 2 * time.Second, PublicURL: publicURL,
		Intake: &intake.Service{Catalog: registry, Store: st, Workflows: wf},
	})
	server := httptest.NewServer(srv)
	t.Cleanup(server.Close)
	return portalFixture{&fixture{t: t, server: server, keys: keys, store: st}}
}

// browser is a client with a cookie jar, as a customer's browser.
type browser struct {
	t      testing.TB
	base   string
	client *http.Client
}

func (f portalFixture) browser() *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(f.t, err)
	return &browser{t: f.t, base: f.server.URL, client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) send(method, path, contentType, body string, headers ...string) page {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(body))
	require.NoError(b.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.client.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return page{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

func (b *browser) get(path string) page { return b.send("GET", path, "", "") }

func (b *browser) postForm(path string, form url.Values, headers ...string) page {
	return b.send("POST", path, "application/x-www-form-urlencoded", form.Encode(), headers...)
}

func (b *browser) postJSON(path string, body any, headers ...string) page {
	raw, err := json.Marshal(body)
	require.NoError(b.t, err)
	return b.send("POST", path, "application/json", string(raw), headers...)
}

var tokenField = regexp.MustCompile(`name="token" value="([^"]+)"`)

// formToken is the form token of a portal page.
func formToken(t *testing.T, p page) string {
	t.Helper()
	m := tokenField.FindStringSubmatch(p.body)
	require.NotNil(t, m, "the page has a form token: %s", p.body)
	return m[1]
}

func problemOf(t *testing.T, p page, status int) map[string]any {
	t.Helper()
	require.Equal(t, status, p.status, p.body)
	require.Equal(t, "application/problem+json", p.header.Get("Content-Type"))
	var body map[string]any
	require.NoError(t, json.Unmarshal([]byte(p.body), &body))
	require.EqualValues(t, status, body["status"])
	return body
}

func TestDeviceAPI(t *testing.T) {
	f := newPortalFixture(t, "https://service.example.com/")
	agent := f.token(auth.RoleAgent)
	f.problem(http.StatusUnauthorized, "POST", "/v1/devices", "", "application/json", `{"account":"Acme"}`)
	f.problem(http.StatusForbidden, "POST", "/v1/devices", f.token(auth.RoleEngineer), "application/json", `{"account":"Acme"}`)
	a := f.problem(http.StatusUnprocessableEntity, "POST", "/v1/devices", agent, "application/json", `{"code":"a b","contact":{"name":"Ada"}}`)
	var fields []string
	for _, e := range a.body["errors"].([]any) {
		fields = append(fields, e.(map[string]any)["field"].(string))
	}
	require.Equal(t, []string{"code", "account", "contact.email"}, fields)
	f.problem(http.StatusBadRequest, "POST", "/v1/devices", agent, "application/json", `{"account":"Acme","colour":"red"}`)

	created := f.call("POST", "/v1/devices", agent, "application/json",
		`{"code":"hvac-0042","account":"Acme Ltd","category":"hvac","model":"AC-9","serial":"SN1","contact":{"name":"Ada","email":"ada@example.com"}}`)
	require.Equal(t, http.StatusCreated, created.status, created.body)
	require.Equal(t, "HVAC-0042", created.body["code"])
	require.Equal(t, "/v1/devices/HVAC-0042", created.header.Get("Location"))
	require.Equal(t, "https://service.example.com/d/HVAC-0042", created.body["portalUrl"])
	require.Equal(t, "https://service.example.com/v1/devices/HVAC-0042/qr.png", created.body["qrUrl"])
	contact := created.body["contact"].(map[string]any)
	require.Equal(t, "ada@example.com", contact["email"])
	require.NotEmpty(t, contact["id"])
	require.Equal(t, contact["id"], created.body["contactId"])

	f.problem(http.StatusConflict, "POST", "/v1/devices", agent, "application/json", `{"code":"HVAC-0042","account":"Other"}`)

	// Generated codes; a retry with the same key is the same device.
	first := f.callWith("POST", "/v1/devices", agent, "application/json", `{"account":"Acme Ltd","model":"X"}`)
	require.Equal(t, http.StatusCreated, first.status)
	require.Regexp(t, `^[2-9A-HJ-NP-Z]{8}$`, first.body["code"])
	keyed := idempotent(t, f, agent, `{"account":"Acme Ltd","model":"Y"}`, "dev-1")
	require.Equal(t, http.StatusCreated, keyed.status)
	again := idempotent(t, f, agent, `{"account":"Acme Ltd","model":"Y"}`, "dev-1")
	require.Equal(t, http.StatusCreated, again.status)
	require.Equal(t, keyed.body["code"], again.body["code"])
	changed := idempotent(t, f, agent, `{"account":"Acme Ltd","model":"Z"}`, "dev-1")
	require.Equal(t, http.StatusUnprocessableEntity, changed.status, "the same key with another body is not a retry")

	got := f.call("GET", "/v1/devices/hvac-0042", f.token(auth.RoleEngineer), "", "")
	require.Equal(t, http.StatusOK, got.status)
	require.Equal(t, "Acme Ltd", got.body["account"])
	f.problem(http.StatusNotFound, "GET", "/v1/devices/NOPE-0000", agent, "", "")
	f.problem(http.StatusUnauthorized, "GET", "/v1/devices/HVAC-0042/qr.png", "", "", "")
	f.problem(http.StatusBadRequest, "GET", "/v1/devices/HVAC-0042/qr.png?size=5000", agent, "", "")
	f.problem(http.StatusNotFound, "GET", "/v1/devices/NOPE-0000/qr.png", agent, "", "")

	// The QR code holds the device's page.
	require.Equal(t, "https://service.example.com/d/HVAC-0042", decodeQR(t, f.fixture, "/v1/devices/HVAC-0042/qr.png?size=300", agent))
}

func idempotent(t *testing.T, f portalFixture, token, body, key string) answer {
	t.Helper()
	req, err := http.NewRequest("POST", f.server.URL+"/v1/devices", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&a.body))
	return a
}

// decodeQR fetches a QR code PNG and decodes it.
func decodeQR(t *testing.T, f *fixture, path, token string) string {
	t.Helper()
	req, err := http.NewRequest("GET", f.server.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "image/png", resp.Header.Get("Content-Type"))
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(raw))
	require.NoError(t, err)
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	require.NoError(t, err)
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true}) // a rendered code, not a photo
	require.NoError(t, err)
	return res.GetText()
}

func TestDeviceQRUsesTheRequestHostWithoutPublicURL(t *testing.T) {
	f := newPortalFixture(t, "")
	agent := f.token(auth.RoleAgent)
	created := f.call("POST", "/v1/devices", agent, "application/json", `{"code":"PUMP-7","account":"Acme"}`)
	require.Equal(t, http.StatusCreated, created.status)
	require.Equal(t, f.server.URL+"/d/PUMP-7", created.body["portalUrl"])
	require.Equal(t, f.server.URL+"/d/PUMP-7", decodeQR(t, f.fixture, "/v1/devices/PUMP-7/qr.png", agent))
}

func TestPortalPageOffersWhatAGuestMayReport(t *testing.T) {
	f := newPortalFixture(t, "")
	b := f.browser()
	p := b.get("/portal")
	require.Equal(t, http.StatusOK, p.status)
	require.Equal(t, "text/html; charset=utf-8", p.header.Get("Content-Type"))
	require.Contains(t, p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.Contains(t, p.body, `<option value="repair"`)
	require.NotContains(t, p.body, `<option value="installation"`, "installation is not taken from guests")
	require.NotContains(t, p.body, `<option value="maintenance"`)
	require.Contains(t, p.body, "Signed-in customers can also ask for: Installation")
	require.Contains(t, p.body, `action="/portal/code"`)
	formToken(t, p)
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == "ff_portal_form" {
			cookie = c
		}
	}
	require.NotNil(t, cookie)
	require.True(t, cookie.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, cookie.SameSite)

	// The device page: unknown codes are a page saying so.
	missing := b.get("/d/nope-1234")
	require.Equal(t, http.StatusNotFound, missing.status)
	require.Contains(t, missing.body, "NOPE-1234")
}

func TestPortalFormsNeedTheirToken(t *testing.T) {
	f := newPortalFixture(t, "")
	b := f.browser()
	token := formToken(t, b.get("/portal"))
	form := url.Values{"recordType": {"repair"}, "subject": {"Boiler leaks"}, "name": {"Ada"}, "email": {"ada@example.com"}}

	// No token, a token of another browser, a token from another site.
	require.Equal(t, http.StatusForbidden, b.postForm("/portal/work-orders", form).status)
	other := f.browser()
	otherToken := formToken(t, other.get("/portal"))
	withOther := cloneForm(form, "token", otherToken)
	p := b.postForm("/portal/work-orders", withOther)
	require.Equal(t, http.StatusForbidden, p.status)
	require.Contains(t, p.body, "load the page again")
	cross := b.postForm("/portal/work-orders", cloneForm(form, "token", token), "Origin", "https://evil.example")
	problemOf(t, cross, http.StatusForbidden)
	cross = b.postJSON("/portal/work-orders", map[string]any{"recordType": "repair"}, "Sec-Fetch-Site", "cross-site")
	problemOf(t, cross, http.StatusForbidden)
	problemOf(t, b.send("POST", "/portal/work-orders", "text/plain", `{"recordType":"repair"}`), http.StatusUnsupportedMediaType)
	problemOf(t, b.send("POST", "/portal/code", "text/plain", `{"email":"a@example.com"}`), http.StatusUnsupportedMediaType)
}

func cloneForm(v url.Values, key, value string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	out.Set(key, value)
	return out
}

func TestPortalSubmissionRules(t *testing.T) {
	f := newPortalFixture(t, "")
	b := f.browser()
	token := formToken(t, b.get("/portal"))

	// A form with mistakes comes back with what was written and the reasons.
	p := b.postForm("/portal/work-orders", url.Values{"token": {token}, "recordType": {"repair"}, "subject": {"Boiler leaks"},
		"email": {"not-an-address"}, "description": {"Water <everywhere>"}})
	require.Equal(t, http.StatusUnprocessableEntity, p.status)
	require.Contains(t, p.body, "Name: is required")
	require.Contains(t, p.body, "Email: is not an email address")
	require.Contains(t, p.body, "Water &lt;everywhere&gt;", "what was written is kept, escaped")
	require.Contains(t, p.body, `value="Boiler leaks"`)
	require.Equal(t, token, formToken(t, p), "the form comes back with its token, so sending it again is idempotent")

	// Guests: installation needs a signed-in contact, maintenance is not taken on the portal.
	guest := map[string]any{"recordType": "installation", "subject": "New boiler", "name": "Ada", "email": "ada@example.com"}
	a := problemOf(t, b.postJSON("/portal/work-orders", guest), http.StatusForbidden)
	require.Equal(t, "/problems/sign-in-required", a["type"])
	require.Contains(t, a["detail"], "Installation")
	guest["recordType"] = "maintenance"
	a = problemOf(t, b.postJSON("/portal/work-orders", guest), http.StatusUnprocessableEntity)
	require.Equal(t, "recordType", a["errors"].([]any)[0].(map[string]any)["field"])
	guest["recordType"] = "repair"
	delete(guest, "email")
	a = problemOf(t, b.postJSON("/portal/work-orders", guest), http.StatusUnprocessableEntity)
	require.Contains(t, a["errors"].([]any)[0].(map[string]any)["message"], "email or a phone")
	guest["device"] = "NOPE-0000"
	a = problemOf(t, b.postJSON("/portal/work-orders", guest), http.StatusUnprocessableEntity)
	require.Equal(t, "device", a["errors"].([]any)[0].(map[string]any)["field"])
	problemOf(t, b.postJSON("/portal/work-orders", map[string]any{"recordType": "repair", "colour": "red"}), http.StatusBadRequest)

	// A valid submission gets as far as starting the run: Temporal is down here.
	delete(guest, "device")
	guest["phone"] = "+357 22 000 000"
	problemOf(t, b.postJSON("/portal/work-orders", guest), http.StatusServiceUnavailable)
}

func TestPortalSignIn(t *testing.T) {
	f := newPortalFixture(t, "")
	ctx := context.Background()
	b := f.browser()

	// This server sends no mail: no codes.
	a := problemOf(t, b.postJSON("/portal/code", map[string]any{"email": "ada@example.com"}), http.StatusServiceUnavailable)
	require.Equal(t, "/problems/mail-unavailable", a["type"])
	problemOf(t, b.postJSON("/portal/code", map[string]any{"email": "ada"}), http.StatusUnprocessableEntity)

	// Five wrong codes lock the code; the right one is refused then.
	code, _, err := f.store.NewPortalCode(ctx, "ada@example.com", time.Now())
	require.NoError(t, err)
	bad := "000000"
	if code == bad {
		bad = "111111"
	}
	for i := 4; i >= 0; i-- {
		a = problemOf(t, b.postJSON("/portal/login", map[string]any{"email": "ada@example.com", "code": bad}), http.StatusUnprocessableEntity)
		require.Equal(t, "code", a["errors"].([]any)[0].(map[string]any)["field"])
	}
	a = problemOf(t, b.postJSON("/portal/login", map[string]any{"email": "ada@example.com", "code": code}), http.StatusForbidden)
	require.Equal(t, "/problems/code-locked", a["type"])

	// A new code: the form signs in, sets the session cookie and goes back to the portal.
	code, _, err = f.store.NewPortalCode(ctx, "Ada@Example.com", time.Now())
	require.NoError(t, err)
	token := formToken(t, b.get("/portal"))
	p := b.postForm("/portal/login", url.Values{"token": {token}, "email": {"ada@example.com"}, "code": {code}, "next": {"https://evil.example/"}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Equal(t, "/portal", p.header.Get("Location"), "no redirect off the site")
	var session *http.Cookie
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == "ff_portal" {
			session = c
		}
	}
	require.NotNil(t, session)
	require.True(t, session.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, session.SameSite)
	require.Equal(t, 7*24*3600, session.MaxAge)
	contactID, err := f.keys.VerifyPortalSession(session.Value)
	require.NoError(t, err)
	contact, err := f.store.GetContact(ctx, contactID)
	require.NoError(t, err)
	require.Equal(t, "ada@example.com", contact.Email)
	// The session is no staff token.
	f.problem(http.StatusUnauthorized, "GET", "/v1/work-orders", session.Value, "", "")

	signedIn := b.get("/portal")
	require.Contains(t, signedIn.body, "Signed in as <strong>ada@example.com</strong>")
	require.Contains(t, signedIn.body, `<option value="installation"`)
	require.NotContains(t, signedIn.body, `action="/portal/code"`)

	// The code was used up.
	problemOf(t, b.postJSON("/portal/login", map[string]any{"email": "ada@example.com", "code": code}), http.StatusUnprocessableEntity)

	// Signed in, an installation is taken (up to starting its run), and maintenance still is not.
	problemOf(t, b.postJSON("/portal/work-orders", map[string]any{"recordType": "installation", "subject": "New boiler"}), http.StatusServiceUnavailable)
	problemOf(t, b.postJSON("/portal/work-orders", map[string]any{"recordType": "maintenance", "subject": "Yearly check"}), http.StatusUnprocessableEntity)

	out := b.postForm("/portal/logout", url.Values{"token": {formToken(t, signedIn)}})
	require.Equal(t, http.StatusSeeOther, out.status)
	require.NotContains(t, b.get("/portal").body, "Signed in as")

	// Matched, not duplicated: signing in again finds the same contact.
	again, err := f.store.MatchContact(ctx, process.Contact{Email: "ADA@example.com"})
	require.NoError(t, err)
	require.Equal(t, contactID, again.ID)
}

func TestPortalRateLimit(t *testing.T) {
	f := newPortalFixture(t, "")
	b := f.browser()
	var limited *page
	for range 100 {
		p := b.get("/portal")
		if p.status == http.StatusTooManyRequests {
			limited = &p
			break
		}
		require.Equal(t, http.StatusOK, p.status)
	}
	require.NotNil(t, limited, "100 pages at once are limited")
	problemOf(t, *limited, http.StatusTooManyRequests)
	require.Equal(t, "1", limited.header.Get("Retry-After"))
	// Staff endpoints are not limited by the portal's budget.
	require.Equal(t, http.StatusOK, f.call("GET", "/v1/work-orders", f.token(auth.RoleAgent), "", "").status)
}
