package store

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store/internal/db"
)

// Rating kinds a RatingFilter selects, and the kinds a Rating reports.
const (
	// RatingKindCustomer is a customer's rating (recorded with an empty kind); the default.
	RatingKindCustomer = "customer"
	// RatingKindFollowUp is a follow-up agent's survey.
	RatingKindFollowUp = "follow_up"
	// RatingKindAll selects both kinds.
	RatingKindAll = "all"
)

// Rating scales.
const (
	ScaleFiveStar = "five-star"
	ScaleTenPoint = "ten-point"
)

// RatingFilter narrows ListRatings and RatingAverages. Empty fields do not filter.
type RatingFilter struct {
	// RecordType, Engineer and Group filter on the rated work order.
	RecordType, Engineer, Group string
	// Kind is RatingKindCustomer (also when empty), RatingKindFollowUp or RatingKindAll.
	Kind string
	// Template is the rating template of the record.
	Template string
	// From and To bound the time of the rating: From included, To excluded; zero: unbounded.
	From, To time.Time
	// Cursor continues a list where a previous page ended (ListRatings only).
	Cursor string
	// Limit is the page size (1..200, default 50; ListRatings only).
	Limit int
}

// Rating is one rating record of a work order, with the order's facts.
type Rating struct {
	OrderID    string `json:"orderId"`
	Number     string `json:"number"`
	RecordType string `json:"recordType"`
	Engineer   string `json:"engineer"`
	Group      string `json:"group"`
	Node       string `json:"node"`
	// Kind is RatingKindCustomer or RatingKindFollowUp.
	Kind  string  `json:"kind"`
	Score float64 `json:"score"`
	// Scale is five-star or ten-point; empty for a follow-up survey, which has none.
	Scale string `json:"scale"`
	// NormalizedScore puts the score on 0..1 so that scales can be averaged together; null
	// without a scale.
	NormalizedScore *float64          `json:"normalizedScore"`
	Comment         string            `json:"comment,omitempty"`
	Answers         map[string]string `json:"answers,omitempty"`
	Template        string            `json:"template,omitempty"`
	By              string            `json:"by"`
	At              time.Time         `json:"at"`
}

// RatingPage is one page of ratings and the cursor of the next ("" on the last page).
type RatingPage struct {
	Items      []Rating `json:"items"`
	NextCursor string   `json:"nextCursor"`
}

// NormalizedScore maps a score onto 0..1: five-star (s-1)/4, ten-point s/10; nil for any other
// scale. It is rounded to four decimals.
func NormalizedScore(scale string, score float64) *float64 {
	var n float64
	switch scale {
	case ScaleFiveStar:
		n = (score - 1) / 4
	case ScaleTenPoint:
		n = score / 10
	default:
		return nil
	}
	n = round4(n)
	return &n
}

// ValidRatingKind reports whether kind is one a RatingFilter accepts.
func ValidRatingKind(kind string) bool {
	switch kind {
	case "", RatingKindCustomer, RatingKindFollowUp, RatingKindAll:
		return true
	}
	return false
}

