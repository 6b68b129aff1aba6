package process

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const approvalQueue = `apiVersion: fieldflow/v1
kind: ServiceRequestQueue
key: refunds
stages:
  - {id: new, state: new}
  - id: proposal
    state: in_progress
    approval:
      approvers: [{role: supervisor}, {user: bob}, {contact: true}]
      mode: quorum:2
      timeout: 2d
      onTimeout: %s
  - {id: payout, state: in_progress}
  - {id: closed, state: closed}
`

func approvalRequest(t *testing.T, onTimeout string) (*Queue, ServiceRequest) {
	t.Helper()
	c, err := Load(map[string][]byte{"q.yaml": []byte(sprintf(approvalQueue, onTimeout))})
	require.NoError(t, err)
	q, _ := c.Queue("refunds")
	sr, _, err := CreateServiceRequest(q, NewServiceRequest{ID: "r", Number: "SR-1", Queue: "refunds", Subject: "s", Contact: Contact{Email: "a@b"}}, "alice", t0)
	require.NoError(t, err)
	sr, _, err = ApplyServiceRequest(q, sr, Action{Kind: ActionProgress, Actor: "alice"}, t0)
	require.NoError(t, err)
	require.Equal(t, "proposal", sr.Stage)
	return q, sr
}

func TestApprovalGatesLeavingAStage(t *testing.T) {
	q, sr := approvalRequest(t, "reject")
	at := t0.Add(time.Hour)
	next, effects, err := ApplyServiceRequest(q, sr, Action{Kind: ActionProgress, Actor: "alice"}, at)
	require.NoError(t, err)
	require.Equal(t, "proposal", next.Stage, "the move waits for the approval")
	require.Len(t, next.Approvals, 1)
	ap := next.Approvals[0]
	require.Equal(t, "pending", ap.Status)
	require.Equal(t, 2, ap.Needed)
	require.Equal(t, at.Add(48*time.Hour), ap.DueAt)
	require.Equal(t, EventApprovalRequested, effects[0].(Emit).Event.Type)
	require.Contains(t, ServiceRequestTimers(q, next), Timer{ID: "approval:" + ap.ID, At: ap.DueAt})

	_, _, err = ApplyServiceRequest(q, next, Action{Kind: ActionProgress, Actor: "alice"}, at)
	requireCode(t, err, CodeNotAllowed)
	_, _, err = ApplyServiceRequest(q, next, Action{Kind: ActionDecide, Actor: "alice", ApprovalID: ap.ID, Decision: "approve"}, at)
	requireCode(t, err, CodeNotAllowed) // alice is no approver
	_, _, err = ApplyServiceRequest(q, next, Action{Kind: ActionDecide, Actor: "bob", ApprovalID: "nope", Decision: "approve"}, at)
	requireCode(t, err, CodeNotFound)
	_, _, err = ApplyServiceRequest(q, next, Action{Kind: ActionDecide, Actor: "bob", ApprovalID: ap.ID, Decision: "maybe"}, at)
	requireCode(t, err, CodeInvalid)

	one, _, err := ApplyServiceRequest(q, next, Action{Kind: ActionDecide, Actor: "bob", ApprovalID: ap.ID, Decision: "approve"}, at)
	require.NoError(t, err)
	require.Equal(t, "proposal", one.Stage, "one approval of two")
	_, _, err = ApplyServiceRequest(q, one, Action{Kind: ActionDecide, Actor: "bob", ApprovalID: ap.ID, Decision: "approve"}, at)
	requireCode(t, err, CodeNotAllowed) // bob has decided already

	// The contact approves through the signed link: the quorum is reached and the request moves.
	two, effects, err := ApplyServiceRequest(q, one, Action{Kind: ActionDecide, Actor: "contact", ViaLink: true, ApprovalID: ap.ID, Decision: "approve", Comment: "ok"}, at)
	require.NoError(t, err)
	require.Equal(t, "payout", two.Stage)
	require.Equal(t, "approved", two.Approvals[0].Status)
	var types []EventType
	for _, e := range effects {
		types = append(types, e.(Emit).Event.Type)
	}
	require.Equal(t, []EventType{EventApprovalDecided, EventApprovalApproved, EventStageChanged}, types)
	require.Empty(t, ServiceRequestTimers(q, two))
}

func TestApprovalRejectionAndTimeout(t *testing.T) {
	q, sr := approvalRequest(t, "approve")
	sr, _, err := ApplyServiceRequest(q, sr, Action{Kind: ActionProgress, Actor: "alice"}, t0)
	require.NoError(t, err)
	id := sr.Approvals[0].ID
	// A supervisor says no; two approvals are still possible (bob and the contact), so the
	// approval stays open. When bob says no too, it is rejected.
	no, _, err := ApplyServiceRequest(q, sr, Action{Kind: ActionDecide, Actor: "sue", ActorRoles: []string{"supervisor"}, ApprovalID: id, Decision: "reject"}, t0)
	require.NoError(t, err)
	require.Equal(t, "pending", no.Approvals[0].Status)
	no2, _, err := ApplyServiceRequest(q, no, Action{Kind: ActionDecide, Actor: "bob", ApprovalID: id, Decision: "reject"}, t0)
	require.NoError(t, err)
	require.Equal(t, "rejected", no2.Approvals[0].Status)
	require.Equal(t, "proposal", no2.Stage)
	// After a rejection, a new progress asks again.
	again, _, err := ApplyServiceRequest(q, no2, Action{Kind: ActionProgress, Actor: "alice"}, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, again.Approvals, 2)

	// Nobody decides: onTimeout approve moves the request when the timer fires, and not before.
	early, effects, err := ApplyServiceRequest(q, again, Action{Kind: ActionTimer, TimerID: "approval:" + again.Approvals[1].ID}, t0.Add(2*time.Hour))
	require.NoError(t, err)
	require.Empty(t, effects, "a timer that is not due yet is stale")
	require.Equal(t, "proposal", early.Stage)
	late, _, err := ApplyServiceRequest(q, again, Action{Kind: ActionTimer, TimerID: "approval:" + again.Approvals[1].ID}, again.Approvals[1].DueAt)
	require.NoError(t, err)
	require.Equal(t, "payout", late.Stage)
	require.Equal(t, "approved", late.Approvals[1].Status)
}

