package process

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func billingQueue(t *testing.T) *Queue {
	t.Helper()
	c, err := LoadDir("../definitions")
	require.NoError(t, err)
	q, ok := c.Queue("billing")
	require.True(t, ok)
	return q
}

func newRequest(t *testing.T, q *Queue) ServiceRequest {
	t.Helper()
	sr, effects, err := CreateServiceRequest(q, NewServiceRequest{
		ID: "r1", Number: "SR-2026-000001", Queue: "billing", Subject: "Invoice is wrong",
		Contact: Contact{Name: "Ada", Email: "ada@example.com"}, Impact: "high", Urgency: "low",
	}, "alice", t0)
	require.NoError(t, err)
	require.Len(t, effects, 1)
	return sr
}

func boolp(b bool) *bool { return &b }

func TestCreateServiceRequest(t *testing.T) {
	q := billingQueue(t)
	sr, effects, err := CreateServiceRequest(q, NewServiceRequest{
		ID: "r1", Number: "SR-2026-000001", Queue: "billing", Subject: " Invoice is wrong ",
		Contact: Contact{Email: "ada@example.com"}, Impact: "high", Urgency: "low",
	}, "alice", t0)
	require.NoError(t, err)
	require.Equal(t, "new", sr.Stage)
	require.Equal(t, StateNew, sr.State)
	require.Equal(t, "medium", sr.Priority) // high impact x low urgency
	require.Equal(t, "alice", sr.Owner, "the creator owns a request created without owner or team")
	require.Equal(t, "Invoice is wrong", sr.Subject)
	require.Equal(t, DefinitionRef{Key: "billing", Version: q.Version}, sr.Definition)
	require.Equal(t, int64(1), sr.Revision)
	require.Equal(t, []Effect{Emit{Event: Event{Seq: 1, Type: EventCreated, Actor: "alice", At: t0,
		Details: map[string]any{"stage": "new", "priority": "medium", "owner": "alice", "team": "", "channel": "agent", "dueAt": *sr.SLA.DueAt}}}}, effects)
	// Medium priority: 3 days to complete, alert after 4 business hours in the new stage.
	require.Equal(t, t0.Add(72*time.Hour), *sr.SLA.DueAt)
	require.Equal(t, SLAOK, sr.SLA.Status)
}

func TestCreateServiceRequestDefaultsAndTeam(t *testing.T) {
	q := billingQueue(t)
	sr, _, err := CreateServiceRequest(q, NewServiceRequest{
		ID: "r1", Queue: "billing", Subject: "s", Contact: Contact{Phone: "+357"}, Team: "billing-desk",
		Categories: []string{"invoice/dispute", "refund"},
	}, "alice", t0)
	require.NoError(t, err)
	require.Equal(t, "medium", sr.Impact)
	require.Equal(t, "medium", sr.Urgency)
	require.Equal(t, "medium", sr.Priority)
	require.Empty(t, sr.Owner, "a request given to a team has no owner until someone takes it")
	require.Equal(t, []string{}, sr.Tags)
}

func TestCreateServiceRequestInvalidFields(t *testing.T) {
	q := billingQueue(t)
	_, _, err := CreateServiceRequest(q, NewServiceRequest{
		Queue: "other", Impact: "huge", Urgency: "soon", Categories: []string{"invoice", "invoices/x"},
	}, "alice", t0)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, CodeInvalid, e.Code)
	var fields []string
	for _, f := range e.Fields {
		fields = append(fields, f.Field)
	}
	require.Equal(t, []string{"queue", "subject", "contact", "impact", "urgency", "categories[0]", "categories[1]"}, fields)
}

