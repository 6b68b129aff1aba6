package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/process"
)

var ratingsDay = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// saveRatedOrder stores a closed work order carrying ratings.
func (f *fixture) saveRatedOrder(n int, recordType, engineer string, ratings ...process.RatingRecord) process.WorkOrder {
	f.t.Helper()
	wo := process.WorkOrder{
		ID: uuid.NewString(), Number: fmt.Sprintf("WO-2026-%06d", n), RecordType: recordType, Stage: "done", State: process.StateClosed,
		Node: "end", NodeType: process.NodeEnd, Priority: "medium", Subject: "Boiler", Channel: "agent", Engineer: engineer,
		Steps: []process.StepRecord{}, Ratings: ratings, Approvals: []process.ApprovalState{}, Attachments: []process.Attachment{},
		CreatedAt: ratingsDay, UpdatedAt: ratingsDay, Revision: 3,
	}
	require.NoError(f.t, f.store.SaveWorkOrder(context.Background(), wo, nil))
	return wo
}

func TestRatingsListAndSummary(t *testing.T) {
	f := newFixture(t)
	f.saveRatedOrder(1, "repair", "eve",
		process.RatingRecord{Node: "rating", Score: 4, Scale: "five-star", Template: "repair-survey", By: "ada", At: ratingsDay.Add(time.Hour)},
		process.RatingRecord{Node: "follow-up", Kind: "follow_up", Score: 8, Answers: map[string]string{"fixed": "yes"}, By: "fran", At: ratingsDay.Add(26 * time.Hour)})
	f.saveRatedOrder(2, "installation", "bob",
		process.RatingRecord{Node: "rating", Score: 9, Scale: "ten-point", Comment: "great", By: "ben", At: ratingsDay.Add(25 * time.Hour)})
	sup := f.token(auth.RoleSupervisor)

	a := f.call("GET", "/v1/ratings", sup, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	items := a.body["items"].([]any)
	require.Len(t, items, 2, "customers' ratings by default")
	first := items[0].(map[string]any)
	require.Equal(t, "WO-2026-000002", first["number"], "newest first")
	require.Equal(t, "installation", first["recordType"])
	require.Equal(t, "bob", first["engineer"])
	require.Equal(t, "customer", first["kind"])
	require.Equal(t, "ten-point", first["scale"])
	require.EqualValues(t, 9, first["score"])
	require.InDelta(t, 0.9, first["normalizedScore"], 1e-9)
	require.Equal(t, "great", first["comment"])
	require.Equal(t, "", a.body["nextCursor"])

	// Filters, the date "to" including its whole day, paging.
	for _, c := range []struct {
		query   string
		numbers []string
	}{
		{"kind=all", []string{"WO-2026-000001", "WO-2026-000002", "WO-2026-000001"}},
		{"kind=follow_up", []string{"WO-2026-000001"}},
		{"kind=customer&engineer=eve", []string{"WO-2026-000001"}},
		{"recordType=installation", []string{"WO-2026-000002"}},
		{"template=repair-survey", []string{"WO-2026-000001"}},
		{"to=2026-11-20", []string{"WO-2026-000001"}},
		{"from=2026-11-21&kind=all", []string{"WO-2026-000001", "WO-2026-000002"}},
		{"from=2026-11-20T10:30:00Z&to=2026-11-21T10:30:00Z", []string{"WO-2026-000002"}},
		{"group=nobody", []string{}},
	} {
		a := f.call("GET", "/v1/ratings?"+c.query, sup, "", "")
		require.Equal(t, http.StatusOK, a.status, c.query)
		numbers := []string{}
		for _, it := range a.body["items"].([]any) {
			numbers = append(numbers, it.(map[string]any)["number"].(string))
		}
		require.Equal(t, c.numbers, numbers, c.query)
	}
	a = f.call("GET", "/v1/ratings?kind=all&limit=2", sup, "", "")
	require.Len(t, a.body["items"].([]any), 2)
	require.NotEmpty(t, a.body["nextCursor"])
	a = f.call("GET", "/v1/ratings?kind=all&limit=2&cursor="+url.QueryEscape(a.body["nextCursor"].(string)), f.token(auth.RoleDispatcher), "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Len(t, a.body["items"].([]any), 1)
	require.Equal(t, "", a.body["nextCursor"])

	// The summary: per engineer and per record type.
	a = f.call("GET", "/v1/ratings/summary", f.token(auth.RoleAdmin), "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	byEngineer := a.body["byEngineer"].([]any)
	require.Len(t, byEngineer, 2)
	bob := byEngineer[0].(map[string]any)
	require.Equal(t, "bob", bob["engineer"])
	require.EqualValues(t, 1, bob["count"])
	require.InDelta(t, 0.9, bob["averageNormalized"], 1e-9)
	require.Equal(t, []any{map[string]any{"scale": "ten-point", "count": float64(1), "average": float64(9)}}, bob["scales"])
	eve := byEngineer[1].(map[string]any)
	require.Equal(t, "eve", eve["engineer"])
	require.InDelta(t, 0.75, eve["averageNormalized"], 1e-9)
	byType := a.body["byRecordType"].([]any)
	require.Len(t, byType, 2)
	require.Equal(t, "installation", byType[0].(map[string]any)["recordType"])
	require.Equal(t, "repair", byType[1].(map[string]any)["recordType"])

	a = f.call("GET", "/v1/ratings/summary?kind=all&engineer=eve", sup, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	eve = a.body["byEngineer"].([]any)[0].(map[string]any)
	require.EqualValues(t, 2, eve["count"], "the survey is counted")
	require.InDelta(t, 0.75, eve["averageNormalized"], 1e-9, "but has no scale to average")
}

func TestRatingsRefuseBadQueriesAndRoles(t *testing.T) {
	f := newFixture(t)
	sup := f.token(auth.RoleSupervisor)
	for _, path := range []string{
		"/v1/ratings?score=5",
		"/v1/ratings?kind=stars",
		"/v1/ratings?from=yesterday",
		"/v1/ratings?to=2026-11-01&from=2026-11-05",
		"/v1/ratings?limit=0",
		"/v1/ratings?limit=201",
		"/v1/ratings?cursor=nonsense",
		"/v1/ratings/summary?limit=5",
		"/v1/ratings/summary?kind=stars",
	} {
		f.problem(http.StatusBadRequest, "GET", path, sup, "", "")
	}
	a := f.problem(http.StatusBadRequest, "GET", "/v1/ratings?Engineer=eve", sup, "", "")
	require.Contains(t, a.body["detail"], `"Engineer"`)

	for _, role := range []auth.Role{auth.RoleEngineer, auth.RoleAgent, auth.RoleFollowUp, auth.RoleDesigner} {
		f.problem(http.StatusForbidden, "GET", "/v1/ratings", f.token(role), "", "")
		f.problem(http.StatusForbidden, "GET", "/v1/ratings/summary", f.token(role), "", "")
	}
	f.problem(http.StatusUnauthorized, "GET", "/v1/ratings", "", "", "")

	// Staff record ratings on orders they can see; a follow-up agent does not.
	f.problem(http.StatusForbidden, "POST", "/v1/work-orders/"+uuid.NewString()+"/ratings", f.token(auth.RoleFollowUp), "application/json", `{"score":5}`)
	f.problem(http.StatusNotFound, "POST", "/v1/work-orders/"+uuid.NewString()+"/ratings", f.token(auth.RoleAgent), "application/json", `{"score":5}`)
	wo := f.saveRatedOrder(3, "repair", "eve")
	f.problem(http.StatusBadRequest, "POST", "/v1/work-orders/"+wo.ID+"/ratings", f.token(auth.RoleAgent), "application/json", `{"score":`)
}
