package process

import (
	"fmt"
	"slices"
	"time"
)

// MigrateServiceRequest moves a running request onto another version of its queue. stages maps a
// stage of the old version to one of the new; a stage that exists in both keeps its id without a
// mapping. The request keeps its history, SLA and approvals; it is an explicit, validated admin
// action, never a side effect of editing a definition.
func MigrateServiceRequest(to *Queue, sr ServiceRequest, stages map[string]string, actor string, now time.Time) (ServiceRequest, []Effect, error) {
	if to == nil {
		return sr, nil, invalid(FieldError{Field: "version", Message: "is required"})
	}
	if to.Key != sr.Queue {
		return sr, nil, invalid(FieldError{Field: "version", Message: fmt.Sprintf("version %s is of %s, not of queue %s", to.Version, to.Key, sr.Queue)})
	}
	if sr.State == StateClosed {
		return sr, nil, notAllowed("request %s is closed; closed requests stay on the version they ran on", sr.Number)
	}
	if to.Version == sr.Definition.Version {
		return sr, nil, notAllowed("request %s already runs on version %s", sr.Number, to.Version)
	}
	target, err := mapStage(&to.Process, sr.Stage, stages)
	if err != nil {
		return sr, nil, err
	}
	if target.State == StateClosed {
		return sr, nil, invalid(FieldError{Field: "stages." + sr.Stage, Message: "a migration cannot close a request; map it to an open stage"})
	}
	fromVersion := sr.Definition.Version
	sr.Approvals = slices.Clone(sr.Approvals)
	j := &journal{now: now, rev: &sr.Revision}
	stage := sr.Stage
	sr.Stage, sr.State = target.ID, target.State
	sr.Definition = DefinitionRef{Key: to.Key, Version: to.Version}
	sr.UpdatedAt = now
	j.emit(EventMigrated, actor, map[string]any{"fromVersion": fromVersion, "toVersion": to.Version, "fromStage": stage, "toStage": target.ID})
	return sr, j.effects, nil
}

// MigrateWorkOrder moves a running work order onto another version of its record type. nodes maps
// a node of the old version to one of the new; the order must land on a node of the same type, so
// what it is waiting for keeps its meaning.
func MigrateWorkOrder(from, to *WorkOrderType, wo WorkOrder, nodes map[string]string, actor string, now time.Time) (WorkOrder, []Effect, error) {
	if to == nil {
		return wo, nil, invalid(FieldError{Field: "version", Message: "is required"})
	}
	if to.Key != wo.RecordType {
		return wo, nil, invalid(FieldError{Field: "version", Message: fmt.Sprintf("version %s is of %s, not of record type %s", to.Version, to.Key, wo.RecordType)})
	}
	if wo.State == StateClosed {
		return wo, nil, notAllowed("work order %s is closed; closed orders stay on the version they ran on", wo.Number)
	}
	if to.Version == wo.Definition.Version {
		return wo, nil, notAllowed("work order %s already runs on version %s", wo.Number, to.Version)
	}
	nodeID := wo.Node
	if mapped, ok := nodes[wo.Node]; ok {
		nodeID = mapped
	}
	i := to.NodeIndex(nodeID)
	if i < 0 {
		return wo, nil, invalid(FieldError{Field: "nodes." + wo.Node, Message: fmt.Sprintf("node %q is not in version %s; map it to one that is", nodeID, to.Version)})
	}
	oldIdx := from.NodeIndex(wo.Node)
	if oldIdx >= 0 && from.Nodes[oldIdx].Type != to.Nodes[i].Type {
		return wo, nil, invalid(FieldError{Field: "nodes." + wo.Node, Message: fmt.Sprintf("node %q is a %s node in version %s, but the order waits at a %s node", nodeID, to.Nodes[i].Type, to.Version, from.Nodes[oldIdx].Type)})
	}
	if _, ok := to.StageByID(wo.Stage); !ok {
		return wo, nil, invalid(FieldError{Field: "version", Message: fmt.Sprintf("stage %q is not in version %s", wo.Stage, to.Version)})
	}
	fromVersion, fromNode := wo.Definition.Version, wo.Node
	j := &journal{now: now, rev: &wo.Revision}
	wo.Node, wo.NodeType = nodeID, to.Nodes[i].Type
	wo.Definition = DefinitionRef{Key: to.Key, Version: to.Version}
	wo.UpdatedAt = now
	j.emit(EventMigrated, actor, map[string]any{"fromVersion": fromVersion, "toVersion": to.Version, "fromNode": fromNode, "toNode": nodeID})
	return wo, j.effects, nil
}

// mapStage finds where a stage goes in a new version.
func mapStage(to *Process, stage string, mapping map[string]string) (Stage, error) {
	target := stage
	if m, ok := mapping[stage]; ok {
		target = m
	}
	s, ok := to.StageByID(target)
	if !ok {
		return Stage{}, invalid(FieldError{Field: "stages." + stage, Message: fmt.Sprintf("stage %q is not in version %s; map it to one that is (%v)", target, to.Version, stageIDs(to))})
	}
	return s, nil
}
