package soak

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDiff(t *testing.T) {
	missing, extra := diff([]string{"created", "stage_changed", "stage_changed", "closed"}, []string{"created", "stage_changed", "closed", "closed"})
	require.Equal(t, []string{"stage_changed"}, missing)
	require.Equal(t, []string{"closed"}, extra)
	missing, extra = diff([]string{"created"}, []string{"created"})
	require.Empty(t, missing)
	require.Empty(t, extra)
}

// TestCountActions: an action that leaves two events and lost both counts once.
func TestCountActions(t *testing.T) {
	r := &Trace{Actions: []*Action{
		{Acked: true, Events: []string{"created"}},
		{Acked: true, Events: []string{"rated", "closed"}},
		{Acked: false, Events: []string{"note_added"}},
	}}
	require.Equal(t, 1, countActions(r, []string{"rated", "closed"}))
	require.Equal(t, 0, countActions(r, []string{"note_added"}), "not acknowledged, so not lost")
}

// TestVerifyMail: one message per finished run's contact; the same Message-ID twice is a
// redelivery, two Message-IDs a duplicate, none a loss.
func TestVerifyMail(t *testing.T) {
	runs := []*Trace{
		{Label: "sr-1", Contact: "a@x", Done: true},
		{Label: "sr-2", Contact: "b@x", Done: true},
		{Label: "wo-1", Contact: "c@x", Done: true},
		{Label: "wo-2", Contact: "d@x", Done: true},
		{Label: "wo-3", Contact: "e@x"}, // did not finish: no mail expected
	}
	mail := []Mail{
		{To: []string{"a@x"}, MessageID: "<1>"},
		{To: []string{"b@x"}, MessageID: "<2>"},
		{To: []string{"b@x"}, MessageID: "<2>"},
		{To: []string{"c@x"}, MessageID: "<3>"},
		{To: []string{"c@x"}, MessageID: "<4>"},
	}
	v := verifyMail(runs, mail)
	require.Equal(t, 4, v.expected)
	require.Equal(t, 4, v.distinct)
	require.Equal(t, 1, v.redelivered)
	require.Equal(t, 1, v.duplicated)
	require.Len(t, v.problems, 2, "c@x got two messages, d@x none: %v", v.problems)
}

func TestRetryable(t *testing.T) {
	require.True(t, retryable(answer{}, errTest))
	require.True(t, retryable(answer{status: 503}, nil))
	require.True(t, retryable(answer{status: 409, body: map[string]any{"type": "/problems/idempotency-key-in-use"}}, nil))
	require.False(t, retryable(answer{status: 409, body: map[string]any{"type": "/problems/not-allowed"}}, nil))
	require.False(t, retryable(answer{status: 422}, nil))
}

var errTest = errString("connection reset")

type errString string

func (e errString) Error() string { return string(e) }
