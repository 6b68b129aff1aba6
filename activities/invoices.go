package activities

import (
	"context"
	"time"

	"github.com/fieldflow/fieldflow/process"
)

// InvoiceStore issues invoices, once per request.
type InvoiceStore interface {
	IssueInvoice(ctx context.Context, requestID string, charges []process.Charge, total float64, at time.Time) (string, error)
}

// Invoices bills contacts for the charges of requests closed as resolved.
type Invoices struct {
	Store InvoiceStore
}

// IssueInvoiceInput is one request's charges, to bill.
type IssueInvoiceInput struct {
	RequestID string           `json:"requestId"`
	Charges   []process.Charge `json:"charges"`
	Total     float64          `json:"total"`
	At        time.Time        `json:"at"`
}

// IssueInvoiceResult names the invoice.
type IssueInvoiceResult struct {
	Number string `json:"number"`
}

// Issue issues the invoice. It is idempotent: the store keys the invoice by the request, so a retry
// after a timeout or a crash returns the invoice already issued.
func (i *Invoices) Issue(ctx context.Context, in IssueInvoiceInput) (IssueInvoiceResult, error) {
	number, err := i.Store.IssueInvoice(ctx, in.RequestID, in.Charges, in.Total, in.At)
	return IssueInvoiceResult{Number: number}, err
}
