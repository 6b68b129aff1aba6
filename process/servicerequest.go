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
	ID          string     `json:"id"`
	Number      string     `json:"number"`
	Queue       string     `json:"queue"`
	Stage       string     `json:"stage"`
	State       StageState `json:"state"`
	Priority    string     `json:"priority"`
	Impact      string     `json:"impact"`
	Urgency     string     `json:"urgency"`
	Subject     string     `json:"subject"`
	Description string     `json:"description,omitempty"`
	Contact     Contact    `json:"contact"`
	Owner       string     `json:"owner,omitempty"`
	Team        string     `json:"team,omitempty"`
	// Channel is how the request came in (agent, online-service, portal, guest, email); Conversation
	// the chat or call an agent created it from.
	Channel      string        `json:"channel,omitempty"`
	Conversation *Conversation `json:"conversation,omitempty"`
	// Handling are the roles and groups that handle the request (the queue's, when it was created):
	// while it has neither owner nor team it waits in their to-do pool.
	Handling   *Handling `json:"handling,omitempty"`
	Categories []string  `json:"categories"`
	Tags       []string  `json:"tags"`
	// Fields holds the values of the queue's custom fields.
	Fields map[string]any `json:"fields"`
	// Related lists the ids of related requests; a link shows on both requests.
	Related []string `json:"related"`
	// WorkOrders are the work orders made from the request, with how they ended.
	WorkOrders      []WorkOrderLink `json:"workOrders,omitempty"`
	Address         *Address        `json:"address,omitempty"`
	AffectedService string          `json:"affectedService,omitempty"`
	SLA             SLAClock        `json:"sla"`
	Notes           []Note          `json:"notes"`
	Charges         []Charge        `json:"charges"`
	Invoice         *Invoice        `json:"invoice,omitempty"`
	Activities      []Task          `json:"activities"`
	Attachments     []Attachment    `json:"attachments"`
	Approvals       []ApprovalState `json:"approvals"`
	Resolved        *bool           `json:"resolved,omitempty"`
	Resolution      string          `json:"resolution,omitempty"`
	Definition      DefinitionRef   `json:"definition"`
	CreatedBy       string          `json:"createdBy"`
	CreatedAt       time.Time       `json:"createdAt"`
	UpdatedAt       time.Time       `json:"updatedAt"`
	ClosedAt        *time.Time      `json:"closedAt,omitempty"`
	// Revision counts the changes applied to the request. Every change is one history event, and the
	// revision is the sequence number of the latest; the projection never lets an older revision
	// overwrite a newer one.
	Revision int64 `json:"revision"`
}

