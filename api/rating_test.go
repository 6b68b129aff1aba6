package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/process"
)

// htmlPage requests a public page (a form when form is not nil), with headers as name/value pairs.
func (f *fixture) htmlPage(method, path string, form url.Values, headers ...string) page {
	f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, f.server.URL+path, body)
	require.NoError(f.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(f.t, err)
	return page{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

var ratingOrders int

// ratingOrder stores a repair whose rating node is open for one invitation, and returns the path
// of that invitation's link.
func (f *fixture) ratingOrder(mods ...func(*process.WorkOrder)) (process.WorkOrder, string) {
	f.t.Helper()
	ctx := context.Background()
	versions, err := f.store.ListDefinitionVersions(ctx, "repair")
	require.NoError(f.t, err)
	require.NotEmpty(f.t, versions)
	now := time.Now().UTC()
	closes := now.Add(72 * time.Hour)
	ratingOrders++
	wo := process.WorkOrder{
		ID: uuid.NewString(), Number: fmt.Sprintf("WO-2026-%06d", 41+ratingOrders), RecordType: "repair", Stage: "feedback", State: process.StateInProgress,
		Node: "rating", NodeType: process.NodeRating, Priority: "medium", Subject: "Boiler leaking", Channel: "agent",
		Steps: []process.StepRecord{}, Ratings: []process.RatingRecord{}, Approvals: []process.ApprovalState{},
		Attachments: []process.Attachment{},
		Rating:      &process.RatingState{Node: "rating", Template: "repair-survey", ClosesAt: &closes, Invitation: "invite:rating:7"},
		Definition:  process.DefinitionRef{Key: "repair", Version: versions[0].Version},
		CreatedAt:   now, UpdatedAt: now, Revision: 7,
	}
	for _, m := range mods {
		m(&wo)
	}
	require.NoError(f.t, f.store.SaveWorkOrder(ctx, wo, nil))
	link, _, err := f.keys.RatingURL("http://x", wo.ID, "invite:rating:7", now, &closes)
	require.NoError(f.t, err)
	return wo, strings.TrimPrefix(link, "http://x")
}

func requireHTML(t *testing.T, p page, status int, contains ...string) {
	t.Helper()
	require.Equal(t, status, p.status, p.body)
	require.Equal(t, "text/html; charset=utf-8", p.header.Get("Content-Type"))
	require.Contains(t, p.header.Get("Content-Security-Policy"), "default-src 'none'")
	require.Equal(t, "no-store", p.header.Get("Cache-Control"))
	for _, c := range contains {
		require.Contains(t, p.body, c)
	}
}

func TestRatingPageRefusesBadAndExpiredLinks(t *testing.T) {
	f := newFixture(t)
	requireHTML(t, f.htmlPage("GET", "/rate/garbage", nil), http.StatusBadRequest, "This link does not work")
	requireHTML(t, f.htmlPage("POST", "/rate/garbage", url.Values{"score": {"5"}}), http.StatusBadRequest, "This link does not work")

	// An approval link is not a rating link.
	approval, _, err := f.keys.ApprovalURL("http://x", uuid.NewString(), "a1", time.Now())
	require.NoError(t, err)
	requireHTML(t, f.htmlPage("GET", strings.Replace(strings.TrimPrefix(approval, "http://x"), "/approve/", "/rate/", 1), nil),
		http.StatusBadRequest, "This link does not work")

	past := time.Now().Add(-30 * 24 * time.Hour)
	expired, _, err := f.keys.RatingURL("http://x", uuid.NewString(), "invite:rating:1", past, nil)
	require.NoError(t, err)
	requireHTML(t, f.htmlPage("GET", strings.TrimPrefix(expired, "http://x"), nil), http.StatusGone, "This link has expired")

	// A well signed link to an order that is not there.
	unknown, _, err := f.keys.RatingURL("http://x", uuid.NewString(), "invite:rating:1", time.Now(), nil)
	require.NoError(t, err)
	requireHTML(t, f.htmlPage("GET", strings.TrimPrefix(unknown, "http://x"), nil), http.StatusNotFound, "This link does not work")
}

func TestRatingPageShowsTheTemplateOnTheNodesScale(t *testing.T) {
	f := newFixture(t)
	wo, link := f.ratingOrder()
	p := f.htmlPage("GET", link, nil)
	requireHTML(t, p, http.StatusOK, wo.Number, "Boiler leaking",
		"<legend>How satisfied are you with the repair? (1 to 5 stars)", // the template's score question
		`id="score-5" name="score" value="5"`, `id="score-1" name="score" value="1"`,
		"Is the equipment working now?", `name="q_fixed" value="partly"`,
		`<label for="comment">Anything we should know? (optional)</label>`, // the template's comment question
		`<meta name="viewport"`)
	require.NotContains(t, p.body, `value="0"`, "a five-star scale starts at 1")
	require.NotContains(t, p.body, "<script")
}

func TestRatingPageTenPointScale(t *testing.T) {
	defs := t.TempDir()
	require.NoError(t, os.CopyFS(defs, os.DirFS("../definitions")))
	file := filepath.Join(defs, "work-orders", "repair.yaml")
	src, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Contains(t, string(src), "scale: five-star")
	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(string(src), "scale: five-star", "scale: ten-point", 1)), 0o644))
	f := newFixtureIn(t, defs)
	_, link := f.ratingOrder()
	p := f.htmlPage("GET", link, nil)
	requireHTML(t, p, http.StatusOK, `id="score-0" name="score" value="0"`, `id="score-10" name="score" value="10"`, "(0 to 10)")

	p = f.htmlPage("POST", link, url.Values{"score": {"11"}})
	requireHTML(t, p, http.StatusUnprocessableEntity, "Choose a score from 0 to 10.")
}

