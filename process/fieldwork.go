package process

import (
	"fmt"
	"slices"
	"time"
)

// This file holds the field-service parts of the work-order interpreter: automatic assignment by
// strategy, claims from a group's pool, the checklist's labor timers and step photos, and the
// report to the service request an order came from.

// The assignment strategies of an assignment node.
const (
	StrategyRoundRobin  = "round_robin"
	StrategyLeastLoaded = "least_loaded"
	StrategyPool        = "pool"
)

// The field-service events.
const (
	EventClaimed     EventType = "claimed"
	EventPooled      EventType = "pooled"
	EventStepStarted EventType = "step_started"
	EventStepStopped EventType = "step_stopped"
	// EventWorkOrderClosed is recorded on a service request when a work order made from it closes.
	EventWorkOrderClosed EventType = "work_order_closed"
)

// ActionWorkOrderClosed tells a service request that one of its work orders has closed.
const ActionWorkOrderClosed ActionKind = "work_order_closed"

// PickEngineer asks the shell to pick an engineer of Group by Strategy (round_robin,
// least_loaded); the shell answers with an ActionEffectDone of kind "pick" whose result holds the
// engineer ("" when the group has nobody available).
type PickEngineer struct {
	EffectID string
	Group    string
	Strategy string
}

// ReportToParent asks the shell to tell the service request Parent how work order Order ended.
type ReportToParent struct {
	Parent string
	Order  WorkOrderLink
}

func (PickEngineer) isEffect()   {}
func (ReportToParent) isEffect() {}

// WorkOrderLink is a work order as the service request it came from shows it.
type WorkOrderLink struct {
	ID         string     `json:"id"`
	Number     string     `json:"number"`
	RecordType string     `json:"recordType,omitempty"`
	Status     string     `json:"status"` // open, resolved, unresolved
	Resolution string     `json:"resolution,omitempty"`
	ClosedAt   *time.Time `json:"closedAt,omitempty"`
}

// StepTimer is the labor timer of a checklist step: the seconds recorded so far and, while it
// runs, when it was started.
type StepTimer struct {
	Node      string     `json:"node"`
	Step      string     `json:"step"`
	Seconds   int64      `json:"seconds"`
	StartedAt *time.Time `json:"startedAt,omitempty"`
}

// claim gives a pooled order to the member of its group who claims it; claiming is accepting, so a
// following acceptance node does not offer it again.
func (m *woMachine) claim(n Node, a Action) error {
	if n.Type != NodeAssignment || m.wo.Engineer != "" || m.wo.Waiting != "" {
		return notAllowed("work order %s is not waiting in a pool", m.wo.Number)
	}
	if m.wo.Group == "" {
		return notAllowed("work order %s is in no group's pool; a dispatcher assigns it", m.wo.Number)
	}
	if !slices.Contains(a.ActorGroups, m.wo.Group) {
		return &Error{Code: CodeForbidden, Message: fmt.Sprintf("only members of %s claim this order", m.wo.Group)}
	}
	m.wo.Engineer, m.wo.Escalated, m.claimedBy = a.Actor, "", a.Actor
	m.j.emit(EventClaimed, a.Actor, map[string]any{"engineer": a.Actor, "group": m.wo.Group, "node": n.ID})
	m.enter(m.nextOf(n), a.Actor)
	return nil
}

// picked applies the engineer a strategy picked. Nobody (or somebody who already turned the order
// down) leaves the order in the group's pool for a member to claim or a dispatcher to assign.
func (m *woMachine) picked(n Node, a Action) {
	engineer := a.Result["engineer"]
	reason := ""
	switch {
	case a.Error != "":
		reason = "the pick failed: " + a.Error
	case engineer == "":
		reason = "nobody in the group is available"
	case slices.Contains(m.wo.Declined, engineer):
		reason = engineer + " has already turned this order down"
	}
	if reason != "" {
		m.j.emit(EventPooled, "system", map[string]any{"group": m.wo.Group, "node": n.ID, "reason": reason})
		return
	}
	m.wo.Engineer = engineer
	m.j.emit(EventAssigned, "system", map[string]any{"group": m.wo.Group, "engineer": engineer, "node": n.ID, "strategy": n.Strategy})
	m.enter(m.nextOf(n), "system")
}

