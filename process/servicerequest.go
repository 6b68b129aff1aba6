package process

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// ServiceRequest is the state of one service request: what its workflow holds, what the projection
// stores and what the API returns.
type ServiceRequest struct {
	ID          string        `json:"id"`
	Number      string        `json:"number"`
	Queue       string        `json:"queue"`
	Stage       string        `json:"stage"`
	State       StageState    `json:"state"`
	Priority    string        `json:"priority"`
	Impact      string        `json:"impact"`
	Urgency     string        `json:"urgency"`
	Subject     string        `json:"subject"`
	Description string        `json:"description,omitempty"`
	Contact     Contact       `json:"contact"`
	Owner       string        `json:"owner,omitempty"`
	Team        string        `json:"team,omitempty"`
	Categories  []string      `json:"categories"`
	Tags        []string      `json:"tags"`
	Resolved    *bool         `json:"resolved,omitempty"`
	Resolution  string        `json:"resolution,omitempty"`
	Definition  DefinitionRef `json:"definition"`
	CreatedBy   string        `json:"createdBy"`
	CreatedAt   time.Time     `json:"createdAt"`
	UpdatedAt   time.Time     `json:"updatedAt"`
	ClosedAt    *time.Time    `json:"closedAt,omitempty"`
	// Revision counts the changes applied to the request. Every change is one history event, and the
	// revision is that event's sequence number; the projection never lets an older revision
	// overwrite a newer one.
	Revision int64 `json:"revision"`
}

// Contact is the person a service request belongs to.
type Contact struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// DefinitionRef names the definition a run interprets.
type DefinitionRef struct {
	Key     string `json:"key"`
	Version string `json:"version"`
}