func TestRatingPageValidatesTheForm(t *testing.T) {
	f := newFixture(t)
	_, link := f.ratingOrder()

	p := f.htmlPage("POST", link, url.Values{"comment": {"fine"}})
	requireHTML(t, p, http.StatusUnprocessableEntity, "Please check your answers", `role="alert"`, "Please choose a score.",
		`href="#score-5"`, ">fine</textarea>")
	p = f.htmlPage("POST", link, url.Values{"score": {"6"}, "q_fixed": {"yes"}})
	requireHTML(t, p, http.StatusUnprocessableEntity, "Choose a score from 1 to 5.")
	require.Contains(t, p.body, `value="yes" checked`, "what was chosen stays chosen")
	p = f.htmlPage("POST", link, url.Values{"score": {"4"}, "q_fixed": {"maybe"}})
	requireHTML(t, p, http.StatusUnprocessableEntity, "Please choose one of the options.")
	require.Contains(t, p.body, `value="4" checked`)
	p = f.htmlPage("POST", link, url.Values{"score": {"4"}, "comment": {strings.Repeat("x", 2001)}})
	requireHTML(t, p, http.StatusUnprocessableEntity, "Please keep it under 2000 characters.")

	// A valid rating goes to the order's run: here Temporal is down, and the page says to retry.
	p = f.htmlPage("POST", link, url.Values{"score": {"4"}, "q_fixed": {"yes"}})
	requireHTML(t, p, http.StatusServiceUnavailable, "Please try again", "Your link still works")
}

func TestRatingPageRefusesCrossSitePosts(t *testing.T) {
	f := newFixture(t)
	_, link := f.ratingOrder()
	form := url.Values{"score": {"5"}}
	requireHTML(t, f.htmlPage("POST", link, form, "Sec-Fetch-Site", "cross-site"), http.StatusForbidden, "Please use the form on this site")
	requireHTML(t, f.htmlPage("POST", link, form, "Origin", "https://evil.example"), http.StatusForbidden, "Please use the form on this site")
	requireHTML(t, f.htmlPage("POST", link, form, "Origin", "null"), http.StatusForbidden, "Please use the form on this site")
	requireHTML(t, f.htmlPage("POST", link, url.Values{}, "Origin", f.server.URL, "Sec-Fetch-Site", "same-origin"),
		http.StatusUnprocessableEntity, "Please choose a score.")
	requireHTML(t, f.htmlPage("POST", link, url.Values{}, "Origin", "null", "Sec-Fetch-Site", "same-origin"),
		http.StatusUnprocessableEntity, "Please choose a score.")
}

func TestRatingPageAfterTheInvitation(t *testing.T) {
	f := newFixture(t)
	usedOrder, used := f.ratingOrder(func(wo *process.WorkOrder) { wo.UsedInvitations = []string{"invite:rating:7"} })
	requireHTML(t, f.htmlPage("GET", used, nil), http.StatusGone, "Already rated", usedOrder.Number)
	requireHTML(t, f.htmlPage("POST", used, url.Values{"score": {"5"}}), http.StatusGone, "Already rated")

	_, closed := f.ratingOrder(func(wo *process.WorkOrder) { wo.Rating, wo.Node, wo.Stage = nil, "done", "closed" })
	p := f.htmlPage("GET", closed, nil)
	requireHTML(t, p, http.StatusGone, "Rating closed")
	require.NotContains(t, p.body, "<form")

	// A newer invitation of the same node: the old link no longer works.
	_, replaced := f.ratingOrder(func(wo *process.WorkOrder) { wo.Rating.Invitation = "invite:rating:9" })
	requireHTML(t, f.htmlPage("GET", replaced, nil), http.StatusGone, "Rating closed")
}
