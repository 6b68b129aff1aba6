package workflows_test

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/fieldflow/fieldflow/workflows"
)

// TestReplayRecordedHistories replays the histories of real runs (recorded by the end-to-end tests,
// `make histories`; see testdata/histories/README.md) against the current workflow code. A change
// that would break running requests fails here: add a history whenever a workflow gains a new
// path. Large histories (a run that continued as new) are kept gzipped as .json.gz.
func TestReplayRecordedHistories(t *testing.T) {
	plain, err := filepath.Glob("testdata/histories/*.json")
	require.NoError(t, err)
	gzipped, err := filepath.Glob("testdata/histories/*.json.gz")
	require.NoError(t, err)
	files := append(plain, gzipped...)
	require.NotEmpty(t, files, "no recorded histories; run make histories")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := sdkworker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(workflows.ServiceRequest, workflow.RegisterOptions{Name: workflows.ServiceRequestWorkflowType})
			r.RegisterWorkflowWithOptions(workflows.WorkOrder, workflow.RegisterOptions{Name: workflows.WorkOrderWorkflowType})
			if !strings.HasSuffix(f, ".gz") {
				require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, f))
				return
			}
			file, err := os.Open(f)
			require.NoError(t, err)
			defer file.Close()
			zr, err := gzip.NewReader(file)
			require.NoError(t, err)
			hist, err := client.HistoryFromJSON(zr, client.HistoryJSONOptions{})
			require.NoError(t, err)
			require.NoError(t, r.ReplayWorkflowHistory(nil, hist))
		})
	}
}
