package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/store/storetest"
)

// rated gives a work order its engineer, group and ratings.
func rated(recordType, engineer, group string, ratings ...process.RatingRecord) func(*process.WorkOrder) {
	return func(wo *process.WorkOrder) {
		wo.RecordType, wo.Engineer, wo.Group, wo.Ratings = recordType, engineer, group, ratings
	}
}

func customerRating(scale string, score float64, at time.Duration) process.RatingRecord {
	return process.RatingRecord{Node: "rate", Scale: scale, Score: score, Template: "standard", By: "customer", At: t0.Add(at)}
}

// saveRatedOrders saves work orders carrying ratings of both scales and both kinds:
//
//	WO-1 repair eve/hvac:               five-star 5 (+1h), five-star 3 (+2h), follow-up (+3h)
//	WO-2 installation eve/hvac:         ten-point 8 (+90m)
//	WO-3 installation bob/plumbing:     ten-point 6 (+4h, template site), five-star 1 (+5h)
//	WO-4 repair, unassigned, no ratings; WO-5 repair with ratings null.
func saveRatedOrders(t *testing.T, st *store.Store) []process.WorkOrder {
	t.Helper()
	ctx := context.Background()
	followUp := process.RatingRecord{Node: "follow", Kind: "follow_up", Score: 9, Answers: map[string]string{"arrivedOnTime": "yes"},
		Template: "survey", By: "fran", At: t0.Add(3 * time.Hour)}
	site := customerRating(store.ScaleTenPoint, 6, 4*time.Hour)
	site.Template, site.Comment = "site", "tidy work"
	orders := []process.WorkOrder{
		workOrder(1, rated("repair", "eve", "hvac",
			customerRating(store.ScaleFiveStar, 5, time.Hour), customerRating(store.ScaleFiveStar, 3, 2*time.Hour), followUp)),
		workOrder(2, rated("installation", "eve", "hvac", customerRating(store.ScaleTenPoint, 8, 90*time.Minute))),
		workOrder(3, rated("installation", "bob", "plumbing", site, customerRating(store.ScaleFiveStar, 1, 5*time.Hour))),
		workOrder(4),
		workOrder(5, func(wo *process.WorkOrder) { wo.Ratings = nil }),
	}
	for _, wo := range orders {
		require.NoError(t, st.SaveWorkOrder(ctx, wo, nil))
	}
	return orders
}

func scores(page store.RatingPage) []float64 {
	out := []float64{}
	for _, r := range page.Items {
		out = append(out, r.Score)
	}
	return out
}

func TestListRatingsFiltersAndNormalizes(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	orders := saveRatedOrders(t, st)

	// Customers' ratings by default, newest first.
	page, err := st.ListRatings(ctx, store.RatingFilter{})
	require.NoError(t, err)
	require.Equal(t, []float64{1, 6, 3, 8, 5}, scores(page))
	require.Empty(t, page.NextCursor)

	site := page.Items[1]
	require.Equal(t, store.Rating{
		OrderID: orders[2].ID, Number: "WO-2026-000003", RecordType: "installation", Engineer: "bob", Group: "plumbing",
		Node: "rate", Kind: store.RatingKindCustomer, Score: 6, Scale: store.ScaleTenPoint, NormalizedScore: ratingPtr(0.6),
		Comment: "tidy work", Template: "site", By: "customer", At: t0.Add(4 * time.Hour),
	}, site)
	normalized := map[float64]float64{}
	for _, r := range page.Items {
		require.NotNil(t, r.NormalizedScore)
		normalized[r.Score] = *r.NormalizedScore
	}
	require.Equal(t, map[float64]float64{5: 1, 3: 0.5, 1: 0, 8: 0.8, 6: 0.6}, normalized)

	// Follow-up surveys, and everything.
	page, err = st.ListRatings(ctx, store.RatingFilter{Kind: store.RatingKindFollowUp})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	survey := page.Items[0]
	require.Equal(t, store.RatingKindFollowUp, survey.Kind)
	require.Equal(t, map[string]string{"arrivedOnTime": "yes"}, survey.Answers)
	require.Empty(t, survey.Scale)
	require.Nil(t, survey.NormalizedScore, "a survey has no scale to normalize on")
	page, err = st.ListRatings(ctx, store.RatingFilter{Kind: store.RatingKindAll})
	require.NoError(t, err)
	require.Equal(t, []float64{1, 6, 9, 3, 8, 5}, scores(page))

	// The order's facts, the template and the time of the rating.
	for _, c := range []struct {
		name string
		f    store.RatingFilter
		want []float64
	}{
		{"record type", store.RatingFilter{RecordType: "installation"}, []float64{1, 6, 8}},
		{"engineer", store.RatingFilter{Engineer: "eve"}, []float64{3, 8, 5}},
		{"group", store.RatingFilter{Group: "plumbing"}, []float64{1, 6}},
		{"template", store.RatingFilter{Template: "site"}, []float64{6}},
		{"from", store.RatingFilter{From: t0.Add(2 * time.Hour)}, []float64{1, 6, 3}},
		{"to excluded", store.RatingFilter{To: t0.Add(2 * time.Hour)}, []float64{8, 5}},
		{"from and to", store.RatingFilter{From: t0.Add(90 * time.Minute), To: t0.Add(4 * time.Hour), Kind: store.RatingKindAll}, []float64{9, 3, 8}},
		{"nothing", store.RatingFilter{Engineer: "nobody"}, []float64{}},
	} {
		page, err := st.ListRatings(ctx, c.f)
		require.NoError(t, err, c.name)
		require.Equal(t, c.want, scores(page), c.name)
	}

	_, err = st.ListRatings(ctx, store.RatingFilter{Kind: "stars"})
	require.Error(t, err)
}

