package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store/internal/db"
)

// invoiceNamespace derives the record id under which an invoice's number is kept.
var invoiceNamespace = uuid.MustParse("c6f1c0c4-6c59-4a8b-9a43-2e6a5bd1d1c1")

// InvoiceNumbering is the numbering scheme of invoices.
const InvoiceNumbering = "INV-{yyyy}-{seq:6}"

// IssueInvoice issues the invoice of a request, once: asking again (a retried activity, a worker
// that crashed after the insert) returns the invoice already issued.
func (s *Store) IssueInvoice(ctx context.Context, requestID string, charges []process.Charge, total float64, at time.Time) (string, error) {
	if existing, err := s.q.GetInvoice(ctx, requestID); err == nil {
		return existing.Number, nil
	}
	numbering, err := process.ParseNumbering(InvoiceNumbering)
	if err != nil {
		return "", err
	}
	seq, err := s.NextNumber(ctx, uuid.NewSHA1(invoiceNamespace, []byte(requestID)).String(), numbering.Scope(at))
	if err != nil {
		return "", err
	}
	lines, err := json.Marshal(charges)
	if err != nil {
		return "", fmt.Errorf("store: encode invoice lines: %w", err)
	}
	if err := s.q.InsertInvoice(ctx, db.InsertInvoiceParams{
		RequestID: requestID, Number: numbering.Format(at, seq), Total: total, Lines: lines, IssuedAt: at,
	}); err != nil {
		return "", fmt.Errorf("store: issue invoice of %s: %w", requestID, err)
	}
	inv, err := s.q.GetInvoice(ctx, requestID)
	if err != nil {
		return "", fmt.Errorf("store: read invoice of %s: %w", requestID, err)
	}
	return inv.Number, nil
}

// InvoiceCount counts the invoices of a request (0 or 1), for tests and reports.
func (s *Store) InvoiceCount(ctx context.Context, requestID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, "SELECT count(*) FROM invoices WHERE request_id = $1", requestID).Scan(&n)
	return n, err
}

