package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/auth"
)

var (
	requestNumberRe = regexp.MustCompile(`id="request-number">([^<]+)<`)
	statusLinkRe    = regexp.MustCompile(`id="status-link" href="([^"]+)"`)
	bindingRe       = regexp.MustCompile(`name="binding" value="([^"]+)"`)
)

// TestSignedInContactRequestAndItsStatus: a contact signs in with an emailed code and sends a
// billing request from its layout form: channel portal, the contact from the session, the phone
// from the form; sent twice (same form token), one request. The queue's rule routes the refund to
// billing-desk. Once staff close it, the status page says so, offers no comment form, and a
// comment posted from the page loaded before is refused without losing the text.
func TestSignedInContactRequestAndItsStatus(t *testing.T) {
	box := startMailbox(t)
	stack := startStack(t, box.mailer)
	ada := newCustomer(t, stack.APIURL)

	sent := ada.post("/portal/code", url.Values{"token": {tokenOf(t, ada.get("/portal"))}, "email": {"ada@example.com"}})
	require.Equal(t, http.StatusOK, sent.status, sent.body)
	require.Eventually(t, func() bool { return len(box.received()) == 1 }, 20*time.Second, 50*time.Millisecond)
	m := signInCodeRe.FindStringSubmatch(box.received()[0].body(t))
	require.NotNil(t, m)
	signedIn := ada.post("/portal/login", url.Values{"token": {tokenOf(t, sent)}, "email": {"ada@example.com"}, "code": {m[1]},
		"next": {"/portal?queue=billing"}})
	require.Equal(t, http.StatusSeeOther, signedIn.status, signedIn.body)
	require.Equal(t, "/portal?queue=billing", signedIn.header.Get("Location"))

	form := ada.get("/portal?queue=billing")
	require.Equal(t, http.StatusOK, form.status)
	require.Contains(t, form.body, "Signed in as <strong>ada@example.com</strong>")
	require.NotContains(t, form.body, `name="name"`, "a signed-in contact gives no details")
	values := url.Values{"token": {tokenOf(t, form)}, "queue": {"billing"}, "subject": {"Refund the deposit"},
		"category": {"refund"}, "description": {"Contract 77 ended in May."}, "phone": {"+357 99 000 333"}}
	received := ada.post("/portal/service-requests", values)
	require.Equal(t, http.StatusCreated, received.status, received.body)
	number := requestNumberRe.FindStringSubmatch(received.body)[1]
	again := ada.post("/portal/service-requests", values)
	require.Equal(t, http.StatusCreated, again.status, again.body)
	require.Equal(t, number, requestNumberRe.FindStringSubmatch(again.body)[1], "the same form sent twice is one request")
	statusURL := statusLinkRe.FindStringSubmatch(received.body)[1]
	require.True(t, strings.HasPrefix(statusURL, stack.APIURL+"/portal/requests/"), statusURL)

	desk := api{t: t, base: stack.APIURL, token: groupToken(t, stack.Keys, "gus", []string{"billing-desk"}, auth.RoleAgent)}
	list := desk.must(http.StatusOK, "GET", "/v1/service-requests?queue=billing", nil)["items"].([]any)
	var sr map[string]any
	for _, it := range list {
		if it.(map[string]any)["number"] == number {
			sr = it.(map[string]any)
		}
	}
	require.NotNil(t, sr, "the desk sees %s", number)
	require.Len(t, list, 1)
	path := "/v1/service-requests/" + sr["id"].(string)
	sr = desk.must(http.StatusOK, "GET", path, nil)
	require.Equal(t, "portal", sr["channel"])
	require.Equal(t, "billing-desk", sr["team"], "the refund rule routes it")
	require.Empty(t, sr["owner"])
	contact := sr["contact"].(map[string]any)
	require.Equal(t, "ada@example.com", contact["email"])
	require.NotEmpty(t, contact["id"], "the signed-in contact")
	require.Equal(t, "+35799000333", strings.ReplaceAll(contact["phone"].(string), " ", ""), "the phone on the form completes the contact")
	require.Equal(t, "portal:"+contact["id"].(string), sr["createdBy"])

	page := ada.get(statusURL)
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, page.body, "Passed to the team that handles it")
	require.NotContains(t, page.body, "billing-desk", "no staff names on the customer's page")
	token, binding := tokenOf(t, page), bindingRe.FindStringSubmatch(page.body)[1]

	desk.must(http.StatusOK, "POST", path+"/take-over", nil)
	desk.must(http.StatusOK, "POST", path+"/close", map[string]any{"resolved": true, "resolution": "Deposit refunded"})
	closed := ada.get(statusURL)
	require.Contains(t, closed.body, `<dd id="state">closed</dd>`)
	require.Contains(t, closed.body, "Closed: resolved")
	require.NotContains(t, closed.body, `id="comment-form"`)
	require.Contains(t, closed.body, "This request is closed")

	late := ada.post(statusURL+"/comments", url.Values{"token": {token}, "binding": {binding}, "comment": {"Thanks! And the interest?"}})
	require.Equal(t, http.StatusConflict, late.status, late.body)
	require.Contains(t, late.body, "takes no more comments")
	require.Contains(t, late.body, "Thanks! And the interest?", "the comment is shown, not lost")
	events := eventTypes(desk.must(http.StatusOK, "GET", path+"/events", nil))
	require.NotContains(t, events, "customer_commented")
}
