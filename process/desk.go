package process

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// This file holds the back-office parts of a service request: notes, charges and the invoice, and
// activities (tasks given to a user or a team).

// Note is an internal note on a request. Pinned notes come first.
type Note struct {
	ID        string     `json:"id"`
	Text      string     `json:"text"`
	Pinned    bool       `json:"pinned,omitempty"`
	By        string     `json:"by"`
	At        time.Time  `json:"at"`
	UpdatedAt *time.Time `json:"updatedAt,omitempty"`
}

// ChargeKind says what a charge is for.
type ChargeKind string

// The charge kinds.
const (
	ChargeService ChargeKind = "service"
	ChargeProduct ChargeKind = "product"
)

// Charge is a line to invoice when the request is closed as resolved.
type Charge struct {
	ID          string     `json:"id"`
	Kind        ChargeKind `json:"kind"`
	Description string     `json:"description"`
	Quantity    float64    `json:"quantity"`
	UnitPrice   float64    `json:"unitPrice"`
	// Amount is Quantity × UnitPrice, rounded to cents.
	Amount float64   `json:"amount"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// Invoice is the invoice issued for a request's charges.
type Invoice struct {
	Number   string    `json:"number"`
	Total    float64   `json:"total"`
	Lines    int       `json:"lines"`
	IssuedAt time.Time `json:"issuedAt"`
}

// Task is an activity: work given to a user or a team, with a due date.
type Task struct {
	ID        string     `json:"id"`
	Title     string     `json:"title"`
	User      string     `json:"user,omitempty"`
	Team      string     `json:"team,omitempty"`
	Due       *time.Time `json:"due,omitempty"`
	Status    string     `json:"status"` // open or done
	By        string     `json:"by"`
	At        time.Time  `json:"at"`
	DoneBy    string     `json:"doneBy,omitempty"`
	DoneAt    *time.Time `json:"doneAt,omitempty"`
	Automated bool       `json:"automated,omitempty"`
}

// GivenTo reports whether the activity is given to user, or to a team user is a member of.
func (t Task) GivenTo(user string, groups []string) bool {
	return t.User == user || (t.Team != "" && slices.Contains(groups, t.Team))
}

// Attachment is a file attached to a request; its bytes are kept by the store, the record lists it.
type Attachment struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	// Step is the checklist step a work-order photo belongs to ("" for the order itself).
	Step string    `json:"step,omitempty"`
	By   string    `json:"by"`
	At   time.Time `json:"at"`
}

// The desk actions.
const (
	ActionAddNote        ActionKind = "add_note"
	ActionUpdateNote     ActionKind = "update_note"
	ActionDeleteNote     ActionKind = "delete_note"
	ActionAddCharge      ActionKind = "add_charge"
	ActionUpdateCharge   ActionKind = "update_charge"
	ActionRemoveCharge   ActionKind = "remove_charge"
	ActionAddActivity    ActionKind = "add_activity"
	ActionCompleteTask   ActionKind = "complete_activity"
	ActionRequestApprove ActionKind = "request_approval"
	ActionAddAttachment  ActionKind = "add_attachment"
)

// The desk events.
const (
	EventNoteDeleted       EventType = "note_deleted"
	EventChargeAdded       EventType = "charge_added"
	EventChargeUpdated     EventType = "charge_updated"
	EventChargeRemoved     EventType = "charge_removed"
	EventInvoiceIssued     EventType = "invoice_issued"
	EventInvoiceFailed     EventType = "invoice_failed"
	EventActivityCompleted EventType = "activity_completed"
	EventAttachmentAdded   EventType = "attachment_added"
)

// NoteInput is a note's text and pin in an action.
type NoteInput struct {
	ID     string  `json:"id,omitempty"`
	Text   *string `json:"text,omitempty"`
	Pinned *bool   `json:"pinned,omitempty"`
}

// ChargeInput is a charge in an action.
type ChargeInput struct {
	ID          string     `json:"id,omitempty"`
	Kind        ChargeKind `json:"kind,omitempty"`
	Description *string    `json:"description,omitempty"`
	Quantity    *float64   `json:"quantity,omitempty"`
	UnitPrice   *float64   `json:"unitPrice,omitempty"`
}

// TaskInput is an activity in an action.
type TaskInput struct {
	ID    string     `json:"id,omitempty"`
	Title string     `json:"title,omitempty"`
	User  string     `json:"user,omitempty"`
	Team  string     `json:"team,omitempty"`
	Due   *time.Time `json:"due,omitempty"`
}

// IssueInvoice asks the shell to issue the invoice of a request closed as resolved: exactly once,
// whatever retries and crashes happen (the invoice is keyed by the request).
type IssueInvoice struct {
	EffectID  string
	RequestID string
	Number    string
	Charges   []Charge
	Total     float64
}

func (IssueInvoice) isEffect() {}

// chargesTotal sums the charges.
func chargesTotal(cs []Charge) float64 {
	total := 0.0
	for _, c := range cs {
		total += c.Amount
	}
	return cents(total)
}

func cents(v float64) float64 { return math.Round(v*100) / 100 }

// srDesk applies the note, charge and activity actions. ok is false for other actions.
func srDesk(q *Queue, sr *ServiceRequest, a Action, j *journal) (ok bool, err error) {
	switch a.Kind {
	case ActionAddNote, ActionUpdateNote, ActionDeleteNote:
		return true, srNote(sr, a, j)
	case ActionAddCharge, ActionUpdateCharge, ActionRemoveCharge:
		return true, srCharge(sr, a, j)
	case ActionAddAttachment:
		list, err := attach(sr.Attachments, a, j)
		if err != nil {
			return true, err
		}
		sr.Attachments = list
		return true, nil
	case ActionAddActivity:
		t := a.Task
		if t == nil || strings.TrimSpace(t.Title) == "" {
			return true, invalid(FieldError{Field: "title", Message: "is required"})
		}
		if t.User == "" && t.Team == "" {
			return true, invalid(FieldError{Field: "user", Message: "give the activity to a user or a team"})
		}
		srAddTask(sr, Task{Title: strings.TrimSpace(t.Title), User: t.User, Team: t.Team, Due: t.Due}, a.Actor, j)
		return true, nil
	case ActionCompleteTask:
		if a.Task == nil {
			return true, invalid(FieldError{Field: "id", Message: "is required"})
		}
		i := slices.IndexFunc(sr.Activities, func(t Task) bool { return t.ID == a.Task.ID })
		if i < 0 {
			return true, notFoundField("activity", a.Task.ID)
		}
		t := sr.Activities[i]
		if t.Status == "done" {
			return true, notAllowed("activity %s is done already", t.ID)
		}
		if !t.GivenTo(a.Actor, a.ActorGroups) && !hasRole(a, "supervisor", "admin") {
			return true, forbidden("activity %s is given to %s", t.ID, assignee(t))
		}
		at := j.now
		t.Status, t.DoneBy, t.DoneAt = "done", a.Actor, &at
		sr.Activities[i] = t
		j.emit(EventActivityCompleted, a.Actor, map[string]any{"activity": t.ID, "title": t.Title})
		return true, nil
	}
	return false, nil
}

func assignee(t Task) string {
	if t.User != "" {
		return t.User
	}
	return "team " + t.Team
}

func srAddTask(sr *ServiceRequest, t Task, actor string, j *journal) {
	t.ID = fmt.Sprintf("a%d", sr.Revision+1)
	t.Status, t.By, t.At = "open", actor, j.now
	sr.Activities = append(sr.Activities, t)
	details := map[string]any{"activity": t.ID, "title": t.Title, "user": t.User, "team": t.Team}
	if t.Due != nil {
		details["due"] = *t.Due
	}
	j.emit(EventActivityCreated, actor, details)
}

// srNote adds, edits, pins or deletes a note. Only the latest note may be deleted, only by its
// author; a note is edited by its author (or a supervisor); anyone who may add notes may pin.
func srNote(sr *ServiceRequest, a Action, j *journal) error {
	in := a.NoteInput
	if in == nil {
		in = &NoteInput{}
	}
	switch a.Kind {
	case ActionAddNote:
		if in.Text == nil || strings.TrimSpace(*in.Text) == "" {
			return invalid(FieldError{Field: "text", Message: "is required"})
		}
		n := Note{ID: fmt.Sprintf("n%d", sr.Revision+1), Text: strings.TrimSpace(*in.Text), Pinned: in.Pinned != nil && *in.Pinned, By: a.Actor, At: j.now}
		sr.Notes = append(sr.Notes, n)
		sortNotes(sr.Notes)
		j.emit(EventNoteAdded, a.Actor, map[string]any{"note": n.ID, "pinned": n.Pinned})
		return nil
	}
	i := slices.IndexFunc(sr.Notes, func(n Note) bool { return n.ID == in.ID })
	if i < 0 {
		return notFoundField("note", in.ID)
	}
	n := sr.Notes[i]
	if a.Kind == ActionDeleteNote {
		latest := sr.Notes[0]
		for _, o := range sr.Notes {
			if o.At.After(latest.At) || (o.At.Equal(latest.At) && o.ID > latest.ID) {
				latest = o
			}
		}
		if latest.ID != n.ID {
			return notAllowed("only the latest note (%s) may be deleted", latest.ID)
		}
		if n.By != a.Actor {
			return forbidden("only %s, who wrote note %s, may delete it", n.By, n.ID)
		}
		sr.Notes = slices.Delete(sr.Notes, i, i+1)
		j.emit(EventNoteDeleted, a.Actor, map[string]any{"note": n.ID})
		return nil
	}
	changed := false
	if in.Text != nil && strings.TrimSpace(*in.Text) != n.Text {
		if n.By != a.Actor && !hasRole(a, "supervisor", "admin") {
			return forbidden("only %s, who wrote note %s, may edit its text", n.By, n.ID)
		}
		if strings.TrimSpace(*in.Text) == "" {
			return invalid(FieldError{Field: "text", Message: "cannot be empty"})
		}
		n.Text, changed = strings.TrimSpace(*in.Text), true
	}
	if in.Pinned != nil && *in.Pinned != n.Pinned {
		n.Pinned, changed = *in.Pinned, true
	}
	if !changed {
		return notAllowed("the update changes nothing")
	}
	at := j.now
	n.UpdatedAt = &at
	sr.Notes[i] = n
	sortNotes(sr.Notes)
	j.emit(EventNoteUpdated, a.Actor, map[string]any{"note": n.ID, "pinned": n.Pinned})
	return nil
}

// sortNotes puts pinned notes first, each group newest first.
func sortNotes(ns []Note) {
	sort.SliceStable(ns, func(i, j int) bool {
		if ns[i].Pinned != ns[j].Pinned {
			return ns[i].Pinned
		}
		return ns[i].At.After(ns[j].At)
	})
}

// srCharge adds, edits or removes a charge line; charges are editable until the request closes.
func srCharge(sr *ServiceRequest, a Action, j *journal) error {
	in := a.Charge
	if in == nil {
		in = &ChargeInput{}
	}
	if a.Kind == ActionAddCharge {
		c := Charge{ID: fmt.Sprintf("c%d", sr.Revision+1), Kind: in.Kind, Quantity: 1, By: a.Actor, At: j.now}
		if err := applyChargeInput(&c, in, true); err != nil {
			return err
		}
		sr.Charges = append(sr.Charges, c)
		j.emit(EventChargeAdded, a.Actor, map[string]any{"charge": c.ID, "amount": c.Amount, "total": chargesTotal(sr.Charges)})
		return nil
	}
	i := slices.IndexFunc(sr.Charges, func(c Charge) bool { return c.ID == in.ID })
	if i < 0 {
		return notFoundField("charge", in.ID)
	}
	if a.Kind == ActionRemoveCharge {
		c := sr.Charges[i]
		sr.Charges = slices.Delete(sr.Charges, i, i+1)
		j.emit(EventChargeRemoved, a.Actor, map[string]any{"charge": c.ID, "total": chargesTotal(sr.Charges)})
		return nil
	}
	c := sr.Charges[i]
	if err := applyChargeInput(&c, in, false); err != nil {
		return err
	}
	sr.Charges[i] = c
	j.emit(EventChargeUpdated, a.Actor, map[string]any{"charge": c.ID, "amount": c.Amount, "total": chargesTotal(sr.Charges)})
	return nil
}

func applyChargeInput(c *Charge, in *ChargeInput, creating bool) error {
	var errs []FieldError
	if in.Kind != "" {
		c.Kind = in.Kind
	}
	if c.Kind != ChargeService && c.Kind != ChargeProduct {
		errs = append(errs, FieldError{Field: "kind", Message: "must be service or product"})
	}
	if in.Description != nil {
		c.Description = strings.TrimSpace(*in.Description)
	}
	if c.Description == "" {
		errs = append(errs, FieldError{Field: "description", Message: "is required"})
	}
	if in.Quantity != nil {
		c.Quantity = *in.Quantity
	}
	if c.Quantity <= 0 || math.IsNaN(c.Quantity) || math.IsInf(c.Quantity, 0) {
		errs = append(errs, FieldError{Field: "quantity", Message: "must be more than zero"})
	}
	if in.UnitPrice != nil {
		c.UnitPrice = *in.UnitPrice
	} else if creating {
		errs = append(errs, FieldError{Field: "unitPrice", Message: "is required"})
	}
	if c.UnitPrice < 0 || math.IsNaN(c.UnitPrice) || math.IsInf(c.UnitPrice, 0) || c.UnitPrice > 1e9 {
		errs = append(errs, FieldError{Field: "unitPrice", Message: "must be a price from 0 to 1,000,000,000"})
	}
	if len(errs) > 0 {
		return &Error{Code: CodeInvalid, Message: "the charge has invalid fields", Fields: errs}
	}
	c.Amount = cents(c.Quantity * c.UnitPrice)
	return nil
}

// attach lists the file of an ActionAddAttachment (already stored) on a record.
func attach(list []Attachment, a Action, j *journal) ([]Attachment, error) {
	at := a.Attachment
	if at == nil || at.ID == "" || at.Name == "" || at.Size <= 0 {
		return list, invalid(FieldError{Field: "file", Message: "is required"})
	}
	if slices.ContainsFunc(list, func(x Attachment) bool { return x.ID == at.ID }) {
		return list, notAllowed("attachment %s is listed already", at.ID)
	}
	att := *at
	att.By, att.At = a.Actor, j.now
	details := map[string]any{"attachment": att.ID, "name": att.Name, "size": att.Size, "contentType": att.ContentType}
	if att.Step != "" {
		details["step"] = att.Step
	}
	j.emit(EventAttachmentAdded, a.Actor, details)
	return append(list, att), nil
}
