package process

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// WorkOrder is the state of one work order: what its workflow holds, what the projection stores
// and what the API returns.
type WorkOrder struct {
	ID         string     `json:"id"`
	Number     string     `json:"number"`
	RecordType string     `json:"recordType"`
	Stage      string     `json:"stage"`
	State      StageState `json:"state"`
	// Node is the node of the process the order is at, NodeType its type.
	Node        string            `json:"node"`
	NodeType    NodeType          `json:"nodeType,omitempty"`
	Priority    string            `json:"priority"`
	Impact      string            `json:"impact"`
	Urgency     string            `json:"urgency"`
	Subject     string            `json:"subject"`
	Description string            `json:"description,omitempty"`
	Channel     string            `json:"channel"`
	Contact     Contact           `json:"contact"`
	Account     string            `json:"account,omitempty"`
	Region      string            `json:"region,omitempty"`
	Device      Device            `json:"device"`
	Fields      map[string]string `json:"fields,omitempty"`
	// Parent is the service request the order was converted from.
	Parent string `json:"parent,omitempty"`
	// Source and ExternalRef identify an order pushed by another system (channel api): the
	// reference is unique per source.
	Source      string       `json:"source,omitempty"`
	ExternalRef string       `json:"externalRef,omitempty"`
	Attachments []Attachment `json:"attachments"`

	Group    string `json:"group,omitempty"`
	Engineer string `json:"engineer,omitempty"`
	// Escalated is the role alerted when no engineer accepted the order; cleared on assignment.
	Escalated string `json:"escalated,omitempty"`
	// Offer is the open offer to an engineer, while the order waits for acceptance.
	Offer *Offer `json:"offer,omitempty"`
	// Offers counts the offers made since the order last reached an acceptance node afresh.
	Offers int `json:"offers,omitempty"`
	// Declined lists the engineers who turned the order down (declined or let the offer expire):
	// strategies do not offer it to them again.
	Declined []string     `json:"declined,omitempty"`
	Steps    []StepRecord `json:"steps"`
	// StepTimers are the labor timers of checklist steps (timer mode).
	StepTimers []StepTimer `json:"stepTimers,omitempty"`
	// LaborMinutes is the labor time of all completed steps.
	LaborMinutes int            `json:"laborMinutes"`
	Ratings      []RatingRecord `json:"ratings"`
	// UsedInvitations are the rating invitations whose link has been used: each works once.
	UsedInvitations []string        `json:"usedInvitations,omitempty"`
	Rating          *RatingState    `json:"rating,omitempty"`
	FollowUp        *FollowUpState  `json:"followUp,omitempty"`
	Approvals       []ApprovalState `json:"approvals"`
	Waiting         string          `json:"waiting,omitempty"` // the effect a notify/webhook/convert node waits for
	WakeAt          *time.Time      `json:"wakeAt,omitempty"`  // a timer node's deadline
	Children        []string        `json:"children,omitempty"`
	SLA             SLAClock        `json:"sla"`
	Resolved        *bool           `json:"resolved,omitempty"`
	Definition      DefinitionRef   `json:"definition"`
	CreatedBy       string          `json:"createdBy"`
	CreatedAt       time.Time       `json:"createdAt"`
	UpdatedAt       time.Time       `json:"updatedAt"`
	ClosedAt        *time.Time      `json:"closedAt,omitempty"`
	Revision        int64           `json:"revision"`
}

// Device is the equipment a work order is about.
type Device struct {
	Code     string `json:"code,omitempty"`
	Category string `json:"category,omitempty"`
	Model    string `json:"model,omitempty"`
	Serial   string `json:"serial,omitempty"`
}