func TestProgressRegressClose(t *testing.T) {
	q := billingQueue(t)
	sr := newRequest(t, q)
	at := t0.Add(time.Hour)

	next, effects, err := ApplyServiceRequest(q, sr, Action{Kind: ActionProgress, Actor: "alice"}, at)
	require.NoError(t, err)
	require.Equal(t, "new", sr.Stage, "Apply must not change its input")
	require.Equal(t, "investigation", next.Stage)
	require.Equal(t, StateInProgress, next.State)
	require.Equal(t, at, next.UpdatedAt)
	require.Equal(t, []Effect{Emit{Event: Event{Seq: 2, Type: EventStageChanged, Actor: "alice", At: at,
		Details: map[string]any{"from": "new", "to": "investigation"}}}}, effects)

	next, _, err = ApplyServiceRequest(q, next, Action{Kind: ActionProgress, Actor: "alice", ToStage: "response"}, at)
	require.NoError(t, err)
	require.Equal(t, "response", next.Stage, "progress may skip forward to a named stage")

	_, _, err = ApplyServiceRequest(q, next, Action{Kind: ActionProgress, Actor: "alice"}, at)
	requireCode(t, err, CodeNotAllowed)

	_, _, err = ApplyServiceRequest(q, next, Action{Kind: ActionRegress, Actor: "alice"}, at)
	requireCode(t, err, CodeInvalid)

	next, effects, err = ApplyServiceRequest(q, next, Action{Kind: ActionRegress, Actor: "alice", Reason: "customer sent new papers"}, at)
	require.NoError(t, err)
	require.Equal(t, "proposal", next.Stage)
	require.Equal(t, EventRegressed, effects[0].(Emit).Event.Type)
	require.Equal(t, "customer sent new papers", effects[0].(Emit).Event.Details["reason"])

	_, _, err = ApplyServiceRequest(q, next, Action{Kind: ActionClose, Actor: "alice"}, at)
	requireCode(t, err, CodeInvalid)

	closed, effects, err := ApplyServiceRequest(q, next, Action{Kind: ActionClose, Actor: "alice", Resolved: boolp(true), Resolution: "credited"}, at)
	require.NoError(t, err)
	require.Equal(t, "closed", closed.Stage)
	require.Equal(t, StateClosed, closed.State)
	require.Equal(t, true, *closed.Resolved)
	require.Equal(t, at, *closed.ClosedAt)
	require.Equal(t, int64(5), closed.Revision)
	require.Equal(t, map[string]any{"from": "proposal", "resolved": true, "resolution": "credited"}, effects[0].(Emit).Event.Details)

	for _, a := range []Action{{Kind: ActionProgress}, {Kind: ActionRegress, Reason: "x"}, {Kind: ActionClose, Resolved: boolp(false)}} {
		_, _, err = ApplyServiceRequest(q, closed, a, at)
		requireCode(t, err, CodeNotAllowed)
	}
}

func TestProgressTargets(t *testing.T) {
	q := billingQueue(t)
	sr := newRequest(t, q)
	cases := []struct {
		action Action
		code   Code
	}{
		{Action{Actor: "alice", Kind: ActionProgress, ToStage: "nowhere"}, CodeInvalid},
		{Action{Actor: "alice", Kind: ActionProgress, ToStage: "closed"}, CodeNotAllowed},
		{Action{Actor: "alice", Kind: ActionProgress, ToStage: "new"}, CodeNotAllowed},
		{Action{Actor: "alice", Kind: ActionRegress, Reason: "r"}, CodeNotAllowed},
		{Action{Actor: "alice", Kind: "reopen"}, CodeInvalid},
	}
	for _, tc := range cases {
		_, _, err := ApplyServiceRequest(q, sr, tc.action, t0)
		requireCode(t, err, tc.code)
	}

	mid, _, err := ApplyServiceRequest(q, sr, Action{Actor: "alice", Kind: ActionProgress, ToStage: "response"}, t0)
	require.NoError(t, err)
	_, _, err = ApplyServiceRequest(q, mid, Action{Actor: "alice", Kind: ActionRegress, ToStage: "response", Reason: "r"}, t0)
	requireCode(t, err, CodeNotAllowed)
	back, _, err := ApplyServiceRequest(q, mid, Action{Actor: "alice", Kind: ActionRegress, ToStage: "new", Reason: "r"}, t0)
	require.NoError(t, err)
	require.Equal(t, StateNew, back.State)

	// A request may be closed from any open stage, including new.
	closed, _, err := ApplyServiceRequest(q, sr, Action{Actor: "alice", Kind: ActionClose, Resolved: boolp(false)}, t0)
	require.NoError(t, err)
	require.False(t, *closed.Resolved)
}

func requireCode(t *testing.T, err error, code Code) {
	t.Helper()
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, code, e.Code, e.Error())
}

func TestNumbering(t *testing.T) {
	n, err := ParseNumbering("SR-{yyyy}-{seq:6}")
	require.NoError(t, err)
	require.Equal(t, "SR-2026-{seq}", n.Scope(t0))
	require.Equal(t, "SR-2026-000042", n.Format(t0, 42))

	n, err = ParseNumbering("{yy}{mm}{dd}/{seq}")
	require.NoError(t, err)
	require.Equal(t, "261123/7", n.Format(t0, 7))

	for _, bad := range []string{"SR-{yyyy}", "SR-{seq}-{seq}", "SR-{seq:0}", "SR-{seq", "SR-{week}-{seq}"} {
		_, err := ParseNumbering(bad)
		require.Error(t, err, bad)
	}
}
