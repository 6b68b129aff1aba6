// Package workflows is the Temporal shell around the pure interpreter in process/: it turns
// updates and signals into interpreter actions and interpreter effects into activities.
//
// This file is the contract of the ServiceRequest workflow: its task queue, workflow IDs, update
// names, input and result types and search attributes. Callers use it (through Client) and nothing
// else of the package.
package workflows

import (
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/fieldflow/fieldflow/process"
)

// TaskQueue is the task queue of every Fieldflow workflow and activity.
const TaskQueue = "fieldflow"

// ServiceRequestWorkflowType is the Temporal workflow type of service requests.
const ServiceRequestWorkflowType = "ServiceRequest"

// ServiceRequestWorkflowID is the workflow ID of the service request with the given id.
func ServiceRequestWorkflowID(id string) string { return "service-request-" + id }

// Update names of the ServiceRequest workflow.
const (
	// UpdateCreated returns the request once its creation is written to Postgres. It is sent with
	// the start (update-with-start), so the API answers a creation with the stored record.
	UpdateCreated = "created"
	// UpdateAct applies one agent action. Invalid actions are rejected by its validator and leave
	// no trace in the history.
	UpdateAct = "act"
	// UpdateMigrate moves a running record onto another version of its definition (an admin action).
	UpdateMigrate = "migrate"
)

// QueryRecord returns the record as the run holds it (RequestResult or OrderResult), for a
// starter that finds the run already started.
const QueryRecord = "record"

// SignalAction carries an ActInput that does not need an answer: a contact's decision through a
// signed link, a link made by another request. Signals are accepted even while no worker runs; the
// run applies them in order, and one the record no longer accepts is recorded in the log only.
const SignalAction = "action"

// ServiceRequestInput starts a ServiceRequest run. The definition is pinned here: editing the YAML
// never changes a running request.
type ServiceRequestInput struct {
	Queue *process.Queue            `json:"queue"`
	New   process.NewServiceRequest `json:"new"`
	Actor string                    `json:"actor"`
	// Resume is the state carried over by continue-as-new; nil for a new request.
	Resume *process.ServiceRequest `json:"resume,omitempty"`
	// Lean is set by every start since the lean run shape (see runner.lean); runs started
	// before it replay without it.
	Lean bool `json:"lean,omitempty"`
	// CallerProjects: the callers of the run's updates write what they return (runner.callerProjects).
	CallerProjects bool `json:"callerProjects,omitempty"`
	// CreatedAt, when set, is when the starter created the record and wrote it to Postgres: the
	// run creates the same record at the same instant and does not write it again.
	CreatedAt time.Time `json:"createdAt,omitzero"`
	// Handled are the update IDs the record's earlier runs applied (runner.handled), carried
	// through continue-as-new.
	Handled []string `json:"handled,omitempty"`
}

// ServiceRequestResult is what a finished ServiceRequest run returns: the closed request.
type ServiceRequestResult struct {
	Request process.ServiceRequest `json:"request"`
}

// CreatedInput is the argument of UpdateCreated.
type CreatedInput struct{}

// ActInput is the argument of UpdateAct.
type ActInput struct {
	Action process.Action `json:"action"`
}

// MigrateInput is the argument of UpdateMigrate on a service request: the new version of its queue
// and, for stages that do not exist in it, where requests in them go.
type MigrateInput struct {
	Queue  *process.Queue    `json:"queue"`
	Stages map[string]string `json:"stages,omitempty"`
	Actor  string            `json:"actor"`
}

// RequestResult is the result of the updates and of QueryRecord: the request, and whether the
// caller writes it. With Unprojected, the caller writes the request and Events (the events of the
// change, or for the query every event the run has not written itself) before it answers.
type RequestResult struct {
	Request     process.ServiceRequest `json:"request"`
	Events      []process.Event        `json:"events,omitempty"`
	Unprojected bool                   `json:"unprojected,omitempty"`
}

// RequestType values of the RequestType search attribute.
const (
	RequestTypeServiceRequest = "service_request"
	RequestTypeWorkOrder      = "work_order"
)