// stepTimer finds the labor timer of a step of node n.
func (m *woMachine) stepTimer(node, step string) int {
	return slices.IndexFunc(m.wo.StepTimers, func(t StepTimer) bool { return t.Node == node && t.Step == step })
}

// startStep starts a step's labor timer.
func (m *woMachine) startStep(n Node, a Action) error {
	step, err := m.openStep(n, a.StepID)
	if err != nil {
		return err
	}
	i := m.stepTimer(n.ID, step.ID)
	if i < 0 {
		m.wo.StepTimers = append(m.wo.StepTimers, StepTimer{Node: n.ID, Step: step.ID})
		i = len(m.wo.StepTimers) - 1
	}
	if m.wo.StepTimers[i].StartedAt != nil {
		return notAllowed("the timer of step %q is running already", step.ID)
	}
	at := m.j.now
	m.wo.StepTimers[i].StartedAt = &at
	m.j.emit(EventStepStarted, a.Actor, map[string]any{"node": n.ID, "step": step.ID})
	return nil
}

// stopStep stops a step's labor timer, keeping the time worked.
func (m *woMachine) stopStep(n Node, a Action) error {
	step, err := m.openStep(n, a.StepID)
	if err != nil {
		return err
	}
	i := m.stepTimer(n.ID, step.ID)
	if i < 0 || m.wo.StepTimers[i].StartedAt == nil {
		return notAllowed("the timer of step %q is not running", step.ID)
	}
	m.stopTimer(i)
	m.j.emit(EventStepStopped, a.Actor, map[string]any{"node": n.ID, "step": step.ID, "seconds": m.wo.StepTimers[i].Seconds})
	return nil
}

func (m *woMachine) stopTimer(i int) {
	t := m.wo.StepTimers[i]
	if t.StartedAt != nil {
		t.Seconds += int64(m.j.now.Sub(*t.StartedAt) / time.Second)
		t.StartedAt = nil
	}
	m.wo.StepTimers[i] = t
}

// timedMinutes is the labor a step's timer recorded, in whole minutes rounded up (a timer that ran
// at all counts at least one minute); 0 without a timer.
func (m *woMachine) timedMinutes(node, step string) int {
	i := m.stepTimer(node, step)
	if i < 0 {
		return 0
	}
	m.stopTimer(i)
	return max(1, int((m.wo.StepTimers[i].Seconds+59)/60))
}

// openStep finds a step of the checklist node n that applies to the order and is not done yet.
func (m *woMachine) openStep(n Node, id string) (ChecklistStep, error) {
	i := slices.IndexFunc(n.Steps, func(s ChecklistStep) bool { return s.ID == id })
	if i < 0 {
		return ChecklistStep{}, notFoundField("stepId", id)
	}
	step := n.Steps[i]
	if m.stepDone(n.ID, step.ID) {
		return step, notAllowed("step %q is already done", step.ID)
	}
	if step.When != "" && !m.condition(step.When) {
		return step, notAllowed("step %q does not apply to this order", step.ID)
	}
	return step, nil
}

// addAttachment lists a stored file on the order; a photo of a step names a step of a checklist.
func (m *woMachine) addAttachment(a Action) error {
	if a.Attachment != nil && a.Attachment.Step != "" {
		n, ok := m.node()
		if !ok || n.Type != NodeChecklist || !slices.ContainsFunc(n.Steps, func(s ChecklistStep) bool { return s.ID == a.Attachment.Step }) {
			return invalid(FieldError{Field: "step", Message: fmt.Sprintf("%q is not a step of the checklist the order is at", a.Attachment.Step)})
		}
	}
	list, err := attach(m.wo.Attachments, a, m.j)
	if err != nil {
		return err
	}
	m.wo.Attachments = list
	return nil
}

// laborMinutes is the labor time recorded on all the order's steps.
func laborMinutes(steps []StepRecord) int {
	total := 0
	for _, s := range steps {
		total += s.LaborMinutes
	}
	return total
}
