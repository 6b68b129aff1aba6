// Package bench is Fieldflow's load driver: it runs N lifecycles of a service request (or a work
// order) with C concurrent agents through the real HTTP API and, in the same run, the same
// service-request lifecycle as hand-written Temporal code (package baseline) through the Temporal
// client, and reports throughput, action latencies, history events per lifecycle and memory.
// `fieldflow bench` starts the stack in-process and calls Run.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/bench/baseline"
	"github.com/fieldflow/fieldflow/workflows"
)

// The process kinds the driver runs.
const (
	KindServiceRequest = "service-request"
	KindWorkOrder      = "work-order"
)

// Options say what to run and against what.
type Options struct {
	N, C int
	// Kind is KindServiceRequest or KindWorkOrder; Definition the queue or work-order type key.
	Kind, Definition string
	// Baseline runs the hand-written lifecycle too; BaselineLocal makes its writes local activities.
	Baseline      bool
	BaselineLocal bool
	// Warmup lifecycles run first on both sides, unmeasured.
	Warmup int
	// HistorySample is how many runs of each side have their history events counted;
	// PrintHistory prints the event types of the first one.
	HistorySample int
	PrintHistory  bool

	APIURL   string
	Token    func(sub string, groups []string, roles ...auth.Role) (string, error)
	Temporal client.Client
	Out      io.Writer
}

// Result is the final JSON line.
type Result struct {
	N                         int     `json:"n"`
	C                         int     `json:"c"`
	Kind                      string  `json:"kind"`
	LifecyclesPerS            float64 `json:"lifecycles_per_s"`
	BaselineLifecyclesPerS    float64 `json:"baseline_lifecycles_per_s"`
	Ratio                     float64 `json:"ratio"`
	ActionP50Ms               float64 `json:"action_p50_ms"`
	ActionP95Ms               float64 `json:"action_p95_ms"`
	ActionP99Ms               float64 `json:"action_p99_ms"`
	BaselineActionP50Ms       float64 `json:"baseline_action_p50_ms"`
	BaselineActionP99Ms       float64 `json:"baseline_action_p99_ms"`
	HistoryEventsPerLifecycle float64 `json:"history_events_per_lifecycle"`
	BaselineHistoryEvents     float64 `json:"baseline_history_events_per_lifecycle"`
	RSSMB                     float64 `json:"rss_mb"`
	Errors                    int     `json:"errors"`
}

// side is one half of the comparison: its lifecycles, their action latencies and their runs.
type side struct {
	mu        sync.Mutex
	latencies []time.Duration
	runs      []string // workflow IDs
	errors    int
	firstErr  error
}

func (s *side) timed(f func() error) error {
	start := time.Now()
	err := f()
	d := time.Since(start)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errors++
		if s.firstErr == nil {
			s.firstErr = err
		}
		return err
	}
	s.latencies = append(s.latencies, d)
	return nil
}

func (s *side) ran(workflowID string) {
	s.mu.Lock()
	s.runs = append(s.runs, workflowID)
	s.mu.Unlock()
}

// lifecycle runs one lifecycle as the agent with index i.
type lifecycle func(ctx context.Context, agent int, s *side) error