// kindParam is the kind the queries filter on: nil for every kind, "" for customers' ratings.
func kindParam(kind string) (*string, error) {
	switch kind {
	case "", RatingKindCustomer:
		empty := ""
		return &empty, nil
	case RatingKindFollowUp:
		return &kind, nil
	case RatingKindAll:
		return nil, nil
	}
	return nil, fmt.Errorf("store: unknown rating kind %q", kind)
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ListRatings lists ratings of work orders, newest first.
func (s *Store) ListRatings(ctx context.Context, f RatingFilter) (RatingPage, error) {
	kind, err := kindParam(f.Kind)
	if err != nil {
		return RatingPage{}, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 200)
	params := db.ListRatingsParams{
		RecordType: optional(f.RecordType), Engineer: optional(f.Engineer), GroupName: optional(f.Group),
		Kind: kind, Template: optional(f.Template), FromAt: optionalTime(f.From), ToAt: optionalTime(f.To),
		MaxRows: int32(limit + 1),
	}
	if f.Cursor != "" {
		at, id, idx, err := decodeRatingCursor(f.Cursor)
		if err != nil {
			return RatingPage{}, err
		}
		params.AfterAt, params.AfterOrderID, params.AfterIdx = &at, &id, &idx
	}
	rows, err := s.q.ListRatings(ctx, params)
	if err != nil {
		return RatingPage{}, fmt.Errorf("store: list ratings: %w", err)
	}
	page := RatingPage{Items: make([]Rating, 0, min(len(rows), limit))}
	for i, r := range rows {
		if i == limit {
			last := rows[i-1]
			page.NextCursor = encodeRatingCursor(last.At, last.OrderID, last.Idx)
			break
		}
		var rec process.RatingRecord
		if err := json.Unmarshal(r.Rec, &rec); err != nil {
			return RatingPage{}, fmt.Errorf("store: decode rating %d of work order %s: %w", r.Idx, r.OrderID, err)
		}
		kind := rec.Kind
		if kind == "" {
			kind = RatingKindCustomer
		}
		page.Items = append(page.Items, Rating{
			OrderID: r.OrderID, Number: r.Number, RecordType: r.RecordType, Engineer: r.Engineer, Group: r.GroupName,
			Node: rec.Node, Kind: kind, Score: rec.Score, Scale: rec.Scale, NormalizedScore: NormalizedScore(rec.Scale, rec.Score),
			Comment: rec.Comment, Answers: rec.Answers, Template: rec.Template, By: rec.By, At: rec.At,
		})
	}
	return page, nil
}

// ScaleAverage is the average score of the ratings on one scale.
type ScaleAverage struct {
	Scale   string  `json:"scale"`
	Count   int64   `json:"count"`
	Average float64 `json:"average"`
}

// RatingStats are the counts and averages of a set of ratings.
type RatingStats struct {
	// Count counts every rating, those without a scale (follow-up surveys) too.
	Count int64 `json:"count"`
	// Scales are the averages per scale (five-star, then ten-point), of the scales present.
	Scales []ScaleAverage `json:"scales"`
	// AverageNormalized is the average normalized score (0..1) of the ratings with a scale;
	// null when there is none.
	AverageNormalized *float64 `json:"averageNormalized"`
}

// EngineerRatings are the rating stats of the orders of one engineer ("" for unassigned orders).
type EngineerRatings struct {
	Engineer string `json:"engineer"`
	RatingStats
}

// RecordTypeRatings are the rating stats of the orders of one record type.
type RecordTypeRatings struct {
	RecordType string `json:"recordType"`
	RatingStats
}

// RatingAverages are the ratings' stats per engineer and per record type.
type RatingAverages struct {
	ByEngineer   []EngineerRatings   `json:"byEngineer"`
	ByRecordType []RecordTypeRatings `json:"byRecordType"`
}

// ratingSums accumulates the totals of one engineer or record type.
type ratingSums struct {
	count     int64
	perScale  map[string]*[2]float64 // scale → {count, score sum}
	normCount int64
	normSum   float64
}

func (a *ratingSums) add(scale string, count int64, scoreSum float64) {
	a.count += count
	var normSum float64
	switch scale {
	case ScaleFiveStar:
		normSum = (scoreSum - float64(count)) / 4
	case ScaleTenPoint:
		normSum = scoreSum / 10
	default:
		return
	}
	if a.perScale == nil {
		a.perScale = map[string]*[2]float64{}
	}
	t := a.perScale[scale]
	if t == nil {
		t = &[2]float64{}
		a.perScale[scale] = t
	}
	t[0] += float64(count)
	t[1] += scoreSum
	a.normCount += count
	a.normSum += normSum
}

func (a *ratingSums) stats() RatingStats {
	st := RatingStats{Count: a.count, Scales: []ScaleAverage{}}
	for _, scale := range []string{ScaleFiveStar, ScaleTenPoint} {
		if t := a.perScale[scale]; t != nil {
			st.Scales = append(st.Scales, ScaleAverage{Scale: scale, Count: int64(t[0]), Average: round4(t[1] / t[0])})
		}
	}
	if a.normCount > 0 {
		avg := round4(a.normSum / float64(a.normCount))
		st.AverageNormalized = &avg
	}
	return st
}

// RatingAverages counts and averages the ratings that pass the filter (Cursor and Limit are
// ignored) per engineer and per record type, each list sorted by its key.
func (s *Store) RatingAverages(ctx context.Context, f RatingFilter) (RatingAverages, error) {
	kind, err := kindParam(f.Kind)
	if err != nil {
		return RatingAverages{}, err
	}
	rows, err := s.q.RatingTotals(ctx, db.RatingTotalsParams{
		RecordType: optional(f.RecordType), Engineer: optional(f.Engineer), GroupName: optional(f.Group),
		Kind: kind, Template: optional(f.Template), FromAt: optionalTime(f.From), ToAt: optionalTime(f.To),
	})
	if err != nil {
		return RatingAverages{}, fmt.Errorf("store: rating averages: %w", err)
	}
	engineers, types := map[string]*ratingSums{}, map[string]*ratingSums{}
	for _, r := range rows {
		for _, acc := range []struct {
			m   map[string]*ratingSums
			key string
		}{{engineers, r.Engineer}, {types, r.RecordType}} {
			sums := acc.m[acc.key]
			if sums == nil {
				sums = &ratingSums{}
				acc.m[acc.key] = sums
			}
			sums.add(r.Scale, r.Ratings, r.ScoreSum)
		}
	}
	out := RatingAverages{ByEngineer: []EngineerRatings{}, ByRecordType: []RecordTypeRatings{}}
	for key, sums := range engineers {
		out.ByEngineer = append(out.ByEngineer, EngineerRatings{Engineer: key, RatingStats: sums.stats()})
	}
	for key, sums := range types {
		out.ByRecordType = append(out.ByRecordType, RecordTypeRatings{RecordType: key, RatingStats: sums.stats()})
	}
	slices.SortFunc(out.ByEngineer, func(a, b EngineerRatings) int { return cmp.Compare(a.Engineer, b.Engineer) })
	slices.SortFunc(out.ByRecordType, func(a, b RecordTypeRatings) int { return cmp.Compare(a.RecordType, b.RecordType) })
	return out, nil
}

func round4(f float64) float64 { return math.Round(f*10000) / 10000 }

// A rating cursor is the last rating's time, order id and position in the order's ratings.
func encodeRatingCursor(at time.Time, orderID string, idx int64) string {
	raw := at.UTC().Format(time.RFC3339Nano) + "|" + orderID + "|" + strconv.FormatInt(idx, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeRatingCursor(c string) (time.Time, string, int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", 0, ErrBadCursor
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 3 {
		return time.Time{}, "", 0, ErrBadCursor
	}
	at, err := time.Parse(time.RFC3339Nano, parts[0])
	if err != nil || !isUUID(parts[1]) {
		return time.Time{}, "", 0, ErrBadCursor
	}
	idx, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || idx < 1 {
		return time.Time{}, "", 0, ErrBadCursor
	}
	return at, parts[1], idx, nil
}
