package workflows

import (
	"sort"
	"strings"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/fieldflow/fieldflow/activities"
	"github.com/fieldflow/fieldflow/process"
)

// conversionNamespace derives the ids of converted work orders from their parent and effect, so a
// retried conversion starts the same child.
var conversionNamespace = uuid.MustParse("3b0f8c52-5d0e-4c47-8f1e-5f3b7a1d2c9e")

// convert starts a work order from the record: the current definition of the record type and a
// number come from an activity; the child run is abandoned to itself when the parent closes.
func (r *runner[S]) convert(ctx workflow.Context, e process.StartWorkOrder) (map[string]string, error) {
	parent := r.in.recordID(r.state)
	id := uuid.NewSHA1(conversionNamespace, []byte(parent+"\n"+e.EffectID)).String()
	actx := workflow.WithActivityOptions(ctx, effectOptions)
	var defs *activities.Definitions
	var prepared activities.PrepareWorkOrderResult
	if err := workflow.ExecuteActivity(actx, defs.PrepareWorkOrder, activities.PrepareWorkOrderInput{
		RecordType: e.RecordType, ID: id, Now: now(ctx),
	}).Get(ctx, &prepared); err != nil {
		return nil, err
	}
	in := process.NewWorkOrder{ID: id, Number: prepared.Number, RecordType: e.RecordType, Channel: "service-request", Parent: parent}
	applyFields(&in, e.Fields)
	preview, _, err := process.CreateWorkOrder(prepared.Type, in, "conversion", now(ctx))
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidConversion", nil)
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            WorkOrderWorkflowID(id),
		TaskQueue:             TaskQueue,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(workOrderAttributes(preview)...),
		StaticSummary:         WorkOrderSummary(in.Number, prepared.Type, preview.Priority),
	})
	child := workflow.ExecuteChildWorkflow(cctx, WorkOrderWorkflowType, WorkOrderInput{Type: prepared.Type, New: in, Actor: "conversion", Lean: r.lean, CallerProjects: r.callerProjects})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return nil, err
	}
	return map[string]string{"id": id, "number": in.Number, "recordType": e.RecordType}, nil
}

// applyFields fills a new work order from a conversion's mapped fields.
func applyFields(in *process.NewWorkOrder, fields map[string]string) {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := fields[k]
		switch k {
		case "subject":
			in.Subject = v
		case "description":
			in.Description = v
		case "region":
			in.Region = v
		case "account":
			in.Account = v
		case "impact":
			in.Impact = v
		case "urgency":
			in.Urgency = v
		case "contact.name":
			in.Contact.Name = v
		case "contact.email":
			in.Contact.Email = v
		case "contact.phone":
			in.Contact.Phone = v
		case "device.code":
			in.Device.Code = v
		case "device.category":
			in.Device.Category = v
		case "device.model":
			in.Device.Model = v
		case "device.serial":
			in.Device.Serial = v
		default:
			if name, ok := strings.CutPrefix(k, "fields."); ok {
				if in.Fields == nil {
					in.Fields = map[string]string{}
				}
				in.Fields[name] = v
			}
		}
	}
}
