package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/auth"
)

// The public posts a customer may send twice (a double click, a reload, a retry after a lost
// answer), over the whole stack: the portal's work-order form, a rating link and an approval
// link. What is decided before a run is reached is tested in api/burst_test.go.

// requirePublicPage checks a public HTML page: the status, the headers every public page has, and
// that the body contains each of contains.
func requirePublicPage(t *testing.T, p webPage, status int, contains ...string) {
	t.Helper()
	require.Equal(t, status, p.status, p.body)
	require.Equal(t, "text/html; charset=utf-8", p.header.Get("Content-Type"))
	require.Contains(t, p.header.Get("Content-Security-Policy"), "default-src 'none'")
	require.Equal(t, "no-store", p.header.Get("Cache-Control"))
	for _, c := range contains {
		require.Contains(t, p.body, c)
	}
}

// TestPortalFormSentTwiceMakesOneOrder: the form's one-time token is the order's idempotency key;
// the same form sent again answers the same order, a new form makes a new one. A JSON post with
// the same Idempotency-Key does the same.
func TestPortalFormSentTwiceMakesOneOrder(t *testing.T) {
	stack := startStack(t)
	staff := api{t: t, base: stack.APIURL, token: token(t, stack, "dora", auth.RoleDispatcher)}
	guest := newCustomer(t, stack.APIURL)

	form := url.Values{"token": {tokenOf(t, guest.get("/portal"))}, "recordType": {"repair"}, "subject": {"Boiler leaks"},
		"description": {"Water under the boiler."}, "name": {"Grace Hopper"}, "email": {"grace@example.com"}}
	number := orderNumber(t, guest.post("/portal/work-orders", form))
	require.Equal(t, number, orderNumber(t, guest.post("/portal/work-orders", form)), "the same confirmation")
	orders := ordersBy(t, staff, "guest")
	require.Len(t, orders, 1, "one order")
	require.Equal(t, number, orders[0]["number"])

	form.Set("token", tokenOf(t, guest.get("/portal")))
	other := orderNumber(t, guest.post("/portal/work-orders", form))
	require.NotEqual(t, number, other, "a new form is a new order")
	require.Len(t, ordersBy(t, staff, "guest"), 2)

	body := map[string]any{"recordType": "repair", "subject": "Boiler leaks", "name": "Grace Hopper", "email": "grace@example.com"}
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	var ids []string
	for range 2 {
		req, err := http.NewRequest("POST", stack.APIURL+"/portal/work-orders", strings.NewReader(string(raw)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "k-1")
		resp, err := guest.client.Do(req)
		require.NoError(t, err)
		var wo map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&wo))
		resp.Body.Close()
		require.Equal(t, http.StatusCreated, resp.StatusCode, wo)
		ids = append(ids, wo["id"].(string))
	}
	require.Equal(t, ids[0], ids[1])
	require.Len(t, ordersBy(t, staff, "guest"), 3)
}

// TestRatingPostedAgain: once the rating is recorded, the same answers posted again get the same
// confirmation and record nothing more; other answers are refused (410).
func TestRatingPostedAgain(t *testing.T) {
	stack := startStack(t)
	anon := api{t: t, base: stack.APIURL}
	sam := anon.as(token(t, stack, "sam", auth.RoleSupervisor))
	dan := anon.as(token(t, stack, "dan", auth.RoleDispatcher))
	eve := anon.as(groupToken(t, stack.Keys, "eve", []string{"hvac"}, auth.RoleEngineer))
	sam.must(http.StatusCreated, "POST", "/v1/groups", map[string]any{"key": "hvac", "title": "HVAC engineers"})
	sam.must(http.StatusCreated, "PUT", "/v1/groups/hvac/members/eve", map[string]any{})
	path, number := repairAtRating(t, dan, eve, "ada@example.com")

	// The rating link, as staff show it on site.
	qr := dan.do("GET", path+"/rating/qr.png", nil)
	require.Equal(t, http.StatusOK, qr.Status, qr.Raw)
	link := decodeQR(t, []byte(qr.Raw))
	require.True(t, strings.HasPrefix(link, stack.APIURL+"/rate/"), link)

	contact := newCustomer(t, stack.APIURL)
	answers := url.Values{"score": {"4"}, "q_fixed": {"yes"}, "comment": {"Quick and tidy"}}
	requirePublicPage(t, contact.post(link, answers), http.StatusOK, "Thank you", number)
	requirePublicPage(t, contact.post(link, answers), http.StatusOK, "Thank you", number, "Your rating is recorded")

	// One rating on the order.
	ratings := func() []any {
		rs, _ := dan.must(http.StatusOK, "GET", path, nil)["ratings"].([]any)
		return rs
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) { require.NotEmpty(c, ratings()) }, 20*time.Second, 100*time.Millisecond)
	require.Len(t, ratings(), 1, "the second post recorded nothing")
	r := ratings()[0].(map[string]any)
	require.EqualValues(t, 4, r["score"])
	require.Equal(t, "contact", r["by"])
	require.Equal(t, "Quick and tidy", r["comment"])

	for _, other := range []url.Values{
		{"score": {"2"}, "q_fixed": {"yes"}, "comment": {"Quick and tidy"}},
		{"score": {"4"}, "q_fixed": {"no"}, "comment": {"Quick and tidy"}},
		{"score": {"4"}, "q_fixed": {"yes"}},
	} {
		p := contact.post(link, other)
		requirePublicPage(t, p, http.StatusGone, "Already rated", "cannot be changed")
		require.NotContains(t, p.body, "<form")
	}
	require.Len(t, ratings(), 1)
	require.Equal(t, 1, count(eventTypes(dan.must(http.StatusOK, "GET", path+"/events", nil)), "rated"))
	// The page itself says the link is used.
	requirePublicPage(t, contact.get(link), http.StatusGone, "Already rated")
}