// NewServiceRequest is what an agent gives to create a request. ID and Number are assigned by the
// caller before the run starts.
type NewServiceRequest struct {
	ID          string   `json:"id"`
	Number      string   `json:"number"`
	Queue       string   `json:"queue"`
	Subject     string   `json:"subject"`
	Description string   `json:"description,omitempty"`
	Contact     Contact  `json:"contact"`
	Impact      string   `json:"impact,omitempty"`
	Urgency     string   `json:"urgency,omitempty"`
	Categories  []string `json:"categories,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Owner       string   `json:"owner,omitempty"`
	Team        string   `json:"team,omitempty"`
}

// ActionKind names what an action does.
type ActionKind string

// The actions on a service request.
const (
	ActionProgress ActionKind = "progress"
	ActionRegress  ActionKind = "regress"
	ActionClose    ActionKind = "close"
)

// Action is one agent action on a service request: an input of the interpreter.
type Action struct {
	Kind       ActionKind `json:"kind"`
	Actor      string     `json:"actor"`
	ToStage    string     `json:"toStage,omitempty"`
	Reason     string     `json:"reason,omitempty"`
	Resolved   *bool      `json:"resolved,omitempty"`
	Resolution string     `json:"resolution,omitempty"`
}

// EventType names an entry of a request's history.
type EventType string

// The history event types.
const (
	EventCreated      EventType = "created"
	EventStageChanged EventType = "stage_changed"
	EventRegressed    EventType = "regressed"
	EventClosed       EventType = "closed"
)

// Event is one entry of a request's history: who did what, when.
type Event struct {
	Seq     int64          `json:"seq"`
	Type    EventType      `json:"type"`
	Actor   string         `json:"actor"`
	At      time.Time      `json:"at"`
	Details map[string]any `json:"details"`
}

// Effect is something the shell must do after a step of the interpreter.
type Effect interface{ isEffect() }

// Emit appends an event to the request's history.
type Emit struct{ Event Event }

func (Emit) isEffect() {}

// CreateServiceRequest starts a request in the queue's new stage. now is the run's time.
func CreateServiceRequest(q *Queue, in NewServiceRequest, actor string, now time.Time) (ServiceRequest, []Effect, error) {
	if err := ValidateNewServiceRequest(q, in); err != nil {
		return ServiceRequest{}, nil, err
	}
	impact, urgency := in.Impact, in.Urgency
	if impact == "" {
		impact = q.Priority.Default.Impact
	}
	if urgency == "" {
		urgency = q.Priority.Default.Urgency
	}
	priority, _ := q.PriorityOf(impact, urgency)
	owner := in.Owner
	if owner == "" && in.Team == "" {
		owner = actor
	}
	first := q.Stages[0]
	sr := ServiceRequest{
		ID:          in.ID,
		Number:      in.Number,
		Queue:       q.Key,
		Stage:       first.ID,
		State:       first.State,
		Priority:    priority,
		Impact:      impact,
		Urgency:     urgency,
		Subject:     strings.TrimSpace(in.Subject),
		Description: in.Description,
		Contact:     in.Contact,
		Owner:       owner,
		Team:        in.Team,
		Categories:  nonNil(in.Categories),
		Tags:        nonNil(in.Tags),
		Definition:  DefinitionRef{Key: q.Key, Version: q.Version},
		CreatedBy:   actor,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	effects := sr.emit(EventCreated, actor, now, map[string]any{
		"stage": sr.Stage, "priority": sr.Priority, "owner": sr.Owner, "team": sr.Team,
	})
	return sr, effects, nil
}

// ValidateNewServiceRequest checks a creation against the queue, reporting every invalid field.
func ValidateNewServiceRequest(q *Queue, in NewServiceRequest) error {
	var fields []FieldError
	if in.Queue != q.Key {
		fields = append(fields, FieldError{Field: "queue", Message: fmt.Sprintf("must be %q", q.Key)})
	}
	if strings.TrimSpace(in.Subject) == "" {
		fields = append(fields, FieldError{Field: "subject", Message: "is required"})
	}
	if in.Contact.Name == "" && in.Contact.Email == "" && in.Contact.Phone == "" {
		fields = append(fields, FieldError{Field: "contact", Message: "needs a name, an email or a phone"})
	}
	if in.Impact != "" && q.Priority.Matrix[in.Impact] == nil {
		fields = append(fields, FieldError{Field: "impact", Message: fmt.Sprintf("%q is not an impact level of queue %s", in.Impact, q.Key)})
	}
	if in.Urgency != "" {
		impact := in.Impact
		if q.Priority.Matrix[impact] == nil {
			impact = q.Priority.Default.Impact
		}
		if _, ok := q.PriorityOf(impact, in.Urgency); !ok {
			fields = append(fields, FieldError{Field: "urgency", Message: fmt.Sprintf("%q is not an urgency level of queue %s", in.Urgency, q.Key)})
		}
	}
	for i, c := range in.Categories {
		if !categoryAllowed(q.Categories, c) {
			fields = append(fields, FieldError{Field: fmt.Sprintf("categories[%d]", i), Message: fmt.Sprintf("%q is not a category of queue %s", c, q.Key)})
		}
	}
	if len(fields) > 0 {
		return &Error{Code: CodeInvalid, Message: "the request has invalid fields", Fields: fields}
	}
	return nil
}

// categoryAllowed accepts a category the queue lists, or any category below one it lists
// ("invoice/dispute" under "invoice"). A queue that lists no categories accepts any.
func categoryAllowed(allowed []string, c string) bool {
	if len(allowed) == 0 {
		return c != ""
	}
	return slices.ContainsFunc(allowed, func(a string) bool { return c == a || strings.HasPrefix(c, a+"/") })
}

// ApplyServiceRequest applies one action to a request. It never changes sr: it returns the new
// state and the effects, or an *Error saying why the action is not allowed or invalid.
func ApplyServiceRequest(q *Queue, sr ServiceRequest, a Action, now time.Time) (ServiceRequest, []Effect, error) {
	if sr.State == StateClosed {
		return sr, nil, notAllowed("request %s is closed", sr.Number)
	}
	cur := q.StageIndex(sr.Stage)
	if cur < 0 {
		return sr, nil, notAllowed("stage %q is not in queue %s", sr.Stage, q.Key)
	}
	switch a.Kind {
	case ActionProgress:
		to, err := progressTarget(q, cur, a.ToStage)
		if err != nil {
			return sr, nil, err
		}
		from := sr.Stage
		sr.moveTo(q.Stages[to], now)
		return sr, sr.emit(EventStageChanged, a.Actor, now, map[string]any{"from": from, "to": sr.Stage}), nil
	case ActionRegress:
		if strings.TrimSpace(a.Reason) == "" {
			return sr, nil, invalid(FieldError{Field: "reason", Message: "is required to regress a request"})
		}
		to, err := regressTarget(q, cur, a.ToStage)
		if err != nil {
			return sr, nil, err
		}
		from := sr.Stage
		sr.moveTo(q.Stages[to], now)
		return sr, sr.emit(EventRegressed, a.Actor, now, map[string]any{"from": from, "to": sr.Stage, "reason": a.Reason}), nil
	case ActionClose:
		if a.Resolved == nil {
			return sr, nil, invalid(FieldError{Field: "resolved", Message: "say true or false: was the request resolved?"})
		}
		from := sr.Stage
		sr.moveTo(q.Stages[len(q.Stages)-1], now)
		resolved := *a.Resolved
		sr.Resolved = &resolved
		sr.Resolution = a.Resolution
		closedAt := now
		sr.ClosedAt = &closedAt
		return sr, sr.emit(EventClosed, a.Actor, now, map[string]any{
			"from": from, "resolved": resolved, "resolution": a.Resolution,
		}), nil
	default:
		return sr, nil, invalid(FieldError{Field: "kind", Message: fmt.Sprintf("unknown action %q", a.Kind)})
	}
}

// progressTarget picks the stage a progress goes to: the next one, or a later one the agent names.
// Progress never enters the closed stage: closing says whether the request was resolved.
func progressTarget(q *Queue, cur int, toStage string) (int, error) {
	closed := len(q.Stages) - 1
	if toStage == "" {
		if cur+1 >= closed {
			return 0, notAllowed("%q is the last stage before closing; close the request instead", q.Stages[cur].ID)
		}
		return cur + 1, nil
	}
	to := q.StageIndex(toStage)
	switch {
	case to < 0:
		return 0, invalid(FieldError{Field: "toStage", Message: fmt.Sprintf("%q is not a stage of queue %s", toStage, q.Key)})
	case to == closed:
		return 0, notAllowed("progress cannot enter the closed stage; close the request instead")
	case to <= cur:
		return 0, notAllowed("%q is not after the current stage %q; regress instead", toStage, q.Stages[cur].ID)
	}
	return to, nil
}

// regressTarget picks the stage a regress goes to: the previous one, or an earlier one.
func regressTarget(q *Queue, cur int, toStage string) (int, error) {
	if toStage == "" {
		if cur == 0 {
			return 0, notAllowed("%q is the first stage; there is nothing to regress to", q.Stages[cur].ID)
		}
		return cur - 1, nil
	}
	to := q.StageIndex(toStage)
	switch {
	case to < 0:
		return 0, invalid(FieldError{Field: "toStage", Message: fmt.Sprintf("%q is not a stage of queue %s", toStage, q.Key)})
	case to >= cur:
		return 0, notAllowed("%q is not before the current stage %q", toStage, q.Stages[cur].ID)
	}
	return to, nil
}

func (sr *ServiceRequest) moveTo(s Stage, now time.Time) {
	sr.Stage = s.ID
	sr.State = s.State
	sr.UpdatedAt = now
}

// emit records a change: it bumps the revision and returns the history event as an effect.
func (sr *ServiceRequest) emit(t EventType, actor string, now time.Time, details map[string]any) []Effect {
	sr.Revision++
	return []Effect{Emit{Event: Event{Seq: sr.Revision, Type: t, Actor: actor, At: now, Details: details}}}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}
