package process

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// This file holds what both interpreters share: effects, timers, SLA clocks, approvals and
// automations. Everything here is pure: the workflow supplies the time and carries out the effects.

// Effect is something the shell must do after a step of the interpreter.
type Effect interface{ isEffect() }

// Emit appends an event to the record's history (and the shell writes the projection).
type Emit struct{ Event Event }

// Emitted collects the history events among effects, in order.
func Emitted(effects []Effect) []Event {
	var events []Event
	for _, e := range effects {
		if em, ok := e.(Emit); ok {
			events = append(events, em.Event)
		}
	}
	return events
}

// Notify sends a message made from a template to recipients. The shell reports the outcome with an
// ActionEffectDone carrying EffectID.
type Notify struct {
	EffectID   string
	Template   string
	Recipients []string
	Channels   []string
	// Priority tries the channels in order and stops at the first that succeeds.
	Priority bool
	// Print sends the record's printout instead of a template; Title names the queue on it.
	Print bool
	Title string
	// Approval names the pending approval whose signed link the message brings the contact; the
	// message is Template, or a built-in one when Template is empty.
	Approval string
	// Invitation: the message invites the contact to rate; EffectID is the invitation, and the
	// signed rating link works until InvitationExpires (the node's auto-complete, when it has one).
	Invitation        bool
	InvitationExpires *time.Time
}

// CallWebhook posts the record and the event that caused it to a URL.
type CallWebhook struct {
	EffectID  string
	URL       string
	SecretEnv string
	Event     Event
}

// StartWorkOrder starts a work order (a child run) from a record, with the mapped fields.
type StartWorkOrder struct {
	EffectID   string
	RecordType string
	Fields     map[string]string
}

// Relate asks the shell to tell request Other that request Self is related to it (or no longer,
// with Remove): links show on both requests.
type Relate struct {
	Other, Self string
	Remove      bool
}

func (Relate) isEffect()         {}
func (Emit) isEffect()           {}
func (Notify) isEffect()         {}
func (CallWebhook) isEffect()    {}
func (StartWorkOrder) isEffect() {}

// Timer is a durable timer the shell keeps: when At comes it sends an ActionTimer with the ID.
type Timer struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
}

// sortTimers orders timers by ID, so the shell starts them in a deterministic order.
func sortTimers(ts []Timer) []Timer {
	sort.Slice(ts, func(i, j int) bool { return ts[i].ID < ts[j].ID })
	return ts
}

// timerDue reports whether the timer id is among timers and due at now. A timer that fired after
// the record changed (cancelled, or moved later) is stale and ignored.
func timerDue(timers []Timer, id string, now time.Time) bool {
	for _, t := range timers {
		if t.ID == id {
			return !now.Before(t.At)
		}
	}
	return false
}

// ApprovalState is one approval of a record: who must decide, what they decided.
type ApprovalState struct {
	ID string `json:"id"`
	// Stage is the stage the approval guards (service requests); ToStage the stage the request
	// moves to once approved.
	Stage   string `json:"stage,omitempty"`
	ToStage string `json:"toStage,omitempty"`
	// Node is the approval node (work orders).
	Node        string     `json:"node,omitempty"`
	Approvers   []Approver `json:"approvers"`
	Needed      int        `json:"needed"`
	Decisions   []Decision `json:"decisions"`
	Status      string     `json:"status"` // pending, approved, rejected
	RequestedAt time.Time  `json:"requestedAt"`
	DueAt       time.Time  `json:"dueAt"`
	OnTimeout   string     `json:"onTimeout"`
	DecidedAt   *time.Time `json:"decidedAt,omitempty"`
}

// Decision is one approver's answer.
type Decision struct {
	By       string    `json:"by"`
	Decision string    `json:"decision"` // approve or reject
	Comment  string    `json:"comment,omitempty"`
	At       time.Time `json:"at"`
}

// Approval statuses.
const (
	approvalPending  = "pending"
	approvalApproved = "approved"
	approvalRejected = "rejected"
)

func approvalTimerID(id string) string { return "approval:" + id }

// newApproval opens an approval.
func newApproval(id string, a Approval, p *Process, now time.Time) ApprovalState {
	needed := a.Mode.Quorum(len(a.Approvers))
	return ApprovalState{
		ID: id, Approvers: a.Approvers, Needed: needed, Decisions: []Decision{}, Status: approvalPending,
		RequestedAt: now, DueAt: Deadline(now, a.Timeout, p.CalendarDef), OnTimeout: a.OnTimeout,
	}
}

// MayDecide reports whether the actor is one of the approvers (the API's policy asks it too).
func (a ApprovalState) MayDecide(act Action) bool {
	for _, ap := range a.Approvers {
		switch {
		case ap.User != "" && ap.User == act.Actor && !act.ViaLink:
			return true
		case ap.Role != "" && slices.Contains(act.ActorRoles, ap.Role) && !act.ViaLink:
			return true
		case ap.Group != "" && slices.Contains(act.ActorGroups, ap.Group) && !act.ViaLink:
			return true
		case ap.Contact && act.ViaLink:
			return true
		}
	}
	return false
}

