package baseline_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/fieldflow/fieldflow/bench/baseline"
	"github.com/fieldflow/fieldflow/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// TestLifecycle runs the yardstick's lifecycle in the SDK's test environment against a real
// PostgreSQL: it must do the work the benchmark says it does — every step written with its event,
// the invoice once, a refused action refused before it is accepted, the SLA alert only when it
// has an SLA — with regular and with local activities.
func TestLifecycle(t *testing.T) {
	for _, c := range []struct {
		name       string
		local, sla bool
	}{{"regular with an SLA", false, true}, {"local without an SLA", true, false}} {
		local := c.local
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			pool, err := pgxpool.New(ctx, storetest.URL(t))
			require.NoError(t, err)
			t.Cleanup(pool.Close)
			_, err = pool.Exec(ctx, baseline.Schema)
			require.NoError(t, err)

			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestWorkflowEnvironment()
			baseline.Register(env, &baseline.Activities{Pool: pool})
			var rejected []error
			send := func(at time.Duration, a baseline.Action) {
				env.RegisterDelayedCallback(func() {
					env.UpdateWorkflow(baseline.UpdateAct, "", &testsuite.TestUpdateCallback{
						OnAccept:   func() {},
						OnReject:   func(err error) { rejected = append(rejected, err) },
						OnComplete: func(any, error) {},
					}, a)
				}, at)
			}
			send(9*time.Hour, baseline.Action{Kind: "progress"})             // still new after the 8 h alert
			send(9*time.Hour+2*time.Second, baseline.Action{Kind: "charge"}) // no amount: refused
			send(9*time.Hour+3*time.Second, baseline.Action{Kind: "progress"})
			send(9*time.Hour+4*time.Second, baseline.Action{Kind: "charge", Amount: 50})
			send(9*time.Hour+5*time.Second, baseline.Action{Kind: "charge", Amount: 25})
			send(9*time.Hour+6*time.Second, baseline.Action{Kind: "close", Resolved: true})
			env.ExecuteWorkflow(baseline.WorkflowName, baseline.Input{ID: "r1", Subject: "Invoice charged twice", Local: local, SLA: c.sla})
			require.True(t, env.IsWorkflowCompleted())
			require.NoError(t, env.GetWorkflowError())
			require.Len(t, rejected, 1, "the charge without an amount")

			var out baseline.Request
			require.NoError(t, env.GetWorkflowResult(&out))
			require.Equal(t, "closed", out.State)
			require.Equal(t, []float64{50, 25}, out.Charges)
			require.EqualValues(t, 6, out.Revision)
			require.Equal(t, c.sla, out.Alerted, "the alert fires after 8 h while the request is new, with an SLA only")
			require.False(t, out.Overdue)

			var stage string
			var revision, events int
			var total float64
			require.NoError(t, pool.QueryRow(ctx, `SELECT stage, revision FROM baseline_requests WHERE id = 'r1'`).Scan(&stage, &revision))
			require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM baseline_events WHERE request_id = 'r1'`).Scan(&events))
			require.NoError(t, pool.QueryRow(ctx, `SELECT total FROM baseline_invoices WHERE request_id = 'r1'`).Scan(&total))
			require.Equal(t, "closed", stage)
			require.Equal(t, 6, revision)
			require.Equal(t, 6, events, "created, two stage changes, two charges, closed")
			require.InDelta(t, 75.0, total, 0.001)
		})
	}
}
