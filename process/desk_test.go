package process

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func fp(v float64) *float64 { return &v }

func TestNotes(t *testing.T) {
	q := billingQueue(t)
	sr := newRequest(t, q) // owned by alice
	add := func(sr ServiceRequest, actor, text string, pinned bool, at time.Time) ServiceRequest {
		t.Helper()
		next, _, err := ApplyServiceRequest(q, sr, Action{Kind: ActionAddNote, Actor: actor, NoteInput: &NoteInput{Text: strp(text), Pinned: &pinned}}, at)
		require.NoError(t, err)
		return next
	}
	sr = add(sr, "alice", "called the customer", false, t0)
	sr = add(sr, "alice", "refund approved by finance", true, t0.Add(time.Minute))
	sr = add(sr, "alice", "waiting for the bank", false, t0.Add(2*time.Minute))
	require.Equal(t, []string{"refund approved by finance", "waiting for the bank", "called the customer"},
		[]string{sr.Notes[0].Text, sr.Notes[1].Text, sr.Notes[2].Text}, "pinned first, then newest first")

	_, _, err := ApplyServiceRequest(q, sr, Action{Kind: ActionAddNote, Actor: "carl", NoteInput: &NoteInput{Text: strp("x")}}, t0)
	requireCode(t, err, CodeForbidden) // neither owner nor team
	oldest := sr.Notes[2].ID
	_, _, err = ApplyServiceRequest(q, sr, Action{Kind: ActionDeleteNote, Actor: "alice", NoteInput: &NoteInput{ID: oldest}}, t0)
	requireCode(t, err, CodeNotAllowed) // only the latest note
	latest := sr.Notes[1].ID
	_, _, err = ApplyServiceRequest(q, sr, Action{Kind: ActionDeleteNote, Actor: "sue", ActorRoles: []string{"supervisor"}, NoteInput: &NoteInput{ID: latest}}, t0)
	requireCode(t, err, CodeForbidden) // only by its author
	deleted, effects, err := ApplyServiceRequest(q, sr, Action{Kind: ActionDeleteNote, Actor: "alice", NoteInput: &NoteInput{ID: latest}}, t0)
	require.NoError(t, err)
	require.Len(t, deleted.Notes, 2)
	require.Equal(t, EventNoteDeleted, effects[0].(Emit).Event.Type)

	unpinned, effects, err := ApplyServiceRequest(q, deleted, Action{Kind: ActionUpdateNote, Actor: "alice", NoteInput: &NoteInput{ID: deleted.Notes[0].ID, Pinned: new(bool)}}, t0)
	require.NoError(t, err)
	require.False(t, unpinned.Notes[0].Pinned || unpinned.Notes[1].Pinned)
	require.Equal(t, EventNoteUpdated, effects[0].(Emit).Event.Type)
}

func TestChargesAndTheInvoice(t *testing.T) {
	q := billingQueue(t)
	sr := newRequest(t, q)
	_, _, err := ApplyServiceRequest(q, sr, Action{Kind: ActionAddCharge, Actor: "alice", Charge: &ChargeInput{Kind: "fee", Quantity: fp(-1)}}, t0)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Len(t, e.Fields, 4) // kind, description, quantity, unitPrice
	sr, _, err = ApplyServiceRequest(q, sr, Action{Kind: ActionAddCharge, Actor: "alice", Charge: &ChargeInput{Kind: ChargeService,
		Description: strp("Refund handling"), UnitPrice: fp(25)}}, t0)
	require.NoError(t, err)
	sr, _, err = ApplyServiceRequest(q, sr, Action{Kind: ActionAddCharge, Actor: "alice", Charge: &ChargeInput{Kind: ChargeProduct,
		Description: strp("Router"), Quantity: fp(2), UnitPrice: fp(49.995)}}, t0)
	require.NoError(t, err)
	require.Equal(t, 99.99, sr.Charges[1].Amount)
	sr, _, err = ApplyServiceRequest(q, sr, Action{Kind: ActionUpdateCharge, Actor: "alice", Charge: &ChargeInput{ID: sr.Charges[0].ID, UnitPrice: fp(30)}}, t0)
	require.NoError(t, err)
	require.Equal(t, 129.99, chargesTotal(sr.Charges))

	// The proposal approval of billing applies above 100: the charges make it ask.
	view := srView(q, sr, Event{At: t0})
	require.Equal(t, ChargesView{Total: 129.99, Count: 2}, view.Request.Charges)

	unresolved, effects, err := ApplyServiceRequest(q, sr, Action{Kind: ActionClose, Actor: "alice", Resolved: boolp(false)}, t0)
	require.NoError(t, err)
	for _, e := range effects {
		_, isInvoice := e.(IssueInvoice)
		require.False(t, isInvoice, "closing unresolved bills nothing")
	}
	_, _, err = ApplyServiceRequest(q, unresolved, Action{Kind: ActionAddCharge, Actor: "alice", Charge: &ChargeInput{Kind: ChargeService, Description: strp("x"), UnitPrice: fp(1)}}, t0)
	requireCode(t, err, CodeNotAllowed) // charges are frozen once closed

	closed, effects, err := ApplyServiceRequest(q, sr, Action{Kind: ActionClose, Actor: "alice", Resolved: boolp(true)}, t0)
	require.NoError(t, err)
	var inv IssueInvoice
	for _, e := range effects {
		if i, ok := e.(IssueInvoice); ok {
			inv = i
		}
	}
	require.Equal(t, "invoice:r1", inv.EffectID)
	require.Equal(t, 129.99, inv.Total)
	require.Len(t, inv.Charges, 2)
	billed, effects, err := ApplyServiceRequest(q, closed, Action{Kind: ActionEffectDone, EffectID: inv.EffectID, EffectKind: "invoice",
		Result: map[string]string{"number": "INV-2026-000001"}}, t0)
	require.NoError(t, err)
	require.Equal(t, &Invoice{Number: "INV-2026-000001", Total: 129.99, Lines: 2, IssuedAt: t0}, billed.Invoice)
	require.Equal(t, EventInvoiceIssued, effects[0].(Emit).Event.Type)
}

