package process

import "time"

// Event is one entry of a record's history: who did what, when.
type Event struct {
	Seq     int64          `json:"seq"`
	Type    EventType      `json:"type"`
	Actor   string         `json:"actor"`
	At      time.Time      `json:"at"`
	Details map[string]any `json:"details"`
}

// EventType names an entry of a record's history.
type EventType string

// The history event types. Automations may react to those listed in automationTriggers.
const (
	EventCreated           EventType = "created"
	EventUpdated           EventType = "updated"
	EventStageChanged      EventType = "stage_changed"
	EventRegressed         EventType = "regressed"
	EventClosed            EventType = "closed"
	EventNoteAdded         EventType = "note_added"
	EventNoteUpdated       EventType = "note_updated"
	EventOwnerChanged      EventType = "owner_changed"
	EventApprovalRequested EventType = "approval_requested"
	EventApprovalDecided   EventType = "approval_decided"
	EventApprovalApproved  EventType = "approval_approved"
	EventApprovalRejected  EventType = "approval_rejected"
	EventApprovalCancelled EventType = "approval_cancelled"
	EventSLAAlert          EventType = "sla_alert"
	EventSLABreached       EventType = "sla_breached"
	EventSLAPaused         EventType = "sla_paused"
	EventSLAResumed        EventType = "sla_resumed"
	EventActivityCreated   EventType = "activity_created"
	EventExpressionFailed  EventType = "expression_failed"
	EventMigrated          EventType = "migrated"
	EventRelated           EventType = "related"
	EventEmailed           EventType = "emailed"
	EventConversionStarted EventType = "conversion_requested"
	EventUnrelated         EventType = "unrelated"

	// Outcomes of effects.
	EventNotificationSent   EventType = "notification_sent"
	EventNotificationFailed EventType = "notification_failed"
	EventWebhookDelivered   EventType = "webhook_delivered"
	EventWebhookFailed      EventType = "webhook_failed"
	EventConverted          EventType = "converted"
	EventConversionFailed   EventType = "conversion_failed"

	// Work orders.
	EventNodeEntered     EventType = "node_entered"
	EventNodeSkipped     EventType = "node_skipped"
	EventNodeCompleted   EventType = "node_completed"
	EventAssigned        EventType = "assigned"
	EventOffered         EventType = "offered"
	EventAccepted        EventType = "accepted"
	EventDeclined        EventType = "declined"
	EventTransferred     EventType = "transferred"
	EventOfferExpired    EventType = "offer_expired"
	EventEscalated       EventType = "escalated"
	EventStepCompleted   EventType = "step_completed"
	EventRated           EventType = "rated"
	EventRatingSkipped   EventType = "rating_skipped"
	EventFollowUpStarted EventType = "follow_up_started"
	EventFollowUpDone    EventType = "follow_up_done"
	EventFollowUpSkipped EventType = "follow_up_skipped"
	EventTimerFired      EventType = "timer_fired"
)

// ActionKind names what an action does.
type ActionKind string

// The actions. Agents send most of them through the API; the workflow sends ActionTimer when a
// timer fires and ActionEffectDone when an effect (a notification, a webhook) has run.
const (
	ActionProgress   ActionKind = "progress"
	ActionRegress    ActionKind = "regress"
	ActionClose      ActionKind = "close"
	ActionDecide     ActionKind = "decide"
	ActionTimer      ActionKind = "timer"
	ActionEffectDone ActionKind = "effect_done"
	// ActionUpdate changes fields of a service request (Changes).
	ActionUpdate ActionKind = "update"
	// ActionTakeOver makes the actor the owner (a member of the team, a supervisor).
	ActionTakeOver ActionKind = "take_over"
	// ActionRelate records that another request links to this one (RelatedID, Remove); sent by
	// the other request's workflow, so links show on both.
	ActionRelate ActionKind = "relate"
	// ActionEmailRecord emails the request's printout to its contact.
	ActionEmailRecord ActionKind = "email_record"
	// ActionConvert starts a work order of RecordType from the request, with the queue's mapping.
	ActionConvert ActionKind = "convert"

	ActionAssign       ActionKind = "assign"
	ActionAccept       ActionKind = "accept"
	ActionDecline      ActionKind = "decline"
	ActionTransfer     ActionKind = "transfer"
	ActionCompleteStep ActionKind = "complete_step"
	ActionRate         ActionKind = "rate"
	ActionSkipRating   ActionKind = "skip_rating"
	ActionFollowUp     ActionKind = "follow_up"
	// ActionClaim: a member of the order's group takes it from the pool (claiming is accepting).
	ActionClaim ActionKind = "claim"
	// ActionStartStep and ActionStopStep run a checklist step's labor timer.
	ActionStartStep ActionKind = "start_step"
	ActionStopStep  ActionKind = "stop_step"
)

