package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store/internal/db"
)

// SaveServiceRequest writes a request's projection and its new history events in one transaction.
// It is idempotent, and an older revision never overwrites a newer one, so concurrent and retried
// writes of the same request are safe.
func (s *Store) SaveServiceRequest(ctx context.Context, sr process.ServiceRequest, events []process.Event) error {
	doc, err := json.Marshal(sr)
	if err != nil {
		return fmt.Errorf("store: encode request %s: %w", sr.ID, err)
	}
	return s.inRecordTx(ctx, func(q *db.Queries) error {
		written, err := q.UpsertServiceRequest(ctx, db.UpsertServiceRequestParams{
			ID: sr.ID, Number: sr.Number, Queue: sr.Queue, Stage: sr.Stage, State: string(sr.State),
			Priority: sr.Priority, Owner: sr.Owner, Team: sr.Team, Tags: sr.Tags, Revision: sr.Revision,
			CreatedAt: sr.CreatedAt, UpdatedAt: sr.UpdatedAt, Doc: doc, CreatedBy: sr.CreatedBy,
		})
		if err != nil {
			return fmt.Errorf("store: save request %s: %w", sr.ID, err)
		}
		// The to-do items follow the newest revision only.
		if written > 0 {
			if err := q.DeleteTodoItems(ctx, sr.ID); err != nil {
				return fmt.Errorf("store: to-do of request %s: %w", sr.ID, err)
			}
			for _, item := range todoItems(sr) {
				if err := q.InsertTodoItem(ctx, item); err != nil {
					return fmt.Errorf("store: to-do of request %s: %w", sr.ID, err)
				}
			}
		}
		for _, e := range events {
			details, err := json.Marshal(e.Details)
			if err != nil {
				return fmt.Errorf("store: encode event %d of request %s: %w", e.Seq, sr.ID, err)
			}
			if err := q.InsertServiceRequestEvent(ctx, db.InsertServiceRequestEventParams{
				RequestID: sr.ID, Seq: e.Seq, Type: string(e.Type), Actor: e.Actor, At: e.At, Details: details,
			}); err != nil {
				return fmt.Errorf("store: save event %d of request %s: %w", e.Seq, sr.ID, err)
			}
		}
		return nil
	})
}

// GetServiceRequest reads one request by id; ErrNotFound when there is none.
func (s *Store) GetServiceRequest(ctx context.Context, id string) (process.ServiceRequest, error) {
	if !isUUID(id) {
		return process.ServiceRequest{}, ErrNotFound
	}
	doc, err := s.q.GetServiceRequest(ctx, id)
	if err != nil {
		return process.ServiceRequest{}, fmt.Errorf("store: get request %s: %w", id, interpret(err))
	}
	return decodeRequest(doc)
}

// ServiceRequestFilter selects requests for a list. Empty fields do not filter.
type ServiceRequestFilter struct {
	Queue, State, Stage, Owner, Priority, Tag string
	// Viewer, when set, limits the list to the requests the viewer may see: owned, created, or
	// given to one of ViewerGroups.
	Viewer       string
	ViewerGroups []string
	// Cursor continues a list where a previous page ended.
	Cursor string
	// Limit is the page size (1..200, default 50).
	Limit int
}

// ServiceRequestPage is one page of a list and the cursor of the next page ("" on the last page).
type ServiceRequestPage struct {
	Items      []process.ServiceRequest
	NextCursor string
}

// ErrBadCursor is returned for a cursor this store did not hand out.
var ErrBadCursor = fmt.Errorf("store: invalid cursor")

// ListServiceRequests lists requests, newest first, one page at a time.
func (s *Store) ListServiceRequests(ctx context.Context, f ServiceRequestFilter) (ServiceRequestPage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 200)
	params := db.ListServiceRequestsParams{
		Queue: optional(f.Queue), State: optional(f.State), Stage: optional(f.Stage),
		Owner: optional(f.Owner), Priority: optional(f.Priority), Tag: optional(f.Tag),
		Viewer: optional(f.Viewer), ViewerGroups: nonNilStrings(f.ViewerGroups),
		MaxRows: int32(limit + 1),
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return ServiceRequestPage{}, err
		}
		params.AfterCreatedAt, params.AfterID = &at, &id
	}
	rows, err := s.q.ListServiceRequests(ctx, params)
	if err != nil {
		return ServiceRequestPage{}, fmt.Errorf("store: list requests: %w", err)
	}
	page := ServiceRequestPage{Items: make([]process.ServiceRequest, 0, min(len(rows), limit))}
	for i, r := range rows {
		if i == limit {
			last := rows[i-1]
			page.NextCursor = encodeCursor(last.CreatedAt, last.ID)
			break
		}
		sr, err := decodeRequest(r.Doc)
		if err != nil {
			return ServiceRequestPage{}, err
		}
		page.Items = append(page.Items, sr)
	}
	return page, nil
}

// ListServiceRequestEvents returns a request's history in order, after the event afterSeq.
func (s *Store) ListServiceRequestEvents(ctx context.Context, id string, afterSeq int64, limit int) ([]process.Event, error) {
	if !isUUID(id) {
		return nil, ErrNotFound
	}
	if limit <= 0 {
		limit = 500
	}
	rows, err := s.q.ListServiceRequestEvents(ctx, db.ListServiceRequestEventsParams{RequestID: id, AfterSeq: afterSeq, MaxRows: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("store: list events of request %s: %w", id, err)
	}
	events := make([]process.Event, 0, len(rows))
	for _, r := range rows {
		e, err := decodeEvent(r.Seq, r.Type, r.Actor, r.At, r.Details)
		if err != nil {
			return nil, fmt.Errorf("store: request %s: %w", id, err)
		}
		events = append(events, e)
	}
	return events, nil
}

func decodeEvent(seq int64, typ, actor string, at time.Time, details []byte) (process.Event, error) {
	e := process.Event{Seq: seq, Type: process.EventType(typ), Actor: actor, At: at}
	if err := json.Unmarshal(details, &e.Details); err != nil {
		return e, fmt.Errorf("decode event %d: %w", seq, err)
	}
	return e, nil
}

func decodeRequest(doc []byte) (process.ServiceRequest, error) {
	var sr process.ServiceRequest
	if err := json.Unmarshal(doc, &sr); err != nil {
		return sr, fmt.Errorf("store: decode request: %w", err)
	}
	return sr, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	ts, id, ok := strings.Cut(string(raw), "|")
	at, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil || !isUUID(id) {
		return time.Time{}, "", ErrBadCursor
	}
	return at, id, nil
}

// isUUID reports whether s is a UUID in its canonical form, so a malformed id reads as not found
// instead of a database error.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}
