package process

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func strp(s string) *string { return &s }

func fieldsQueue(t *testing.T) *Queue {
	t.Helper()
	files := shippedFiles(t)
	files["service-requests/claims.yaml"] = []byte(`apiVersion: fieldflow/v1
kind: ServiceRequestQueue
key: claims
calendar: office
categories: [damage, damage/water, theft]
fields:
  - {id: policy, type: text, required: true}
  - {id: amount, type: number}
  - {id: urgent, type: boolean}
  - {id: incident, type: date}
  - {id: channel, type: choice, options: [phone, web]}
sla:
  completion: {critical: 4h, high: 8bh, medium: 3d, low: 5d}
stages:
  - {id: new, state: new}
  - {id: assess, state: in_progress}
  - {id: closed, state: closed}
`)
	c, err := Load(files)
	require.NoError(t, err)
	q, _ := c.Queue("claims")
	return q
}

func TestCustomFieldsAreTyped(t *testing.T) {
	q := fieldsQueue(t)
	in := NewServiceRequest{ID: "r", Queue: "claims", Subject: "s", Contact: Contact{Email: "a@b"},
		Fields: map[string]any{"amount": "a lot", "urgent": "yes", "incident": "2026-13-40", "channel": "fax", "colour": "red"}}
	_, _, err := CreateServiceRequest(q, in, "alice", t0)
	var e *Error
	require.ErrorAs(t, err, &e)
	var fields []string
	for _, f := range e.Fields {
		fields = append(fields, f.Field+": "+f.Message)
	}
	require.Equal(t, []string{
		"fields.amount: must be a number", "fields.channel: must be one of [phone web]", "fields.colour: is not a field of this queue",
		"fields.incident: must be a date, YYYY-MM-DD", "fields.urgent: must be true or false", "fields.policy: is required",
	}, fields)

	in.Fields = map[string]any{"policy": "P-1", "amount": 1200.5, "urgent": true, "incident": "2026-11-20", "channel": "web"}
	sr, _, err := CreateServiceRequest(q, in, "alice", t0)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"policy": "P-1", "amount": 1200.5, "urgent": true, "incident": "2026-11-20", "channel": "web"}, sr.Fields)
}

func TestUpdateRecomputesPriorityAndSLA(t *testing.T) {
	q := fieldsQueue(t)
	sr, _, err := CreateServiceRequest(q, NewServiceRequest{ID: "r", Queue: "claims", Subject: "s", Contact: Contact{Email: "a@b"},
		Fields: map[string]any{"policy": "P-1"}}, "alice", t0)
	require.NoError(t, err)
	require.Equal(t, "medium", sr.Priority)
	require.Equal(t, t0.Add(72*time.Hour), *sr.SLA.DueAt)

	// Two hours later (t0 is Monday 11:00 in Nicosia) the impact goes up: high priority, an 8bh
	// target, with the two hours already counted.
	at := t0.Add(2 * time.Hour)
	next, effects, err := ApplyServiceRequest(q, sr, Action{Kind: ActionUpdate, Actor: "alice", Changes: &Changes{Impact: strp("high")}}, at)
	require.NoError(t, err)
	require.Equal(t, "high", next.Priority)
	require.Equal(t, "8bh", next.SLA.CompletionTarget)
	// 2h wall-clock counted of 8bh: 6 business hours left from Monday 13:00 local: 13:00–17:00, then
	// Tuesday 09:00–11:00.
	require.Equal(t, time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC), *next.SLA.DueAt)
	ev := effects[0].(Emit).Event
	require.Equal(t, EventUpdated, ev.Type)
	require.Equal(t, map[string]any{"from": "medium", "to": "high"}, ev.Details["priority"])

	_, _, err = ApplyServiceRequest(q, next, Action{Kind: ActionUpdate, Actor: "alice", Changes: &Changes{Impact: strp("high")}}, at)
	requireCode(t, err, CodeNotAllowed) // nothing changes
	_, _, err = ApplyServiceRequest(q, next, Action{Kind: ActionUpdate, Actor: "alice", Changes: &Changes{Urgency: strp("soon"),
		Categories: &[]string{"damage/fire"}, Fields: map[string]any{"amount": "x"}}}, at)
	requireCode(t, err, CodeInvalid)
	cleared, _, err := ApplyServiceRequest(q, next, Action{Kind: ActionUpdate, Actor: "alice", Changes: &Changes{Fields: map[string]any{"amount": 10.0}}}, at)
	require.NoError(t, err)
	require.Equal(t, 10.0, cleared.Fields["amount"])
	removed, _, err := ApplyServiceRequest(q, cleared, Action{Kind: ActionUpdate, Actor: "alice", Changes: &Changes{Fields: map[string]any{"amount": nil}}}, at)
	require.NoError(t, err)
	require.NotContains(t, removed.Fields, "amount")
}

