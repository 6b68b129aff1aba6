package process

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// FuzzActions decodes arbitrary JSON into a sequence of actions, as a workflow decodes its updates
// and signals, and applies them to a billing request and to a repair work order from the shipped
// definitions, an hour apart. Whatever arrives: no panic; a refusal is an *Error with a code and a
// message and leaves the record as it was; an accepted action never lowers the revision, and the
// new state survives a JSON round trip unchanged (it is carried through continue-as-new and written
// to the projection).
func FuzzActions(f *testing.F) {
	for _, seed := range []string{
		`[{"kind": "progress", "actor": "alice"}, {"kind": "progress", "actor": "alice"}]`,
		`[{"kind": "regress", "actor": "alice", "reason": "wrong invoice", "toStage": "new"}]`,
		`[{"kind": "close", "actor": "alice", "resolved": true, "resolution": "done"}]`,
		`[{"kind": "add_note", "actor": "alice", "noteInput": {"text": "called", "pinned": true}}, {"kind": "update_note", "actor": "alice", "noteInput": {"id": "n-2", "text": "x"}}, {"kind": "delete_note", "actor": "alice", "noteInput": {"id": "n-2"}}]`,
		`[{"kind": "add_charge", "actor": "alice", "charge": {"kind": "service", "description": "visit", "quantity": 1e308, "unitPrice": 1e308}}]`,
		`[{"kind": "add_charge", "actor": "alice", "charge": {"kind": "product", "description": "refund", "quantity": 2, "unitPrice": 80}}, {"kind": "progress", "actor": "alice"}, {"kind": "progress", "actor": "alice"}, {"kind": "progress", "actor": "alice"}]`,
		`[{"kind": "decide", "actor": "sue", "actorRoles": ["supervisor"], "approvalId": "proposal-5", "decision": "approve"}]`,
		`[{"kind": "add_activity", "actor": "alice", "task": {"title": "call back", "user": "bob"}}, {"kind": "complete_activity", "actor": "bob", "task": {"id": "a-2"}}]`,
		`[{"kind": "update", "actor": "alice", "changes": {"subject": "new", "impact": "high", "tags": ["vip"]}}]`,
		`[{"kind": "timer", "timerId": "sla-alert"}, {"kind": "timer", "timerId": "sla-breach"}]`,
		`[{"kind": "effect_done", "effectId": "auto-2", "effectKind": "webhook", "result": {"status": "200"}}]`,
		`[{"kind": "assign", "actor": "dan", "group": "central-field", "engineer": "erin"}, {"kind": "accept", "actor": "erin"}]`,
		`[{"kind": "decline", "actor": "erin", "reason": "busy"}, {"kind": "transfer", "actor": "erin", "engineer": "eve", "reason": "x"}]`,
		`[{"kind": "start_step", "actor": "erin", "stepId": "diagnose"}, {"kind": "complete_step", "actor": "erin", "stepId": "diagnose", "laborMinutes": 30, "note": "ok"}]`,
		`[{"kind": "rate", "actor": "contact", "score": 5}, {"kind": "skip_rating", "actor": "alice"}, {"kind": "follow_up", "actor": "fay", "answers": {"q": "a"}, "score": 4}]`,
		`[{"kind": "take_over", "actor": "bob"}, {"kind": "claim", "actor": "bob"}, {"kind": "relate", "relatedId": "x"}, {"kind": "email_record", "actor": "a"}]`,
		`[{"kind": "convert", "actor": "alice", "recordType": "repair"}, {"kind": "work_order_closed", "workOrder": {"id": "w", "status": "closed"}}]`,
		`[{"kind": "customer_comment", "actor": "contact", "comment": "any news?"}, {"kind": "add_attachment", "actor": "a", "attachment": {"id": "f", "name": "a.pdf"}}]`,
		`[{"kind": "nonsense"}]`, `[{}]`, `[]`,
	} {
		f.Add([]byte(seed))
	}
	c, err := LoadDir("../definitions")
	if err != nil {
		f.Fatal(err)
	}
	q, ok := c.Queue("billing")
	if !ok {
		f.Fatal("no billing queue")
	}
	wt, ok := c.WorkOrderType("repair")
	if !ok {
		f.Fatal("no repair work-order type")
	}
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	sr0, _, err := CreateServiceRequest(q, NewServiceRequest{ID: "sr", Number: "SR-2026-000001", Queue: "billing", Subject: "Refund",
		Contact: Contact{Name: "Ada", Email: "ada@example.com"}}, "alice", start)
	if err != nil {
		f.Fatal(err)
	}
	wo0, _, err := CreateWorkOrder(wt, NewWorkOrder{ID: "wo", Number: "WO-2026-000001", RecordType: "repair", Subject: "Boiler",
		Channel: "agent", Contact: Contact{Name: "Ada", Email: "ada@example.com"}}, "alice", start)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var actions []Action
		if json.Unmarshal(raw, &actions) != nil || len(actions) > 12 {
			return
		}
		sr, wo := sr0, wo0
		for i, a := range actions {
			now := start.Add(time.Duration(i+1) * time.Hour)
			before := mustJSON(t, sr)
			next, _, err := ApplyServiceRequest(q, sr, a, now)
			checkApplied(t, "service request", a, before, mustJSON(t, sr), sr.Revision, next.Revision, err)
			if err == nil {
				requireRoundTrip(t, next)
				sr = next
			}
			before = mustJSON(t, wo)
			nextWO, _, err := ApplyWorkOrder(wt, wo, a, now)
			checkApplied(t, "work order", a, before, mustJSON(t, wo), wo.Revision, nextWO.Revision, err)
			if err == nil {
				requireRoundTrip(t, nextWO)
				wo = nextWO
			}
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("the record does not encode as JSON: %v", err)
	}
	return raw
}

func checkApplied(t *testing.T, what string, a Action, before, after []byte, rev, nextRev int64, err error) {
	t.Helper()
	if string(before) != string(after) {
		t.Fatalf("%s: applying %+v changed the record passed in", what, a)
	}
	if err != nil {
		var pe *Error
		if !errors.As(err, &pe) || pe.Code == "" || pe.Message == "" {
			t.Fatalf("%s: %+v refused with %T %v, not an *Error with a code and message", what, a, err, err)
		}
		return
	}
	if nextRev < rev {
		t.Fatalf("%s: %+v lowered the revision from %d to %d", what, a, rev, nextRev)
	}
}

// requireRoundTrip checks that a record decodes from its JSON to a value that encodes the same.
func requireRoundTrip[T any](t *testing.T, v T) {
	t.Helper()
	raw := mustJSON(t, v)
	var back T
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatalf("the record's JSON does not decode: %v\n%s", err, raw)
	}
	if again := mustJSON(t, back); string(again) != string(raw) {
		t.Fatalf("the record changes in a JSON round trip:\n%s\n%s", raw, again)
	}
}
