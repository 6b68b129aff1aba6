package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
)

// ratingStore reads the ratings of work orders (implemented by *store.Store).
type ratingStore interface {
	ListRatings(ctx context.Context, f store.RatingFilter) (store.RatingPage, error)
	RatingAverages(ctx context.Context, f store.RatingFilter) (store.RatingAverages, error)
}

// ratingDataRoutes are the rating endpoints: the ratings and their averages for supervisors,
// dispatchers and admins, and a rating recorded by staff on the customer's behalf.
func (s *Server) ratingDataRoutes(v1 *gin.RouterGroup) {
	v1.GET("/ratings", s.listRatings)
	v1.GET("/ratings/summary", s.ratingSummary)
	v1.POST("/work-orders/:id/ratings", s.rateWorkOrder)
}

// ratingData returns the rating store, or records a 501 problem when the configured store has none.
func (s *Server) ratingData(c *gin.Context) (ratingStore, bool) {
	rs, ok := s.cfg.Store.(ratingStore)
	if !ok {
		_ = c.Error(newProblem(http.StatusNotImplemented, "not-implemented", "Not implemented", "this server's store does not read ratings"))
	}
	return rs, ok
}

var (
	ratingFilters     = []string{"recordType", "engineer", "group", "kind", "template", "from", "to"}
	ratingListFilters = append(slices.Clone(ratingFilters), "cursor", "limit")
	ratingKinds       = []string{store.RatingKindCustomer, store.RatingKindFollowUp, store.RatingKindAll}
)

// ratingFilter reads the query of GET /v1/ratings[/summary]; allowed names the parameters the
// endpoint knows, anything else is a 400.
func ratingFilter(c *gin.Context, allowed []string) (store.RatingFilter, error) {
	q := c.Request.URL.Query()
	for name := range q {
		if !slices.Contains(allowed, name) {
			return store.RatingFilter{}, badRequest(fmt.Sprintf("unknown query parameter %q; use %s", name, strings.Join(allowed, ", ")))
		}
	}
	f := store.RatingFilter{
		RecordType: q.Get("recordType"), Engineer: q.Get("engineer"), Group: q.Get("group"),
		Kind: q.Get("kind"), Template: q.Get("template"), Cursor: q.Get("cursor"),
	}
	if !store.ValidRatingKind(f.Kind) {
		return f, badRequest(fmt.Sprintf("kind must be one of %s (default customer)", strings.Join(ratingKinds, ", ")))
	}
	var err error
	if f.From, err = ratingTime(q.Get("from"), "from", false); err != nil {
		return f, err
	}
	if f.To, err = ratingTime(q.Get("to"), "to", true); err != nil {
		return f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return f, badRequest("to must be after from")
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			return f, badRequest("limit must be a number from 1 to 200")
		}
		f.Limit = n
	}
	return f, nil
}

// ratingTime reads a time as RFC 3339 or a date (YYYY-MM-DD, midnight UTC); a date given as "to"
// includes its whole day.
func ratingTime(v, name string, endOfDay bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return t, badRequest(name + " must be a date (2026-11-01) or a time (2026-11-01T09:00:00Z)")
	}
	if endOfDay {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

// listRatings answers GET /v1/ratings: ratings newest first, one page at a time.
func (s *Server) listRatings(c *gin.Context) {
	rs, ok := s.ratingData(c)
	if !ok {
		return
	}
	f, err := ratingFilter(c, ratingListFilters)
	if err != nil {
		_ = c.Error(err)
		return
	}
	page, err := rs.ListRatings(c.Request.Context(), f)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"items": page.Items, "nextCursor": page.NextCursor})
}

// ratingSummary answers GET /v1/ratings/summary: counts and averages per engineer and per record
// type of the ratings that pass the same filters.
func (s *Server) ratingSummary(c *gin.Context) {
	rs, ok := s.ratingData(c)
	if !ok {
		return
	}
	f, err := ratingFilter(c, ratingFilters)
	if err != nil {
		_ = c.Error(err)
		return
	}
	avg, err := rs.RatingAverages(c.Request.Context(), f)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, avg)
}

// rateBody is the body of POST /v1/work-orders/{id}/ratings.
type rateBody struct {
	Score   *float64          `json:"score"`
	Comment string            `json:"comment"`
	Answers map[string]string `json:"answers"`
}

// rateWorkOrder records a rating that staff take on the customer's behalf (agent-assisted) at the
// order's rating node; the node's scale bounds the score.
func (s *Server) rateWorkOrder(c *gin.Context) {
	var body rateBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	s.actOrder(c, process.Action{Kind: process.ActionRate, Score: body.Score, Comment: body.Comment, Answers: body.Answers})
}