// Run runs the benchmark and prints its table and final JSON line to o.Out.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.N < 1 || o.C < 1 {
		return Result{}, fmt.Errorf("bench: n and c must be at least 1")
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	d := &driver{o: o, http: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.C * 2}}}
	var interpreted lifecycle
	switch o.Kind {
	case KindServiceRequest:
		interpreted = d.serviceRequest
	case KindWorkOrder:
		if err := d.setUpField(ctx); err != nil {
			return Result{}, err
		}
		interpreted = d.workOrder
	default:
		return Result{}, fmt.Errorf("bench: unknown kind %q (service-request or work-order)", o.Kind)
	}
	if err := d.tokens(); err != nil {
		return Result{}, err
	}
	res := Result{N: o.N, C: o.C, Kind: o.Kind}
	if o.Baseline {
		var err error
		if d.sla, err = d.queueHasSLA(ctx); err != nil {
			return res, err
		}
	}

	if o.Warmup > 0 {
		fmt.Fprintf(o.Out, "warming up: %d lifecycles each\n", o.Warmup)
		if _, err := d.load(ctx, o.Warmup, interpreted); err != nil {
			return res, err
		}
		if o.Baseline {
			if _, err := d.load(ctx, o.Warmup, d.baseline); err != nil {
				return res, err
			}
		}
	}

	fmt.Fprintf(o.Out, "fieldflow: %d %s lifecycles of %s, %d concurrent agents\n", o.N, o.Kind, o.Definition, o.C)
	ff, err := d.load(ctx, o.N, interpreted)
	if err != nil {
		return res, err
	}
	res.LifecyclesPerS = ff.perS
	res.ActionP50Ms, res.ActionP95Ms, res.ActionP99Ms = ff.pct(50), ff.pct(95), ff.pct(99)
	res.Errors += ff.s.errors
	if ff.s.firstErr != nil {
		fmt.Fprintf(o.Out, "%d actions failed; the first: %v\n", ff.s.errors, ff.s.firstErr)
	}
	if res.HistoryEventsPerLifecycle, err = d.historyEvents(ctx, ff.s.runs); err != nil {
		return res, err
	}
	var bl *loadResult
	if o.Baseline {
		fmt.Fprintf(o.Out, "baseline: %d hand-written lifecycles (%s activities, %s), %d concurrent clients\n", o.N,
			map[bool]string{true: "local", false: "regular"}[o.BaselineLocal], map[bool]string{true: "two SLA timers", false: "no SLA"}[d.sla], o.C)
		if bl, err = d.load(ctx, o.N, d.baseline); err != nil {
			return res, err
		}
		res.BaselineLifecyclesPerS = bl.perS
		res.BaselineActionP50Ms, res.BaselineActionP99Ms = bl.pct(50), bl.pct(99)
		res.Errors += bl.s.errors
		if res.BaselineHistoryEvents, err = d.historyEvents(ctx, bl.s.runs); err != nil {
			return res, err
		}
		if bl.perS > 0 {
			res.Ratio = round(ff.perS / bl.perS)
		}
	}
	res.RSSMB = rssMB()

	w := o.Out
	fmt.Fprintf(w, "\n%-22s %12s %10s %10s %10s %10s %8s %7s\n", "", "lifecycles/s", "p50 ms", "p95 ms", "p99 ms", "events/lc", "actions", "errors")
	row := func(name string, r *loadResult, events float64) {
		fmt.Fprintf(w, "%-22s %12.1f %10.1f %10.1f %10.1f %10.1f %8d %7d\n", name, r.perS, r.pct(50), r.pct(95), r.pct(99), events, len(r.s.latencies), r.s.errors)
	}
	row("fieldflow "+o.Kind, ff, res.HistoryEventsPerLifecycle)
	if bl != nil {
		row("hand-written baseline", bl, res.BaselineHistoryEvents)
		fmt.Fprintf(w, "ratio (fieldflow / baseline lifecycles per second): %.2f\n", res.Ratio)
	}
	fmt.Fprintf(w, "process RSS: %.0f MB\n\n", res.RSSMB)
	line, _ := json.Marshal(res)
	fmt.Fprintln(w, string(line))
	if res.Errors > 0 {
		first := ff.s.firstErr
		if first == nil && bl != nil {
			first = bl.s.firstErr
		}
		return res, fmt.Errorf("bench: %d actions failed; the first: %v", res.Errors, first)
	}
	return res, nil
}

type driver struct {
	o         Options
	http      *http.Client
	agents    []string // tokens, one per concurrent agent
	engineers map[string]string
	admin     string
	// sla: the queue has an SLA, so the baseline arms the same two timers.
	sla bool
}

// queueHasSLA asks the API whether the benchmark's queue has an SLA.
func (d *driver) queueHasSLA(ctx context.Context) (bool, error) {
	var def struct {
		Definition struct {
			SLA json.RawMessage `json:"sla"`
		} `json:"definition"`
	}
	if err := d.call(ctx, "GET", "/v1/definitions/"+url.PathEscape(d.o.Definition), d.agents[0], nil, http.StatusOK, &def); err != nil {
		return false, err
	}
	return len(def.Definition.SLA) > 0 && string(def.Definition.SLA) != "null", nil
}

func (d *driver) tokens() error {
	for i := range d.o.C {
		role := auth.RoleAgent
		if d.o.Kind == KindWorkOrder {
			role = auth.RoleDispatcher
		}
		t, err := d.o.Token(fmt.Sprintf("bench-agent-%d", i+1), nil, role)
		if err != nil {
			return err
		}
		d.agents = append(d.agents, t)
	}
	return nil
}