func TestActivities(t *testing.T) {
	q := billingQueue(t)
	sr := newRequest(t, q)
	due := t0.Add(24 * time.Hour)
	_, _, err := ApplyServiceRequest(q, sr, Action{Kind: ActionAddActivity, Actor: "alice", Task: &TaskInput{Title: "Call the bank"}}, t0)
	requireCode(t, err, CodeInvalid)
	sr, _, err = ApplyServiceRequest(q, sr, Action{Kind: ActionAddActivity, Actor: "alice", Task: &TaskInput{Title: "Call the bank", Team: "finance", Due: &due}}, t0)
	require.NoError(t, err)
	task := sr.Activities[0]
	require.Equal(t, "open", task.Status)
	_, _, err = ApplyServiceRequest(q, sr, Action{Kind: ActionCompleteTask, Actor: "carl", Task: &TaskInput{ID: task.ID}}, t0)
	requireCode(t, err, CodeForbidden)
	done, _, err := ApplyServiceRequest(q, sr, Action{Kind: ActionCompleteTask, Actor: "fay", ActorGroups: []string{"finance"}, Task: &TaskInput{ID: task.ID}}, t0)
	require.NoError(t, err)
	require.Equal(t, "done", done.Activities[0].Status)
	require.Equal(t, "fay", done.Activities[0].DoneBy)
	require.Equal(t, "open", sr.Activities[0].Status, "Apply does not change its input")
}

func TestAutomationsOpenActivitiesAndApprovals(t *testing.T) {
	files := shippedFiles(t)
	files["service-requests/vip.yaml"] = []byte(`apiVersion: fieldflow/v1
kind: ServiceRequestQueue
key: vip
calendar: office
stages:
  - {id: new, state: new}
  - {id: closed, state: closed}
automations:
  - on: created
    when: '= "vip" in request.tags'
    do:
      - activity: {title: Call the customer back, to: owner, due: 2bh}
      - approval: {approvers: [{contact: true}], timeout: 1d, onTimeout: approve}
`)
	c, err := Load(files)
	require.NoError(t, err)
	q, _ := c.Queue("vip")
	sr, _, err := CreateServiceRequest(q, NewServiceRequest{ID: "r", Queue: "vip", Subject: "s", Contact: Contact{Email: "a@b"}, Tags: []string{"vip"}}, "alice", t0)
	require.NoError(t, err)
	require.Len(t, sr.Activities, 1)
	task := sr.Activities[0]
	require.Equal(t, "alice", task.User)
	require.True(t, task.Automated)
	require.Equal(t, t0.Add(2*time.Hour), *task.Due) // Monday 11:00 in Nicosia + 2 business hours
	require.Len(t, sr.Approvals, 1)
	require.Contains(t, ServiceRequestTimers(q, sr), Timer{ID: "approval:" + sr.Approvals[0].ID, At: t0.Add(24 * time.Hour)})

	plain, _, err := CreateServiceRequest(q, NewServiceRequest{ID: "r2", Queue: "vip", Subject: "s", Contact: Contact{Email: "a@b"}}, "alice", t0)
	require.NoError(t, err)
	require.Empty(t, plain.Activities)
}
