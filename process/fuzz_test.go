package process

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzLoad feeds the loader arbitrary YAML beside the shipped definitions: it must never panic,
// and whatever it refuses it refuses with positioned problems.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("../definitions/*/*.yaml")
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err == nil {
			f.Add(string(raw))
		}
	}
	f.Add("kind: WorkOrderType\nnodes: [{id: a, type: decision, cases: [{when: '= true', next: a}], default: a}]\n")
	f.Add("kind: ServiceRequestQueue\nkey: k\nstages: &a [*a]\n")
	base := map[string][]byte{}
	for _, file := range files {
		if strings.Contains(file, "/calendars/") || strings.Contains(file, "/templates/") {
			raw, _ := os.ReadFile(file)
			base[file] = raw
		}
	}
	f.Fuzz(func(t *testing.T, text string) {
		in := map[string][]byte{"fuzz.yaml": []byte(text)}
		for k, v := range base {
			in[k] = v
		}
		c, err := Load(in)
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Load returned %T, not Problems: %v", err, err)
			}
			for _, p := range ps {
				if p.File == "" || p.Line < 1 || p.Message == "" {
					t.Fatalf("problem without a position or a message: %+v", p)
				}
			}
			return
		}
		// What loads must run: create a record of each process and fire its timers.
		now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		for _, q := range c.Queues() {
			sr, _, err := CreateServiceRequest(q, NewServiceRequest{ID: "f", Queue: q.Key, Subject: "s", Contact: Contact{Email: "a@b"}}, "fuzz", now)
			if err != nil {
				continue
			}
			for _, tm := range ServiceRequestTimers(q, sr) {
				_, _, _ = ApplyServiceRequest(q, sr, Action{Kind: ActionTimer, TimerID: tm.ID}, tm.At)
			}
		}
		for _, w := range c.WorkOrderTypes() {
			wo, _, err := CreateWorkOrder(w, NewWorkOrder{ID: "f", RecordType: w.Key, Subject: "s", Channel: firstOr(w.Intake, "")}, "fuzz", now)
			if err != nil {
				continue
			}
			for _, tm := range WorkOrderTimers(w, wo) {
				_, _, _ = ApplyWorkOrder(w, wo, Action{Kind: ActionTimer, TimerID: tm.ID}, tm.At)
			}
		}
	})
}

func firstOr(s []string, fallback string) string {
	if len(s) > 0 {
		return s[0]
	}
	return fallback
}

// FuzzExpr compiles and runs arbitrary expressions against both environments: compiling may
// fail, running may fail, but neither may panic, and a boolean expression gives a bool.
func FuzzExpr(f *testing.F) {
	for _, seed := range []string{
		`request.priority == "high"`, `request.charges.total > 100`, `"vip" in request.tags`,
		`order.device.category == "hvac"`, `rating.lowest != nil && rating.lowest <= 2`,
		`steps.diagnose.result != "no-fault"`, `len(request.categories) > 0 && request.categories[0] == "x"`,
		`int(order.fields["value"]) > 5000`, `1/0 == 1`, `request.tags[10] == ""`, `keys(steps)`,
		`now()`, `now.Hour() >= 17`, `now.Weekday().String() == "Saturday"`, `order.fields["x"].y.z == 1`, `float("abc") > 1`, `filter(request.tags, # startsWith "a")`,
	} {
		f.Add(seed)
	}
	one := 1.0
	sr := srView(&Queue{}, ServiceRequest{Number: "SR-1", Priority: "high", Tags: []string{"vip"}, Categories: []string{"a"}}, Event{Type: EventCreated})
	wo := woView(WorkOrder{Number: "WO-1", Fields: map[string]string{"value": "6000"}, Steps: []StepRecord{{ID: "diagnose", Result: "ok"}},
		Ratings: []RatingRecord{{Score: one}}}, Event{Type: EventCreated}, time.UTC)
	f.Fuzz(func(t *testing.T, code string) {
		for _, env := range []struct {
			kind envKind
			vars any
		}{{envServiceRequest, sr}, {envWorkOrder, wo}} {
			for _, result := range []resultKind{resultBool, resultString} {
				if _, err := compileExpr(env.kind, result, code); err != nil {
					continue
				}
				out, err := evalExpr(env.kind, result, code, env.vars)
				if err != nil {
					continue
				}
				switch result {
				case resultBool:
					if _, ok := out.(bool); !ok {
						t.Fatalf("%q gave %T, not a bool", code, out)
					}
				case resultString:
					if _, ok := out.(string); !ok {
						t.Fatalf("%q gave %T, not text", code, out)
					}
				}
			}
		}
	})
}
