package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store/internal/db"
)

// SaveWorkOrder writes a work order's projection and its new history events in one transaction;
// idempotent, and an older revision never overwrites a newer one.
func (s *Store) SaveWorkOrder(ctx context.Context, wo process.WorkOrder, events []process.Event) error {
	doc, err := json.Marshal(wo)
	if err != nil {
		return fmt.Errorf("store: encode work order %s: %w", wo.ID, err)
	}
	return s.inTx(ctx, func(q *db.Queries) error {
		if _, err := q.UpsertWorkOrder(ctx, db.UpsertWorkOrderParams{
			ID: wo.ID, Number: wo.Number, RecordType: wo.RecordType, Stage: wo.Stage, State: string(wo.State),
			Node: wo.Node, Priority: wo.Priority, Engineer: wo.Engineer, GroupName: wo.Group, Parent: wo.Parent,
			Revision: wo.Revision, CreatedAt: wo.CreatedAt, UpdatedAt: wo.UpdatedAt, Doc: doc,
		}); err != nil {
			return fmt.Errorf("store: save work order %s: %w", wo.ID, err)
		}
		for _, e := range events {
			details, err := json.Marshal(e.Details)
			if err != nil {
				return fmt.Errorf("store: encode event %d of work order %s: %w", e.Seq, wo.ID, err)
			}
			if err := q.InsertWorkOrderEvent(ctx, db.InsertWorkOrderEventParams{
				OrderID: wo.ID, Seq: e.Seq, Type: string(e.Type), Actor: e.Actor, At: e.At, Details: details,
			}); err != nil {
				return fmt.Errorf("store: save event %d of work order %s: %w", e.Seq, wo.ID, err)
			}
		}
		return nil
	})
}

// GetWorkOrder reads one work order by id; ErrNotFound when there is none.
func (s *Store) GetWorkOrder(ctx context.Context, id string) (process.WorkOrder, error) {
	var wo process.WorkOrder
	if !isUUID(id) {
		return wo, ErrNotFound
	}
	doc, err := s.q.GetWorkOrder(ctx, id)
	if err != nil {
		return wo, fmt.Errorf("store: get work order %s: %w", id, interpret(err))
	}
	if err := json.Unmarshal(doc, &wo); err != nil {
		return wo, fmt.Errorf("store: decode work order %s: %w", id, err)
	}
	return wo, nil
}

// ListWorkOrderEvents returns a work order's history in order, after the event afterSeq.
func (s *Store) ListWorkOrderEvents(ctx context.Context, id string, afterSeq int64, limit int) ([]process.Event, error) {
	if !isUUID(id) {
		return nil, ErrNotFound
	}
	if limit <= 0 {
		limit = 500
	}
	rows, err := s.q.ListWorkOrderEvents(ctx, db.ListWorkOrderEventsParams{OrderID: id, AfterSeq: afterSeq, MaxRows: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("store: list events of work order %s: %w", id, err)
	}
	events := make([]process.Event, 0, len(rows))
	for _, r := range rows {
		e, err := decodeEvent(r.Seq, r.Type, r.Actor, r.At, r.Details)
		if err != nil {
			return nil, fmt.Errorf("store: work order %s: %w", id, err)
		}
		events = append(events, e)
	}
	return events, nil
}