// TestApprovalPostedAgain: the contact's decision posted again gets the same confirmation and
// records no second decision; the other decision is refused (409), before and after the run has
// applied the first.
func TestApprovalPostedAgain(t *testing.T) {
	stack := startStack(t)
	alice := api{t: t, base: stack.APIURL, token: token(t, stack, "alice", auth.RoleAgent)}
	sr := alice.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "billing", "subject": "Refund for the outage", "contact": map[string]any{"name": "Ada", "email": "ada@example.com"},
	})
	number := sr["number"].(string)
	path := "/v1/service-requests/" + sr["id"].(string)
	// Charges above 100 make leaving the proposal stage wait for the contact's approval.
	alice.must(http.StatusOK, "POST", path+"/charges", map[string]any{"kind": "service", "description": "Refund handling", "unitPrice": 140})
	alice.must(http.StatusOK, "POST", path+"/progress", nil)
	require.Equal(t, "proposal", alice.must(http.StatusOK, "POST", path+"/progress", nil)["stage"])
	asked := alice.must(http.StatusOK, "POST", path+"/progress", nil)
	approval := asked["approvals"].([]any)[0].(map[string]any)
	require.Equal(t, "pending", approval["status"])
	link := alice.must(http.StatusOK, "GET", path+"/approvals/"+approval["id"].(string)+"/link", nil)["url"].(string)
	require.True(t, strings.HasPrefix(link, stack.APIURL+"/approve/"), link)

	contact := newCustomer(t, stack.APIURL)
	approve := url.Values{"decision": {"approve"}, "comment": {"fine by me"}}
	requirePublicPage(t, contact.post(link, approve), http.StatusOK, "Thank you", "Your approval is recorded", number)
	requirePublicPage(t, contact.post(link, approve), http.StatusOK, "Thank you", "Your approval is recorded")
	p := contact.post(link, url.Values{"decision": {"reject"}})
	requirePublicPage(t, p, http.StatusConflict, "Already decided", "You already sent your approval")
	require.NotContains(t, p.body, "<form")

	// The run applies the one decision sent.
	var decided map[string]any
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		decided = alice.must(http.StatusOK, "GET", path, nil)["approvals"].([]any)[0].(map[string]any)
		require.Equal(c, "approved", decided["status"])
	}, 20*time.Second, 100*time.Millisecond)
	decisions := decided["decisions"].([]any)
	require.Len(t, decisions, 1, "one decision recorded")
	d := decisions[0].(map[string]any)
	require.Equal(t, "contact", d["by"])
	require.Equal(t, "approve", d["decision"])
	require.Equal(t, "fine by me", d["comment"])

	// Applied by the run: the same again.
	requirePublicPage(t, contact.post(link, approve), http.StatusOK, "Thank you", "Your approval is recorded")
	p = contact.post(link, url.Values{"decision": {"reject"}})
	requirePublicPage(t, p, http.StatusConflict, "Already decided", "You already sent your approval")
	require.NotContains(t, p.body, "<form")
	time.Sleep(500 * time.Millisecond)
	again := alice.must(http.StatusOK, "GET", path, nil)["approvals"].([]any)[0].(map[string]any)
	require.Equal(t, "approved", again["status"])
	require.Len(t, again["decisions"], 1, "still one decision")
}
