package process

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// flowType builds a work-order type from nodes written in YAML, on the office calendar.
func flowType(t *testing.T, nodes string) *WorkOrderType {
	t.Helper()
	files := shippedFiles(t)
	files["work-orders/flow.yaml"] = []byte(`apiVersion: fieldflow/v1
kind: WorkOrderType
key: flow
calendar: office
stages:
  - {id: new, state: new}
  - {id: work, state: in_progress}
  - {id: closed, state: closed}
nodes:
` + nodes)
	c, err := Load(files)
	require.NoError(t, err)
	w, _ := c.WorkOrderType("flow")
	return w
}

func startFlow(t *testing.T, w *WorkOrderType, at time.Time) (WorkOrder, []Effect) {
	t.Helper()
	wo, effects, err := CreateWorkOrder(w, NewWorkOrder{ID: "o", Number: "WO-1", RecordType: "flow", Subject: "s", Channel: "agent"}, "alice", at)
	require.NoError(t, err)
	return wo, effects
}

func TestDecisionSeesTheRunsTime(t *testing.T) {
	w := flowType(t, `  - id: route
    type: decision
    cases: [{when: "= now.Hour() >= 17 || now.Weekday().String() in ['Saturday', 'Sunday']", next: after-hours}]
    default: office-hours
  - {id: office-hours, type: stage, stage: work, next: done}
  - {id: after-hours, type: timer, duration: 1h, next: done}
  - {id: done, type: end}
`)
	// 16:00 UTC is 18:00 in Nicosia: after hours.
	wo, _ := startFlow(t, w, time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC))
	require.Equal(t, "after-hours", wo.Node)
	require.NotNil(t, wo.WakeAt)
	require.Equal(t, []Timer{{ID: "wake:after-hours", At: *wo.WakeAt}}, WorkOrderTimers(w, wo))
	done, _, err := ApplyWorkOrder(w, wo, Action{Kind: ActionTimer, TimerID: "wake:after-hours"}, *wo.WakeAt)
	require.NoError(t, err)
	require.Equal(t, StateClosed, done.State)

	wo, _ = startFlow(t, w, time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC))
	require.Equal(t, "office-hours", wo.Node)
	require.Equal(t, "work", wo.Stage)
	_, _, err = ApplyWorkOrder(w, wo, Action{Kind: ActionAccept, Actor: "x"}, t0)
	requireCode(t, err, CodeNotAllowed)
	done, _, err = ApplyWorkOrder(w, wo, Action{Kind: ActionProgress, Actor: "bob"}, t0)
	require.NoError(t, err)
	require.Equal(t, StateClosed, done.State)
	require.True(t, *done.Resolved)
}

func TestEffectNodesWaitForTheirOutcome(t *testing.T) {
	w := flowType(t, `  - {id: tell, type: notify, template: wo-visit, to: [contact]}
  - {id: call, type: webhook, url: "= 'https://erp.example/orders/' + order.number"}
  - {id: done, type: end}
`)
	wo, effects := startFlow(t, w, t0)
	require.Equal(t, "tell", wo.Node)
	var notify Notify
	for _, e := range effects {
		if n, ok := e.(Notify); ok {
			notify = n
		}
	}
	require.Equal(t, "wo-visit", notify.Template)
	require.Equal(t, notify.EffectID, wo.Waiting)

	// An outcome for another effect changes nothing; the awaited one moves the order on, even
	// when it failed (the failure is in the history).
	same, _, err := ApplyWorkOrder(w, wo, Action{Kind: ActionEffectDone, EffectID: "other", EffectKind: "notify"}, t0)
	require.NoError(t, err)
	require.Equal(t, "tell", same.Node)
	next, effects, err := ApplyWorkOrder(w, wo, Action{Kind: ActionEffectDone, EffectID: notify.EffectID, EffectKind: "notify", Error: "smtp down"}, t0)
	require.NoError(t, err)
	require.Equal(t, "call", next.Node)
	require.Equal(t, EventNotificationFailed, effects[0].(Emit).Event.Type)
	var hook CallWebhook
	for _, e := range effects {
		if h, ok := e.(CallWebhook); ok {
			hook = h
		}
	}
	require.Equal(t, "https://erp.example/orders/WO-1", hook.URL)
	closed, _, err := ApplyWorkOrder(w, next, Action{Kind: ActionEffectDone, EffectID: hook.EffectID, EffectKind: "webhook"}, t0)
	require.NoError(t, err)
	require.Equal(t, StateClosed, closed.State)
}

