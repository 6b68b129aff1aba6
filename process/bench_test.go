package process

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The benchmarks of issue 8: one interpreter step per action kind, loading 1,000 definitions,
// expressions and (in calendar_test.go) business-calendar arithmetic. Each runs in well under a
// second at -benchtime 1x, so `make test` runs them all once.

// benchCatalog is the shipped definitions, loaded once for every benchmark.
var benchCatalog = sync.OnceValues(func() (*Catalog, error) { return LoadDir("../definitions") })

func benchDefinitions(b *testing.B) *Catalog {
	b.Helper()
	c, err := benchCatalog()
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// benchStep is one action of a run, with the state it is applied to.
type benchStep[T any] struct {
	name   string
	before T
	action Action
}

// BenchmarkApplyServiceRequest measures one interpreter step per action kind on a technical-support
// request (its stage_changed automation evaluates an expression on every progress). Apply never
// changes the state it is given, so every iteration applies the same action to the same state.
func BenchmarkApplyServiceRequest(b *testing.B) {
	q, _ := benchDefinitions(b).Queue("technical-support")
	in := NewServiceRequest{ID: "r", Number: "TS-2026-000001", Queue: q.Key, Subject: "No dial tone",
		Description: "The line has been dead since this morning.", Contact: Contact{Name: "Ann", Email: "ann@example.com"},
		Categories: []string{"connectivity/outage"}, Tags: []string{"vip"}}
	b.Run("create", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := CreateServiceRequest(q, in, "alice", t0); err != nil {
				b.Fatal(err)
			}
		}
	})
	sr, _, err := CreateServiceRequest(q, in, "alice", t0)
	if err != nil {
		b.Fatal(err)
	}
	subject, urgency := "No dial tone on two lines", "high"
	text := "Called the contact; the router shows no sync."
	desc, qty, price := "Line test", 1.0, 45.0
	resolved := true
	steps := runSteps(b, sr, func(sr ServiceRequest, a Action) (ServiceRequest, error) {
		next, _, err := ApplyServiceRequest(q, sr, a, t0)
		return next, err
	}, []benchAction[ServiceRequest]{
		{"update", func(ServiceRequest) Action {
			return Action{Kind: ActionUpdate, Actor: "alice", Changes: &Changes{Subject: &subject, Urgency: &urgency}}
		}},
		{"progress", func(ServiceRequest) Action { return Action{Kind: ActionProgress, Actor: "alice"} }},
		{"note", func(ServiceRequest) Action {
			return Action{Kind: ActionAddNote, Actor: "alice", NoteInput: &NoteInput{Text: &text}}
		}},
		{"charge", func(ServiceRequest) Action {
			return Action{Kind: ActionAddCharge, Actor: "alice", Charge: &ChargeInput{Kind: ChargeService, Description: &desc, Quantity: &qty, UnitPrice: &price}}
		}},
		{"close", func(ServiceRequest) Action {
			return Action{Kind: ActionClose, Actor: "alice", Resolved: &resolved, Resolution: "line repaired at the exchange"}
		}},
	})
	for _, s := range steps {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := ApplyServiceRequest(q, s.before, s.action, t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApplyWorkOrder measures one interpreter step per action kind on a repair order, from
// creation (dispatch rules) to the close: the pick, the acceptance, the notification's outcome, a
// photo, a checklist step, a rating and the progress past the follow-up's condition.
func BenchmarkApplyWorkOrder(b *testing.B) {
	w, _ := benchDefinitions(b).WorkOrderType("repair")
	in := NewWorkOrder{ID: "o", Number: "WO-2026-000001", RecordType: w.Key, Subject: "Air conditioner leaks",
		Channel: ChannelAgent, Contact: Contact{Name: "Ann", Email: "ann@example.com", Phone: "+35799000000"},
		Region: "north", Device: Device{Code: "AC-1", Category: "hvac", Model: "Split 12k", Serial: "S-1"},
		Fields: map[string]string{"warranty": "active"}}
	b.Run("create", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := CreateWorkOrder(w, in, "alice", t0); err != nil {
				b.Fatal(err)
			}
		}
	})
	wo, _, err := CreateWorkOrder(w, in, "alice", t0)
	if err != nil {
		b.Fatal(err)
	}
	four := 4.0
	resolved := true
	apply := func(wo WorkOrder, a Action) (WorkOrder, error) {
		next, _, err := ApplyWorkOrder(w, wo, a, t0)
		return next, err
	}
	steps := runSteps(b, wo, apply, []benchAction[WorkOrder]{
		{"pick", func(wo WorkOrder) Action {
			return Action{Kind: ActionEffectDone, EffectKind: "pick", EffectID: wo.Waiting, Result: map[string]string{"engineer": "eve"}}
		}},
		{"accept", func(WorkOrder) Action { return Action{Kind: ActionAccept, Actor: "eve"} }},
		{"notified", func(wo WorkOrder) Action {
			return Action{Kind: ActionEffectDone, EffectKind: "notify", EffectID: wo.Waiting}
		}},
		{"arrive", func(WorkOrder) Action { return Action{Kind: ActionCompleteStep, Actor: "eve", StepID: "arrive"} }},
		{"complete_step", func(WorkOrder) Action {
			return Action{Kind: ActionCompleteStep, Actor: "eve", StepID: "diagnose", StepResult: "leak", LaborMinutes: 30}
		}},
		{"repair", func(WorkOrder) Action {
			return Action{Kind: ActionCompleteStep, Actor: "eve", StepID: "repair", LaborMinutes: 45}
		}},
		{"attach", func(WorkOrder) Action {
			return Action{Kind: ActionAddAttachment, Actor: "eve", Attachment: &Attachment{ID: "a1", Name: "unit.jpg", ContentType: "image/jpeg", Size: 123456, Step: "photo"}}
		}},
		{"photo", func(WorkOrder) Action { return Action{Kind: ActionCompleteStep, Actor: "eve", StepID: "photo"} }},
		{"rate", func(wo WorkOrder) Action {
			return Action{Kind: ActionRate, Actor: "contact", Score: &four, Invitation: wo.Rating.Invitation}
		}},
		{"progress", func(WorkOrder) Action { return Action{Kind: ActionProgress, Actor: "eve"} }},
	})
	if last, err := apply(steps[len(steps)-1].before, steps[len(steps)-1].action); err != nil || last.State != StateClosed {
		b.Fatalf("the repair should be closed after the rating: %s, %v", last.State, err)
	}
	// close: an agent closes the order while the engineer is on site.
	onsite := steps[slices.IndexFunc(steps, func(s benchStep[WorkOrder]) bool { return s.name == "complete_step" })].before
	steps = append(steps, benchStep[WorkOrder]{"close", onsite, Action{Kind: ActionClose, Actor: "alice", Resolved: &resolved, Resolution: "fixed"}})
	for _, s := range steps {
		switch s.name {
		case "arrive", "repair", "photo":
			continue // more of the same kind: complete_step stands for them
		}
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := ApplyWorkOrder(w, s.before, s.action, t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchAction builds an action from the state it is applied to (an effect's id, say).
type benchAction[T any] struct {
	name   string
	action func(T) Action
}

// runSteps applies the actions in turn from state, recording the state each is applied to.
func runSteps[T any](b *testing.B, state T, apply func(T, Action) (T, error), actions []benchAction[T]) []benchStep[T] {
	b.Helper()
	var steps []benchStep[T]
	for _, ba := range actions {
		a := ba.action(state)
		next, err := apply(state, a)
		if err != nil {
			b.Fatalf("%s: %v", ba.name, err)
		}
		steps = append(steps, benchStep[T]{ba.name, state, a})
		state = next
	}
	return steps
}

// BenchmarkLoadDir measures loading and validating the shipped definitions (5 processes, a
// calendar, a mailbox and 9 templates).
func BenchmarkLoadDir(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadDir("../definitions"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadDir1000 measures loading and validating 1,000 process definitions: 200 copies of
// each shipped queue and work-order type under distinct keys, with the shipped calendar, templates
// and mailbox. Expressions are compiled once per process (the compiled programs are cached), so
// this is mostly YAML decoding, validation and hashing.
func BenchmarkLoadDir1000(b *testing.B) {
	dir := b.TempDir()
	n := writeCopies(b, "../definitions", dir, 200)
	if n != 1000 {
		b.Fatalf("wrote %d process definitions, want 1000", n)
	}
	c, err := LoadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	if got := len(c.Queues()) + len(c.WorkOrderTypes()); got != 1000 {
		b.Fatalf("loaded %d processes, want 1000", got)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadDir(dir); err != nil {
			b.Fatal(err)
		}
	}
}

var keyLine = regexp.MustCompile(`(?m)^key: (\S+)`)

// writeCopies copies the definitions of src into dst, each queue and work-order type copies
// times (the first under its own key, the others under key-NNN); it returns how many processes it
// wrote.
func writeCopies(b *testing.B, src, dst string, copies int) int {
	b.Helper()
	processes := 0
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n := 1
		if strings.HasPrefix(rel, "service-requests/") || strings.HasPrefix(rel, "work-orders/") {
			n = copies
			processes += copies
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		for i := range n {
			out, name := text, rel
			if i > 0 {
				out = keyLine.ReplaceAll(text, []byte(fmt.Sprintf("key: ${1}-%03d", i)))
				name = strings.TrimSuffix(rel, ".yaml") + fmt.Sprintf("-%03d.yaml", i)
			}
			if err := os.WriteFile(filepath.Join(dst, name), out, 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return processes
}