// TodoItem is an open activity or a pending approval, for the to-do center.
type TodoItem struct {
	ID        string     `json:"id"`
	RecordID  string     `json:"recordId"`
	Number    string     `json:"number"`
	Kind      string     `json:"kind"` // activity, approval, claim (a service request), or a work order's: offer, dispatch, pool, checklist, follow_up
	Title     string     `json:"title"`
	Users     []string   `json:"users,omitempty"`
	Groups    []string   `json:"groups,omitempty"`
	Roles     []string   `json:"roles,omitempty"`
	Contact   bool       `json:"contact,omitempty"`
	Due       *time.Time `json:"due,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
}

// TodoItemID is the id of the to-do item for an activity or approval of a record.
func TodoItemID(recordID, itemID string) string { return recordID + "." + itemID }

// todoItems lists the to-do items of a request's state.
func todoItems(sr process.ServiceRequest) []db.InsertTodoItemParams {
	var items []db.InsertTodoItemParams
	for _, t := range sr.Activities {
		if t.Status != "open" {
			continue
		}
		item := db.InsertTodoItemParams{ID: TodoItemID(sr.ID, t.ID), RecordID: sr.ID, Number: sr.Number, Kind: "activity",
			Title: t.Title, Users: []string{}, Groups: []string{}, Roles: []string{}, Due: t.Due, CreatedAt: t.At}
		if t.User != "" {
			item.Users = []string{t.User}
		}
		if t.Team != "" {
			item.Groups = []string{t.Team}
		}
		items = append(items, item)
	}
	for _, ap := range sr.Approvals {
		if ap.Status == "pending" {
			items = append(items, approvalTodo(sr.ID, sr.Number, sr.Subject, ap))
		}
	}
	if sr.Unassigned() {
		items = append(items, db.InsertTodoItemParams{ID: TodoItemID(sr.ID, TodoClaim), RecordID: sr.ID, Number: sr.Number, Kind: TodoClaim,
			Title: "Claim " + sr.Number + ": " + sr.Subject, Users: []string{}, Groups: nonNilStrings(sr.Handling.Groups),
			Roles: nonNilStrings(sr.Handling.Roles), Due: sr.SLA.DueAt, CreatedAt: sr.CreatedAt})
	}
	return items
}

// TodoClaim is the kind of the to-do item of an unassigned service request, in the pool of its
// handling roles and groups for one of them to claim ("<request id>.claim").
const TodoClaim = "claim"

// PoolKinds are the kinds of to-do items the pool lists: work orders in a group's pool, and
// unassigned service requests.
var PoolKinds = []string{TodoPool, TodoClaim}

// approvalTodo is the to-do item of a pending approval: for the approvers who have not decided.
func approvalTodo(recordID, number, subject string, ap process.ApprovalState) db.InsertTodoItemParams {
	due := ap.DueAt
	item := db.InsertTodoItemParams{ID: TodoItemID(recordID, ap.ID), RecordID: recordID, Number: number, Kind: "approval",
		Title: "Approve " + number + ": " + subject, Users: []string{}, Groups: []string{}, Roles: []string{}, Due: &due, CreatedAt: ap.RequestedAt}
	decided := map[string]bool{}
	for _, d := range ap.Decisions {
		decided[d.By] = true
	}
	for _, a := range ap.Approvers {
		switch {
		case a.User != "" && !decided[a.User]:
			item.Users = append(item.Users, a.User)
		case a.Group != "":
			item.Groups = append(item.Groups, a.Group)
		case a.Role != "":
			item.Roles = append(item.Roles, a.Role)
		case a.Contact:
			item.Contact = true
		}
	}
	return item
}

// The kinds of work-order to-do items.
const (
	TodoOffer     = "offer"     // an offer the engineer accepts or declines
	TodoDispatch  = "dispatch"  // an order waiting for a dispatcher's assignment
	TodoPool      = "pool"      // an order in a group's pool, for a member to claim
	TodoChecklist = "checklist" // an on-site checklist the engineer finishes
	TodoFollowUp  = "follow_up" // a follow-up call with the customer
)

// workOrderTodo lists the to-do items of a work order's state.
func workOrderTodo(wo process.WorkOrder) []db.InsertTodoItemParams {
	if wo.State == process.StateClosed {
		return nil
	}
	var items []db.InsertTodoItemParams
	add := func(kind, title string, users, groups, roles []string, due *time.Time) {
		items = append(items, db.InsertTodoItemParams{ID: TodoItemID(wo.ID, kind), RecordID: wo.ID, Number: wo.Number, Kind: kind,
			Title: title + " " + wo.Number + ": " + wo.Subject, Users: nonNilStrings(users), Groups: nonNilStrings(groups),
			Roles: nonNilStrings(roles), Due: due, CreatedAt: wo.UpdatedAt})
	}
	due := wo.SLA.DueAt
	node := wo.NodeType
	switch {
	case wo.Offer != nil:
		expires := wo.Offer.ExpiresAt
		add(TodoOffer, "Accept or decline", []string{wo.Offer.Engineer}, nil, nil, &expires)
	case node == process.NodeAssignment && wo.Engineer == "" && wo.Waiting == "":
		roles := []string{"dispatcher"}
		if wo.Escalated != "" && wo.Escalated != "dispatcher" {
			roles = append(roles, wo.Escalated)
		}
		title := "Dispatch"
		if wo.Escalated != "" {
			title = "Dispatch (no engineer accepted)"
		}
		add(TodoDispatch, title, nil, nil, roles, due)
		if wo.Group != "" {
			add(TodoPool, "Claim", nil, []string{wo.Group}, nil, due)
		}
	case node == process.NodeChecklist && wo.Engineer != "":
		add(TodoChecklist, "Finish the checklist of", []string{wo.Engineer}, nil, nil, due)
	}
	if f := wo.FollowUp; f != nil && !f.Done && node == process.NodeFollowUp {
		var users, groups []string
		if f.Agent != "" {
			users = []string{f.Agent}
		} else if f.Group != "" {
			groups = []string{f.Group}
		}
		add(TodoFollowUp, "Follow up", users, groups, nil, f.DueAt)
	}
	for _, ap := range wo.Approvals {
		if ap.Status == "pending" {
			items = append(items, approvalTodo(wo.ID, wo.Number, wo.Subject, ap))
		}
	}
	return items
}

// ListPool lists what waits to be claimed by a caller in the groups with the roles, oldest first:
// work orders in the pools of the groups (kind pool) and unassigned service requests the groups or
// roles handle (kind claim).
func (s *Store) ListPool(ctx context.Context, groups, roles []string) ([]TodoItem, error) {
	rows, err := s.q.ListPoolItems(ctx, db.ListPoolItemsParams{Kinds: PoolKinds, Groups: nonNilStrings(groups), Roles: nonNilStrings(roles)})
	if err != nil {
		return nil, fmt.Errorf("store: pool of %v %v: %w", groups, roles, err)
	}
	out := make([]TodoItem, len(rows))
	for i, r := range rows {
		out[i] = todoFromRow(r)
	}
	return out, nil
}

// ListTodo lists the open items a user may act on, through their name, groups or roles.
func (s *Store) ListTodo(ctx context.Context, user string, groups, roles []string) ([]TodoItem, error) {
	rows, err := s.q.ListTodoItems(ctx, db.ListTodoItemsParams{Users: []string{user}, Groups: nonNilStrings(groups), Roles: nonNilStrings(roles)})
	if err != nil {
		return nil, fmt.Errorf("store: to-do of %s: %w", user, err)
	}
	out := make([]TodoItem, len(rows))
	for i, r := range rows {
		out[i] = todoFromRow(r)
	}
	return out, nil
}

// GetTodoItem reads one to-do item.
func (s *Store) GetTodoItem(ctx context.Context, id string) (TodoItem, error) {
	r, err := s.q.GetTodoItem(ctx, id)
	if err != nil {
		return TodoItem{}, fmt.Errorf("store: to-do item %s: %w", id, interpret(err))
	}
	return todoFromRow(r), nil
}

func todoFromRow(r db.TodoItem) TodoItem {
	return TodoItem{ID: r.ID, RecordID: r.RecordID, Number: r.Number, Kind: r.Kind, Title: r.Title, Users: r.Users,
		Groups: r.Groups, Roles: r.Roles, Contact: r.Contact, Due: r.Due, CreatedAt: r.CreatedAt}
}
