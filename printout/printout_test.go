package printout

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/process"
)

func TestRender(t *testing.T) {
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	yes := true
	html, err := Render(process.ServiceRequest{
		Number: "SR-2026-000001", Subject: "Refund <urgent>", Stage: "closed", State: process.StateClosed, Priority: "high",
		Contact: process.Contact{Name: "Ada"}, CreatedAt: at, ClosedAt: &at, Resolved: &yes, Resolution: "refunded",
		Charges: []process.Charge{{Description: "Visit", Kind: process.ChargeService, Quantity: 2, UnitPrice: 40, Amount: 80}},
		Invoice: &process.Invoice{Number: "INV-2026-000001", IssuedAt: at},
		Notes:   []process.Note{{Text: "internal remark"}},
	}, "Billing")
	require.NoError(t, err)
	require.Contains(t, html, "SR-2026-000001 · Refund &lt;urgent&gt;", "escaped")
	require.Contains(t, html, "resolved: refunded")
	require.Contains(t, html, "<strong>80.00</strong>")
	require.Contains(t, html, "Invoice INV-2026-000001")
	require.NotContains(t, html, "internal remark", "notes are internal")
}
