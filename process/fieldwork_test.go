package process

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func apply(t *testing.T, w *WorkOrderType, wo WorkOrder, a Action, at time.Time) (WorkOrder, []Effect) {
	t.Helper()
	out, effects, err := ApplyWorkOrder(w, wo, a, at)
	require.NoError(t, err)
	return out, effects
}

func effectOf[E Effect](effects []Effect) (E, bool) {
	for _, e := range effects {
		if x, ok := e.(E); ok {
			return x, true
		}
	}
	var zero E
	return zero, false
}

const poolFlow = `  - {id: dispatch, type: assignment, group: hvac, strategy: pool}
  - {id: accept, type: acceptance, timeout: 30m, onDecline: dispatch, onTimeout: dispatch}
  - {id: work, type: stage, stage: work}
  - {id: done, type: end}
`

func TestClaimFromThePoolIsAcceptance(t *testing.T) {
	w := flowType(t, poolFlow)
	wo, _ := startFlow(t, w, t0)
	require.Equal(t, "dispatch", wo.Node)
	require.Equal(t, "hvac", wo.Group)

	_, _, err := ApplyWorkOrder(w, wo, Action{Kind: ActionClaim, Actor: "olga", ActorGroups: []string{"plumbing"}}, t0)
	requireCode(t, err, CodeForbidden)

	won, _ := apply(t, w, wo, Action{Kind: ActionClaim, Actor: "eve", ActorGroups: []string{"hvac"}}, t0)
	require.Equal(t, "work", won.Node, "claiming skips the offer: the claimer has accepted")
	require.Equal(t, "eve", won.Engineer)
	require.Nil(t, won.Offer)

	// A second claim on the claimed order is refused: the order has left the pool.
	_, _, err = ApplyWorkOrder(w, won, Action{Kind: ActionClaim, Actor: "frank", ActorGroups: []string{"hvac"}}, t0)
	requireCode(t, err, CodeNotAllowed)
}

func TestStrategyPicksAndPoolsWhenNobodyIsFree(t *testing.T) {
	w := flowType(t, `  - {id: dispatch, type: assignment, group: hvac, strategy: round_robin}
  - {id: accept, type: acceptance, timeout: 30m, onDecline: dispatch, onTimeout: dispatch}
  - {id: done, type: end}
`)
	wo, effects := startFlow(t, w, t0)
	pick, ok := effectOf[PickEngineer](effects)
	require.True(t, ok)
	require.Equal(t, PickEngineer{EffectID: pick.EffectID, Group: "hvac", Strategy: StrategyRoundRobin}, pick)
	require.Equal(t, pick.EffectID, wo.Waiting)

	// While the strategy picks, a dispatcher waits.
	_, _, err := ApplyWorkOrder(w, wo, Action{Kind: ActionAssign, Actor: "dan", Engineer: "gus"}, t0)
	requireCode(t, err, CodeNotAllowed)

	offered, _ := apply(t, w, wo, Action{Kind: ActionEffectDone, EffectKind: "pick", EffectID: pick.EffectID, Result: map[string]string{"engineer": "eve"}}, t0)
	require.Equal(t, "accept", offered.Node)
	require.Equal(t, "eve", offered.Offer.Engineer)

	// Eve declines: the strategy is asked again; if it comes back with eve, the order stays in the
	// pool instead of being offered to her twice.
	declined, effects := apply(t, w, offered, Action{Kind: ActionDecline, Actor: "eve", Reason: "off sick"}, t0)
	require.Equal(t, []string{"eve"}, declined.Declined)
	again, ok := effectOf[PickEngineer](effects)
	require.True(t, ok)
	pooled, effects := apply(t, w, declined, Action{Kind: ActionEffectDone, EffectKind: "pick", EffectID: again.EffectID, Result: map[string]string{"engineer": "eve"}}, t0)
	require.Equal(t, "dispatch", pooled.Node)
	require.Empty(t, pooled.Engineer)
	require.Empty(t, pooled.Waiting)
	events := Emitted(effects)
	require.Len(t, events, 1)
	require.Equal(t, EventPooled, events[0].Type)
	require.Contains(t, events[0].Details["reason"], "already turned this order down")
}

func TestOffersExhaustedAlertTheDispatcherAndStopPicking(t *testing.T) {
	w := flowType(t, `  - {id: dispatch, type: assignment, group: hvac, strategy: least_loaded}
  - {id: accept, type: acceptance, timeout: 30m, onDecline: dispatch, onTimeout: dispatch, maxOffers: 1}
  - {id: done, type: end}
`)
	wo, effects := startFlow(t, w, t0)
	pick, _ := effectOf[PickEngineer](effects)
	wo, _ = apply(t, w, wo, Action{Kind: ActionEffectDone, EffectKind: "pick", EffectID: pick.EffectID, Result: map[string]string{"engineer": "eve"}}, t0)
	// The offer times out: one offer was all the node allows.
	wo, _ = apply(t, w, wo, Action{Kind: ActionTimer, TimerID: "offer:accept:1"}, wo.Offer.ExpiresAt)
	require.Equal(t, "dispatch", wo.Node)
	require.Empty(t, wo.Waiting, "no strategy picks once the dispatcher is alerted")
	require.Equal(t, "dispatcher", wo.Escalated)
	// The dispatcher's assignment starts a new round of offers and ends the alert.
	wo, _ = apply(t, w, wo, Action{Kind: ActionAssign, Actor: "dan", Engineer: "gus"}, t0.Add(time.Hour))
	require.Empty(t, wo.Escalated)
	require.Equal(t, "gus", wo.Offer.Engineer)
}

