package e2e

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/soak"
)

// TestCrashSoak is the short crash test: `fieldflow dev --services-only`, `fieldflow worker` and
// `fieldflow api` as separate processes, a mixed load of billing requests and installations
// through the API, and SIGKILL of the worker, the API and the whole dev process (PostgreSQL and
// Temporal) in a random order, each started again at once. Every acknowledged action must be in
// its record's events exactly once, every run must reach the end of its script, every resolved
// request with charges must have one invoice and every run one email (`make soak` runs the same
// for longer).
func TestCrashSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash test starts and kills processes")
	}
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := soak.Run(ctx, soak.Config{
		Binary: buildBinary(t), DataDir: dataDir(t), Definitions: "../definitions",
		Duration: 20 * time.Second, MinKills: 3, KillEvery: [2]time.Duration{3 * time.Second, 6 * time.Second},
		Clients: 3, Settle: 90 * time.Second, Progress: &progress,
	})
	if rep != nil {
		var out bytes.Buffer
		rep.Print(&out)
		t.Logf("\n%s%s", progress.String(), out.String())
	}
	require.NoError(t, err)
	require.GreaterOrEqual(t, rep.KillsSurvived, 3)
	for _, kind := range []string{"worker", "api", "dev"} {
		require.GreaterOrEqual(t, rep.Kills[kind], 1, "killed %s at least once", kind)
	}
	require.Positive(t, rep.Acknowledged)
	require.Positive(t, rep.Retried, "some acknowledged action needed a retry: the kills met requests in flight")
	require.Empty(t, rep.Problems)
	require.Zero(t, rep.Lost)
	require.Zero(t, rep.Duplicated)
	require.Equal(t, rep.Acknowledged, rep.Verified)
	require.Equal(t, rep.Runs, rep.RunsDone, "every run finished its script")
	require.Equal(t, rep.InvoicesExpected, rep.Invoices)
	require.Positive(t, rep.InvoicesExpected)
	require.Equal(t, rep.EmailsExpected, rep.Emails)
	require.True(t, rep.OK())
}
