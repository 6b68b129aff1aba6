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
// the invoice once, a refused action refused before it is accepted — with regular and with local
// activities.
func TestLifecycle(t *testing.T) {
	for _, local := range []bool{false, true} {
		t.Run(map[bool]string{false: "regular", true: "local"}[local], func(t *testing.T) {
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
			send(time.Second, baseline.Action{Kind: "progress"})
			send(2*time.Second, baseline.Action{Kind: "charge"}) // no amount: refused
			send(3*time.Second, baseline.Action{Kind: "progress"})
			send(4*time.Second, baseline.Action{Kind: "charge", Amount: 50})
			send(5*time.Second, baseline.Action{Kind: "charge", Amount: 25})
			send(6*time.Second, baseline.Action{Kind: "close", Resolved: true})
			env.ExecuteWorkflow(baseline.WorkflowName, baseline.Input{ID: "r1", Subject: "Invoice charged twice", Local: local})
			require.True(t, env.IsWorkflowCompleted())
			require.NoError(t, env.GetWorkflowError())
			require.Len(t, rejected, 1, "the charge without an amount")

			var out baseline.Request
			require.NoError(t, env.GetWorkflowResult(&out))
			require.Equal(t, "closed", out.State)
			require.Equal(t, []float64{50, 25}, out.Charges)
			require.EqualValues(t, 6, out.Revision)

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