func TestChecklistOrderTimerPhotoAndLabor(t *testing.T) {
	w := flowType(t, `  - id: sop
    type: checklist
    stage: work
    steps:
      - {id: arrive, title: Arrive}
      - {id: diagnose, title: Diagnose, laborTime: true, required: true}
      - {id: repair, title: Repair, laborTime: true, when: '= steps.diagnose.result != "no-fault"'}
      - {id: photo, title: Photo, attachment: true, required: true}
      - {id: tidy, title: Tidy up}
  - {id: done, type: end}
`)
	wo, _ := startFlow(t, w, t0)
	step := func(wo WorkOrder, id string, minutes int, at time.Time) (WorkOrder, error) {
		out, _, err := ApplyWorkOrder(w, wo, Action{Kind: ActionCompleteStep, Actor: "eve", StepID: id, LaborMinutes: minutes, StepResult: "worn"}, at)
		return out, err
	}
	_, err := step(wo, "photo", 0, t0)
	requireCode(t, err, CodeNotAllowed) // diagnose (required) comes first

	// Diagnose with the timer: 25 minutes and 10 seconds count as 26 minutes.
	wo, _ = apply(t, w, wo, Action{Kind: ActionStartStep, Actor: "eve", StepID: "diagnose"}, t0)
	_, _, err = ApplyWorkOrder(w, wo, Action{Kind: ActionStartStep, Actor: "eve", StepID: "diagnose"}, t0)
	requireCode(t, err, CodeNotAllowed)
	wo, _ = apply(t, w, wo, Action{Kind: ActionStopStep, Actor: "eve", StepID: "diagnose"}, t0.Add(20*time.Minute))
	wo, _ = apply(t, w, wo, Action{Kind: ActionStartStep, Actor: "eve", StepID: "diagnose"}, t0.Add(30*time.Minute))
	wo, err = step(wo, "diagnose", 0, t0.Add(35*time.Minute+10*time.Second))
	require.NoError(t, err)
	require.Equal(t, 26, wo.Steps[0].LaborMinutes)
	require.Empty(t, wo.StepTimers)

	// arrive was passed: steps go in order.
	_, err = step(wo, "arrive", 0, t0)
	requireCode(t, err, CodeNotAllowed)
	_, err = step(wo, "repair", 0, t0)
	requireCode(t, err, CodeInvalid) // labor time is required
	wo, err = step(wo, "repair", 40, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, 66, wo.LaborMinutes)

	_, err = step(wo, "photo", 0, t0)
	requireCode(t, err, CodeNotAllowed) // no photo yet
	_, _, err = ApplyWorkOrder(w, wo, Action{Kind: ActionAddAttachment, Actor: "eve", Attachment: &Attachment{ID: "f1", Name: "a.jpg", Size: 3, Step: "nope"}}, t0)
	requireCode(t, err, CodeInvalid)
	wo, _ = apply(t, w, wo, Action{Kind: ActionAddAttachment, Actor: "eve", Attachment: &Attachment{ID: "f1", Name: "a.jpg", Size: 3, Step: "photo"}}, t0)
	wo, err = step(wo, "photo", 0, t0.Add(2*time.Hour))
	require.NoError(t, err)
	require.Equal(t, "sop", wo.Node, "tidy is still open after the last required step")
	wo, err = step(wo, "tidy", 0, t0.Add(2*time.Hour))
	require.NoError(t, err)
	require.Equal(t, StateClosed, wo.State)
	require.Equal(t, 66, wo.LaborMinutes)
}

func TestLastRequiredStepMovesOnWhenNothingFollows(t *testing.T) {
	w := flowType(t, `  - id: sop
    type: checklist
    steps:
      - {id: look, title: Look}
      - {id: fix, title: Fix, required: true}
  - {id: done, type: end}
`)
	wo, _ := startFlow(t, w, t0)
	wo, _ = apply(t, w, wo, Action{Kind: ActionCompleteStep, Actor: "eve", StepID: "fix"}, t0)
	require.Equal(t, StateClosed, wo.State, "the optional step before was passed")
}

