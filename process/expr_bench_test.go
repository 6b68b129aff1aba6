package process

import (
	"testing"
)

// benchExprs are expressions of the shipped definitions, as the interpreter evaluates them.
var benchExprs = []struct {
	name   string
	env    envKind
	result resultKind
	code   string
}{
	{"sr_automation_when", envServiceRequest, resultBool, `event.to == "resolution" && "equipment/faulty" in request.categories`},
	{"sr_approval_when", envServiceRequest, resultBool, `request.charges.total > 100`},
	{"sr_conversion_text", envServiceRequest, resultString, `"From " + request.number + ": " + request.description`},
	{"wo_rule_when", envWorkOrder, resultBool, `order.device.category == "hvac"`},
	{"wo_rule_group", envWorkOrder, resultString, `(order.region != "" ? order.region : "central") + "-field"`},
	{"wo_step_when", envWorkOrder, resultBool, `steps.diagnose.result != "no-fault"`},
	{"wo_follow_up_when", envWorkOrder, resultBool, `rating.lowest != nil && rating.lowest <= 2`},
}

// benchEnvs are the environments the expressions run against: a technical-support request that
// just moved to resolution, and a repair order with a diagnosis and a rating.
func benchEnvs(b *testing.B) (SREnv, WOEnv) {
	c := benchDefinitions(b)
	q, _ := c.Queue("technical-support")
	w, _ := c.WorkOrderType("repair")
	sr := ServiceRequest{Number: "TS-2026-000001", Queue: q.Key, Stage: "resolution", State: StateInProgress, Priority: "high",
		Subject: "No dial tone", Description: "The line has been dead since this morning.",
		Contact: Contact{Name: "Ann", Email: "ann@example.com"}, Categories: []string{"connectivity/outage", "equipment/faulty"},
		Charges: []Charge{{ID: "c1", Kind: ChargeService, Quantity: 2, UnitPrice: 45, Amount: 90}}}
	ev := Event{Type: EventStageChanged, Actor: "alice", At: t0, Details: map[string]any{"from": "diagnosis", "to": "resolution"}}
	wo := WorkOrder{Number: "WO-2026-000001", RecordType: w.Key, Stage: "feedback", State: StateInProgress, Priority: "medium",
		Subject: "Air conditioner leaks", Channel: ChannelAgent, Region: "north", Device: Device{Category: "hvac", Model: "Split 12k"},
		Fields:  map[string]string{"warranty": "active"},
		Steps:   []StepRecord{{Node: "onsite", ID: "arrive"}, {Node: "onsite", ID: "diagnose", Result: "leak", LaborMinutes: 30}},
		Ratings: []RatingRecord{{Node: "rating", Score: 4, Scale: "five-star"}}}
	return srView(q, sr, ev), woView(wo, Event{Type: EventNodeEntered, At: t0}, w.CalendarDef.Location())
}

// BenchmarkExprEval measures evaluating a compiled expression (evalExpr: the cache lookup, the
// run and its recover), the environment built beforehand but passed by value as the interpreter
// passes it.
func BenchmarkExprEval(b *testing.B) {
	srEnv, woEnv := benchEnvs(b)
	for _, e := range benchExprs {
		if _, err := compileExpr(e.env, e.result, e.code); err != nil {
			b.Fatal(err)
		}
		b.Run(e.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if e.env == envServiceRequest {
					_, err = evalExpr(e.env, e.result, e.code, srEnv)
				} else {
					_, err = evalExpr(e.env, e.result, e.code, woEnv)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkExprView measures building the environment of one evaluation, which the interpreter
// does before every condition and text.
func BenchmarkExprView(b *testing.B) {
	c := benchDefinitions(b)
	q, _ := c.Queue("technical-support")
	w, _ := c.WorkOrderType("repair")
	sr := ServiceRequest{Number: "TS-2026-000001", Categories: []string{"equipment/faulty"}, Charges: []Charge{{Quantity: 1, UnitPrice: 45, Amount: 45}},
		Fields: map[string]any{"account": "A-1"}}
	wo := WorkOrder{Number: "WO-2026-000001", Fields: map[string]string{"warranty": "active"},
		Steps: []StepRecord{{ID: "arrive"}, {ID: "diagnose", Result: "leak"}}, Ratings: []RatingRecord{{Score: 4}}}
	ev := Event{Type: EventStageChanged, At: t0, Details: map[string]any{"from": "diagnosis", "to": "resolution"}}
	loc := w.CalendarDef.Location()
	b.Run("service_request", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = srView(q, sr, ev)
		}
	})
	b.Run("work_order", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = woView(wo, ev, loc)
		}
	})
}

// BenchmarkExprCompile measures compiling an expression against its typed environment, as the
// loader does once per distinct expression (the program cache is emptied of it every time).
func BenchmarkExprCompile(b *testing.B) {
	for _, e := range benchExprs {
		b.Run(e.name, func(b *testing.B) {
			key := programKey{e.env, e.result, e.code}
			b.ReportAllocs()
			for b.Loop() {
				programs.Delete(key)
				if _, err := compileExpr(e.env, e.result, e.code); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
