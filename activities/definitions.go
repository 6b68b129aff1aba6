package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
)

// DefinitionStore reads published definitions and hands out numbers.
type DefinitionStore interface {
	CurrentDefinition(ctx context.Context, key string) (store.Definition, error)
	NextNumber(ctx context.Context, recordID, scope string) (int64, error)
}

// Definitions gives workflows what they may not read themselves: the current version of a
// definition (for a record they start) and numbers.
type Definitions struct {
	Store DefinitionStore
}

// PrepareWorkOrderInput asks for what starting a work order of a record type needs.
type PrepareWorkOrderInput struct {
	RecordType string    `json:"recordType"`
	ID         string    `json:"id"`
	Now        time.Time `json:"now"`
}

// PrepareWorkOrderResult is the pinned record type and the order's number.
type PrepareWorkOrderResult struct {
	Type   *process.WorkOrderType `json:"type"`
	Number string                 `json:"number"`
}

// PrepareWorkOrder reads the current version of the record type and gives the order its number
// (the same number on a retry).
func (d *Definitions) PrepareWorkOrder(ctx context.Context, in PrepareWorkOrderInput) (PrepareWorkOrderResult, error) {
	def, err := d.Store.CurrentDefinition(ctx, in.RecordType)
	if err != nil {
		return PrepareWorkOrderResult{}, fmt.Errorf("record type %s: %w", in.RecordType, err)
	}
	if def.Kind != process.KindWorkOrderType {
		return PrepareWorkOrderResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s is a %s, not a work-order type", in.RecordType, def.Kind), "NotAWorkOrderType", nil)
	}
	var t process.WorkOrderType
	if err := json.Unmarshal(def.Compiled, &t); err != nil {
		return PrepareWorkOrderResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "BadDefinition", nil)
	}
	numbering, err := process.ParseNumbering(t.Numbering)
	if err != nil {
		return PrepareWorkOrderResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "BadDefinition", nil)
	}
	seq, err := d.Store.NextNumber(ctx, in.ID, numbering.Scope(in.Now))
	if err != nil {
		return PrepareWorkOrderResult{}, err
	}
	return PrepareWorkOrderResult{Type: &t, Number: numbering.Format(in.Now, seq)}, nil
}
