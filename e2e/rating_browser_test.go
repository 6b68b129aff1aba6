package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/auth"
)

// chromium is the path of a Chromium (Debian package chromium) or Chrome binary. Without one the
// test is skipped on a developer's machine; in CI (CI set) it fails, since .ci/run installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "" {
		t.Skip("no chromium on this machine (apt-get install chromium); CI installs it")
	}
	t.Fatal("CI is set but there is no chromium: .ci/run should have installed it")
	return ""
}

// browserContext is a headless Chromium for the test, closed at its end. Actions run with
// contexts derived from it (the first run must not have a deadline: it owns the browser).
func browserContext(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(412, 915), // a phone
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelBrowser)
	require.NoError(t, chromedp.Do(ctx), "start chromium")
	return ctx
}

// inBrowser runs steps in the browser with a deadline.
func inBrowser(t *testing.T, browser context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(browser, time.Minute)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, steps...))
}

// fromBrowser reads one value from the browser's page.
func fromBrowser[T any](t *testing.T, browser context.Context, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(browser, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	require.NoError(t, err)
	return v
}

var ratingLink = regexp.MustCompile(`http://\S+/rate/[A-Za-z0-9_.-]+`)

// TestRatingBrowserFromInvitationToClosedOrder: a repair goes from dispatch through the on-site
// checklist to its rating node; the contact gets the invitation by email (over SMTP), opens its
// link in a real headless Chromium, picks a score with the keyboard-usable radio buttons, answers
// and sends; the order records the rating and closes with it; the same link then says it was used.
func TestRatingBrowserFromInvitationToClosedOrder(t *testing.T) {
	browser := browserContext(t)
	box := startMailbox(t)
	stack := startStack(t, box.mailer)
	anon := api{t: t, base: stack.APIURL}
	sam := anon.as(token(t, stack, "sam", auth.RoleSupervisor))
	dan := anon.as(token(t, stack, "dan", auth.RoleDispatcher))
	frank := anon.as(groupToken(t, stack.Keys, "frank", []string{"hvac"}, auth.RoleEngineer))
	sam.must(http.StatusCreated, "POST", "/v1/groups", map[string]any{"key": "hvac", "title": "HVAC engineers"})
	sam.must(http.StatusCreated, "PUT", "/v1/groups/hvac/members/frank", map[string]any{})

	wo := dan.must(http.StatusCreated, "POST", "/v1/work-orders", map[string]any{
		"recordType": "repair", "subject": "Boiler leaking", "device": map[string]any{"category": "hvac", "serial": "B-7"},
		"contact": map[string]any{"name": "Ada", "email": "ada@example.com"},
	})
	number := wo["number"].(string)
	path := "/v1/work-orders/" + wo["id"].(string)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		offer, _ := dan.must(http.StatusOK, "GET", path, nil)["offer"].(map[string]any)
		require.NotNil(c, offer)
		require.Equal(c, "frank", offer["engineer"])
	}, 20*time.Second, 100*time.Millisecond)
	frank.must(http.StatusOK, "POST", path+"/accept", nil)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.Equal(c, "onsite", frank.must(http.StatusOK, "GET", path, nil)["node"])
	}, 20*time.Second, 100*time.Millisecond)
	frank.must(http.StatusOK, "POST", path+"/steps/arrive/complete", map[string]any{})
	frank.must(http.StatusOK, "POST", path+"/steps/diagnose/complete", map[string]any{"result": "worn-seal", "laborMinutes": 20})
	frank.must(http.StatusOK, "POST", path+"/steps/repair/complete", map[string]any{"laborMinutes": 40, "note": "seal replaced"})
	status, withPhoto := uploadStep(t, frank, path+"/attachments", "photo", "unit.png", pngBytes(t))
	require.Equal(t, http.StatusCreated, status, "%v", withPhoto)
	atRating := frank.must(http.StatusOK, "POST", path+"/steps/photo/complete", map[string]any{})
	require.Equal(t, "feedback", atRating["stage"])

	// The invitation arrives by email with its signed link.
	var link string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		for _, m := range box.received() {
			if found := ratingLink.FindString(m.body(t)); found != "" && strings.Contains(strings.Join(m.to, ","), "ada@example.com") {
				link = found
			}
		}
		require.NotEmpty(c, link, "the rating invitation reached the mailbox")
	}, 30*time.Second, 200*time.Millisecond)
	require.True(t, strings.HasPrefix(link, stack.APIURL+"/rate/"), link)

	// The contact opens it in a browser, picks five stars with the keyboard and sends the form.
	inBrowser(t, browser,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`form button[type=submit]`)),
	)
	legend := fromBrowser(t, browser, chromedp.Text(chromedp.CSS(`fieldset legend`)))
	require.Contains(t, legend, "How satisfied are you with the repair?", "the repair survey's score question")
	require.Equal(t, 3, fromBrowser(t, browser, chromedp.Evaluate[int](`document.querySelectorAll('input[name=q_fixed]').length`)),
		"the survey's choice question: yes, partly, no")
	inBrowser(t, browser,
		chromedp.Focus(chromedp.CSS(`#score-5`)),
		chromedp.KeyEvent(" "), // a radio button is chosen with the keyboard
		chromedp.Click(chromedp.CSS(`label[for=q_fixed-0]`)),
		chromedp.SendKeys(chromedp.CSS(`#comment`), "Quick and tidy."),
	)
	require.True(t, fromBrowser(t, browser, chromedp.Evaluate[bool](`document.getElementById('score-5').checked`)))
	inBrowser(t, browser,
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`form`)),
	)
	require.Equal(t, "Thank you", fromBrowser(t, browser, chromedp.Text(chromedp.CSS(`h1`))))
	require.Contains(t, fromBrowser(t, browser, chromedp.Text(chromedp.CSS(`#message`))), "Your rating is recorded")

	rated := dan.must(http.StatusOK, "GET", path, nil)
	ratings := rated["ratings"].([]any)
	require.Len(t, ratings, 1)
	r := ratings[0].(map[string]any)
	require.EqualValues(t, 5, r["score"])
	require.Equal(t, "five-star", r["scale"])
	require.Equal(t, "contact", r["by"])
	require.Equal(t, "Quick and tidy.", r["comment"])
	require.Equal(t, map[string]any{"overall": "5", "fixed": "yes", "comment": "Quick and tidy."}, r["answers"])
	require.Equal(t, "repair-survey", r["template"])

	// The link works once.
	inBrowser(t, browser, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	require.Equal(t, "Already rated", fromBrowser(t, browser, chromedp.Text(chromedp.CSS(`h1`))))
	require.Zero(t, fromBrowser(t, browser, chromedp.Evaluate[int](`document.forms.length`)))

	// Several customers may rate a repair, so the node stays open until staff move on: the
	// dispatcher skips the rest and the order closes with its rating.
	dan.must(http.StatusOK, "POST", path+"/rating/skip", nil)
	var closed map[string]any
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		closed = dan.must(http.StatusOK, "GET", path, nil)
		require.Equal(c, "closed", closed["state"])
	}, 20*time.Second, 200*time.Millisecond)
	require.Equal(t, number, closed["number"])
	require.Len(t, closed["ratings"].([]any), 1, "the closed order keeps the rating")
	require.EqualValues(t, 5, closed["ratings"].([]any)[0].(map[string]any)["score"])
	events := eventTypes(dan.must(http.StatusOK, "GET", path+"/events", nil))
	require.Contains(t, events, "rated")
	require.Less(t, slices.Index(events, "rated"), slices.Index(events, "closed"))
}