func TestRegressCancelsAPendingApproval(t *testing.T) {
	q, sr := approvalRequest(t, "reject")
	sr, _, err := ApplyServiceRequest(q, sr, Action{Kind: ActionProgress, Actor: "alice"}, t0)
	require.NoError(t, err)
	back, _, err := ApplyServiceRequest(q, sr, Action{Kind: ActionRegress, Actor: "alice", Reason: "wrong amount"}, t0)
	require.NoError(t, err)
	require.Equal(t, "cancelled", back.Approvals[0].Status)
	require.Empty(t, ServiceRequestTimers(q, back))
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

func TestApprovalWhoseConditionFailsIsAskedFor(t *testing.T) {
	text := strings.Replace(sprintf(approvalQueue, "reject"), "    approval:\n", "    approval:\n      when: '= request.tags[3] == \"vip\"'\n", 1)
	c, err := Load(map[string][]byte{"q.yaml": []byte(text)})
	require.NoError(t, err)
	q, _ := c.Queue("refunds")
	sr, _, err := CreateServiceRequest(q, NewServiceRequest{ID: "r", Number: "SR-1", Queue: "refunds", Subject: "s", Contact: Contact{Email: "a@b"}}, "alice", t0)
	require.NoError(t, err)
	sr, _, err = ApplyServiceRequest(q, sr, Action{Kind: ActionProgress, Actor: "alice"}, t0)
	require.NoError(t, err)
	next, effects, err := ApplyServiceRequest(q, sr, Action{Kind: ActionProgress, Actor: "alice"}, t0)
	require.NoError(t, err)
	require.Equal(t, "proposal", next.Stage, "the approval fails closed")
	require.Len(t, next.Approvals, 1)
	require.Equal(t, EventExpressionFailed, effects[0].(Emit).Event.Type)
	require.Equal(t, EventApprovalRequested, effects[1].(Emit).Event.Type)
}

// TestApprovalMailsTheContactItsLink: an approval with the contact among its approvers sends the
// contact a message carrying the approval (the worker signs the link into it); without an email
// address, or with only staff approvers, nothing is sent.
func TestApprovalMailsTheContactItsLink(t *testing.T) {
	q, sr := approvalRequest(t, "reject")
	next, effects, err := ApplyServiceRequest(q, sr, Action{Kind: ActionProgress, Actor: "alice"}, t0)
	require.NoError(t, err)
	id := next.Approvals[0].ID
	var asks []Notify
	for _, e := range effects {
		if n, ok := e.(Notify); ok {
			asks = append(asks, n)
		}
	}
	require.Equal(t, []Notify{{EffectID: "ask-contact:" + id, Recipients: []string{"contact"}, Channels: []string{"email"}, Approval: id}}, asks)

	sr.Contact.Email = ""
	_, effects, err = ApplyServiceRequest(q, sr, Action{Kind: ActionProgress, Actor: "alice"}, t0)
	require.NoError(t, err)
	for _, e := range effects {
		require.IsType(t, Emit{}, e, "no address, no message")
	}

	staffOnly := strings.Replace(sprintf(approvalQueue, "reject"), ", {contact: true}]", "]", 1)
	c, err := Load(map[string][]byte{"q.yaml": []byte(staffOnly)})
	require.NoError(t, err)
	q2, _ := c.Queue("refunds")
	sr2, _, err := CreateServiceRequest(q2, NewServiceRequest{ID: "r", Number: "SR-1", Queue: "refunds", Subject: "s", Contact: Contact{Email: "a@b"}}, "alice", t0)
	require.NoError(t, err)
	sr2, _, err = ApplyServiceRequest(q2, sr2, Action{Kind: ActionProgress, Actor: "alice"}, t0)
	require.NoError(t, err)
	asked, effects, err := ApplyServiceRequest(q2, sr2, Action{Kind: ActionProgress, Actor: "alice"}, t0)
	require.NoError(t, err)
	require.Len(t, asked.Approvals, 1)
	for _, e := range effects {
		require.IsType(t, Emit{}, e, "the contact is no approver")
	}
}

func TestApprovalTemplateNeedsTheContact(t *testing.T) {
	staffOnly := strings.Replace(sprintf(approvalQueue, "reject"), ", {contact: true}]", "]\n      template: sr-alert", 1)
	_, err := Load(map[string][]byte{"q.yaml": []byte(staffOnly), "t.yaml": []byte(`apiVersion: fieldflow/v1
kind: MessageTemplate
key: sr-alert
subject: s
body: b
`)})
	require.Equal(t, []string{"q.yaml:10:17: the template is the contact's message with the approval link; add {contact: true} to the approvers or remove it"}, problemsOf(t, err))
}