type loadResult struct {
	s    *side
	perS float64
}

func (r *loadResult) pct(p float64) float64 {
	if len(r.s.latencies) == 0 {
		return 0
	}
	sorted := slices.Clone(r.s.latencies)
	slices.Sort(sorted)
	i := int(float64(len(sorted)-1) * p / 100)
	return round(float64(sorted[i].Microseconds()) / 1000)
}

// load runs n lifecycles with C workers and measures the wall time.
func (d *driver) load(ctx context.Context, n int, run lifecycle) (*loadResult, error) {
	s := &side{}
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	start := time.Now()
	var wg sync.WaitGroup
	for agent := range d.o.C {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				if ctx.Err() != nil {
					return
				}
				_ = run(ctx, agent, s)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	done := n - s.errors
	return &loadResult{s: s, perS: round(float64(done) / elapsed.Seconds())}, nil
}

// call sends a JSON request and decodes the answer into out (when not nil).
func (d *driver) call(ctx context.Context, method, path, token string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.o.APIURL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// serviceRequest is the interpreted lifecycle: create, progress, progress, add a charge, close
// resolved (which issues the invoice) — five actions through the HTTP API.
func (d *driver) serviceRequest(ctx context.Context, agent int, s *side) error {
	tok := d.agents[agent]
	var sr struct {
		ID string `json:"id"`
	}
	err := s.timed(func() error {
		return d.call(ctx, "POST", "/v1/service-requests", tok, map[string]any{
			"queue": d.o.Definition, "subject": "Invoice charged twice",
			"contact": map[string]any{"name": "Ada Lovelace", "email": "ada@example.com"},
		}, http.StatusCreated, &sr)
	})
	if err != nil {
		return err
	}
	return d.finished(s, workflows.ServiceRequestWorkflowID(sr.ID), d.steps(ctx, s, tok, "/v1/service-requests/"+sr.ID, []step{
		{"/progress", nil},
		{"/progress", nil},
		{"/charges", map[string]any{"kind": "service", "description": "Refund handling", "quantity": 1, "unitPrice": 50}},
		{"/close", map[string]any{"resolved": true, "resolution": "refunded the second charge"}},
	}))
}

// finished records the run of a lifecycle that went through; the history counts sample only those.
func (d *driver) finished(s *side, workflowID string, err error) error {
	if err == nil {
		s.ran(workflowID)
	}
	return err
}

// step is one timed action of a lifecycle: a POST to a path under the record.
type step struct {
	path string
	body any
}

// steps posts the actions in order, each timed, and stops at the first failure.
func (d *driver) steps(ctx context.Context, s *side, token, record string, steps []step) error {
	for _, st := range steps {
		if err := s.timed(func() error { return d.call(ctx, "POST", record+st.path, token, st.body, http.StatusOK, nil) }); err != nil {
			return err
		}
	}
	return nil
}

// baseline is the same lifecycle as hand-written Temporal code, through the Temporal client.
func (d *driver) baseline(ctx context.Context, _ int, s *side) error {
	id := uuid.NewString()
	wid := "baseline-" + id
	err := s.timed(func() error {
		start := d.o.Temporal.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
			ID: wid, TaskQueue: baseline.TaskQueue, WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		}, baseline.WorkflowName, baseline.Input{ID: id, Subject: "Invoice charged twice", Local: d.o.BaselineLocal, SLA: d.sla})
		h, err := d.o.Temporal.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: start,
			UpdateOptions:          client.UpdateWorkflowOptions{UpdateName: baseline.UpdateCreated, WaitForStage: client.WorkflowUpdateStageCompleted},
		})
		if err != nil {
			return err
		}
		var r baseline.Request
		return h.Get(ctx, &r)
	})
	if err != nil {
		return err
	}
	for _, a := range []baseline.Action{{Kind: "progress"}, {Kind: "progress"}, {Kind: "charge", Amount: 50}, {Kind: "close", Resolved: true}} {
		err := s.timed(func() error {
			h, err := d.o.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
				WorkflowID: wid, UpdateName: baseline.UpdateAct, Args: []any{a}, WaitForStage: client.WorkflowUpdateStageCompleted,
			})
			if err != nil {
				return err
			}
			var r baseline.Request
			return h.Get(ctx, &r)
		})
		if err != nil {
			return err
		}
	}
	return d.finished(s, wid, nil)
}