// Contact is the person a record belongs to.
type Contact struct {
	// ID is the contact record the person was matched to (or created as) when the record came in;
	// empty for records made before contacts were kept.
	ID    string `json:"id,omitempty"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
}

// Address is a postal address related to a request (an on-site visit, say).
type Address struct {
	Line1    string `json:"line1,omitempty"`
	Line2    string `json:"line2,omitempty"`
	City     string `json:"city,omitempty"`
	Postcode string `json:"postcode,omitempty"`
	Country  string `json:"country,omitempty"`
}

// DefinitionRef names the definition a run interprets.
type DefinitionRef struct {
	Key     string `json:"key"`
	Version string `json:"version"`
}

// NewServiceRequest is what an agent gives to create a request. ID and Number are assigned by the
// caller before the run starts.
type NewServiceRequest struct {
	ID              string         `json:"id"`
	Number          string         `json:"number"`
	Queue           string         `json:"queue"`
	Subject         string         `json:"subject"`
	Description     string         `json:"description,omitempty"`
	Contact         Contact        `json:"contact"`
	Impact          string         `json:"impact,omitempty"`
	Urgency         string         `json:"urgency,omitempty"`
	Categories      []string       `json:"categories,omitempty"`
	Tags            []string       `json:"tags,omitempty"`
	Owner           string         `json:"owner,omitempty"`
	Team            string         `json:"team,omitempty"`
	Fields          map[string]any `json:"fields,omitempty"`
	Related         []string       `json:"related,omitempty"`
	Address         *Address       `json:"address,omitempty"`
	AffectedService string         `json:"affectedService,omitempty"`
	// Channel is how the request comes in: agent (the default), online-service, or a customer
	// channel (portal, guest, email), whose requests get the queue's defaults and rules.
	Channel string `json:"channel,omitempty"`
	// Conversation is the chat or call an agent creates the request from.
	Conversation *Conversation `json:"conversation,omitempty"`
}

// Changes are the fields an update changes; nil ones stay as they are. The contact and the queue
// never change after creation.
type Changes struct {
	Subject         *string   `json:"subject,omitempty"`
	Description     *string   `json:"description,omitempty"`
	Impact          *string   `json:"impact,omitempty"`
	Urgency         *string   `json:"urgency,omitempty"`
	Categories      *[]string `json:"categories,omitempty"`
	Tags            *[]string `json:"tags,omitempty"`
	Owner           *string   `json:"owner,omitempty"`
	Team            *string   `json:"team,omitempty"`
	Related         *[]string `json:"related,omitempty"`
	Address         *Address  `json:"address,omitempty"`
	AffectedService *string   `json:"affectedService,omitempty"`
	// Fields sets custom field values; a null value removes one.
	Fields map[string]any `json:"fields,omitempty"`
}

// journal collects what one step of an interpreter produces: events (numbered from the record's
// revision) and effects.
type journal struct {
	now     time.Time
	rev     *int64
	events  []Event
	effects []Effect
}

func (j *journal) emit(t EventType, actor string, details map[string]any) {
	j.add(Event{Type: t, Actor: actor, At: j.now, Details: details})
}

// add numbers an event and records it.
func (j *journal) add(e Event) {
	*j.rev++
	e.Seq = *j.rev
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	j.events = append(j.events, e)
	j.effects = append(j.effects, Emit{Event: e})
}

// CreateServiceRequest starts a request in the queue's new stage. now is the run's time.
func CreateServiceRequest(q *Queue, in NewServiceRequest, actor string, now time.Time) (ServiceRequest, []Effect, error) {
	if err := ValidateNewServiceRequest(q, in); err != nil {
		return ServiceRequest{}, nil, err
	}
	if in.Channel == "" {
		in.Channel = ChannelAgent
	}
	customer := IsCustomerChannel(in.Channel)
	if customer {
		in = withDefaults(q, in)
	}
	impact, urgency, priority := q.priorityFor(in.Impact, in.Urgency)
	// A request an agent creates without owner or team is the agent's: they are talking to the
	// customer. One from a customer is routed below.
	owner := in.Owner
	if owner == "" && in.Team == "" && !customer {
		owner = actor
	}
	first := q.Stages[0]
	sr := ServiceRequest{
		ID:              in.ID,
		Number:          in.Number,
		Queue:           q.Key,
		Stage:           first.ID,
		State:           first.State,
		Priority:        priority,
		Impact:          impact,
		Urgency:         urgency,
		Subject:         strings.TrimSpace(in.Subject),
		Description:     in.Description,
		Contact:         in.Contact,
		Owner:           owner,
		Team:            in.Team,
		Channel:         in.Channel,
		Conversation:    in.Conversation,
		Handling:        q.handling(),
		Categories:      nonNil(in.Categories),
		Tags:            nonNil(in.Tags),
		Related:         nonNil(in.Related),
		Notes:           []Note{},
		Charges:         []Charge{},
		Activities:      []Task{},
		Attachments:     []Attachment{},
		Address:         in.Address,
		AffectedService: in.AffectedService,
		SLA:             startSLA(&q.Process, priority, first.ID, now),
		Approvals:       []ApprovalState{},
		Definition:      DefinitionRef{Key: q.Key, Version: q.Version},
		CreatedBy:       actor,
		CreatedAt:       now,
		UpdatedAt:       now,
	}
	sr.Fields, _ = checkFieldValues(q.Fields, in.Fields, true)
	sr.Fields = mergeFields(nil, sr.Fields)
	j := &journal{now: now, rev: &sr.Revision}
	// Rules see the request as created; their failures are recorded after the creation.
	var routing journal
	var routedBy string
	if customer {
		var scratch int64
		routing = journal{now: now, rev: &scratch}
		sr.Owner, sr.Team, routedBy = srRoute(q, sr, &routing)
	}
	details := map[string]any{"stage": sr.Stage, "priority": sr.Priority, "owner": sr.Owner, "team": sr.Team, "channel": sr.Channel}
	if sr.SLA.DueAt != nil {
		details["dueAt"] = *sr.SLA.DueAt
	}
	if c := sr.Conversation; c != nil {
		details["conversation"] = map[string]any{"channel": c.Channel, "reference": c.Reference}
	}
	if customer {
		details["routedBy"] = routedBy
		if sr.Unassigned() {
			details["routedBy"] = "pool"
		}
	}
	j.emit(EventCreated, actor, details)
	for _, e := range routing.events {
		j.add(e)
	}
	for _, other := range sr.Related {
		j.effects = append(j.effects, Relate{Other: other, Self: sr.ID})
	}
	srAutomations(q, &sr, j)
	return sr, j.effects, nil
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
	_, ferrs := checkFieldValues(q.Fields, in.Fields, true)
	fields = append(fields, ferrs...)
	fields = append(fields, checkRelated(in.ID, in.Related, "related")...)
	fields = append(fields, checkIntake(q, in)...)
	if len(fields) > 0 {
		return &Error{Code: CodeInvalid, Message: "the request has invalid fields", Fields: fields}
	}
	return nil
}

func checkRelated(self string, related []string, field string) []FieldError {
	var errs []FieldError
	for i, r := range related {
		if r == "" || r == self {
			errs = append(errs, FieldError{Field: fmt.Sprintf("%s[%d]", field, i), Message: "must be the id of another request"})
		}
	}
	return errs
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
	sr.Approvals = slices.Clone(sr.Approvals)
	sr.Categories, sr.Tags, sr.Related = slices.Clone(sr.Categories), slices.Clone(sr.Tags), slices.Clone(sr.Related)
	sr.Notes, sr.Charges, sr.Activities = slices.Clone(sr.Notes), slices.Clone(sr.Charges), slices.Clone(sr.Activities)
	sr.Attachments, sr.WorkOrders = slices.Clone(sr.Attachments), slices.Clone(sr.WorkOrders)
	j := &journal{now: now, rev: &sr.Revision}
	if err := applySR(q, &sr, a, j); err != nil {
		return ServiceRequest{}, nil, err
	}
	if len(j.events) > 0 {
		sr.UpdatedAt = now
	}
	srAutomations(q, &sr, j)
	return sr, j.effects, nil
}

func applySR(q *Queue, sr *ServiceRequest, a Action, j *journal) error {
	switch a.Kind {
	case ActionTimer:
		srTimerFired(q, sr, a.TimerID, j)
		return nil
	case ActionEffectDone:
		if a.EffectKind == "invoice" {
			srInvoiced(sr, a, j)
			return nil
		}
		j.add(effectOutcome(a, j.now))
		if a.EffectKind == "convert" && a.Error == "" && a.Result["id"] != "" {
			srLinkWorkOrder(sr, WorkOrderLink{ID: a.Result["id"], Number: a.Result["number"], RecordType: a.Result["recordType"], Status: "open"})
		}
		return nil
	case ActionRelate:
		srRelate(sr, a, j)
		return nil
	case ActionWorkOrderClosed:
		if a.WorkOrder == nil || a.WorkOrder.ID == "" {
			return invalid(FieldError{Field: "workOrder", Message: "is required"})
		}
		link := *a.WorkOrder
		srLinkWorkOrder(sr, link)
		j.emit(EventWorkOrderClosed, a.Actor, map[string]any{"id": link.ID, "number": link.Number, "status": link.Status, "resolution": link.Resolution})
		return nil
	}
	if sr.State == StateClosed {
		return notAllowed("request %s is closed", sr.Number)
	}
	if err := srPermitted(sr, a); err != nil {
		return err
	}
	cur := q.StageIndex(sr.Stage)
	if cur < 0 {
		return notAllowed("stage %q is not in queue %s", sr.Stage, q.Key)
	}
	if ok, err := srDesk(q, sr, a, j); ok {
		return err
	}
	switch a.Kind {
	case ActionProgress:
		to, err := progressTarget(q, cur, a.ToStage)
		if err != nil {
			return err
		}
		return srProgress(q, sr, q.Stages[to].ID, a.Actor, j)
	case ActionRegress:
		if strings.TrimSpace(a.Reason) == "" {
			return invalid(FieldError{Field: "reason", Message: "is required to regress a request"})
		}
		to, err := regressTarget(q, cur, a.ToStage)
		if err != nil {
			return err
		}
		srCancelApprovals(sr, a.Actor, "the request was regressed", j)
		from := sr.Stage
		srMoveTo(q, sr, q.Stages[to], j)
		j.emit(EventRegressed, a.Actor, map[string]any{"from": from, "to": sr.Stage, "reason": a.Reason})
		return nil
	case ActionClose:
		if a.Resolved == nil {
			return invalid(FieldError{Field: "resolved", Message: "say true or false: was the request resolved?"})
		}
		srCancelApprovals(sr, a.Actor, "the request was closed", j)
		from := sr.Stage
		srMoveTo(q, sr, q.Stages[len(q.Stages)-1], j)
		resolved := *a.Resolved
		sr.Resolved = &resolved
		sr.Resolution = a.Resolution
		closedAt := j.now
		sr.ClosedAt = &closedAt
		sr.SLA = sr.SLA.stop(q.CalendarDef, j.now)
		details := map[string]any{"from": from, "resolved": resolved, "resolution": a.Resolution}
		if len(sr.Charges) > 0 {
			details["charges"], details["total"] = len(sr.Charges), chargesTotal(sr.Charges)
		}
		j.emit(EventClosed, a.Actor, details)
		// Resolved: the contact is billed for the charges, once. Unresolved: nothing is billed.
		if resolved && len(sr.Charges) > 0 {
			j.effects = append(j.effects, IssueInvoice{EffectID: "invoice:" + sr.ID, RequestID: sr.ID, Number: sr.Number,
				Charges: slices.Clone(sr.Charges), Total: chargesTotal(sr.Charges)})
		}
		return nil
	case ActionUpdate:
		return srUpdate(q, sr, a, j)
	case ActionConvert:
		return srConvert(q, sr, a, j)
	case ActionEmailRecord:
		if sr.Contact.Email == "" {
			return notAllowed("the contact of request %s has no email address", sr.Number)
		}
		j.emit(EventEmailed, a.Actor, map[string]any{"to": "contact"})
		j.effects = append(j.effects, Notify{EffectID: fmt.Sprintf("print:%d", sr.Revision), Recipients: []string{"contact"},
			Channels: []string{"email"}, Print: true, Title: q.Title})
		return nil
	case ActionClaim:
		return srClaim(sr, a, j)
	case ActionCustomerComment:
		return srCustomerComment(sr, a, j)
	case ActionTakeOver:
		if sr.Owner == a.Actor {
			return notAllowed("%s owns request %s already", a.Actor, sr.Number)
		}
		from := sr.Owner
		sr.Owner = a.Actor
		j.emit(EventOwnerChanged, a.Actor, map[string]any{"from": from, "to": a.Actor, "team": sr.Team, "takenOver": true})
		return nil
	case ActionDecide:
		i := approvalByID(sr.Approvals, a.ApprovalID)
		if i < 0 {
			return notFoundField("approvalId", a.ApprovalID)
		}
		decided, err := sr.Approvals[i].decide(a, j.now)
		if err != nil {
			return err
		}
		sr.Approvals[i] = decided
		j.emit(EventApprovalDecided, a.Actor, map[string]any{"approval": decided.ID, "decision": a.Decision, "comment": a.Comment})
		srApprovalSettled(q, sr, i, a.Actor, j)
		return nil
	default:
		return invalid(FieldError{Field: "kind", Message: fmt.Sprintf("%q is not an action on a service request", a.Kind)})
	}
}

// hasRole reports whether the actor has one of the roles.
func hasRole(a Action, roles ...string) bool {
	return slices.ContainsFunc(a.ActorRoles, func(r string) bool { return slices.Contains(roles, r) })
}

// srPermitted applies the ownership rules: the owner (or a supervisor or admin) edits and moves a
// request; members of its team may take it over; approvers decide their approvals.
func srPermitted(sr *ServiceRequest, a Action) error {
	if hasRole(a, "supervisor", "admin") {
		return nil
	}
	switch a.Kind {
	case ActionDecide, ActionCompleteTask, ActionClaim, ActionCustomerComment:
		return nil // the approval checks its approvers, the activity its assignee, the claim the handlers; the contact's status link is checked by the API
	case ActionAddNote, ActionUpdateNote, ActionDeleteNote, ActionAddAttachment:
		if a.Actor == sr.Owner || (sr.Team != "" && slices.Contains(a.ActorGroups, sr.Team)) {
			return nil
		}
		return forbidden("only the owner and the team of request %s may write its notes", sr.Number)
	case ActionTakeOver:
		if sr.Team != "" && slices.Contains(a.ActorGroups, sr.Team) {
			return nil
		}
		if sr.Owner == "" && sr.Team == "" {
			return nil
		}
		return forbidden("only members of team %q, supervisors and admins may take over request %s", sr.Team, sr.Number)
	}
	if a.Actor != sr.Owner {
		owner := sr.Owner
		if owner == "" {
			owner = "nobody (a team member must take it over first)"
		}
		return forbidden("request %s is owned by %s; only its owner, supervisors and admins may change it", sr.Number, owner)
	}
	return nil
}

// srUpdate changes the fields an update gives; impact or urgency changes recompute the priority and
// move the SLA onto the new priority's targets.
func srUpdate(q *Queue, sr *ServiceRequest, a Action, j *journal) error {
	c := a.Changes
	if c == nil {
		return invalid(FieldError{Field: "changes", Message: "give at least one field to change"})
	}
	var errs []FieldError
	var changed []string
	if c.Subject != nil {
		if strings.TrimSpace(*c.Subject) == "" {
			errs = append(errs, FieldError{Field: "subject", Message: "cannot be empty"})
		} else if strings.TrimSpace(*c.Subject) != sr.Subject {
			sr.Subject = strings.TrimSpace(*c.Subject)
			changed = append(changed, "subject")
		}
	}
	if c.Description != nil && *c.Description != sr.Description {
		sr.Description = *c.Description
		changed = append(changed, "description")
	}
	impact, urgency := sr.Impact, sr.Urgency
	if c.Impact != nil {
		impact = *c.Impact
	}
	if c.Urgency != nil {
		urgency = *c.Urgency
	}
	priority, ok := q.PriorityOf(impact, urgency)
	if !ok {
		if q.Priority.Matrix[impact] == nil {
			errs = append(errs, FieldError{Field: "impact", Message: fmt.Sprintf("%q is not an impact level of queue %s", impact, q.Key)})
		} else {
			errs = append(errs, FieldError{Field: "urgency", Message: fmt.Sprintf("%q is not an urgency level of queue %s", urgency, q.Key)})
		}
	}
	if c.Categories != nil {
		for i, cat := range *c.Categories {
			if !categoryAllowed(q.Categories, cat) {
				errs = append(errs, FieldError{Field: fmt.Sprintf("categories[%d]", i), Message: fmt.Sprintf("%q is not a category of queue %s", cat, q.Key)})
			}
		}
	}
	fields, ferrs := checkFieldValues(q.Fields, c.Fields, false)
	errs = append(errs, ferrs...)
	if c.Related != nil {
		errs = append(errs, checkRelated(sr.ID, *c.Related, "related")...)
	}
	if len(errs) > 0 {
		return &Error{Code: CodeInvalid, Message: "the update has invalid fields", Fields: errs}
	}
	details := map[string]any{}
	if priority != sr.Priority || impact != sr.Impact || urgency != sr.Urgency {
		details["priority"] = map[string]any{"from": sr.Priority, "to": priority}
		changed = append(changed, "impact", "urgency")
		oldPriority := sr.Priority
		sr.Impact, sr.Urgency, sr.Priority = impact, urgency, priority
		if priority != oldPriority {
			sr.SLA = sr.SLA.retarget(&q.Process, priority, j.now)
			changed = append(changed, "priority")
		}
	}
	if c.Categories != nil && !slices.Equal(*c.Categories, sr.Categories) {
		sr.Categories = nonNil(*c.Categories)
		changed = append(changed, "categories")
	}
	if c.Tags != nil && !slices.Equal(*c.Tags, sr.Tags) {
		sr.Tags = nonNil(*c.Tags)
		changed = append(changed, "tags")
	}
	if c.Address != nil {
		address := *c.Address
		sr.Address = &address
		changed = append(changed, "address")
	}
	if c.AffectedService != nil && *c.AffectedService != sr.AffectedService {
		sr.AffectedService = *c.AffectedService
		changed = append(changed, "affectedService")
	}
	if len(fields) > 0 {
		sr.Fields = mergeFields(sr.Fields, fields)
		changed = append(changed, "fields")
	}
	var relate []Effect
	if c.Related != nil {
		for _, r := range *c.Related {
			if !slices.Contains(sr.Related, r) {
				relate = append(relate, Relate{Other: r, Self: sr.ID})
			}
		}
		for _, r := range sr.Related {
			if !slices.Contains(*c.Related, r) {
				relate = append(relate, Relate{Other: r, Self: sr.ID, Remove: true})
			}
		}
		if len(relate) > 0 {
			sr.Related = nonNil(*c.Related)
			changed = append(changed, "related")
		}
	}
	ownerFrom, teamFrom := sr.Owner, sr.Team
	if c.Owner != nil {
		sr.Owner = *c.Owner
	}
	if c.Team != nil {
		sr.Team = *c.Team
	}
	if len(changed) == 0 && sr.Owner == ownerFrom && sr.Team == teamFrom {
		return notAllowed("the update changes nothing")
	}
	if len(changed) > 0 {
		details["fields"] = changed
		j.emit(EventUpdated, a.Actor, details)
	}
	if sr.Owner != ownerFrom || sr.Team != teamFrom {
		j.emit(EventOwnerChanged, a.Actor, map[string]any{"from": ownerFrom, "to": sr.Owner, "teamFrom": teamFrom, "team": sr.Team})
	}
	j.effects = append(j.effects, relate...)
	return nil
}

// srInvoiced records the invoice the shell issued.
func srInvoiced(sr *ServiceRequest, a Action, j *journal) {
	if a.Error != "" {
		j.emit(EventInvoiceFailed, "system", map[string]any{"error": a.Error})
		return
	}
	inv := Invoice{Number: a.Result["number"], Total: chargesTotal(sr.Charges), Lines: len(sr.Charges), IssuedAt: j.now}
	sr.Invoice = &inv
	j.emit(EventInvoiceIssued, "system", map[string]any{"invoice": inv.Number, "total": inv.Total, "lines": inv.Lines})
}

// fieldsView copies the custom fields for expressions.
func fieldsView(fields map[string]any) map[string]any {
	out := make(map[string]any, len(fields))
	for _, k := range sortedKeys(fields) {
		out[k] = fields[k]
	}
	return out
}

// srConvert starts a work order from the request with the mapping the queue declares.
func srConvert(q *Queue, sr *ServiceRequest, a Action, j *journal) error {
	if len(q.Conversions) == 0 {
		return notAllowed("queue %s declares no conversions to work orders", q.Key)
	}
	i := slices.IndexFunc(q.Conversions, func(c ConvertAction) bool { return c.RecordType == a.RecordType })
	if i < 0 {
		types := make([]string, len(q.Conversions))
		for k, c := range q.Conversions {
			types[k] = c.RecordType
		}
		return invalid(FieldError{Field: "recordType", Message: fmt.Sprintf("queue %s converts to %s%s", q.Key, strings.Join(types, ", "), suggest(a.RecordType, types))})
	}
	effectID := fmt.Sprintf("convert:%d", sr.Revision+1)
	j.emit(EventConversionStarted, a.Actor, map[string]any{"recordType": a.RecordType, "effect": effectID})
	trigger := j.events[len(j.events)-1]
	r := react([]AutomationAction{{Convert: &q.Conversions[i]}}, "unused", trigger, srText(q, *sr, trigger))
	for _, e := range r.events {
		j.add(e)
	}
	for _, e := range r.effects {
		if start, ok := e.(StartWorkOrder); ok {
			start.EffectID = effectID
			j.effects = append(j.effects, start)
		}
	}
	return nil
}

// srLinkWorkOrder adds or updates the link to a work order made from the request.
func srLinkWorkOrder(sr *ServiceRequest, link WorkOrderLink) {
	if i := slices.IndexFunc(sr.WorkOrders, func(w WorkOrderLink) bool { return w.ID == link.ID }); i >= 0 {
		if link.RecordType == "" {
			link.RecordType = sr.WorkOrders[i].RecordType
		}
		sr.WorkOrders[i] = link
		return
	}
	sr.WorkOrders = append(sr.WorkOrders, link)
}

// srRelate records, on this request, a link made or removed by another request.
func srRelate(sr *ServiceRequest, a Action, j *journal) {
	has := slices.Contains(sr.Related, a.RelatedID)
	switch {
	case a.Remove && has:
		sr.Related = slices.DeleteFunc(slices.Clone(sr.Related), func(r string) bool { return r == a.RelatedID })
		j.emit(EventUnrelated, a.Actor, map[string]any{"request": a.RelatedID})
	case !a.Remove && !has:
		sr.Related = append(slices.Clone(sr.Related), a.RelatedID)
		j.emit(EventRelated, a.Actor, map[string]any{"request": a.RelatedID})
	}
}

// srProgress moves forwards to stage to, unless the current stage asks for an approval first: then
// it opens the approval and the move happens once it is approved.
func srProgress(q *Queue, sr *ServiceRequest, to, actor string, j *journal) error {
	stage, _ := q.StageByID(sr.Stage)
	if i := pendingApproval(sr.Approvals); i >= 0 {
		return notAllowed("request %s is waiting for approval %s", sr.Number, sr.Approvals[i].ID)
	}
	// An approval whose condition fails to evaluate is asked for all the same: it fails closed.
	if stage.Approval != nil && srConditionOr(q, *sr, stage.Approval.When, Event{Type: EventStageChanged, At: j.now}, j, true) {
		id := fmt.Sprintf("%s-%d", stage.ID, sr.Revision+1)
		ap := newApproval(id, *stage.Approval, &q.Process, j.now)
		ap.Stage, ap.ToStage = stage.ID, to
		sr.Approvals = append(sr.Approvals, ap)
		j.emit(EventApprovalRequested, actor, map[string]any{"approval": id, "stage": stage.ID, "toStage": to, "dueAt": ap.DueAt, "needed": ap.Needed})
		askContact(*sr, ap, stage.Approval.Template, j)
		return nil
	}
	from := sr.Stage
	next, _ := q.StageByID(to)
	srMoveTo(q, sr, next, j)
	j.emit(EventStageChanged, actor, map[string]any{"from": from, "to": sr.Stage})
	return nil
}

// srApprovalSettled carries out an approval that has just been approved or rejected.
func srApprovalSettled(q *Queue, sr *ServiceRequest, i int, actor string, j *journal) {
	ap := sr.Approvals[i]
	switch ap.Status {
	case approvalApproved:
		j.emit(EventApprovalApproved, actor, map[string]any{"approval": ap.ID})
		if sr.Stage == ap.Stage {
			from := sr.Stage
			next, _ := q.StageByID(ap.ToStage)
			srMoveTo(q, sr, next, j)
			j.emit(EventStageChanged, actor, map[string]any{"from": from, "to": sr.Stage, "approval": ap.ID})
		}
	case approvalRejected:
		j.emit(EventApprovalRejected, actor, map[string]any{"approval": ap.ID})
	}
}

func srCancelApprovals(sr *ServiceRequest, actor, why string, j *journal) {
	for i, ap := range sr.Approvals {
		if ap.Status == approvalPending {
			sr.Approvals[i] = ap.settle("cancelled", j.now)
			j.emit(EventApprovalCancelled, actor, map[string]any{"approval": ap.ID, "reason": why})
		}
	}
}

// srMoveTo changes the stage and keeps the SLA clock in step: it pauses in a pause stage.
func srMoveTo(q *Queue, sr *ServiceRequest, s Stage, j *journal) {
	sr.Stage, sr.State = s.ID, s.State
	sr.SLA = sr.SLA.onStage(&q.Process, s, j)
}

// srTimerFired handles a fired timer: an SLA alert or breach, or an approval's timeout.
func srTimerFired(q *Queue, sr *ServiceRequest, id string, j *journal) {
	if !timerDue(ServiceRequestTimers(q, *sr), id, j.now) {
		return // stale: the request moved on since the timer was set
	}
	switch {
	case id == timerSLAAlert || id == timerSLABreach:
		var actions []AutomationAction
		sr.SLA, actions = sr.SLA.fire(&q.Process, id, sr.Stage, sr.Priority, j)
		srSLAActions(q, sr, actions, id, j)
	case strings.HasPrefix(id, "approval:"):
		i := approvalByID(sr.Approvals, strings.TrimPrefix(id, "approval:"))
		ap := sr.Approvals[i]
		status := approvalRejected
		if ap.OnTimeout == "approve" {
			status = approvalApproved
		}
		sr.Approvals[i] = ap.settle(status, j.now)
		j.emit(EventApprovalDecided, "system", map[string]any{"approval": ap.ID, "decision": "timeout", "outcome": status})
		srApprovalSettled(q, sr, i, "system", j)
	}
}

func srSLAActions(q *Queue, sr *ServiceRequest, actions []AutomationAction, prefix string, j *journal) {
	trigger := j.events[len(j.events)-1]
	srReact(q, sr, actions, fmt.Sprintf("%s:%d", prefix, trigger.Seq), trigger, j)
}

// srReact carries out the actions of an automation or an SLA block on a request.
func srReact(q *Queue, sr *ServiceRequest, actions []AutomationAction, prefix string, trigger Event, j *journal) {
	r := react(actions, prefix, trigger, srText(q, *sr, trigger))
	j.effects = append(j.effects, r.effects...)
	for _, e := range r.events {
		j.add(e)
	}
	for _, t := range r.tasks {
		task := Task{Title: t.Title, Automated: true}
		switch word, name, _ := strings.Cut(t.To, ":"); {
		case t.To == "owner":
			task.User = sr.Owner
		case t.To == "team":
			task.Team = sr.Team
		case word == "user":
			task.User = name
		case word == "team":
			task.Team = name
		}
		if !t.Due.IsZero() {
			due := Deadline(j.now, t.Due, q.CalendarDef)
			task.Due = &due
		}
		srAddTask(sr, task, "automation", j)
	}
	for k, a := range r.approvals {
		id := fmt.Sprintf("auto-%d", sr.Revision+1)
		if k > 0 {
			id += fmt.Sprintf("-%d", k+1)
		}
		ap := newApproval(id, a, &q.Process, j.now)
		sr.Approvals = append(sr.Approvals, ap)
		j.emit(EventApprovalRequested, "automation", map[string]any{"approval": id, "needed": ap.Needed})
		askContact(*sr, ap, a.Template, j)
	}
	for _, to := range r.moves {
		srAutomatedMove(q, sr, to, trigger.Type, j)
	}
}

// srAutomatedMove carries out an automation's move, as an agent's progress or regress would: forwards,
// the current stage's approval is asked for first when it applies; backwards, it is recorded as
// regressed, with the trigger as the reason. Nothing happens while an approval is pending or when the
// request is there already. Automations do not react to the events the move records.
func srAutomatedMove(q *Queue, sr *ServiceRequest, to string, trigger EventType, j *journal) {
	stage, ok := q.StageByID(to)
	if !ok || stage.State == StateClosed || sr.State == StateClosed || sr.Stage == to || pendingApproval(sr.Approvals) >= 0 {
		return
	}
	if q.StageIndex(to) > q.StageIndex(sr.Stage) {
		_ = srProgress(q, sr, to, "automation", j) // refuses only while an approval is pending, checked above
		return
	}
	from := sr.Stage
	srMoveTo(q, sr, stage, j)
	j.emit(EventRegressed, "automation", map[string]any{"from": from, "to": sr.Stage, "reason": "automation on " + string(trigger)})
}

// askContact sends the contact the signed link to answer an approval they are an approver of, by
// email, when they have an address.
func askContact(sr ServiceRequest, ap ApprovalState, template string, j *journal) {
	if sr.Contact.Email == "" || !slices.ContainsFunc(ap.Approvers, func(a Approver) bool { return a.Contact }) {
		return
	}
	j.effects = append(j.effects, Notify{EffectID: "ask-contact:" + ap.ID, Template: template,
		Recipients: []string{"contact"}, Channels: []string{"email"}, Approval: ap.ID})
}

// ServiceRequestTimers lists the timers the request needs now: its SLA clocks and the timeouts of
// pending approvals. The workflow keeps exactly these running.
func ServiceRequestTimers(q *Queue, sr ServiceRequest) []Timer {
	if sr.State == StateClosed {
		return nil
	}
	ts := sr.SLA.timers(sr.State)
	for _, ap := range sr.Approvals {
		if ap.Status == approvalPending {
			ts = append(ts, Timer{ID: approvalTimerID(ap.ID), At: ap.DueAt})
		}
	}
	return sortTimers(ts)
}

// srAutomations runs the queue's automations for the events of this step.
func srAutomations(q *Queue, sr *ServiceRequest, j *journal) {
	triggers := slices.Clone(j.events)
	for _, ev := range triggers {
		if !slices.Contains(automationTriggers, ev.Type) {
			continue
		}
		for ai, auto := range q.Automations {
			if auto.On != ev.Type || !srCondition(q, *sr, auto.When, ev, j) {
				continue
			}
			srReact(q, sr, auto.Do, fmt.Sprintf("auto-%d:%d", ai, ev.Seq), ev, j)
		}
	}
}

// srView is a request as its expressions see it; now is the time of the event.
func srView(q *Queue, sr ServiceRequest, ev Event) SREnv {
	return SREnv{
		Now: ev.At.In(q.CalendarDef.Location()),
		Request: RequestView{
			Number: sr.Number, Queue: sr.Queue, Stage: sr.Stage, State: string(sr.State), Priority: sr.Priority,
			Impact: sr.Impact, Urgency: sr.Urgency, Subject: sr.Subject, Description: sr.Description,
			Contact: contactView(sr.Contact), Owner: sr.Owner, Team: sr.Team, Channel: sr.Channel,
			Categories: sr.Categories, Tags: sr.Tags, Fields: fieldsView(sr.Fields),
			Charges: ChargesView{Total: chargesTotal(sr.Charges), Count: len(sr.Charges)},
		},
		Event: eventView(ev),
	}
}

func eventView(ev Event) EventView {
	v := EventView{Type: string(ev.Type), Actor: ev.Actor}
	v.From, _ = ev.Details["from"].(string)
	v.To, _ = ev.Details["to"].(string)
	v.Reason, _ = ev.Details["reason"].(string)
	return v
}

// srCondition evaluates a condition; an empty one holds. A failing expression counts as false and
// is recorded in the history.
func srCondition(q *Queue, sr ServiceRequest, e Expr, ev Event, j *journal) bool {
	return srConditionOr(q, sr, e, ev, j, false)
}

// srConditionOr evaluates a condition; a failing expression is recorded and gives onError.
func srConditionOr(q *Queue, sr ServiceRequest, e Expr, ev Event, j *journal, onError bool) bool {
	if e == "" {
		return true
	}
	out, err := evalExpr(envServiceRequest, resultBool, e.Code(), srView(q, sr, ev))
	if err != nil {
		j.add(expressionFailed(Event{Type: ev.Type, At: j.now}, err))
		return onError
	}
	return out.(bool)
}

func srText(q *Queue, sr ServiceRequest, ev Event) func(Text) (string, error) {
	return func(t Text) (string, error) {
		if !t.IsExpr() {
			return string(t), nil
		}
		out, err := evalExpr(envServiceRequest, resultString, t.Code(), srView(q, sr, ev))
		if err != nil {
			return "", err
		}
		return out.(string), nil
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

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}
