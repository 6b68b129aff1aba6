package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/auth"
)

// TestGuestRequestThroughThePortalInABrowser: a guest opens the portal in a real headless
// Chromium, picks technical support and fills its layout; sent without a subject the form comes
// back with the reason and nothing typed lost; sent again it gives the request's number and a
// signed status link. The status page shows the stage, state and history and takes a comment.
// The request waits in the pool of the queue's handlers (the tech-support group): two agents
// claim it at once, exactly one owns it, the other gets 409. A request the queue's rules route
// lands with its team, out of the pool. The embeddable form loads inside the example page of
// deploy/ served from another origin, which the other portal pages refuse to be framed by.
func TestGuestRequestThroughThePortalInABrowser(t *testing.T) {
	browser := browserContext(t)
	example, err := os.ReadFile("../deploy/embed-example.html")
	require.NoError(t, err)
	var apiURL string
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page := strings.ReplaceAll(string(example), "http://localhost:8080", apiURL)
		if r.URL.Path == "/framing-the-portal.html" {
			page = strings.ReplaceAll(page, "/portal/embed?queue=technical-support", "/portal?queue=technical-support")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, page)
	}))
	t.Cleanup(site.Close)
	// The company's site is another origin: localhost against the API's 127.0.0.1.
	siteURL := strings.Replace(site.URL, "127.0.0.1", "localhost", 1)
	t.Setenv("FIELDFLOW_EMBED_ORIGINS", siteURL) // api.EmbedOriginsEnv, read when the API starts
	stack := startStack(t)
	apiURL = stack.APIURL
	anon := api{t: t, base: stack.APIURL}

	// The guest picks the queue on the portal and sends the form without a subject.
	type css = chromedp.CSS
	inBrowser(t, browser,
		chromedp.Navigate(stack.APIURL+"/portal"),
		chromedp.WaitVisible(css(`a[href="/portal?queue=technical-support"]`)),
		chromedp.Click(css(`a[href="/portal?queue=technical-support"]`)),
		chromedp.WaitVisible(css(`#request-form`)),
		chromedp.SetValue(css(`#f-category`), "account-access"), // no rule routes it: the pool
		chromedp.SendKeys(css(`#f-description`), "The password reset mail never comes."),
		chromedp.SendKeys(css(`#f-phone`), "+357 99 555000"),
		chromedp.SetValue(css(`#f-fields\.contact-time`), "morning"),
		chromedp.SendKeys(css(`#name`), "Grace Guest"),
		chromedp.SendKeys(css(`#email`), "grace@example.com"),
		chromedp.Click(css(`#request-form button[type=submit]`)),
		chromedp.WaitVisible(css(`#e-subject`)),
	)
	require.Equal(t, "is required", fromBrowser(t, browser, chromedp.Text(css(`#e-subject`))))
	require.Contains(t, fromBrowser(t, browser, chromedp.Text(css(`.errors`))), "What is wrong?: is required")
	require.Equal(t, "The password reset mail never comes.", fromBrowser(t, browser, chromedp.Value(css(`#f-description`))), "nothing typed is lost")
	require.Equal(t, "account-access", fromBrowser(t, browser, chromedp.Value(css(`#f-category`))))
	require.Equal(t, "morning", fromBrowser(t, browser, chromedp.Value(css(`#f-fields\.contact-time`))))
	require.Equal(t, "grace@example.com", fromBrowser(t, browser, chromedp.Value(css(`#email`))))

	inBrowser(t, browser,
		chromedp.SendKeys(css(`#f-subject`), "Cannot sign in to my account"),
		chromedp.Click(css(`#request-form button[type=submit]`)),
		chromedp.WaitVisible(css(`#request-number`)),
	)
	number := fromBrowser(t, browser, chromedp.Text(css(`#request-number`)))
	require.Regexp(t, `^TS-\d{4}-\d{6}$`, number)
	statusURL := fromBrowser(t, browser, chromedp.Evaluate[string](`document.getElementById('status-link').href`))
	require.True(t, strings.HasPrefix(statusURL, stack.APIURL+"/portal/requests/"), statusURL)

	// The status page, without any login.
	inBrowser(t, browser,
		chromedp.Click(css(`#status-link`)),
		chromedp.WaitVisible(css(`#stage`)),
	)
	require.Equal(t, "Request "+number, fromBrowser(t, browser, chromedp.Text(css(`h1`))))
	require.Equal(t, "New", fromBrowser(t, browser, chromedp.Text(css(`#stage`))))
	require.Equal(t, "new", fromBrowser(t, browser, chromedp.Text(css(`#state`))))
	require.Contains(t, fromBrowser(t, browser, chromedp.Text(css(`ol.history`))), "Request received")
	inBrowser(t, browser,
		chromedp.SendKeys(css(`#comment`), "I tried two browsers."),
		chromedp.Click(css(`#comment-form button[type=submit]`)),
		chromedp.WaitVisible(css(`ol.history blockquote`)),
	)
	require.Equal(t, "I tried two browsers.", fromBrowser(t, browser, chromedp.Text(css(`ol.history blockquote`))))

	// The request waits in the pool of the tech-support group's members.
	dora := anon.as(groupToken(t, stack.Keys, "agent-dora", []string{"tech-support"}, auth.RoleAgent))
	ed := anon.as(groupToken(t, stack.Keys, "agent-ed", []string{"tech-support"}, auth.RoleAgent))
	var id string
	for _, it := range dora.must(http.StatusOK, "GET", "/v1/todo/pool", nil)["items"].([]any) {
		item := it.(map[string]any)
		if item["number"] == number {
			require.Equal(t, "claim", item["kind"])
			id = item["recordId"].(string)
			require.Equal(t, id+".claim", item["id"])
		}
	}
	require.NotEmpty(t, id, "request %s is in the pool of tech-support", number)
	engineer := anon.as(groupToken(t, stack.Keys, "erin", []string{"hvac"}, auth.RoleEngineer))
	require.NotContains(t, ids(engineer.must(http.StatusOK, "GET", "/v1/todo/pool", nil)), id+".claim")

	// The same comment form posted twice (a double click, a retry) records one comment.
	commentTwice(t, statusURL, "Also: my username is grace.g")

	// Two agents claim it at once: exactly one wins.
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	bodies := make([]map[string]any, 2)
	for i, agent := range []api{dora, ed} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := agent.do("POST", "/v1/todo/"+id+".claim/claim", nil)
			statuses[i], bodies[i] = r.Status, r.Body
		}()
	}
	wg.Wait()
	require.ElementsMatch(t, []int{http.StatusOK, http.StatusConflict}, statuses, "exactly one claim wins: %v", bodies)
	winner, loser := "agent-dora", 1
	if statuses[1] == http.StatusOK {
		winner, loser = "agent-ed", 0
	}
	require.Equal(t, winner, bodies[1-loser]["owner"])
	require.Contains(t, bodies[loser]["detail"], winner+" owns it")

	owner := map[string]api{"agent-dora": dora, "agent-ed": ed}[winner]
	sr := owner.must(http.StatusOK, "GET", "/v1/service-requests/"+id, nil)
	require.Equal(t, winner, sr["owner"])
	require.Equal(t, "guest", sr["channel"])
	require.Equal(t, "Cannot sign in to my account", sr["subject"])
	require.Equal(t, []any{"account-access"}, sr["categories"])
	require.Equal(t, []any{"self-service"}, sr["tags"], "the queue's default tags")
	require.Equal(t, map[string]any{"contact-time": "morning"}, sr["fields"])
	require.Equal(t, "+357 99 555000", sr["contact"].(map[string]any)["phone"])
	events := eventTypes(owner.must(http.StatusOK, "GET", "/v1/service-requests/"+id+"/events", nil))
	require.Equal(t, []string{"created", "customer_commented", "customer_commented", "claimed"}, events)
	require.NotContains(t, ids(dora.must(http.StatusOK, "GET", "/v1/todo/pool", nil)), id+".claim", "claimed: out of the pool")

	// The customer sees it taken on, with both comments and no staff names.
	inBrowser(t, browser, chromedp.Reload(), chromedp.WaitVisible(css(`#stage`)))
	history := fromBrowser(t, browser, chromedp.Text(css(`ol.history`)))
	require.Contains(t, history, "Taken on by our team")
	require.Contains(t, history, "Also: my username is grace.g")
	require.NotContains(t, history, winner)

	// An outage: the queue's rule sends it to network-ops; nobody claims it.
	outage := anon.must(http.StatusCreated, "POST", "/portal/service-requests", map[string]any{"queue": "technical-support",
		"subject": "No internet in the whole street", "category": "connectivity/outage", "name": "Grace Guest", "email": "grace@example.com"})
	ops := anon.as(groupToken(t, stack.Keys, "olga", []string{"network-ops"}, auth.RoleAgent))
	routed := ops.must(http.StatusOK, "GET", "/v1/service-requests/"+outage["id"].(string), nil)
	require.Equal(t, "network-ops", routed["team"])
	require.Empty(t, routed["owner"])
	require.NotContains(t, ids(dora.must(http.StatusOK, "GET", "/v1/todo/pool", nil)), outage["id"].(string)+".claim")
	created := ops.must(http.StatusOK, "GET", "/v1/service-requests/"+outage["id"].(string)+"/events", nil)["items"].([]any)[0].(map[string]any)
	require.Equal(t, "rules[0]", created["details"].(map[string]any)["routedBy"])

	// The embeddable form loads framed by the company's site; the portal itself does not.
	require.Equal(t, stack.APIURL+"/portal/embed?queue=technical-support", framedURL(t, browser, siteURL+"/embed-example.html"))
	require.Empty(t, framedURL(t, browser, siteURL+"/framing-the-portal.html"), "the portal page refuses to be framed")
	// The embedded form posts as a guest from a browser without the portal's cookies.
	inBrowser(t, browser,
		chromedp.Navigate(stack.APIURL+"/portal/embed?queue=technical-support"),
		chromedp.WaitVisible(css(`#request-form`)),
		chromedp.SendKeys(css(`#f-subject`), "Router blinks red"),
		chromedp.SetValue(css(`#f-category`), "equipment/faulty"),
		chromedp.SendKeys(css(`#name`), "Grace Guest"),
		chromedp.SendKeys(css(`#email`), "grace@example.com"),
		chromedp.Click(css(`#request-form button[type=submit]`)),
		chromedp.WaitVisible(css(`#request-number`)),
	)
	require.Equal(t, "_blank", fromBrowser(t, browser, chromedp.Evaluate[string](`document.getElementById('status-link').target`)))
}