// fieldGroup is the service group the benchmark's work orders are dispatched to.
const fieldGroup = "bench-field"

// setUpField creates the field group with one engineer per concurrent agent.
func (d *driver) setUpField(ctx context.Context) error {
	admin, err := d.o.Token("bench-admin", nil, auth.RoleAdmin)
	if err != nil {
		return err
	}
	d.admin = admin
	err = d.call(ctx, "POST", "/v1/groups", admin, map[string]any{"key": fieldGroup, "title": "Benchmark field"}, http.StatusCreated, nil)
	if err != nil && !strings.Contains(err.Error(), ": 409 ") {
		return err
	}
	d.engineers = map[string]string{}
	for i := range d.o.C {
		name := fmt.Sprintf("bench-engineer-%d", i+1)
		if err := d.call(ctx, "PUT", "/v1/groups/"+fieldGroup+"/members/"+name, admin, map[string]any{}, http.StatusCreated, nil); err != nil && !strings.Contains(err.Error(), ": 200 ") {
			return err
		}
		tok, err := d.o.Token(name, []string{fieldGroup}, auth.RoleEngineer)
		if err != nil {
			return err
		}
		d.engineers[name] = tok
	}
	return nil
}

// workOrder is the interpreted work-order lifecycle: a dispatcher records the order, round robin
// offers it to an engineer of the group, who accepts it and completes the three checklist steps —
// five actions through the HTTP API (the wait for the offer is not an action).
func (d *driver) workOrder(ctx context.Context, agent int, s *side) error {
	var wo struct {
		ID    string `json:"id"`
		Offer *struct {
			Engineer string `json:"engineer"`
		} `json:"offer"`
	}
	err := s.timed(func() error {
		return d.call(ctx, "POST", "/v1/work-orders", d.agents[agent], map[string]any{
			"recordType": d.o.Definition, "subject": "Boiler leaking",
			"contact": map[string]any{"name": "Ada Lovelace", "email": "ada@example.com"},
		}, http.StatusCreated, &wo)
	})
	if err != nil {
		return err
	}
	path := "/v1/work-orders/" + wo.ID
	deadline := time.Now().Add(30 * time.Second)
	for wo.Offer == nil {
		if time.Now().After(deadline) {
			return s.timed(func() error { return fmt.Errorf("work order %s was offered to nobody", wo.ID) })
		}
		time.Sleep(5 * time.Millisecond)
		if err := d.call(ctx, "GET", path, d.admin, nil, http.StatusOK, &wo); err != nil {
			return s.timed(func() error { return err })
		}
	}
	return d.finished(s, workflows.WorkOrderWorkflowID(wo.ID), d.steps(ctx, s, d.engineers[wo.Offer.Engineer], path, []step{
		{"/accept", nil},
		{"/steps/arrive/complete", map[string]any{}},
		{"/steps/diagnose/complete", map[string]any{"result": "worn seal"}},
		{"/steps/repair/complete", map[string]any{"result": "seal replaced"}},
	}))
}

// historyEvents is the mean number of history events of a sample of the runs.
func (d *driver) historyEvents(ctx context.Context, runs []string) (float64, error) {
	n := min(len(runs), d.o.HistorySample)
	if n == 0 {
		return 0, nil
	}
	total := 0
	for i, id := range runs[:n] {
		// Wait for the run to end, so the count is the whole lifecycle's.
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := d.o.Temporal.GetWorkflow(wctx, id, "").Get(wctx, nil)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("bench: run %s did not end: %w", id, err)
		}
		it := d.o.Temporal.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		var types []string
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				return 0, err
			}
			total++
			types = append(types, strings.TrimPrefix(e.GetEventType().String(), "EVENT_TYPE_"))
		}
		if i == 0 && d.o.PrintHistory {
			fmt.Fprintf(d.o.Out, "history of %s (%d events): %s\n", id, len(types), strings.Join(types, " "))
		}
	}
	return round(float64(total) / float64(n)), nil
}

// rssMB is the resident memory of this process, which in `fieldflow bench` holds the whole stack;
// peakRSSMB its high-water mark.
func rssMB() float64     { return procStatusMB("VmRSS:") }
func peakRSSMB() float64 { return procStatusMB("VmHWM:") }

func procStatusMB(key string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return round(kb / 1024)
		}
	}
	return 0
}

func round(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