func TestListRatingsPages(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	saveRatedOrders(t, st)
	// Two ratings at the same time on one order are told apart by their position.
	same := workOrder(6, rated("repair", "eve", "hvac",
		customerRating(store.ScaleFiveStar, 2, 6*time.Hour), customerRating(store.ScaleFiveStar, 4, 6*time.Hour)))
	require.NoError(t, st.SaveWorkOrder(ctx, same, nil))

	var got []float64
	cursor, pages := "", 0
	for {
		page, err := st.ListRatings(ctx, store.RatingFilter{Kind: store.RatingKindAll, Limit: 3, Cursor: cursor})
		require.NoError(t, err)
		got = append(got, scores(page)...)
		pages++
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	require.Equal(t, []float64{4, 2, 1, 6, 9, 3, 8, 5}, got)
	require.Equal(t, 3, pages)

	_, err := st.ListRatings(ctx, store.RatingFilter{Cursor: "not-a-cursor"})
	require.ErrorIs(t, err, store.ErrBadCursor)
}

func TestRatingAverages(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	saveRatedOrders(t, st)

	avg, err := st.RatingAverages(ctx, store.RatingFilter{})
	require.NoError(t, err)
	// bob: five-star 1 (0), ten-point 6 (0.6); eve: five-star 5 and 3 (1, 0.5), ten-point 8 (0.8).
	require.Equal(t, []store.EngineerRatings{
		{Engineer: "bob", RatingStats: store.RatingStats{Count: 2, Scales: []store.ScaleAverage{
			{Scale: store.ScaleFiveStar, Count: 1, Average: 1}, {Scale: store.ScaleTenPoint, Count: 1, Average: 6},
		}, AverageNormalized: ratingPtr(0.3)}},
		{Engineer: "eve", RatingStats: store.RatingStats{Count: 3, Scales: []store.ScaleAverage{
			{Scale: store.ScaleFiveStar, Count: 2, Average: 4}, {Scale: store.ScaleTenPoint, Count: 1, Average: 8},
		}, AverageNormalized: ratingPtr(0.7667)}},
	}, avg.ByEngineer)
	// installation: ten-point 8, 6 and five-star 1 → (0.8+0.6+0)/3; repair: five-star 5, 3.
	require.Equal(t, []store.RecordTypeRatings{
		{RecordType: "installation", RatingStats: store.RatingStats{Count: 3, Scales: []store.ScaleAverage{
			{Scale: store.ScaleFiveStar, Count: 1, Average: 1}, {Scale: store.ScaleTenPoint, Count: 2, Average: 7},
		}, AverageNormalized: ratingPtr(0.4667)}},
		{RecordType: "repair", RatingStats: store.RatingStats{Count: 2, Scales: []store.ScaleAverage{
			{Scale: store.ScaleFiveStar, Count: 2, Average: 4},
		}, AverageNormalized: ratingPtr(0.75)}},
	}, avg.ByRecordType)

	// Surveys are counted, but have no scale to average.
	avg, err = st.RatingAverages(ctx, store.RatingFilter{Kind: store.RatingKindFollowUp})
	require.NoError(t, err)
	require.Equal(t, []store.EngineerRatings{{Engineer: "eve", RatingStats: store.RatingStats{Count: 1, Scales: []store.ScaleAverage{}}}}, avg.ByEngineer)

	// Filters apply; nothing matching gives empty lists.
	avg, err = st.RatingAverages(ctx, store.RatingFilter{Group: "hvac", From: t0.Add(80 * time.Minute)})
	require.NoError(t, err)
	require.Len(t, avg.ByEngineer, 1)
	require.Equal(t, int64(2), avg.ByEngineer[0].Count)
	require.Equal(t, ratingPtr(0.65), avg.ByEngineer[0].AverageNormalized)
	avg, err = st.RatingAverages(ctx, store.RatingFilter{RecordType: "maintenance"})
	require.NoError(t, err)
	require.Equal(t, store.RatingAverages{ByEngineer: []store.EngineerRatings{}, ByRecordType: []store.RecordTypeRatings{}}, avg)
}

func TestNormalizedScore(t *testing.T) {
	require.Equal(t, ratingPtr(0.0), store.NormalizedScore(store.ScaleFiveStar, 1))
	require.Equal(t, ratingPtr(1.0), store.NormalizedScore(store.ScaleFiveStar, 5))
	require.Equal(t, ratingPtr(0.0), store.NormalizedScore(store.ScaleTenPoint, 0))
	require.Equal(t, ratingPtr(0.7), store.NormalizedScore(store.ScaleTenPoint, 7))
	require.Nil(t, store.NormalizedScore("", 9))
}

func ratingPtr(f float64) *float64 { return &f }
