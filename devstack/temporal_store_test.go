package devstack

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
)

// TestPostgresTemporalStoreRestarts starts a data dir with Temporal persisting to PostgreSQL, starts
// a run, stops and starts it again without naming a store: the data dir keeps PostgreSQL and the run
// is still there. Naming the other store is refused.
func TestPostgresTemporalStoreRestarts(t *testing.T) {
	dir, err := os.MkdirTemp("", "fieldflow-devstack-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755)) // PostgreSQL may run as another user
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := Config{
		DataDir: dir, DefinitionsDir: "../definitions", HTTPAddr: "127.0.0.1:0",
		Logger: zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel)), TemporalStore: TemporalStorePostgres,
	}

	stack, err := Start(ctx, cfg)
	require.NoError(t, err)
	run, err := stack.Client().ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "restart-probe", TaskQueue: "nobody-polls"}, "Probe")
	require.NoError(t, err)
	stack.Stop()
	require.NoFileExists(t, filepath.Join(dir, "temporal.db"))

	cfg.TemporalStore = ""
	stack, err = Start(ctx, cfg)
	require.NoError(t, err)
	require.Equal(t, TemporalStorePostgres, stack.TemporalStore)
	desc, err := stack.Client().DescribeWorkflowExecution(ctx, "restart-probe", "")
	require.NoError(t, err)
	require.Equal(t, run.GetRunID(), desc.GetWorkflowExecutionInfo().GetExecution().GetRunId())
	stack.Stop()

	cfg.TemporalStore = TemporalStoreSQLite
	_, err = Start(ctx, cfg)
	require.ErrorContains(t, err, "keeps Temporal's state in postgres")
}

func TestChooseTemporalStore(t *testing.T) {
	// A data dir from before the choice was recorded keeps SQLite.
	old := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(old, "temporal.db"), nil, 0o644))
	c, err := chooseTemporalStore(old, "", 0)
	require.NoError(t, err)
	require.Equal(t, temporalChoice{Store: TemporalStoreSQLite, HistoryShards: 1}, c)
	_, err = chooseTemporalStore(old, TemporalStorePostgres, 0)
	require.ErrorContains(t, err, "keeps Temporal's state in sqlite")

	// A new one gets the default, or what it asks for, and keeps it.
	fresh := t.TempDir()
	c, err = chooseTemporalStore(fresh, "", 4)
	require.NoError(t, err)
	require.Equal(t, temporalChoice{Store: DefaultTemporalStore, HistoryShards: 4}, c)
	c, err = chooseTemporalStore(fresh, "", 0)
	require.NoError(t, err)
	require.Equal(t, temporalChoice{Store: DefaultTemporalStore, HistoryShards: 4}, c)
	_, err = chooseTemporalStore(fresh, "", 1)
	require.ErrorContains(t, err, "cannot change")
	_, err = chooseTemporalStore(t.TempDir(), "mysql", 0)
	require.ErrorContains(t, err, "unknown store")
}