// decide records a decision and settles the approval when it can: one rejection rejects (all and
// quorum modes need that many approvals; a single no from an approver ends an "all" approval).
func (a ApprovalState) decide(act Action, now time.Time) (ApprovalState, error) {
	if a.Status != approvalPending {
		return a, notAllowed("approval %s is already %s", a.ID, a.Status)
	}
	if act.Decision != "approve" && act.Decision != "reject" {
		return a, invalid(FieldError{Field: "decision", Message: "must be approve or reject"})
	}
	if !a.MayDecide(act) {
		return a, notAllowed("%s is not an approver of approval %s", act.Actor, a.ID)
	}
	for _, d := range a.Decisions {
		if d.By == act.Actor {
			return a, notAllowed("%s has already decided on approval %s", act.Actor, a.ID)
		}
	}
	a.Decisions = append(slices.Clone(a.Decisions), Decision{By: act.Actor, Decision: act.Decision, Comment: act.Comment, At: now})
	approvals, rejections := 0, 0
	for _, d := range a.Decisions {
		if d.Decision == "approve" {
			approvals++
		} else {
			rejections++
		}
	}
	possible := len(a.Approvers) - rejections
	switch {
	case approvals >= a.Needed:
		a = a.settle(approvalApproved, now)
	case rejections > 0 && (a.Needed >= len(a.Approvers) || possible < a.Needed || a.Needed == 1):
		a = a.settle(approvalRejected, now)
	}
	return a, nil
}

func (a ApprovalState) settle(status string, now time.Time) ApprovalState {
	a.Status = status
	at := now
	a.DecidedAt = &at
	return a
}

// pendingApproval returns the index of the pending approval, or -1.
func pendingApproval(as []ApprovalState) int {
	return slices.IndexFunc(as, func(a ApprovalState) bool { return a.Status == approvalPending })
}

// approvalByID returns the index of the approval with the id, or -1.
func approvalByID(as []ApprovalState, id string) int {
	return slices.IndexFunc(as, func(a ApprovalState) bool { return a.ID == id })
}

// automationTriggers are the events automations may react to. Outcomes of effects
// (notification_sent, webhook_failed …) are not among them, so automations cannot loop.
var automationTriggers = []EventType{
	EventCreated, EventUpdated, EventStageChanged, EventRegressed, EventClosed, EventNoteAdded,
	EventNoteUpdated, EventApprovalRequested, EventOwnerChanged, EventSLAAlert, EventSLABreached,
	EventAssigned, EventAccepted, EventDeclined, EventTransferred, EventStepCompleted, EventRated,
	EventRatingSkipped, EventFollowUpDone, EventCustomerCommented,
}

// actionEffects turns the actions of an automation, an SLA block or a node into effects. idPrefix
// makes effect IDs unique and deterministic.
// reactions are what the actions of an automation or an SLA block produce: effects for the shell,
// events, and, for a service request, activities and approvals to open on the record.
type reactions struct {
	effects   []Effect
	events    []Event
	tasks     []ActivityAction
	approvals []Approval
	// moves are the stages move actions ask for, in order.
	moves []string
}

func actionEffects(actions []AutomationAction, idPrefix string, ev Event, text func(Text) (string, error)) ([]Effect, []Event) {
	r := react(actions, idPrefix, ev, text)
	events := r.events
	for _, t := range r.tasks {
		events = append(events, Event{Type: EventActivityCreated, Actor: "automation", At: ev.At, Details: map[string]any{
			"title": t.Title, "to": t.To, "due": t.Due.String(),
		}})
	}
	return r.effects, events
}

// react turns actions into reactions. idPrefix makes effect IDs unique and deterministic.
func react(actions []AutomationAction, idPrefix string, ev Event, text func(Text) (string, error)) reactions {
	var r reactions
	var effects []Effect
	var events []Event
	for i, a := range actions {
		id := fmt.Sprintf("%s:%d", idPrefix, i)
		switch {
		case a.Notify != nil:
			effects = append(effects, Notify{EffectID: id, Template: a.Notify.Template, Recipients: a.Notify.To, Channels: a.Notify.Channels})
		case a.Webhook != nil:
			url, err := text(a.Webhook.URL)
			if err != nil {
				events = append(events, expressionFailed(ev, err))
				continue
			}
			effects = append(effects, CallWebhook{EffectID: id, URL: url, SecretEnv: a.Webhook.SecretEnv, Event: ev})
		case a.Convert != nil:
			fields := map[string]string{}
			failed := false
			for _, k := range sortedKeys(a.Convert.Map) {
				v, err := text(a.Convert.Map[k])
				if err != nil {
					events = append(events, expressionFailed(ev, err))
					failed = true
					break
				}
				fields[k] = v
			}
			if !failed {
				effects = append(effects, StartWorkOrder{EffectID: id, RecordType: a.Convert.RecordType, Fields: fields})
			}
		case a.Activity != nil:
			r.tasks = append(r.tasks, *a.Activity)
		case a.Approval != nil:
			r.approvals = append(r.approvals, *a.Approval)
		case a.Move != "":
			r.moves = append(r.moves, a.Move)
		}
	}
	r.effects, r.events = effects, events
	return r
}

// expressionFailed is the event recorded when an expression fails at run time.
func expressionFailed(ev Event, err error) Event {
	return Event{Type: EventExpressionFailed, Actor: "system", At: ev.At, Details: map[string]any{
		"error": err.Error(), "during": string(ev.Type),
	}}
}