func TestApprovalNodeRejectedGoesToOnReject(t *testing.T) {
	w := flowType(t, `  - {id: ok, type: approval, approvers: [{role: supervisor}], timeout: 1d, onTimeout: reject, onReject: refused}
  - {id: done, type: end}
  - {id: refused, type: end, resolved: false}
`)
	wo, _ := startFlow(t, w, t0)
	id := wo.Approvals[0].ID
	no, _, err := ApplyWorkOrder(w, wo, Action{Kind: ActionDecide, Actor: "sue", ActorRoles: []string{"supervisor"}, ApprovalID: id, Decision: "reject"}, t0)
	require.NoError(t, err)
	require.Equal(t, StateClosed, no.State)
	require.False(t, *no.Resolved)
	timedOut, _, err := ApplyWorkOrder(w, wo, Action{Kind: ActionTimer, TimerID: "approval:" + id}, wo.Approvals[0].DueAt)
	require.NoError(t, err)
	require.Equal(t, "refused", timedOut.Node)
}

func TestOffersRunOutAndEscalate(t *testing.T) {
	w := flowType(t, `  - {id: dispatch, type: assignment, path: [dispatcher, engineer]}
  - {id: accept, type: acceptance, timeout: 30m, onDecline: dispatch, onTimeout: dispatch, maxOffers: 2, onExhausted: {escalate: supervisor}}
  - {id: done, type: end}
`)
	wo, _ := startFlow(t, w, t0)
	at := t0
	for i, engineer := range []string{"eve", "frank"} {
		var err error
		wo, _, err = ApplyWorkOrder(w, wo, Action{Kind: ActionAssign, Actor: "dan", Engineer: engineer}, at)
		require.NoError(t, err)
		require.Equal(t, "accept", wo.Node, "offer %d", i+1)
		wo, _, err = ApplyWorkOrder(w, wo, Action{Kind: ActionDecline, Actor: engineer, Reason: "busy"}, at)
		require.NoError(t, err)
		require.Equal(t, "dispatch", wo.Node)
		at = at.Add(time.Minute)
	}
	// The second offer was the last one: back at dispatch, the supervisors are alerted.
	require.Equal(t, "supervisor", wo.Escalated)
	require.Empty(t, wo.Engineer)
	require.Zero(t, wo.Offers)
	// Their assignment starts a new round of offers.
	wo, _, err := ApplyWorkOrder(w, wo, Action{Kind: ActionAssign, Actor: "sue", Engineer: "gus"}, at)
	require.NoError(t, err)
	require.Equal(t, "gus", wo.Offer.Engineer)
	require.Empty(t, wo.Escalated)
}

func TestChecklistStepsThatDoNotApply(t *testing.T) {
	w := flowType(t, `  - id: sop
    type: checklist
    steps:
      - {id: inspect, title: Inspect, required: true}
      - {id: replace, title: Replace, laborTime: true, when: '= steps.inspect.result == "worn"'}
  - {id: done, type: end}
`)
	for _, tc := range []struct {
		result string
		open   bool
	}{{"worn", true}, {"fine", false}} {
		t.Run(tc.result, func(t *testing.T) {
			wo, _ := startFlow(t, w, t0)
			wo, _, err := ApplyWorkOrder(w, wo, Action{Kind: ActionCompleteStep, Actor: "eve", StepID: "inspect", StepResult: tc.result}, t0)
			require.NoError(t, err)
			require.Equal(t, tc.open, wo.State != StateClosed, fmt.Sprintf("replace applies only to worn units (%s)", tc.result))
		})
	}
}