// Action is one input of an interpreter: an agent's action, a fired timer, a finished effect.
type Action struct {
	Kind  ActionKind `json:"kind"`
	Actor string     `json:"actor"`
	// ActorRoles and ActorGroups are the actor's roles and groups, for approvals.
	ActorRoles  []string `json:"actorRoles,omitempty"`
	ActorGroups []string `json:"actorGroups,omitempty"`
	// ViaLink is true for a decision the contact made through a signed link.
	ViaLink bool `json:"viaLink,omitempty"`

	ToStage    string `json:"toStage,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Resolved   *bool  `json:"resolved,omitempty"`
	Resolution string `json:"resolution,omitempty"`

	ApprovalID string `json:"approvalId,omitempty"`
	Decision   string `json:"decision,omitempty"`
	Comment    string `json:"comment,omitempty"`

	TimerID string `json:"timerId,omitempty"`

	RecordType string `json:"recordType,omitempty"`

	Changes    *Changes     `json:"changes,omitempty"`
	NoteInput  *NoteInput   `json:"noteInput,omitempty"`
	Charge     *ChargeInput `json:"charge,omitempty"`
	Task       *TaskInput   `json:"task,omitempty"`
	Attachment *Attachment  `json:"attachment,omitempty"`
	RelatedID  string       `json:"relatedId,omitempty"`
	// WorkOrder is the work order an ActionWorkOrderClosed reports on.
	WorkOrder *WorkOrderLink `json:"workOrder,omitempty"`
	Remove    bool           `json:"remove,omitempty"`

	EffectID   string            `json:"effectId,omitempty"`
	EffectKind string            `json:"effectKind,omitempty"` // notify, webhook, convert
	Error      string            `json:"error,omitempty"`
	Result     map[string]string `json:"result,omitempty"`

	Group        string   `json:"group,omitempty"`
	Engineer     string   `json:"engineer,omitempty"`
	StepID       string   `json:"stepId,omitempty"`
	StepResult   string   `json:"stepResult,omitempty"`
	LaborMinutes int      `json:"laborMinutes,omitempty"`
	Note         string   `json:"note,omitempty"`
	Score        *float64 `json:"score,omitempty"`
	// Invitation is the rating invitation whose signed link the rating came through.
	Invitation string `json:"invitation,omitempty"`
	// OutboundCall marks a follow-up done by calling the customer.
	OutboundCall bool              `json:"outboundCall,omitempty"`
	Answers      map[string]string `json:"answers,omitempty"`
}

// effectOutcome is the event that records how an effect ended.
func effectOutcome(a Action, now time.Time) Event {
	details := map[string]any{"effect": a.EffectID}
	for _, k := range sortedKeys(a.Result) {
		details[k] = a.Result[k]
	}
	ok, failed := EventNotificationSent, EventNotificationFailed
	switch a.EffectKind {
	case "webhook":
		ok, failed = EventWebhookDelivered, EventWebhookFailed
	case "convert":
		ok, failed = EventConverted, EventConversionFailed
	}
	t := ok
	if a.Error != "" {
		t = failed
		details["error"] = a.Error
	}
	return Event{Type: t, Actor: "system", At: now, Details: details}
}