// commentTwice posts the status page's comment form twice with the same token, as a double
// click does, and checks that both answers lead back to the status page.
func commentTwice(t *testing.T, statusURL, comment string) {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(statusURL)
	require.NoError(t, err)
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = resp.Body.Close()
	token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(string(raw))
	binding := regexp.MustCompile(`name="binding" value="([^"]+)"`).FindStringSubmatch(string(raw))
	require.NotNil(t, token)
	require.NotNil(t, binding)
	form := url.Values{"token": {token[1]}, "binding": {binding[1]}, "comment": {comment}}
	for range 2 {
		resp, err := client.PostForm(statusURL+"/comments", form)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	}
}

// framedURL opens a page with one iframe and returns the address of the request form the iframe
// shows, "" when the browser shows no form there (it refused to frame the page).
func framedURL(t *testing.T, browser context.Context, page string) string {
	t.Helper()
	inBrowser(t, browser, chromedp.Navigate(page), chromedp.WaitReady(chromedp.CSS(`iframe`)))
	var shown string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		targets, err := chromedp.Targets(browser)
		require.NoError(c, err)
		found := false
		for _, tg := range targets {
			if tg.Type != "iframe" || tg.OpenerID != "" {
				continue
			}
			// The frame is a process of its own (another site): look inside it.
			// (Cancelling a context attached to the frame closes its page: the frames' contexts
			// end with the test.)
			frame, cancel := chromedp.NewContext(browser, chromedp.WithTargetID(tg.TargetID))
			t.Cleanup(cancel)
			ctx, cancelRun := context.WithTimeout(frame, 10*time.Second)
			href, err := chromedp.Run(ctx, chromedp.Evaluate[string](
				`document.readyState === "complete" ? (document.getElementById("request-form") ? location.href : "none") : ""`))
			cancelRun()
			require.NoError(c, err)
			require.NotEmpty(c, href, "the frame is still loading")
			shown, found = href, true
		}
		require.True(c, found, "the frame has a target")
	}, 20*time.Second, 250*time.Millisecond)
	if shown == "none" {
		return ""
	}
	return shown
}
