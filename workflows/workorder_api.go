package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/fieldflow/fieldflow/process"
)

// This file is the contract of the WorkOrder workflow. Its updates are the ones of the
// ServiceRequest workflow (UpdateCreated, UpdateAct, UpdateMigrate) with work-order arguments.

// WorkOrderWorkflowType is the Temporal workflow type of work orders.
const WorkOrderWorkflowType = "WorkOrder"

// WorkOrderWorkflowID is the workflow ID of the work order with the given id.
func WorkOrderWorkflowID(id string) string { return "work-order-" + id }

// WorkOrderInput starts a WorkOrder run, with its record type pinned.
type WorkOrderInput struct {
	Type  *process.WorkOrderType `json:"type"`
	New   process.NewWorkOrder   `json:"new"`
	Actor string                 `json:"actor"`
	// Resume is the state carried over by continue-as-new; nil for a new work order.
	Resume *process.WorkOrder `json:"resume,omitempty"`
	// Lean is set by every start since the lean run shape (see runner.lean); runs started
	// before it replay without it.
	Lean bool `json:"lean,omitempty"`
	// CallerProjects and CreatedAt: as in ServiceRequestInput.
	CallerProjects bool      `json:"callerProjects,omitempty"`
	CreatedAt      time.Time `json:"createdAt,omitzero"`
	Handled        []string  `json:"handled,omitempty"`
}

// WorkOrderResult is what a finished WorkOrder run returns.
type WorkOrderResult struct {
	Order process.WorkOrder `json:"order"`
}

// OrderResult is the result of the WorkOrder updates: the order as it was stored.
type OrderResult struct {
	Order       process.WorkOrder `json:"order"`
	Events      []process.Event   `json:"events,omitempty"`
	Unprojected bool              `json:"unprojected,omitempty"`
}

// MigrateWorkOrderInput is the argument of UpdateMigrate on a work order: the new version of its
// type and, for nodes that do not exist in it, which node the order moves to.
type MigrateWorkOrderInput struct {
	Type  *process.WorkOrderType `json:"type"`
	Nodes map[string]string      `json:"nodes,omitempty"`
	Actor string                 `json:"actor"`
}

// workOrderAttributes are the search attribute values of a work order. None holds personal data.
func workOrderAttributes(wo process.WorkOrder) []temporal.SearchAttributeUpdate {
	return append([]temporal.SearchAttributeUpdate{
		AttrRequestType.ValueSet(RequestTypeWorkOrder),
		AttrRecordType.ValueSet(wo.RecordType),
		AttrStage.ValueSet(wo.Stage),
		AttrState.ValueSet(string(wo.State)),
		AttrPriority.ValueSet(wo.Priority),
		AttrAssignee.ValueSet(wo.Engineer),
		AttrAssigneeGroup.ValueSet(wo.Group),
		AttrDefinitionVersion.ValueSet(wo.Definition.Version),
	}, slaAttributes(wo.SLA)...)
}

// WorkOrderSummary is the static summary shown in the Temporal UI: "WO-2026-000042 · Repair · high".
func WorkOrderSummary(number string, t *process.WorkOrderType, priority string) string {
	return strings.Join([]string{number, t.Title, priority}, " · ")
}

func workOrderDetails(t *process.WorkOrderType, wo process.WorkOrder) string {
	stage := wo.Stage
	if s, ok := t.StageByID(wo.Stage); ok {
		stage = s.Title
	}
	dash := func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	}
	due := "—"
	if wo.SLA.DueAt != nil {
		due = wo.SLA.DueAt.Format("2006-01-02 15:04 MST")
	}
	return fmt.Sprintf("**%s** · %s\n\n| | |\n|---|---|\n| Stage | %s (%s) |\n| Node | %s |\n| Priority | %s |\n| Group | %s |\n| Engineer | %s |\n| SLA | %s, due %s |\n| Revision | %d |\n",
		wo.Number, t.Title, stage, wo.State, dash(wo.Node), wo.Priority, dash(wo.Group), dash(wo.Engineer), wo.SLA.Status, due, wo.Revision)
}
