// Package intake creates work orders, whatever channel they arrive by: staff and other systems
// through the API, customers through the portal and device codes, the service mailbox by SMTP.
// One place gives every new order its id, number, matched contact and (for other systems) its
// unique external reference, then starts its run.
package intake

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/workflows"
)

// Catalog gives the current definitions (implemented by *api.Registry and *process.Catalog users).
type Catalog interface {
	Current() *process.Catalog
}

// Store hands out numbers, matches contacts and keeps external references (*store.Store).
type Store interface {
	NextNumber(ctx context.Context, recordID, scope string) (int64, error)
	MatchContact(ctx context.Context, c process.Contact) (process.Contact, error)
	ClaimExternalRef(ctx context.Context, source, ref, id string) (string, error)
	GetWorkOrder(ctx context.Context, id string) (process.WorkOrder, error)
}

// Starter starts work-order runs (*workflows.Client).
type Starter interface {
	StartWorkOrder(ctx context.Context, t *process.WorkOrderType, in process.NewWorkOrder, actor string, at time.Time) (process.WorkOrder, error)
}

// Service creates work orders.
type Service struct {
	Catalog   Catalog
	Store     Store
	Workflows Starter
	// Now is the clock for numbering; time.Now when nil.
	Now func() time.Time
}

// Submission is one work order arriving by a channel.
type Submission struct {
	Order process.NewWorkOrder
	// Actor is who submits: a staff member, an integration's name, "portal:<contact>", "email".
	Actor string
	// Key makes a retried submission create nothing new: the same actor and key give the same
	// order. Empty: every submission is new.
	Key string
}

// ErrDuplicateRef means another order holds the source's external reference.
type ErrDuplicateRef struct {
	Source, Ref, Holder string
}

func (e *ErrDuplicateRef) Error() string {
	return fmt.Sprintf("%s already pushed %q as another work order", e.Source, e.Ref)
}

// idNamespace derives order ids from idempotency keys.
var idNamespace = uuid.MustParse("a4f3c1de-2b7e-4f8a-9c61-0d5e8b2f7a34")

// OrderID is the id a submission's order gets: derived from actor and key when there is a key.
func OrderID(actor, key string) string {
	if key == "" {
		return uuid.Must(uuid.NewV7()).String()
	}
	return uuid.NewSHA1(idNamespace, []byte(actor+"\n"+key)).String()
}

// CreateWorkOrder validates the submission, matches its contact, claims its external reference,
// numbers it and starts its run; it returns the order once stored. Refusals are *process.Error
// (invalid fields) or *ErrDuplicateRef.
func (s *Service) CreateWorkOrder(ctx context.Context, sub Submission) (process.WorkOrder, error) {
	in := sub.Order
	t, ok := s.Catalog.Current().WorkOrderType(in.RecordType)
	if !ok {
		msg := "is required"
		if in.RecordType != "" {
			msg = fmt.Sprintf("%q is not a work-order record type", in.RecordType)
		}
		return process.WorkOrder{}, &process.Error{Code: process.CodeInvalid, Message: "the work order has invalid fields",
			Fields: []process.FieldError{{Field: "recordType", Message: msg}}}
	}
	in.ID = OrderID(sub.Actor, sub.Key)
	in.ExternalRef = strings.TrimSpace(in.ExternalRef)
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	at := now()
	// Validate before a number is used up or a contact is kept; the run applies the same rules.
	if err := process.ValidateNewWorkOrder(t, in); err != nil {
		return process.WorkOrder{}, err
	}
	if in.ExternalRef != "" {
		if in.Source == "" {
			in.Source = sub.Actor
		}
		holder, err := s.Store.ClaimExternalRef(ctx, in.Source, in.ExternalRef, in.ID)
		if err != nil {
			return process.WorkOrder{}, err
		}
		if holder != in.ID {
			return process.WorkOrder{}, &ErrDuplicateRef{Source: in.Source, Ref: in.ExternalRef, Holder: holder}
		}
	}
	contact, err := s.Store.MatchContact(ctx, in.Contact)
	if err != nil {
		return process.WorkOrder{}, err
	}
	in.Contact = contact
	numbering, err := process.ParseNumbering(t.Numbering)
	if err != nil {
		return process.WorkOrder{}, fmt.Errorf("record type %s: %w", t.Key, err)
	}
	seq, err := s.Store.NextNumber(ctx, in.ID, numbering.Scope(at))
	if err != nil {
		return process.WorkOrder{}, err
	}
	in.Number = numbering.Format(at, seq)
	wo, err := s.Workflows.StartWorkOrder(ctx, t, in, sub.Actor, at)
	if errors.Is(err, workflows.ErrFinished) {
		// A retry of a creation whose order has already closed: that order.
		return s.Store.GetWorkOrder(ctx, in.ID)
	}
	return wo, err
}

var _ Store = (*store.Store)(nil)
