package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
)

// HistoriesEnv names the folder where tests write the histories of the runs they drive, for the
// replay tests in workflows/ (make histories).
const HistoriesEnv = "FIELDFLOW_RECORD_HISTORIES"

// recordHistory writes the history of a finished run as JSON to $FIELDFLOW_RECORD_HISTORIES/name.json.
// Without the variable it does nothing.
func recordHistory(t *testing.T, c client.Client, workflowID, name string) {
	t.Helper()
	dir := os.Getenv(HistoriesEnv)
	if dir == "" {
		return
	}
	hist := &historypb.History{}
	iter := c.GetWorkflowHistory(context.Background(), workflowID, "", false, 0)
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(t, err)
		hist.Events = append(hist.Events, e)
	}
	raw, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".json"), raw, 0o644))
}
