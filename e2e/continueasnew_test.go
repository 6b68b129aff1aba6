package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/workflows"
)

// TestContinueAsNewKeepsEverything (issue 9, item 4) writes notes on one request from several
// callers at once until the real Temporal server suggests continue-as-new (its history-size
// suggestion: each update's result carries the record) and the run continues as new, then some
// more. Nothing is lost: every note is in the record and its events exactly once, the definition
// and state travel on, update IDs the first run applied apply nothing when retried on the second,
// and the request goes on to close.
func TestContinueAsNewKeepsEverything(t *testing.T) {
	stack := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	alice := api{t: t, base: stack.APIURL, token: token(t, stack, "alice", auth.RoleAgent)}
	sr := alice.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "technical-support", "subject": "A long story", "contact": map[string]any{"phone": "+357 22 000000"},
	})
	id := sr["id"].(string)
	path := "/v1/service-requests/" + id
	require.Equal(t, "triage", alice.must(http.StatusOK, "POST", path+"/progress", nil)["stage"])
	workflowID := workflows.ServiceRequestWorkflowID(id)
	desc, err := stack.Client().DescribeWorkflowExecution(ctx, workflowID, "")
	require.NoError(t, err)
	firstRun := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()

	st, err := store.Open(ctx, stack.DatabaseURL)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	wf := workflows.NewClient(stack.Client(), st)
	note := func(n int) (process.ServiceRequest, error) {
		text := fmt.Sprintf("note %d", n)
		return wf.ActOnServiceRequest(ctx, id, process.Action{Kind: process.ActionAddNote, Actor: "alice", NoteInput: &process.NoteInput{Text: &text}}, fmt.Sprintf("note-%d", n))
	}

	// Writers add notes until the run has continued as new and 40 more are in.
	const writers, maxNotes = 6, 4000
	var next, afterCAN atomic.Int64
	var continued atomic.Bool
	var failures sync.Map // note number → last error, for the retries below
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := int(next.Add(1))
				if n > maxNotes || afterCAN.Load() >= 40 {
					next.Add(-1)
					return
				}
				if _, err := note(n); err != nil {
					failures.Store(n, err)
				} else if continued.Load() {
					afterCAN.Add(1)
				}
			}
		}()
	}
	started := time.Now()
	var secondRun string
	for secondRun == "" && next.Load() < maxNotes {
		time.Sleep(200 * time.Millisecond)
		d, err := stack.Client().DescribeWorkflowExecution(ctx, workflowID, "")
		require.NoError(t, err)
		if run := d.GetWorkflowExecutionInfo().GetExecution().GetRunId(); run != firstRun {
			secondRun = run
			continued.Store(true)
		}
	}
	wg.Wait()
	sent := int(next.Load())
	require.NotEmpty(t, secondRun, "no continue-as-new after %d notes", sent)
	t.Logf("continued as new after about %d notes (%s); %d notes in all", sent-int(afterCAN.Load()), time.Since(started).Round(time.Millisecond), sent)

	// The first run ended by continuing as new, with the state and its definition in the new input.
	hist := stack.Client().GetWorkflowHistory(ctx, workflowID, firstRun, false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
	require.True(t, hist.HasNext())
	last, err := hist.Next()
	require.NoError(t, err)
	require.Equal(t, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW, last.GetEventType())
	require.Equal(t, workflows.ServiceRequestWorkflowType, last.GetWorkflowExecutionContinuedAsNewEventAttributes().GetWorkflowType().GetName())

	// Any note refused during the switch is retried with its update ID, as the API retries a key.
	failures.Range(func(k, v any) bool {
		t.Logf("note %d failed first: %v", k, v)
		_, err := note(k.(int))
		require.NoError(t, err, "retry of note %d", k)
		return true
	})
	// The record: every note once, the stage and owner as they were; then it closes.
	rec := alice.must(http.StatusOK, "GET", path, nil)
	require.Equal(t, "triage", rec["stage"])
	require.Equal(t, "alice", rec["owner"])
	require.Equal(t, sr["definition"], rec["definition"], "the pinned definition travels on")
	seen := map[string]int{}
	for _, n := range rec["notes"].([]any) {
		seen[n.(map[string]any)["text"].(string)]++
	}
	require.Len(t, seen, sent)
	for n := 1; n <= sent; n++ {
		require.Equal(t, 1, seen[fmt.Sprintf("note %d", n)], "note %d", n)
	}
	added := 0
	for _, typ := range eventTypes(alice.must(http.StatusOK, "GET", path+"/events?limit=10000", nil)) {
		if typ == "note_added" {
			added++
		}
	}
	require.Equal(t, sent, added, "one note_added event per note")

	// Update IDs the first run processed apply once on the second: no note is added twice.
	t.Run("retried update IDs of the first run", func(t *testing.T) {
		for n := 1; n <= 20; n++ {
			got, err := note(n)
			require.NoError(t, err, "note %d again", n)
			require.Equal(t, sent, len(got.Notes), "note %d again added a note", n)
		}
	})
	closed := alice.must(http.StatusOK, "POST", path+"/close", map[string]any{"resolved": true})
	require.Equal(t, "closed", closed["state"])
	require.Equal(t, rec["number"], closed["number"])
	recordRunHistory(t, stack.Client(), workflowID, firstRun, "service-request-continued-as-new")
	recordRunHistory(t, stack.Client(), workflowID, secondRun, "service-request-resumed")
}