func TestOwnershipRules(t *testing.T) {
	q := billingQueue(t)
	sr, _, err := CreateServiceRequest(q, NewServiceRequest{ID: "r", Number: "SR-1", Queue: "billing", Subject: "s",
		Contact: Contact{Email: "a@b"}, Team: "billing-desk"}, "alice", t0)
	require.NoError(t, err)
	require.Empty(t, sr.Owner, "a request for a team has no owner until someone takes it")

	progress := Action{Kind: ActionProgress, Actor: "bob", ActorGroups: []string{"billing-desk"}}
	_, _, err = ApplyServiceRequest(q, sr, progress, t0)
	requireCode(t, err, CodeForbidden)
	_, _, err = ApplyServiceRequest(q, sr, Action{Kind: ActionTakeOver, Actor: "carl", ActorGroups: []string{"sales"}}, t0)
	requireCode(t, err, CodeForbidden)
	mine, effects, err := ApplyServiceRequest(q, sr, Action{Kind: ActionTakeOver, Actor: "bob", ActorGroups: []string{"billing-desk"}}, t0)
	require.NoError(t, err)
	require.Equal(t, "bob", mine.Owner)
	require.Equal(t, EventOwnerChanged, effects[0].(Emit).Event.Type)
	moved, _, err := ApplyServiceRequest(q, mine, progress, t0)
	require.NoError(t, err)
	require.Equal(t, "investigation", moved.Stage)

	// Others may not; supervisors may do everything, including handing it to someone else.
	_, _, err = ApplyServiceRequest(q, moved, Action{Kind: ActionProgress, Actor: "carl"}, t0)
	requireCode(t, err, CodeForbidden)
	handed, effects, err := ApplyServiceRequest(q, moved, Action{Kind: ActionUpdate, Actor: "sue", ActorRoles: []string{"supervisor"},
		Changes: &Changes{Owner: strp("dora")}}, t0)
	require.NoError(t, err)
	require.Equal(t, "dora", handed.Owner)
	require.Len(t, effects, 1)
	require.Equal(t, map[string]any{"from": "bob", "to": "dora", "teamFrom": "billing-desk", "team": "billing-desk"}, effects[0].(Emit).Event.Details)
}

func TestRelatedRequestsLinkBothWays(t *testing.T) {
	q := billingQueue(t)
	sr := newRequest(t, q)
	linked, effects, err := ApplyServiceRequest(q, sr, Action{Kind: ActionUpdate, Actor: "alice", Changes: &Changes{Related: &[]string{"r2", "r3"}}}, t0)
	require.NoError(t, err)
	require.Equal(t, []string{"r2", "r3"}, linked.Related)
	require.Contains(t, effects, Effect(Relate{Other: "r2", Self: "r1"}))
	require.Contains(t, effects, Effect(Relate{Other: "r3", Self: "r1"}))
	unlinked, effects, err := ApplyServiceRequest(q, linked, Action{Kind: ActionUpdate, Actor: "alice", Changes: &Changes{Related: &[]string{"r3"}}}, t0)
	require.NoError(t, err)
	require.Equal(t, []string{"r3"}, unlinked.Related)
	require.Contains(t, effects, Effect(Relate{Other: "r2", Self: "r1", Remove: true}))
	_, _, err = ApplyServiceRequest(q, sr, Action{Kind: ActionUpdate, Actor: "alice", Changes: &Changes{Related: &[]string{"r1"}}}, t0)
	requireCode(t, err, CodeInvalid)

	// The other side: the link arrives from r9's workflow; applying it twice changes nothing.
	back, _, err := ApplyServiceRequest(q, sr, Action{Kind: ActionRelate, Actor: "system", RelatedID: "r9"}, t0)
	require.NoError(t, err)
	require.Equal(t, []string{"r9"}, back.Related)
	again, effects, err := ApplyServiceRequest(q, back, Action{Kind: ActionRelate, Actor: "system", RelatedID: "r9"}, t0)
	require.NoError(t, err)
	require.Empty(t, effects)
	require.Equal(t, back.Revision, again.Revision)
}
