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
	return s.inRecordTx(ctx, func(q *db.Queries) error {
		written, err := q.UpsertWorkOrder(ctx, db.UpsertWorkOrderParams{
			ID: wo.ID, Number: wo.Number, RecordType: wo.RecordType, Stage: wo.Stage, State: string(wo.State),
			Node: wo.Node, Priority: wo.Priority, Engineer: wo.Engineer, GroupName: wo.Group, Parent: wo.Parent, Channel: wo.Channel, Source: wo.Source,
			Revision: wo.Revision, CreatedAt: wo.CreatedAt, UpdatedAt: wo.UpdatedAt, Doc: doc,
		})
		if err != nil {
			return fmt.Errorf("store: save work order %s: %w", wo.ID, err)
		}
		// The to-do items follow the newest revision only.
		if written > 0 {
			if err := q.DeleteTodoItems(ctx, wo.ID); err != nil {
				return fmt.Errorf("store: to-do of work order %s: %w", wo.ID, err)
			}
			for _, item := range workOrderTodo(wo) {
				if err := q.InsertTodoItem(ctx, item); err != nil {
					return fmt.Errorf("store: to-do of work order %s: %w", wo.ID, err)
				}
			}
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

// WorkOrderFilter narrows GET /v1/work-orders.
type WorkOrderFilter struct {
	RecordType, State, Stage, Engineer, Group, Channel, Source, Priority, Parent string
	// Viewer, when set, limits the list to the orders of the viewer or of one of ViewerGroups.
	Viewer       string
	ViewerGroups []string
	Cursor       string
	// Limit is the page size (1..200, default 50).
	Limit int
}

// WorkOrderPage is one page of work orders and the cursor of the next ("" on the last page).
type WorkOrderPage struct {
	Items      []process.WorkOrder `json:"items"`
	NextCursor string              `json:"nextCursor"`
}

// ListWorkOrders lists work orders, newest first.
func (s *Store) ListWorkOrders(ctx context.Context, f WorkOrderFilter) (WorkOrderPage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 200)
	params := db.ListWorkOrdersParams{
		RecordType: optional(f.RecordType), State: optional(f.State), Stage: optional(f.Stage),
		Engineer: optional(f.Engineer), GroupName: optional(f.Group), Channel: optional(f.Channel), Source: optional(f.Source),
		Priority: optional(f.Priority), Parent: optional(f.Parent),
		Viewer: optional(f.Viewer), ViewerGroups: nonNilStrings(f.ViewerGroups), MaxRows: int32(limit + 1),
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return WorkOrderPage{}, err
		}
		params.AfterCreatedAt, params.AfterID = &at, &id
	}
	rows, err := s.q.ListWorkOrders(ctx, params)
	if err != nil {
		return WorkOrderPage{}, fmt.Errorf("store: list work orders: %w", err)
	}
	page := WorkOrderPage{Items: make([]process.WorkOrder, 0, min(len(rows), limit))}
	for i, r := range rows {
		if i == limit {
			last := rows[i-1]
			page.NextCursor = encodeCursor(last.CreatedAt, last.ID)
			break
		}
		var wo process.WorkOrder
		if err := json.Unmarshal(r.Doc, &wo); err != nil {
			return WorkOrderPage{}, fmt.Errorf("store: decode work order %s: %w", r.ID, err)
		}
		page.Items = append(page.Items, wo)
	}
	return page, nil
}

// ClaimExternalRef reserves another system's reference for the order id. It returns the id of the
// order that holds the reference: id itself when it was free (or already held by id), another
// order's id when the reference is taken.
func (s *Store) ClaimExternalRef(ctx context.Context, source, ref, id string) (string, error) {
	holder, err := s.q.ClaimWorkOrderRef(ctx, db.ClaimWorkOrderRefParams{Source: source, ExternalRef: ref, OrderID: id})
	if err != nil {
		return "", fmt.Errorf("store: claim reference %s/%s: %w", source, ref, err)
	}
	return holder, nil
}