func TestClosedOrderReportsToItsRequest(t *testing.T) {
	w := flowType(t, poolFlow)
	wo, _, err := CreateWorkOrder(w, NewWorkOrder{ID: "o", Number: "WO-1", RecordType: "flow", Subject: "s", Channel: "service-request", Parent: "sr-1"}, "conversion", t0)
	require.NoError(t, err)
	resolved := false
	_, effects := apply(t, w, wo, Action{Kind: ActionClose, Actor: "dan", Resolved: &resolved, Resolution: "customer cancelled"}, t0)
	report, ok := effectOf[ReportToParent](effects)
	require.True(t, ok)
	require.Equal(t, "sr-1", report.Parent)
	require.Equal(t, "o", report.Order.ID)
	require.Equal(t, "unresolved", report.Order.Status)
	require.Equal(t, "customer cancelled", report.Order.Resolution)
}

func TestRequestRecordsItsWorkOrders(t *testing.T) {
	q := billingQueue(t)
	sr := newRequest(t, q)
	sr, _, err := ApplyServiceRequest(q, sr, Action{Kind: ActionEffectDone, EffectKind: "convert", EffectID: "convert:3", Actor: "system",
		Result: map[string]string{"id": "wo-1", "number": "WO-1", "recordType": "repair"}}, t0)
	require.NoError(t, err)
	require.Equal(t, []WorkOrderLink{{ID: "wo-1", Number: "WO-1", RecordType: "repair", Status: "open"}}, sr.WorkOrders)

	closedAt := t0.Add(time.Hour)
	sr, effects, err := ApplyServiceRequest(q, sr, Action{Kind: ActionWorkOrderClosed, Actor: "system",
		WorkOrder: &WorkOrderLink{ID: "wo-1", Number: "WO-1", Status: "resolved", Resolution: "seal replaced", ClosedAt: &closedAt}}, closedAt)
	require.NoError(t, err)
	require.Equal(t, []WorkOrderLink{{ID: "wo-1", Number: "WO-1", RecordType: "repair", Status: "resolved", Resolution: "seal replaced", ClosedAt: &closedAt}}, sr.WorkOrders)
	events := Emitted(effects)
	require.Equal(t, EventWorkOrderClosed, events[len(events)-1].Type)
}

func TestRatingInvitationWorksOnce(t *testing.T) {
	w := flowType(t, `  - id: rate
    type: rating
    scale: five-star
    multiple: true
    autoComplete: 2d
    invite: {channels: [sms, email], priority: true, template: rating-invite}
  - {id: done, type: end}
`)
	wo, effects := startFlow(t, w, t0)
	invite, ok := effectOf[Notify](effects)
	require.True(t, ok)
	require.True(t, invite.Invitation)
	require.Equal(t, wo.Rating.Invitation, invite.EffectID)
	require.Equal(t, wo.Rating.ClosesAt, invite.InvitationExpires, "the link works while the node waits")

	four := 4.0
	rated, _ := apply(t, w, wo, Action{Kind: ActionRate, Actor: "contact", Score: &four, Invitation: invite.EffectID}, t0)
	require.Equal(t, []string{invite.EffectID}, rated.UsedInvitations)
	_, _, err := ApplyWorkOrder(w, rated, Action{Kind: ActionRate, Actor: "contact", Score: &four, Invitation: invite.EffectID}, t0)
	requireCode(t, err, CodeNotAllowed)
	_, _, err = ApplyWorkOrder(w, rated, Action{Kind: ActionRate, Actor: "contact", Score: &four, Invitation: "invite:other:1"}, t0)
	requireCode(t, err, CodeNotAllowed)
	// Staff may still add ratings customers gave them another way (several customers).
	_, _, err = ApplyWorkOrder(w, rated, Action{Kind: ActionRate, Actor: "eve", Score: &four}, t0)
	require.NoError(t, err)
}

func TestFollowUpAgentByRoundRobinAndSurveyAsRating(t *testing.T) {
	w := flowType(t, `  - id: call
    type: follow_up
    agents: {roundRobin: {group: customer-care}}
    template: follow-up-survey
    timeout: 5d
  - {id: done, type: end}
`)
	wo, effects := startFlow(t, w, t0)
	pick, ok := effectOf[PickEngineer](effects)
	require.True(t, ok)
	require.Equal(t, "customer-care", pick.Group)
	wo, _ = apply(t, w, wo, Action{Kind: ActionEffectDone, EffectKind: "pick", EffectID: pick.EffectID, Result: map[string]string{"engineer": "carol"}}, t0)
	require.Equal(t, "carol", wo.FollowUp.Agent)
	require.Equal(t, "call", wo.Node, "the follow-up still waits for the survey")

	three := 3.0
	wo, _ = apply(t, w, wo, Action{Kind: ActionFollowUp, Actor: "carol", Score: &three, OutboundCall: true, Answers: map[string]string{"resolved": "yes"}}, t0)
	require.Equal(t, StateClosed, wo.State)
	require.True(t, wo.FollowUp.OutboundCall)
	require.Equal(t, []RatingRecord{{Node: "call", Kind: "follow_up", Score: 3, Answers: map[string]string{"resolved": "yes"}, Template: "follow-up-survey", By: "carol", At: t0}}, wo.Ratings)
}