// Search attributes of Fieldflow runs, registered at start-up. None holds personal data.
var (
	AttrRequestType       = temporal.NewSearchAttributeKeyKeyword("RequestType")
	AttrQueue             = temporal.NewSearchAttributeKeyKeyword("Queue")
	AttrStage             = temporal.NewSearchAttributeKeyKeyword("Stage")
	AttrState             = temporal.NewSearchAttributeKeyKeyword("State")
	AttrPriority          = temporal.NewSearchAttributeKeyKeyword("Priority")
	AttrOwner             = temporal.NewSearchAttributeKeyKeyword("Owner")
	AttrDefinitionVersion = temporal.NewSearchAttributeKeyKeyword("DefinitionVersion")
	AttrRecordType        = temporal.NewSearchAttributeKeyKeyword("RecordType")
	AttrAssignee          = temporal.NewSearchAttributeKeyKeyword("Assignee")
	AttrAssigneeGroup     = temporal.NewSearchAttributeKeyKeyword("AssigneeGroup")
	// AttrSlaDueAt is when the record's SLA completion is due; AttrSlaBreached is true once missed.
	AttrSlaDueAt    = temporal.NewSearchAttributeKeyTime("SlaDueAt")
	AttrSlaBreached = temporal.NewSearchAttributeKeyBool("SlaBreached")
)

// SearchAttributes lists the custom search attributes and their types, for registration.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	attrs := map[string]enumspb.IndexedValueType{}
	for _, k := range []temporal.SearchAttributeKeyKeyword{
		AttrRequestType, AttrQueue, AttrStage, AttrState, AttrPriority, AttrOwner, AttrDefinitionVersion,
		AttrRecordType, AttrAssignee, AttrAssigneeGroup,
	} {
		attrs[k.GetName()] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
	}
	attrs[AttrSlaDueAt.GetName()] = enumspb.INDEXED_VALUE_TYPE_DATETIME
	attrs[AttrSlaBreached.GetName()] = enumspb.INDEXED_VALUE_TYPE_BOOL
	return attrs
}

// serviceRequestAttributes are the search attribute values of a request.
func serviceRequestAttributes(sr process.ServiceRequest) []temporal.SearchAttributeUpdate {
	return append([]temporal.SearchAttributeUpdate{
		AttrRequestType.ValueSet(RequestTypeServiceRequest),
		AttrQueue.ValueSet(sr.Queue),
		AttrStage.ValueSet(sr.Stage),
		AttrState.ValueSet(string(sr.State)),
		AttrPriority.ValueSet(sr.Priority),
		AttrOwner.ValueSet(sr.Owner),
		AttrDefinitionVersion.ValueSet(sr.Definition.Version),
	}, slaAttributes(sr.SLA)...)
}

// slaAttributes are the SLA search attributes of a record: supervisors filter on them.
func slaAttributes(c process.SLAClock) []temporal.SearchAttributeUpdate {
	updates := []temporal.SearchAttributeUpdate{AttrSlaBreached.ValueSet(c.Breached)}
	if c.DueAt != nil {
		updates = append(updates, AttrSlaDueAt.ValueSet(*c.DueAt))
	} else {
		updates = append(updates, AttrSlaDueAt.ValueUnset())
	}
	return updates
}

// slaKey is the part of the attribute key that follows the SLA.
func slaKey(c process.SLAClock) []string {
	due := ""
	if c.DueAt != nil {
		due = c.DueAt.UTC().Format(time.RFC3339)
	}
	return []string{due, fmt.Sprint(c.Breached)}
}

// ServiceRequestSummary is the static summary shown in the Temporal UI: "SR-2026-000123 · Billing · high".
func ServiceRequestSummary(number string, q *process.Queue, priority string) string {
	return strings.Join([]string{number, q.Title, priority}, " · ")
}

// serviceRequestDetails is the current-details markdown shown in the Temporal UI.
func serviceRequestDetails(q *process.Queue, sr process.ServiceRequest) string {
	stage := sr.Stage
	if i := q.StageIndex(sr.Stage); i >= 0 {
		stage = q.Stages[i].Title
	}
	owner := sr.Owner
	if owner == "" {
		owner = "—"
	}
	team := sr.Team
	if team == "" {
		team = "—"
	}
	return fmt.Sprintf("**%s** · %s\n\n| | |\n|---|---|\n| Stage | %s (%s) |\n| Priority | %s (impact %s, urgency %s) |\n| Owner | %s |\n| Team | %s |\n| Revision | %d |\n",
		sr.Number, q.Title, stage, sr.State, sr.Priority, sr.Impact, sr.Urgency, owner, team, sr.Revision)
}
