package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/workflows"
)

// HistoriesEnv names the folder where tests write the histories of the runs they drive, for the
// replay tests in workflows/ (make histories).
const HistoriesEnv = "FIELDFLOW_RECORD_HISTORIES"

// recordHistory writes the history of a run as JSON to $FIELDFLOW_RECORD_HISTORIES/name.json
// (name.json.gz when it is larger than 1 MiB). Without the variable it does nothing. See
// workflows/testdata/histories/README.md.
func recordHistory(t *testing.T, c client.Client, workflowID, name string) {
	t.Helper()
	recordRunHistory(t, c, workflowID, "", name)
}

// recordRunHistory is recordHistory for one run of the workflow ("" for the latest).
func recordRunHistory(t *testing.T, c client.Client, workflowID, runID, name string) {
	t.Helper()
	dir := os.Getenv(HistoriesEnv)
	if dir == "" {
		return
	}
	hist := &historypb.History{}
	iter := c.GetWorkflowHistory(context.Background(), workflowID, runID, false, 0)
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(t, err)
		hist.Events = append(hist.Events, e)
	}
	raw, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	plain, gzipped := filepath.Join(dir, name+".json"), filepath.Join(dir, name+".json.gz")
	// Large histories (a run that continued as new is several megabytes) are kept gzipped.
	if len(raw) > 1<<20 {
		var b bytes.Buffer
		zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
		require.NoError(t, err)
		_, err = zw.Write(raw)
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		plain, gzipped, raw = gzipped, plain, b.Bytes()
	}
	require.NoError(t, os.WriteFile(plain, raw, 0o644))
	// Only one of the two forms stays.
	if err := os.Remove(gzipped); err != nil && !os.IsNotExist(err) {
		require.NoError(t, err)
	}
}

// quickFollowUp is a work-order type whose low ratings get a follow-up by a customer-care agent,
// which times out after two seconds.
const quickFollowUp = `apiVersion: fieldflow/v1
kind: WorkOrderType
key: quick-follow-up
title: Quick follow-up
numbering: "QF-{seq:4}"
intake: [dispatcher]
stages:
  - {id: new, title: New, state: new}
  - {id: feedback, title: Feedback, state: in_progress}
  - {id: closed, title: Closed, state: closed}
nodes:
  - {id: rate, type: rating, stage: feedback, scale: five-star, template: standard-survey, autoComplete: 1h}
  - id: follow-up
    type: follow_up
    when: "= rating.lowest != nil && rating.lowest <= 2"
    agents: {roundRobin: {group: care}}
    template: follow-up-survey
    timeout: 2s
  - {id: done, type: end, stage: closed}
`

// TestFollowUpOfALowRatingTimesOut: a one-star rating sends the order to a follow-up, which the
// group's agent is given; nobody answers it, so it completes on its timeout and the order closes.
// Its history is one of the recorded ones (make histories).
func TestFollowUpOfALowRatingTimesOut(t *testing.T) {
	t.Parallel() // mostly waiting for its timers
	stack := startStack(t, withWorkOrderType(t, "quick-follow-up", quickFollowUp))
	sam := api{t: t, base: stack.APIURL, token: token(t, stack, "sam", auth.RoleSupervisor)}
	dan := sam.as(token(t, stack, "dan", auth.RoleDispatcher))
	sam.must(http.StatusCreated, "POST", "/v1/groups", map[string]any{"key": "care", "title": "Customer care"})
	sam.must(http.StatusCreated, "PUT", "/v1/groups/care/members/cora", nil)

	wo := dan.must(http.StatusCreated, "POST", "/v1/work-orders", map[string]any{"recordType": "quick-follow-up", "subject": "Boiler check", "contact": map[string]any{"email": "ada@example.com"}})
	require.Equal(t, "rate", wo["node"])
	path := "/v1/work-orders/" + wo["id"].(string)
	rated := sam.must(http.StatusOK, "POST", path+"/ratings", map[string]any{"score": 1, "comment": "nobody came"})
	require.Equal(t, "follow-up", rated["node"])
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		got := sam.must(http.StatusOK, "GET", path, nil)
		require.Equal(c, "closed", got["state"])
	}, 20*time.Second, 200*time.Millisecond, "the follow-up times out and the order closes")
	events := eventTypes(sam.must(http.StatusOK, "GET", path+"/events", nil))
	t.Logf("events: %v", events)
	require.Contains(t, events, "rated")
	require.Less(t, slices.Index(events, "rated"), slices.Index(events, "closed"))
	recordHistory(t, stack.Client(), workflows.WorkOrderWorkflowID(wo["id"].(string)), "work-order-follow-up-timeout")
}
