package e2e

import (
	"bytes"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/auth"
)

// customer is a customer's browser: it keeps cookies and does not follow redirects, so the tests
// see them.
type customer struct {
	t      *testing.T
	base   string
	client *http.Client
}

func newCustomer(t *testing.T, base string) *customer {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &customer{t: t, base: base, client: &http.Client{Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type webPage struct {
	status int
	header http.Header
	body   string
}

func (c *customer) send(method, target, contentType, body string) webPage {
	c.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = c.base + target
	}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	require.NoError(c.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.client.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return webPage{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

func (c *customer) get(target string) webPage { return c.send("GET", target, "", "") }

func (c *customer) post(path string, form url.Values) webPage {
	return c.send("POST", path, "application/x-www-form-urlencoded", form.Encode())
}

func (c *customer) postJSON(path string, body any) webPage {
	raw, err := json.Marshal(body)
	require.NoError(c.t, err)
	return c.send("POST", path, "application/json", string(raw))
}

var (
	formTokenRe   = regexp.MustCompile(`name="token" value="([^"]+)"`)
	orderNumberRe = regexp.MustCompile(`<p class="number">([^<]+)</p>`)
	signInCodeRe  = regexp.MustCompile(`\b([0-9]{6})\b`)
)

// tokenOf is the form token of a portal page.
func tokenOf(t *testing.T, p webPage) string {
	t.Helper()
	m := formTokenRe.FindStringSubmatch(p.body)
	require.NotNil(t, m, "the page has a form token: %s", p.body)
	return m[1]
}

// orderNumber is the work-order number a thank-you page shows.
func orderNumber(t *testing.T, p webPage) string {
	t.Helper()
	require.Equal(t, http.StatusCreated, p.status, p.body)
	m := orderNumberRe.FindStringSubmatch(p.body)
	require.NotNil(t, m, "the thank-you page shows the number: %s", p.body)
	return m[1]
}

// ordersBy lists the work orders of a channel, as staff see them.
func ordersBy(t *testing.T, staff api, channel string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, item := range staff.must(http.StatusOK, "GET", "/v1/work-orders?channel="+channel, nil)["items"].([]any) {
		out = append(out, item.(map[string]any))
	}
	return out
}

// TestPortalGuestSubmission: a guest reports a repair through the portal's form; the order is a
// guest order with a matched contact, a double submit makes one order, and an installation is
// refused to a guest.
func TestPortalGuestSubmission(t *testing.T) {
	stack := startStack(t)
	staff := api{t: t, base: stack.APIURL, token: token(t, stack, "dora", auth.RoleDispatcher)}
	guest := newCustomer(t, stack.APIURL)

	page := guest.get("/portal")
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, `<option value="repair"`)
	require.NotContains(t, page.body, `<option value="installation"`)
	form := url.Values{"token": {tokenOf(t, page)}, "recordType": {"repair"}, "subject": {"Boiler leaks"},
		"description": {"Water under the boiler since this morning."}, "name": {"Grace Hopper"},
		"email": {"Grace@Example.com"}, "phone": {"+357 22 000 111"}, "address": {"1 Harbour Road, Limassol"}}
	thanks := guest.post("/portal/work-orders", form)
	number := orderNumber(t, thanks)
	require.Regexp(t, `^WO-\d{4}-\d{6}$`, number)
	require.Contains(t, thanks.body, "Your repair is recorded")

	// The browser sends the form twice (a double click, a reload): still one order.
	require.Equal(t, number, orderNumber(t, guest.post("/portal/work-orders", form)))
	orders := ordersBy(t, staff, "guest")
	require.Len(t, orders, 1)
	wo := staff.must(http.StatusOK, "GET", "/v1/work-orders/"+orders[0]["id"].(string), nil)
	require.Equal(t, number, wo["number"])
	require.Equal(t, "guest", wo["channel"])
	require.Equal(t, "repair", wo["recordType"])
	require.Equal(t, "Boiler leaks", wo["subject"])
	require.Equal(t, "1 Harbour Road, Limassol", wo["fields"].(map[string]any)["address"])
	contact := wo["contact"].(map[string]any)
	require.NotEmpty(t, contact["id"], "the guest is matched to a contact")
	require.True(t, strings.EqualFold("grace@example.com", contact["email"].(string)), contact)
	require.Equal(t, "Grace Hopper", contact["name"])

	// The same person as a guest again, by phone only: the same contact.
	second := guest.postJSON("/portal/work-orders", map[string]any{"recordType": "repair", "subject": "Boiler leaks again",
		"name": "Grace Hopper", "phone": "+35722000111"})
	require.Equal(t, http.StatusCreated, second.status, second.body)
	var created map[string]any
	require.NoError(t, json.Unmarshal([]byte(second.body), &created))
	require.Equal(t, "guest", created["channel"])
	require.NotContains(t, second.body, "grace@example.com", "the public answer holds no personal data")
	again := staff.must(http.StatusOK, "GET", "/v1/work-orders/"+created["id"].(string), nil)
	require.Equal(t, contact["id"], again["contact"].(map[string]any)["id"])

	// An installation is for signed-in customers.
	form = url.Values{"token": {tokenOf(t, guest.get("/portal"))}, "recordType": {"installation"}, "subject": {"New boiler"},
		"name": {"Grace Hopper"}, "email": {"grace@example.com"}}
	refused := guest.post("/portal/work-orders", form)
	require.Equal(t, http.StatusForbidden, refused.status, refused.body)
	require.Contains(t, refused.body, "Installation can be requested by signed-in customers only")
	require.Len(t, ordersBy(t, staff, "guest"), 2, "the refused installation made no order")
}

// TestPortalSignInWithEmailedCode: a contact asks for a code, reads it from the email the mailbox
// received over SMTP, signs in and reports twice: portal orders under one contact. Five wrong
// codes lock the code; codes asked for too often are refused with 429.
func TestPortalSignInWithEmailedCode(t *testing.T) {
	box := startMailbox(t)
	stack := startStack(t, box.mailer)
	staff := api{t: t, base: stack.APIURL, token: token(t, stack, "dora", auth.RoleDispatcher)}
	ada := newCustomer(t, stack.APIURL)

	sent := ada.post("/portal/code", url.Values{"token": {tokenOf(t, ada.get("/portal"))}, "email": {"ada@example.com"}})
	require.Equal(t, http.StatusOK, sent.status, sent.body)
	require.Contains(t, sent.body, "We emailed a six-digit code to ada@example.com")
	require.Eventually(t, func() bool { return len(box.received()) == 1 }, 20*time.Second, 50*time.Millisecond)
	msg := box.received()[0]
	require.Equal(t, "desk@fieldflow.test", msg.from)
	require.Equal(t, []string{"ada@example.com"}, msg.to)
	parsed, err := mail.ReadMessage(strings.NewReader(msg.data))
	require.NoError(t, err)
	require.Equal(t, "Your sign-in code", parsed.Header.Get("Subject"))
	require.Equal(t, "ada@example.com", parsed.Header.Get("To"))
	require.NotEmpty(t, parsed.Header.Get("Message-ID"))
	require.NotEmpty(t, parsed.Header.Get("Date"))
	require.True(t, strings.HasPrefix(parsed.Header.Get("Content-Type"), "text/plain"))
	m := signInCodeRe.FindStringSubmatch(msg.body(t))
	require.NotNil(t, m, msg.body(t))
	code := m[1]

	signedIn := ada.post("/portal/login", url.Values{"token": {tokenOf(t, sent)}, "email": {"ada@example.com"}, "code": {code}})
	require.Equal(t, http.StatusSeeOther, signedIn.status, signedIn.body)
	require.Equal(t, "/portal", signedIn.header.Get("Location"))
	home := ada.get("/portal")
	require.Contains(t, home.body, "Signed in as <strong>ada@example.com</strong>")
	require.Contains(t, home.body, `<option value="installation"`, "signed in, installations are offered")

	first := orderNumber(t, ada.post("/portal/work-orders", url.Values{"token": {tokenOf(t, home)}, "recordType": {"installation"},
		"subject": {"Install the new boiler"}, "phone": {"+357 99 000 222"}}))
	second := orderNumber(t, ada.post("/portal/work-orders", url.Values{"token": {tokenOf(t, ada.get("/portal"))}, "recordType": {"repair"},
		"subject": {"Radiator cold"}}))
	require.NotEqual(t, first, second)
	orders := ordersBy(t, staff, "portal")
	require.Len(t, orders, 2)
	var contactIDs []string
	for _, o := range orders {
		wo := staff.must(http.StatusOK, "GET", "/v1/work-orders/"+o["id"].(string), nil)
		require.Equal(t, "portal", wo["channel"])
		contact := wo["contact"].(map[string]any)
		require.Equal(t, "ada@example.com", contact["email"])
		require.Equal(t, "+35799000222", strings.ReplaceAll(contact["phone"].(string), " ", ""), "the phone given on the form completes the contact")
		contactIDs = append(contactIDs, contact["id"].(string))
	}
	require.NotEmpty(t, contactIDs[0])
	require.Equal(t, contactIDs[0], contactIDs[1], "one contact across both orders")

	// The code worked once.
	used := ada.postJSON("/portal/login", map[string]any{"email": "ada@example.com", "code": code})
	require.Equal(t, http.StatusUnprocessableEntity, used.status, used.body)

	// Five wrong codes lock the code: the right one no longer signs in.
	mallory := newCustomer(t, stack.APIURL)
	sentTo := mallory.postJSON("/portal/code", map[string]any{"email": "bob@example.com"})
	require.Equal(t, http.StatusAccepted, sentTo.status, sentTo.body)
	require.Eventually(t, func() bool { return len(box.received()) == 2 }, 20*time.Second, 50*time.Millisecond)
	bobCode := signInCodeRe.FindStringSubmatch(box.received()[1].body(t))[1]
	wrong := "000000"
	if bobCode == wrong {
		wrong = "999999"
	}
	for i := range 5 {
		r := mallory.postJSON("/portal/login", map[string]any{"email": "bob@example.com", "code": wrong})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "try %d: %s", i+1, r.body)
	}
	locked := mallory.postJSON("/portal/login", map[string]any{"email": "bob@example.com", "code": bobCode})
	require.Equal(t, http.StatusForbidden, locked.status, locked.body)
	require.Contains(t, locked.body, "code-locked")
	require.NotContains(t, mallory.get("/portal").body, "Signed in as")

	// Asking again for one address within a minute (a double click, a reload) answers the same
	// and sends no second email; the per-address limit is tested in api/burst_test.go.
	mails := len(box.received())
	for range 3 {
		require.Equal(t, http.StatusAccepted, mallory.postJSON("/portal/code", map[string]any{"email": "BOB@example.com"}).status)
	}
	require.Never(t, func() bool { return len(box.received()) > mails }, 2*time.Second, 100*time.Millisecond, "the code sent a moment ago stands")
	require.Equal(t, http.StatusAccepted, mallory.postJSON("/portal/code", map[string]any{"email": "eve@example.com"}).status,
		"another address is not limited")
}

// TestDeviceCodeQR: staff register a device and print its QR code; the test decodes the PNG,
// follows the link like a phone would, and reports from the pre-filled page: a device order with
// the device and its account.
func TestDeviceCodeQR(t *testing.T) {
	stack := startStack(t)
	agent := api{t: t, base: stack.APIURL, token: token(t, stack, "alice", auth.RoleAgent)}
	device := agent.must(http.StatusCreated, "POST", "/v1/devices", map[string]any{
		"account": "Acme Hotels", "category": "hvac", "model": "Daikin FTXM35", "serial": "SN-998877",
		"contact": map[string]any{"name": "Facility desk", "email": "facility@acme.example"},
	})
	code := device["code"].(string)
	require.Regexp(t, `^[2-9A-HJ-NP-Z]{8}$`, code)
	require.Equal(t, stack.APIURL+"/d/"+code, device["portalUrl"])
	agent.must(http.StatusOK, "GET", "/v1/devices/"+code, nil)

	// The label's QR code, decoded from the PNG.
	req, err := http.NewRequest("GET", device["qrUrl"].(string), nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+agent.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(raw))
	require.Equal(t, "image/png", resp.Header.Get("Content-Type"))
	img, err := png.Decode(bytes.NewReader(raw))
	require.NoError(t, err)
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	require.NoError(t, err)
	decoded, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true}) // a rendered code, not a photo
	require.NoError(t, err)
	link := decoded.GetText()
	require.Equal(t, stack.APIURL+"/d/"+code, link)

	// A phone opens the link: the page shows the equipment and takes the report.
	phone := newCustomer(t, stack.APIURL)
	page := phone.get(link)
	require.Equal(t, http.StatusOK, page.status, page.body)
	for _, want := range []string{code, "Acme Hotels", "hvac", "Daikin FTXM35", "SN-998877", `name="device" value="` + code + `"`} {
		require.Contains(t, page.body, want)
	}
	require.NotContains(t, page.body, "facility@acme.example", "the contact on file is not shown to whoever scans")
	require.Contains(t, page.body, `<option value="maintenance"`, "maintenance takes device reports")
	require.NotContains(t, page.body, `<option value="installation"`)
	form := url.Values{"token": {tokenOf(t, page)}, "device": {code}, "recordType": {"repair"}, "subject": {"Unit blows warm air"},
		"name": {"Room 12 guest"}, "email": {"guest12@example.com"}}
	number := orderNumber(t, phone.post("/portal/work-orders", form))

	orders := ordersBy(t, agent, "device")
	require.Len(t, orders, 1)
	wo := agent.must(http.StatusOK, "GET", "/v1/work-orders/"+orders[0]["id"].(string), nil)
	require.Equal(t, number, wo["number"])
	require.Equal(t, "device", wo["channel"])
	require.Equal(t, "Acme Hotels", wo["account"])
	dev := wo["device"].(map[string]any)
	require.Equal(t, code, dev["code"])
	require.Equal(t, "hvac", dev["category"])
	require.Equal(t, "Daikin FTXM35", dev["model"])
	require.Equal(t, "SN-998877", dev["serial"])
	require.Equal(t, "guest12@example.com", wo["contact"].(map[string]any)["email"])

	// Nobody named: the report goes to the equipment's contact on file. A lower-case code works.
	anon := newCustomer(t, stack.APIURL)
	lower := anon.get("/d/" + strings.ToLower(code))
	require.Equal(t, http.StatusOK, lower.status)
	orderNumber(t, anon.post("/portal/work-orders", url.Values{"token": {tokenOf(t, lower)}, "device": {code},
		"recordType": {"maintenance"}, "subject": {"Filter light on"}}))
	byDevice := ordersBy(t, agent, "device")
	require.Len(t, byDevice, 2)
	var maintenance map[string]any
	for _, o := range byDevice {
		if o["recordType"] == "maintenance" {
			maintenance = agent.must(http.StatusOK, "GET", "/v1/work-orders/"+o["id"].(string), nil)
		}
	}
	require.NotNil(t, maintenance)
	require.Equal(t, device["contact"].(map[string]any)["id"], maintenance["contact"].(map[string]any)["id"])
	require.Equal(t, "Acme Hotels", maintenance["account"])

	// An unknown code is a page saying so.
	require.Equal(t, http.StatusNotFound, anon.get("/d/ZZZZ9999").status)
}

// TestPortalRateLimits: one address sending page after page is told to wait (429 with
// Retry-After), and staff endpoints are not affected.
func TestPortalRateLimits(t *testing.T) {
	stack := startStack(t)
	c := newCustomer(t, stack.APIURL)
	var limited *webPage
	for i := 0; i < 200 && limited == nil; i++ {
		p := c.get("/portal")
		if p.status == http.StatusTooManyRequests {
			limited = &p
			continue
		}
		require.Equal(t, http.StatusOK, p.status, p.body)
	}
	require.NotNil(t, limited, "200 pages in a row are limited")
	require.Equal(t, "application/problem+json", limited.header.Get("Content-Type"))
	require.Regexp(t, `^[1-9][0-9]*$`, limited.header.Get("Retry-After"))
	var problem map[string]any
	require.NoError(t, json.Unmarshal([]byte(limited.body), &problem))
	require.Equal(t, "/problems/rate-limited", problem["type"])
	require.EqualValues(t, 429, problem["status"])
	// The posts draw on the same budget: of a few sent at once, some are refused.
	refused := 0
	for range 5 {
		if c.postJSON("/portal/work-orders", map[string]any{"recordType": "repair"}).status == http.StatusTooManyRequests {
			refused++
		}
	}
	require.Positive(t, refused)
	staff := api{t: t, base: stack.APIURL, token: token(t, stack, "alice", auth.RoleAgent)}
	staff.must(http.StatusOK, "GET", "/v1/work-orders", nil)
}