// Offer is a work order offered to an engineer.
type Offer struct {
	Engineer  string    `json:"engineer"`
	OfferedAt time.Time `json:"offeredAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	// Number counts this order's offers (1 for the first).
	Number int `json:"number"`
}

// StepRecord is a completed checklist step.
type StepRecord struct {
	Node         string    `json:"node"`
	ID           string    `json:"id"`
	Result       string    `json:"result,omitempty"`
	LaborMinutes int       `json:"laborMinutes,omitempty"`
	Note         string    `json:"note,omitempty"`
	By           string    `json:"by"`
	At           time.Time `json:"at"`
}

// RatingRecord is one customer's rating, or the survey of a follow-up (Kind follow_up).
type RatingRecord struct {
	Node     string            `json:"node"`
	Kind     string            `json:"kind,omitempty"`
	Score    float64           `json:"score"`
	Scale    string            `json:"scale"`
	Comment  string            `json:"comment,omitempty"`
	Answers  map[string]string `json:"answers,omitempty"`
	Template string            `json:"template,omitempty"`
	By       string            `json:"by"`
	At       time.Time         `json:"at"`
}

// RatingState is an open rating node.
type RatingState struct {
	Node     string     `json:"node"`
	Template string     `json:"template,omitempty"`
	ClosesAt *time.Time `json:"closesAt,omitempty"`
	// Invitation is the invitation sent to the contact (the id its signed link carries).
	Invitation string `json:"invitation,omitempty"`
}

// FollowUpState is an open or finished follow-up.
type FollowUpState struct {
	Node  string `json:"node"`
	Agent string `json:"agent,omitempty"`
	Group string `json:"group,omitempty"`
	// Picking is the round-robin pick of the agent while it runs.
	Picking string `json:"picking,omitempty"`
	// OutboundCall: the agent called the customer.
	OutboundCall bool              `json:"outboundCall,omitempty"`
	DueAt        *time.Time        `json:"dueAt,omitempty"`
	Answers      map[string]string `json:"answers,omitempty"`
	Score        *float64          `json:"score,omitempty"`
	Done         bool              `json:"done,omitempty"`
}

// NewWorkOrder is what a channel gives to create a work order. ID and Number are assigned by the
// caller before the run starts.
type NewWorkOrder struct {
	ID          string            `json:"id"`
	Number      string            `json:"number"`
	RecordType  string            `json:"recordType"`
	Subject     string            `json:"subject"`
	Description string            `json:"description,omitempty"`
	Channel     string            `json:"channel"`
	Contact     Contact           `json:"contact"`
	Account     string            `json:"account,omitempty"`
	Region      string            `json:"region,omitempty"`
	Device      Device            `json:"device"`
	Impact      string            `json:"impact,omitempty"`
	Urgency     string            `json:"urgency,omitempty"`
	Fields      map[string]string `json:"fields,omitempty"`
	Parent      string            `json:"parent,omitempty"`
	Source      string            `json:"source,omitempty"`
	ExternalRef string            `json:"externalRef,omitempty"`
	// Attachments are files that came with the order (an email's attachments), already stored.
	Attachments []Attachment `json:"attachments,omitempty"`
}

// maxHops bounds how many nodes one step may pass through without waiting; validation forbids
// cycles without a wait, so only a definition built around validation can reach it.
const maxHops = 200

// CreateWorkOrder starts a work order and runs it to its first waiting node.
func CreateWorkOrder(t *WorkOrderType, in NewWorkOrder, actor string, now time.Time) (WorkOrder, []Effect, error) {
	if err := ValidateNewWorkOrder(t, in); err != nil {
		return WorkOrder{}, nil, err
	}
	impact, urgency, priority := t.priorityFor(in.Impact, in.Urgency)
	first := t.Stages[0]
	wo := WorkOrder{
		ID: in.ID, Number: in.Number, RecordType: t.Key, Stage: first.ID, State: first.State,
		Priority: priority, Impact: impact, Urgency: urgency, Subject: strings.TrimSpace(in.Subject),
		Description: in.Description, Channel: in.Channel, Contact: in.Contact, Account: in.Account,
		Region: in.Region, Device: in.Device, Fields: in.Fields, Parent: in.Parent,
		Source: in.Source, ExternalRef: strings.TrimSpace(in.ExternalRef), Attachments: append([]Attachment{}, in.Attachments...),
		Steps: []StepRecord{}, Ratings: []RatingRecord{}, Approvals: []ApprovalState{},
		SLA:        startSLA(&t.Process, priority, first.ID, now),
		Definition: DefinitionRef{Key: t.Key, Version: t.Version},
		CreatedBy:  actor, CreatedAt: now, UpdatedAt: now,
	}
	m := &woMachine{t: t, wo: &wo, j: &journal{now: now, rev: &wo.Revision}}
	m.j.emit(EventCreated, actor, map[string]any{"stage": wo.Stage, "priority": wo.Priority, "channel": wo.Channel})
	m.enter(t.Nodes[0].ID, actor)
	m.automations()
	return wo, m.j.effects, nil
}

// ValidateNewWorkOrder checks a creation against the record type, reporting every invalid field.
func ValidateNewWorkOrder(t *WorkOrderType, in NewWorkOrder) error {
	var fields []FieldError
	if in.RecordType != t.Key {
		fields = append(fields, FieldError{Field: "recordType", Message: fmt.Sprintf("must be %q", t.Key)})
	}
	if strings.TrimSpace(in.Subject) == "" {
		fields = append(fields, FieldError{Field: "subject", Message: "is required"})
	}
	// A work order converted from a service request comes from inside, not through an intake channel.
	if in.Parent == "" && len(t.Intake) > 0 && !slices.Contains(t.Intake, in.Channel) {
		fields = append(fields, FieldError{Field: "channel", Message: fmt.Sprintf("%q is not an intake channel of %s (%s)", in.Channel, t.Key, strings.Join(t.Intake, ", "))})
	}
	if in.Channel == ChannelAPI && strings.TrimSpace(in.ExternalRef) == "" {
		fields = append(fields, FieldError{Field: "externalRef", Message: "is required from other systems: their own reference for the order, unique per source"})
	}
	if in.Impact != "" && t.Priority.Matrix[in.Impact] == nil {
		fields = append(fields, FieldError{Field: "impact", Message: fmt.Sprintf("%q is not an impact level of %s", in.Impact, t.Key)})
	}
	if in.Urgency != "" {
		impact := in.Impact
		if t.Priority.Matrix[impact] == nil {
			impact = t.Priority.Default.Impact
		}
		if _, ok := t.PriorityOf(impact, in.Urgency); !ok {
			fields = append(fields, FieldError{Field: "urgency", Message: fmt.Sprintf("%q is not an urgency level of %s", in.Urgency, t.Key)})
		}
	}
	if len(fields) > 0 {
		return &Error{Code: CodeInvalid, Message: "the work order has invalid fields", Fields: fields}
	}
	return nil
}

// ApplyWorkOrder applies one action to a work order. It never changes wo: it returns the new state
// and the effects, or an *Error saying why the action is not allowed or invalid.
func ApplyWorkOrder(t *WorkOrderType, wo WorkOrder, a Action, now time.Time) (WorkOrder, []Effect, error) {
	wo.Steps = slices.Clone(wo.Steps)
	wo.Ratings, wo.UsedInvitations = slices.Clone(wo.Ratings), slices.Clone(wo.UsedInvitations)
	wo.Approvals = slices.Clone(wo.Approvals)
	wo.Children = slices.Clone(wo.Children)
	wo.Attachments = slices.Clone(wo.Attachments)
	wo.Declined, wo.StepTimers = slices.Clone(wo.Declined), slices.Clone(wo.StepTimers)
	if wo.FollowUp != nil {
		f := *wo.FollowUp
		wo.FollowUp = &f
	}
	m := &woMachine{t: t, wo: &wo, j: &journal{now: now, rev: &wo.Revision}}
	if err := m.apply(a); err != nil {
		return WorkOrder{}, nil, err
	}
	if len(m.j.events) > 0 {
		wo.UpdatedAt = now
	}
	m.automations()
	return wo, m.j.effects, nil
}

// woMachine is one step of a work order's interpreter.
type woMachine struct {
	t  *WorkOrderType
	wo *WorkOrder
	j  *journal
	// claimedBy is the engineer who claimed the order in this step: their claim is their acceptance.
	claimedBy string
}

func (m *woMachine) node() (Node, bool) {
	i := m.t.NodeIndex(m.wo.Node)
	if i < 0 {
		return Node{}, false
	}
	return m.t.Nodes[i], true
}

// nextOf is the node after n: its next, or the one that follows it in the list.
func (m *woMachine) nextOf(n Node) string {
	if n.Next != "" {
		return n.Next
	}
	i := m.t.NodeIndex(n.ID)
	if i+1 < len(m.t.Nodes) {
		return m.t.Nodes[i+1].ID
	}
	return ""
}

func (m *woMachine) apply(a Action) error {
	switch a.Kind {
	case ActionTimer:
		m.timerFired(a.TimerID)
		return nil
	case ActionEffectDone:
		if a.EffectKind == "pick" {
			if f := m.wo.FollowUp; f != nil && f.Picking == a.EffectID {
				f.Picking = ""
				if agent := a.Result["engineer"]; agent != "" && a.Error == "" && !f.Done {
					f.Agent = agent
					m.j.emit(EventAssigned, "system", map[string]any{"group": f.Group, "agent": agent, "node": f.Node, "strategy": StrategyRoundRobin})
				}
				return nil
			}
			if m.wo.Waiting == a.EffectID && m.wo.State != StateClosed {
				m.wo.Waiting = ""
				n, _ := m.node()
				m.picked(n, a)
			}
			return nil
		}
		m.j.add(effectOutcome(a, m.j.now))
		if a.EffectKind == "convert" && a.Error == "" && a.Result["id"] != "" {
			m.wo.Children = append(m.wo.Children, a.Result["id"])
		}
		if m.wo.Waiting == a.EffectID && m.wo.State != StateClosed {
			m.wo.Waiting = ""
			n, _ := m.node()
			m.enter(m.nextOf(n), "system")
		}
		return nil
	}
	if m.wo.State == StateClosed {
		return notAllowed("work order %s is closed", m.wo.Number)
	}
	if a.Kind == ActionClose {
		return m.close(a)
	}
	if a.Kind == ActionAddAttachment {
		return m.addAttachment(a)
	}
	n, ok := m.node()
	if !ok {
		return notAllowed("work order %s is at no node", m.wo.Number)
	}
	wrongNode := func() error {
		return notAllowed("work order %s is at %s node %q; %s is not possible now", m.wo.Number, n.Type, n.ID, a.Kind)
	}
	switch a.Kind {
	case ActionProgress:
		switch n.Type {
		case NodeStage:
		case NodeChecklist:
			if missing := m.missingSteps(n, true); len(missing) > 0 {
				return notAllowed("required steps are not done: %s", strings.Join(missing, ", "))
			}
		case NodeRating:
			if n.Mandatory && m.ratingsOf(n.ID) == 0 {
				return notAllowed("the rating is mandatory and none has arrived")
			}
			m.wo.Rating = nil
		default:
			return wrongNode()
		}
		m.j.emit(EventNodeCompleted, a.Actor, map[string]any{"node": n.ID, "type": string(n.Type)})
		m.enter(m.nextOf(n), a.Actor)
	case ActionAssign:
		if n.Type != NodeAssignment {
			return wrongNode()
		}
		if a.Group == "" && a.Engineer == "" {
			return invalid(FieldError{Field: "engineer", Message: "give an engineer, a group, or both"})
		}
		if m.wo.Waiting != "" {
			return notAllowed("work order %s is being assigned by its %s strategy; wait a moment", m.wo.Number, n.Strategy)
		}
		if a.Group != "" {
			m.wo.Group = a.Group
		}
		if a.Engineer != "" {
			m.wo.Engineer = a.Engineer
		}
		m.wo.Escalated = ""
		m.j.emit(EventAssigned, a.Actor, map[string]any{"group": m.wo.Group, "engineer": m.wo.Engineer})
		if m.wo.Engineer != "" {
			m.enter(m.nextOf(n), a.Actor)
		}
	case ActionClaim:
		return m.claim(n, a)
	case ActionStartStep, ActionStopStep:
		if n.Type != NodeChecklist {
			return wrongNode()
		}
		if a.Kind == ActionStartStep {
			return m.startStep(n, a)
		}
		return m.stopStep(n, a)
	case ActionAccept:
		if n.Type != NodeAcceptance || m.wo.Offer == nil {
			return wrongNode()
		}
		if a.Actor != m.wo.Offer.Engineer && !slices.Contains(a.ActorRoles, "dispatcher") && !slices.Contains(a.ActorRoles, "admin") {
			return notAllowed("the order is offered to %s, not to %s", m.wo.Offer.Engineer, a.Actor)
		}
		m.wo.Offer, m.wo.Offers = nil, 0
		m.j.emit(EventAccepted, a.Actor, map[string]any{"engineer": m.wo.Engineer})
		m.enter(m.nextOf(n), a.Actor)
	case ActionDecline:
		if n.Type != NodeAcceptance || m.wo.Offer == nil {
			return wrongNode()
		}
		if strings.TrimSpace(a.Reason) == "" {
			return invalid(FieldError{Field: "reason", Message: "is required to decline"})
		}
		if a.Actor != m.wo.Offer.Engineer && !slices.Contains(a.ActorRoles, "dispatcher") && !slices.Contains(a.ActorRoles, "admin") {
			return notAllowed("the order is offered to %s, not to %s", m.wo.Offer.Engineer, a.Actor)
		}
		m.j.emit(EventDeclined, a.Actor, map[string]any{"engineer": m.wo.Offer.Engineer, "reason": a.Reason})
		m.turnedDown(m.wo.Offer.Engineer)
		m.afterTurnDown(n, n.OnDecline, a.Actor)
	case ActionTransfer:
		if n.Type != NodeAcceptance || m.wo.Offer == nil {
			return wrongNode()
		}
		if a.Engineer == "" {
			return invalid(FieldError{Field: "engineer", Message: "is required to transfer"})
		}
		if strings.TrimSpace(a.Reason) == "" {
			return invalid(FieldError{Field: "reason", Message: "is required to transfer"})
		}
		m.j.emit(EventTransferred, a.Actor, map[string]any{"from": m.wo.Offer.Engineer, "to": a.Engineer, "reason": a.Reason})
		m.wo.Engineer = a.Engineer
		m.offer(n, a.Actor)
	case ActionCompleteStep:
		if n.Type != NodeChecklist {
			return wrongNode()
		}
		return m.completeStep(n, a)
	case ActionRate:
		if n.Type != NodeRating {
			return wrongNode()
		}
		return m.rate(n, a)
	case ActionSkipRating:
		if n.Type != NodeRating {
			return wrongNode()
		}
		if !n.AllowSkip {
			return notAllowed("rating node %q cannot be skipped by staff", n.ID)
		}
		m.wo.Rating = nil
		m.j.emit(EventRatingSkipped, a.Actor, map[string]any{"node": n.ID, "reason": "skipped by staff"})
		m.enter(m.nextOf(n), a.Actor)
	case ActionFollowUp:
		if n.Type != NodeFollowUp || m.wo.FollowUp == nil {
			return wrongNode()
		}
		f := m.wo.FollowUp
		f.Answers, f.Score, f.Done, f.OutboundCall = a.Answers, a.Score, true, a.OutboundCall
		f.DueAt, f.Picking = nil, ""
		if f.Agent == "" {
			f.Agent = a.Actor
		}
		rec := RatingRecord{Node: n.ID, Kind: "follow_up", Answers: a.Answers, Template: n.Template, By: a.Actor, At: m.j.now}
		if a.Score != nil {
			rec.Score = *a.Score
		}
		m.wo.Ratings = append(m.wo.Ratings, rec)
		m.j.emit(EventFollowUpDone, a.Actor, map[string]any{"node": n.ID, "score": scoreDetail(a.Score)})
		m.enter(m.nextOf(n), a.Actor)
	case ActionDecide:
		if n.Type != NodeApproval {
			return wrongNode()
		}
		i := approvalByID(m.wo.Approvals, a.ApprovalID)
		if i < 0 {
			return notFoundField("approvalId", a.ApprovalID)
		}
		decided, err := m.wo.Approvals[i].decide(a, m.j.now)
		if err != nil {
			return err
		}
		m.wo.Approvals[i] = decided
		m.j.emit(EventApprovalDecided, a.Actor, map[string]any{"approval": decided.ID, "decision": a.Decision, "comment": a.Comment})
		m.approvalSettled(n, i, a.Actor)
	default:
		return invalid(FieldError{Field: "kind", Message: fmt.Sprintf("%q is not an action on a work order", a.Kind)})
	}
	return nil
}

// close ends the order at once, resolved or not (a cancellation is an unresolved close).
func (m *woMachine) close(a Action) error {
	if a.Resolved == nil {
		return invalid(FieldError{Field: "resolved", Message: "say true or false: was the work resolved?"})
	}
	m.finish(m.t.Stages[len(m.t.Stages)-1], *a.Resolved, a.Actor, a.Resolution)
	return nil
}

func (m *woMachine) finish(stage Stage, resolved bool, actor, resolution string) {
	for i, ap := range m.wo.Approvals {
		if ap.Status == approvalPending {
			m.wo.Approvals[i] = ap.settle("cancelled", m.j.now)
		}
	}
	from := m.wo.Stage
	m.moveTo(stage)
	m.wo.Resolved = &resolved
	at := m.j.now
	m.wo.ClosedAt = &at
	m.wo.Offer, m.wo.Rating, m.wo.WakeAt, m.wo.Waiting, m.wo.Escalated = nil, nil, nil, "", ""
	m.wo.SLA = m.wo.SLA.stop(m.t.CalendarDef, m.j.now)
	details := map[string]any{"from": from, "resolved": resolved, "node": m.wo.Node}
	if resolution != "" {
		details["resolution"] = resolution
	}
	m.j.emit(EventClosed, actor, details)
	if m.wo.Parent != "" {
		status := "unresolved"
		if resolved {
			status = "resolved"
		}
		m.j.effects = append(m.j.effects, ReportToParent{Parent: m.wo.Parent, Order: WorkOrderLink{
			ID: m.wo.ID, Number: m.wo.Number, RecordType: m.wo.RecordType, Status: status, Resolution: resolution, ClosedAt: &at,
		}})
	}
}

// turnedDown ends the open offer: its engineer declined or let it expire.
func (m *woMachine) turnedDown(engineer string) {
	m.wo.Offer, m.wo.Engineer = nil, ""
	if !slices.Contains(m.wo.Declined, engineer) {
		m.wo.Declined = append(m.wo.Declined, engineer)
	}
}

// moveTo changes the stage (keeping the SLA clock in step) without an event.
func (m *woMachine) moveTo(s Stage) {
	m.wo.Stage, m.wo.State = s.ID, s.State
	m.wo.SLA = m.wo.SLA.onStage(&m.t.Process, s, m.j)
}

// enter runs the order from node id until a node that waits (or the end).
func (m *woMachine) enter(id, actor string) {
	for hops := 0; ; hops++ {
		if hops > maxHops {
			m.j.emit(EventExpressionFailed, "system", map[string]any{"error": fmt.Sprintf("more than %d nodes without a wait; the order stops at %q", maxHops, id)})
			return
		}
		i := m.t.NodeIndex(id)
		if i < 0 {
			// Validation makes every reference resolve; a process that falls off its end closes.
			m.finish(m.t.Stages[len(m.t.Stages)-1], true, "system", "")
			return
		}
		n := m.t.Nodes[i]
		m.wo.Node, m.wo.NodeType = n.ID, n.Type
		if n.When != "" && !m.condition(n.When) {
			m.j.emit(EventNodeSkipped, "system", map[string]any{"node": n.ID, "type": string(n.Type)})
			id = m.nextOf(n)
			continue
		}
		if n.Type == NodeEnd {
			resolved := n.Resolved == nil || *n.Resolved
			stage := m.t.Stages[len(m.t.Stages)-1]
			if s, ok := m.t.StageByID(n.Stage); ok {
				stage = s
			}
			m.finish(stage, resolved, actor, "")
			return
		}
		if n.Stage != "" && n.Stage != m.wo.Stage {
			from := m.wo.Stage
			s, _ := m.t.StageByID(n.Stage)
			m.moveTo(s)
			m.j.emit(EventStageChanged, "system", map[string]any{"from": from, "to": s.ID, "node": n.ID})
		}
		m.j.emit(EventNodeEntered, "system", map[string]any{"node": n.ID, "type": string(n.Type)})
		if next, wait := m.start(n, actor); wait {
			return
		} else {
			id = next
		}
	}
}

// start begins node n. It returns wait=true when the node waits for something; otherwise next is
// where the order goes on.
func (m *woMachine) start(n Node, actor string) (next string, wait bool) {
	switch n.Type {
	case NodeStage, NodeChecklist:
		if n.Type == NodeChecklist && len(m.missingSteps(n, false)) == 0 {
			return m.nextOf(n), false
		}
		return "", true
	case NodeApproval:
		id := fmt.Sprintf("%s-%d", n.ID, m.wo.Revision+1)
		ap := newApproval(id, Approval{Approvers: n.Approvers, Mode: n.Mode, Timeout: n.Timeout, OnTimeout: n.OnTimeout}, &m.t.Process, m.j.now)
		ap.Node = n.ID
		m.wo.Approvals = append(m.wo.Approvals, ap)
		m.j.emit(EventApprovalRequested, "system", map[string]any{"approval": id, "node": n.ID, "dueAt": ap.DueAt, "needed": ap.Needed})
		return "", true
	case NodeAssignment:
		rules := make([]route, len(n.Rules))
		for i, r := range n.Rules {
			rules[i] = route{when: r.When, group: r.Group, person: r.Engineer}
		}
		group, engineer, i := firstRoute(rules, m.condition, m.text, func(err error) {
			m.j.add(expressionFailed(Event{Type: EventNodeEntered, At: m.j.now}, err))
		})
		if i >= 0 {
			m.wo.Group, m.wo.Engineer = group, engineer
			m.j.emit(EventAssigned, "rules", map[string]any{"group": group, "engineer": engineer, "node": n.ID})
		}
		if n.Group != "" && m.wo.Group == "" {
			if g, err := m.text(n.Group); err == nil {
				m.wo.Group = g
			}
		}
		if m.wo.Engineer != "" {
			return m.nextOf(n), false
		}
		// After an escalation the dispatcher decides; otherwise a strategy picks from the group.
		if m.wo.Group != "" && m.wo.Escalated == "" && (n.Strategy == StrategyRoundRobin || n.Strategy == StrategyLeastLoaded) {
			id := fmt.Sprintf("pick:%s:%d", n.ID, m.wo.Revision)
			m.j.effects = append(m.j.effects, PickEngineer{EffectID: id, Group: m.wo.Group, Strategy: n.Strategy})
			m.wo.Waiting = id
		}
		return "", true // a dispatcher assigns, or a group member claims it from the pool
	case NodeAcceptance:
		if m.claimedBy != "" && m.claimedBy == m.wo.Engineer {
			m.wo.Offers = 0
			m.j.emit(EventAccepted, m.claimedBy, map[string]any{"engineer": m.claimedBy, "claimed": true})
			return m.nextOf(n), false
		}
		m.offer(n, actor) // it moves on itself when there is nobody to offer to
		return "", true
	case NodeRating:
		st := &RatingState{Node: n.ID, Template: n.Template}
		for _, r := range n.Rules {
			if m.condition(r.When) {
				st.Template = r.Template
				break
			}
		}
		if !n.AutoComplete.IsZero() {
			at := Deadline(m.j.now, n.AutoComplete, m.t.CalendarDef)
			st.ClosesAt = &at
		}
		if n.Invite != nil {
			st.Invitation = fmt.Sprintf("invite:%s:%d", n.ID, m.wo.Revision)
			m.j.effects = append(m.j.effects, Notify{
				EffectID: st.Invitation, Template: n.Invite.Template,
				Recipients: []string{"contact"}, Channels: n.Invite.Channels, Priority: n.Invite.Priority,
				Invitation: true, InvitationExpires: st.ClosesAt,
			})
		}
		m.wo.Rating = st
		return "", true
	case NodeFollowUp:
		f := &FollowUpState{Node: n.ID}
		for _, r := range n.Rules {
			if m.condition(r.When) {
				u, _ := m.text(r.User)
				g, _ := m.text(r.Group)
				f.Agent, f.Group = u, g
				break
			}
		}
		if f.Agent == "" && f.Group == "" && n.Agents != nil {
			switch {
			case n.Agents.User != "":
				f.Agent = n.Agents.User
			case n.Agents.Group != "":
				f.Group = n.Agents.Group
			case n.Agents.RoundRobin != nil:
				f.Group = n.Agents.RoundRobin.Group
				f.Picking = fmt.Sprintf("pick:%s:%d", n.ID, m.wo.Revision)
				m.j.effects = append(m.j.effects, PickEngineer{EffectID: f.Picking, Group: f.Group, Strategy: StrategyRoundRobin})
			}
		}
		if !n.Timeout.IsZero() {
			at := Deadline(m.j.now, n.Timeout, m.t.CalendarDef)
			f.DueAt = &at
		}
		m.wo.FollowUp = f
		m.j.emit(EventFollowUpStarted, "system", map[string]any{"node": n.ID, "agent": f.Agent, "group": f.Group})
		return "", true
	case NodeNotify:
		id := fmt.Sprintf("node:%s:%d", n.ID, m.wo.Revision)
		m.j.effects = append(m.j.effects, Notify{EffectID: id, Template: n.Template, Recipients: n.To, Channels: n.Channels})
		m.wo.Waiting = id
		return "", true
	case NodeWebhook:
		url, err := m.text(n.URL)
		if err != nil {
			m.j.add(expressionFailed(Event{Type: EventNodeEntered, At: m.j.now}, err))
			return m.nextOf(n), false
		}
		id := fmt.Sprintf("node:%s:%d", n.ID, m.wo.Revision)
		last := m.j.events[len(m.j.events)-1]
		m.j.effects = append(m.j.effects, CallWebhook{EffectID: id, URL: url, SecretEnv: n.SecretEnv, Event: last})
		m.wo.Waiting = id
		return "", true
	case NodeConvert:
		fields := map[string]string{}
		for _, k := range sortedKeys(n.Map) {
			v, err := m.text(n.Map[k])
			if err != nil {
				m.j.add(expressionFailed(Event{Type: EventNodeEntered, At: m.j.now}, err))
				return m.nextOf(n), false
			}
			fields[k] = v
		}
		id := fmt.Sprintf("node:%s:%d", n.ID, m.wo.Revision)
		m.j.effects = append(m.j.effects, StartWorkOrder{EffectID: id, RecordType: n.RecordType, Fields: fields})
		m.wo.Waiting = id
		return "", true
	case NodeDecision:
		for _, c := range n.Cases {
			if m.condition(c.When) {
				return c.Next, false
			}
		}
		return n.Default, false
	case NodeTimer:
		at := Deadline(m.j.now, n.Duration, m.t.CalendarDef)
		m.wo.WakeAt = &at
		return "", true
	}
	return m.nextOf(n), false
}

// offer offers the order to its engineer, or escalates when the offers are used up.
func (m *woMachine) offer(n Node, actor string) {
	m.wo.Offers++
	if n.MaxOffers > 0 && m.wo.Offers > n.MaxOffers {
		m.exhausted(n, actor)
		return
	}
	if m.wo.Engineer == "" {
		// Nobody to offer to: back to the assignment.
		m.enter(n.OnDecline, actor)
		return
	}
	m.wo.Offer = &Offer{Engineer: m.wo.Engineer, OfferedAt: m.j.now, ExpiresAt: Deadline(m.j.now, n.Timeout, m.t.CalendarDef), Number: m.wo.Offers}
	m.j.emit(EventOffered, "system", map[string]any{"engineer": m.wo.Engineer, "expiresAt": m.wo.Offer.ExpiresAt, "offer": m.wo.Offers})
}

// exhausted ends the offers of acceptance node n: the order goes back to dispatch, where the
// alerted role (the dispatcher unless the node names another) decides; strategies stop picking
// until someone assigns the order.
func (m *woMachine) exhausted(n Node, actor string) {
	m.wo.Offer, m.wo.Offers, m.wo.Engineer = nil, 0, ""
	m.wo.Escalated = "dispatcher"
	next := n.OnDecline
	if n.OnExhausted != nil {
		if n.OnExhausted.Escalate != "" {
			m.wo.Escalated = n.OnExhausted.Escalate
		}
		if n.OnExhausted.Next != "" {
			next = n.OnExhausted.Next
		}
	}
	m.j.emit(EventEscalated, "system", map[string]any{"node": n.ID, "offers": n.MaxOffers, "to": m.wo.Escalated})
	m.enter(next, actor)
}

// afterTurnDown goes on after an offer was declined or expired: back to next, or to the alerted
// dispatcher when that was the node's last offer.
func (m *woMachine) afterTurnDown(n Node, next, actor string) {
	if n.MaxOffers > 0 && m.wo.Offers >= n.MaxOffers {
		m.exhausted(n, actor)
		return
	}
	m.enter(next, actor)
}

// missingSteps lists the steps of a checklist node that apply and are not done (only the required
// ones when requiredOnly).
func (m *woMachine) missingSteps(n Node, requiredOnly bool) []string {
	var missing []string
	for _, s := range n.Steps {
		if requiredOnly && !s.Required {
			continue
		}
		if s.When != "" && !m.condition(s.When) {
			continue
		}
		if !m.stepDone(n.ID, s.ID) {
			missing = append(missing, s.ID)
		}
	}
	return missing
}

func (m *woMachine) stepDone(node, step string) bool {
	return slices.ContainsFunc(m.wo.Steps, func(s StepRecord) bool { return s.Node == node && s.ID == step })
}

// completeStep records a step of the checklist. Steps go in order: a step waits for the required
// steps before it, and once a later step is done an earlier one is passed. Labor time comes from
// the engineer or from the step's timer; a photo step needs its photo first. Completing the last
// step that is left (the last required one when only optional steps came before) moves on.
func (m *woMachine) completeStep(n Node, a Action) error {
	step, err := m.openStep(n, a.StepID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(n.Steps, func(s ChecklistStep) bool { return s.ID == step.ID })
	for _, later := range n.Steps[i+1:] {
		if m.stepDone(n.ID, later.ID) {
			return notAllowed("steps are done in order: %q is done already, so %q was passed", later.ID, step.ID)
		}
	}
	var before []string
	for _, earlier := range n.Steps[:i] {
		if earlier.Required && (earlier.When == "" || m.condition(earlier.When)) && !m.stepDone(n.ID, earlier.ID) {
			before = append(before, earlier.ID)
		}
	}
	if len(before) > 0 {
		return notAllowed("steps are done in order: first %s", strings.Join(before, ", "))
	}
	if a.LaborMinutes < 0 {
		return invalid(FieldError{Field: "laborMinutes", Message: "cannot be negative"})
	}
	minutes := a.LaborMinutes
	if minutes == 0 {
		minutes = m.timedMinutes(n.ID, step.ID)
	}
	if step.LaborTime && minutes <= 0 {
		return invalid(FieldError{Field: "laborMinutes", Message: fmt.Sprintf("step %q records labor time: give the minutes worked or run its timer", step.ID)})
	}
	if step.Attachment && !slices.ContainsFunc(m.wo.Attachments, func(at Attachment) bool { return at.Step == step.ID }) {
		return notAllowed("step %q needs a photo: upload it with the step's id first", step.ID)
	}
	if t := m.stepTimer(n.ID, step.ID); t >= 0 {
		m.wo.StepTimers = slices.Delete(m.wo.StepTimers, t, t+1)
	}
	m.wo.Steps = append(m.wo.Steps, StepRecord{Node: n.ID, ID: step.ID, Result: a.StepResult, LaborMinutes: minutes, Note: a.Note, By: a.Actor, At: m.j.now})
	m.wo.LaborMinutes = laborMinutes(m.wo.Steps)
	m.j.emit(EventStepCompleted, a.Actor, map[string]any{"node": n.ID, "step": step.ID, "laborMinutes": minutes, "result": a.StepResult, "totalLaborMinutes": m.wo.LaborMinutes})
	if len(m.missingSteps(n, true)) == 0 && !m.stepsLeftAfter(n, i) {
		m.enter(m.nextOf(n), a.Actor)
	}
	return nil
}

// stepsLeftAfter reports whether a step after position i applies and is not done.
func (m *woMachine) stepsLeftAfter(n Node, i int) bool {
	for _, s := range n.Steps[i+1:] {
		if (s.When == "" || m.condition(s.When)) && !m.stepDone(n.ID, s.ID) {
			return true
		}
	}
	return false
}

// scaleMax is the top score of a rating scale.
func scaleMax(scale string) float64 {
	if scale == "ten-point" {
		return 10
	}
	return 5
}

func (m *woMachine) rate(n Node, a Action) error {
	if a.Score == nil {
		return invalid(FieldError{Field: "score", Message: "is required"})
	}
	lo, hi := 1.0, scaleMax(n.Scale)
	if n.Scale == "ten-point" {
		lo = 0
	}
	if *a.Score < lo || *a.Score > hi {
		return invalid(FieldError{Field: "score", Message: fmt.Sprintf("must be from %g to %g on the %s scale", lo, hi, n.Scale)})
	}
	// A rating through an invitation's link: that invitation, once.
	if a.Invitation != "" {
		switch {
		case slices.Contains(m.wo.UsedInvitations, a.Invitation):
			return notAllowed("this invitation has been used already")
		case m.wo.Rating == nil || m.wo.Rating.Invitation != a.Invitation:
			return notAllowed("this invitation is no longer open")
		}
		m.wo.UsedInvitations = append(m.wo.UsedInvitations, a.Invitation)
	}
	template := n.Template
	if m.wo.Rating != nil {
		template = m.wo.Rating.Template
	}
	m.wo.Ratings = append(m.wo.Ratings, RatingRecord{Node: n.ID, Score: *a.Score, Scale: n.Scale, Comment: a.Comment, Answers: a.Answers, Template: template, By: a.Actor, At: m.j.now})
	m.j.emit(EventRated, a.Actor, map[string]any{"node": n.ID, "score": *a.Score, "scale": n.Scale})
	if !n.Multiple {
		m.wo.Rating = nil
		m.enter(m.nextOf(n), a.Actor)
	}
	return nil
}

func (m *woMachine) ratingsOf(node string) int {
	c := 0
	for _, r := range m.wo.Ratings {
		if r.Node == node {
			c++
		}
	}
	return c
}

func (m *woMachine) approvalSettled(n Node, i int, actor string) {
	ap := m.wo.Approvals[i]
	switch ap.Status {
	case approvalApproved:
		m.j.emit(EventApprovalApproved, actor, map[string]any{"approval": ap.ID})
		m.enter(m.nextOf(n), actor)
	case approvalRejected:
		m.j.emit(EventApprovalRejected, actor, map[string]any{"approval": ap.ID})
		m.enter(n.OnReject, actor)
	}
}

func (m *woMachine) timerFired(id string) {
	if !timerDue(WorkOrderTimers(m.t, *m.wo), id, m.j.now) {
		return
	}
	n, _ := m.node()
	switch {
	case id == timerSLAAlert || id == timerSLABreach:
		var actions []AutomationAction
		m.wo.SLA, actions = m.wo.SLA.fire(&m.t.Process, id, m.wo.Stage, m.wo.Priority, m.j)
		m.slaActions(actions, id)
	case strings.HasPrefix(id, "approval:"):
		i := approvalByID(m.wo.Approvals, strings.TrimPrefix(id, "approval:"))
		ap := m.wo.Approvals[i]
		status := approvalRejected
		if ap.OnTimeout == "approve" {
			status = approvalApproved
		}
		m.wo.Approvals[i] = ap.settle(status, m.j.now)
		m.j.emit(EventApprovalDecided, "system", map[string]any{"approval": ap.ID, "decision": "timeout", "outcome": status})
		m.approvalSettled(n, i, "system")
	case strings.HasPrefix(id, "offer:"):
		engineer := m.wo.Offer.Engineer
		m.turnedDown(engineer)
		m.j.emit(EventOfferExpired, "system", map[string]any{"engineer": engineer, "node": n.ID})
		m.afterTurnDown(n, n.OnTimeout, "system")
	case strings.HasPrefix(id, "rating:"):
		m.wo.Rating = nil
		if m.ratingsOf(n.ID) == 0 {
			m.j.emit(EventRatingSkipped, "system", map[string]any{"node": n.ID, "reason": "no rating arrived in time (auto-complete)"})
		}
		m.enter(m.nextOf(n), "system")
	case strings.HasPrefix(id, "follow-up:"):
		m.wo.FollowUp.DueAt = nil
		m.j.emit(EventFollowUpSkipped, "system", map[string]any{"node": n.ID, "reason": "no follow-up in time"})
		m.enter(m.nextOf(n), "system")
	case strings.HasPrefix(id, "wake:"):
		m.wo.WakeAt = nil
		m.j.emit(EventTimerFired, "system", map[string]any{"node": n.ID})
		m.enter(m.nextOf(n), "system")
	}
}

func (m *woMachine) slaActions(actions []AutomationAction, prefix string) {
	trigger := m.j.events[len(m.j.events)-1]
	effects, events := actionEffects(actions, fmt.Sprintf("%s:%d", prefix, trigger.Seq), trigger, m.textFor(trigger))
	m.j.effects = append(m.j.effects, effects...)
	for _, e := range events {
		m.j.add(e)
	}
}

// WorkOrderTimers lists the timers the work order needs now.
func WorkOrderTimers(t *WorkOrderType, wo WorkOrder) []Timer {
	if wo.State == StateClosed {
		return nil
	}
	ts := wo.SLA.timers(wo.State)
	for _, ap := range wo.Approvals {
		if ap.Status == approvalPending {
			ts = append(ts, Timer{ID: approvalTimerID(ap.ID), At: ap.DueAt})
		}
	}
	if wo.Offer != nil {
		ts = append(ts, Timer{ID: fmt.Sprintf("offer:%s:%d", wo.Node, wo.Offer.Number), At: wo.Offer.ExpiresAt})
	}
	if wo.Rating != nil && wo.Rating.ClosesAt != nil {
		ts = append(ts, Timer{ID: "rating:" + wo.Rating.Node, At: *wo.Rating.ClosesAt})
	}
	if wo.FollowUp != nil && wo.FollowUp.DueAt != nil && !wo.FollowUp.Done {
		ts = append(ts, Timer{ID: "follow-up:" + wo.FollowUp.Node, At: *wo.FollowUp.DueAt})
	}
	if wo.WakeAt != nil {
		ts = append(ts, Timer{ID: "wake:" + wo.Node, At: *wo.WakeAt})
	}
	return sortTimers(ts)
}

func (m *woMachine) automations() {
	triggers := slices.Clone(m.j.events)
	for _, ev := range triggers {
		if !slices.Contains(automationTriggers, ev.Type) {
			continue
		}
		for ai, auto := range m.t.Automations {
			if auto.On != ev.Type || !m.conditionFor(auto.When, ev) {
				continue
			}
			effects, events := actionEffects(auto.Do, fmt.Sprintf("auto-%d:%d", ai, ev.Seq), ev, m.textFor(ev))
			m.j.effects = append(m.j.effects, effects...)
			for _, e := range events {
				m.j.add(e)
			}
		}
	}
}

// woView is a work order as its expressions see it; now is the time of the event, in loc.
func woView(wo WorkOrder, ev Event, loc *time.Location) WOEnv {
	steps := map[string]StepView{}
	for _, s := range wo.Steps {
		steps[s.ID] = StepView{Done: true, Result: s.Result, LaborMinutes: s.LaborMinutes, Note: s.Note}
	}
	var rating RatingView
	sum := 0.0
	for _, r := range wo.Ratings {
		if r.Kind != "" {
			continue // follow-up surveys are not the customers' ratings
		}
		score := r.Score
		if rating.Lowest == nil || score < *rating.Lowest {
			rating.Lowest = &score
		}
		rating.Count++
		sum += score
	}
	if rating.Count > 0 {
		avg := sum / float64(rating.Count)
		rating.Average = &avg
	}
	fields := map[string]any{}
	for k, v := range wo.Fields {
		fields[k] = v
	}
	return WOEnv{
		Order: OrderView{
			Number: wo.Number, RecordType: wo.RecordType, Stage: wo.Stage, State: string(wo.State), Priority: wo.Priority,
			Subject: wo.Subject, Description: wo.Description, Channel: wo.Channel, Region: wo.Region, Account: wo.Account,
			Contact: contactView(wo.Contact), Device: DeviceView(wo.Device), Engineer: wo.Engineer, Group: wo.Group, Fields: fields,
		},
		Steps:  steps,
		Rating: rating,
		Event:  eventView(ev),
		Now:    ev.At.In(loc),
	}
}

func (m *woMachine) condition(e Expr) bool {
	return m.conditionFor(e, Event{Type: EventNodeEntered, At: m.j.now})
}

func (m *woMachine) conditionFor(e Expr, ev Event) bool {
	if e == "" {
		return true
	}
	out, err := evalExpr(envWorkOrder, resultBool, e.Code(), woView(*m.wo, ev, m.t.CalendarDef.Location()))
	if err != nil {
		m.j.add(expressionFailed(Event{Type: ev.Type, At: m.j.now}, err))
		return false
	}
	return out.(bool)
}

func (m *woMachine) text(t Text) (string, error) {
	return m.textFor(Event{Type: EventNodeEntered, At: m.j.now})(t)
}

func (m *woMachine) textFor(ev Event) func(Text) (string, error) {
	return func(t Text) (string, error) {
		if !t.IsExpr() {
			return string(t), nil
		}
		out, err := evalExpr(envWorkOrder, resultString, t.Code(), woView(*m.wo, ev, m.t.CalendarDef.Location()))
		if err != nil {
			return "", err
		}
		return out.(string), nil
	}
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func scoreDetail(s *float64) any {
	if s == nil {
		return nil
	}
	return *s
}
