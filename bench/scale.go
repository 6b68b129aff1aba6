package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fieldflow/fieldflow/auth"
)

// ScaleOptions say how many open requests to start and how long to wait for their timers.
type ScaleOptions struct {
	N, C int
	// Queue is a queue whose SLA targets are seconds on a round-the-clock calendar (bench-seconds):
	// every request arms its alert and breach timers, and both fire during the test.
	Queue string
	// Grace is how late a timer may fire and still count as on time.
	Grace time.Duration
	// Wait bounds the wait for the last timer after the last creation.
	Wait time.Duration
	// StickyCacheSize is the worker's sticky workflow cache, for the report.
	StickyCacheSize int
	// HeapProfile, when set, is where a heap profile is written once every request is open.
	HeapProfile string
	// Rate, when positive, paces the creations (requests a second). Every request's two timers
	// fall due 60 s and 120 s after it is created, so the timers come due at twice this rate.
	Rate float64

	APIURL string
	Token  func(sub string, groups []string, roles ...auth.Role) (string, error)
	DB     *pgxpool.Pool
	Out    interface{ Write([]byte) (int, error) }
}

// ScaleResult is the scale test's final JSON line.
type ScaleResult struct {
	N               int     `json:"n"`
	Created         int     `json:"created"`
	CreatedPerS     float64 `json:"created_per_s"`
	PeakRSSMB       float64 `json:"peak_rss_mb"`
	RSSWhileOpenMB  float64 `json:"rss_while_open_mb"`
	GoHeapMB        float64 `json:"go_heap_mb"`
	StickyCacheSize int     `json:"sticky_cache_size"`
	TimersExpected  int     `json:"timers_expected"`
	TimersFired     int     `json:"timers_fired"`
	TimersLate      int     `json:"timers_late"`
	TimersMissed    int     `json:"timers_missed"`
	LatenessP50Ms   float64 `json:"lateness_p50_ms"`
	LatenessP99Ms   float64 `json:"lateness_p99_ms"`
	LatenessMaxMs   float64 `json:"lateness_max_ms"`
}

// RunScale opens N requests through the API, measures the process's memory while they are all
// open with their SLA timers armed, then waits for every alert and breach and checks each fired on
// time: the event's instant against the instant the SLA set, from the projection in PostgreSQL.
func RunScale(ctx context.Context, o ScaleOptions) (ScaleResult, error) {
	res := ScaleResult{N: o.N, StickyCacheSize: o.StickyCacheSize, TimersExpected: 2 * o.N}
	d := &driver{o: Options{APIURL: o.APIURL, C: o.C}, http: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.C * 2}}}
	var tokens []string
	for i := range o.C {
		t, err := o.Token(fmt.Sprintf("scale-agent-%d", i+1), nil, auth.RoleAgent)
		if err != nil {
			return res, err
		}
		tokens = append(tokens, t)
	}
	fmt.Fprintf(o.Out, "scale: opening %d requests on %s with %d agents (at most %g a second; 0: no limit)\n", o.N, o.Queue, o.C, o.Rate)
	var created, failed atomic.Int64
	var firstErr error
	var errOnce sync.Once
	next := make(chan int, o.N)
	for i := range o.N {
		next <- i
	}
	close(next)
	pace := func() {}
	if o.Rate > 0 {
		tick := time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
		defer tick.Stop()
		pace = func() { <-tick.C }
	}
	start := time.Now()
	var wg sync.WaitGroup
	for a := range o.C {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if ctx.Err() != nil {
					return
				}
				pace()
				err := d.call(ctx, "POST", "/v1/service-requests", tokens[a], map[string]any{
					"queue": o.Queue, "subject": fmt.Sprintf("Scale request %d", i),
					"contact": map[string]any{"email": "scale@example.com"},
				}, http.StatusCreated, nil)
				if err != nil {
					failed.Add(1)
					errOnce.Do(func() { firstErr = err })
					continue
				}
				if n := created.Add(1); n%1000 == 0 {
					fmt.Fprintf(o.Out, "  %d open after %s\n", n, time.Since(start).Round(time.Second))
				}
			}
		}()
	}
	wg.Wait()
	res.Created = int(created.Load())
	res.CreatedPerS = round(float64(res.Created) / time.Since(start).Seconds())
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.GoHeapMB = round(float64(ms.HeapAlloc) / (1 << 20))
	res.RSSWhileOpenMB = rssMB()
	fmt.Fprintf(o.Out, "  Go memory: heap in use %.0f MB, stacks %.0f MB, from the OS %.0f MB; %d goroutines\n",
		float64(ms.HeapInuse)/(1<<20), float64(ms.StackInuse)/(1<<20), float64(ms.Sys)/(1<<20), runtime.NumGoroutine())
	if o.HeapProfile != "" {
		if err := writeHeapProfile(o.HeapProfile); err != nil {
			return res, err
		}
	}
	if failed.Load() > 0 {
		return res, fmt.Errorf("bench: %d creations failed; the first: %v", failed.Load(), firstErr)
	}
	fmt.Fprintf(o.Out, "scale: %d open in %s (%.1f/s); RSS %.0f MB; waiting for their timers\n", res.Created, time.Since(start).Round(time.Second), res.CreatedPerS, res.RSSWhileOpenMB)

	deadline := time.Now().Add(o.Wait)
	for {
		var fired int
		if err := o.DB.QueryRow(ctx, `SELECT count(*) FROM service_request_events e JOIN service_requests r ON r.id = e.request_id
WHERE r.queue = $1 AND e.type IN ('sla_alert', 'sla_breached')`, o.Queue).Scan(&fired); err != nil {
			return res, err
		}
		if fired >= res.TimersExpected || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	res.PeakRSSMB = peakRSSMB()

	rows, err := o.DB.Query(ctx, `SELECT e.type, e.at, r.doc->'sla' FROM service_request_events e JOIN service_requests r ON r.id = e.request_id
WHERE r.queue = $1 AND e.type IN ('sla_alert', 'sla_breached')`, o.Queue)
	if err != nil {
		return res, err
	}
	defer rows.Close()
	var lateness []time.Duration
	for rows.Next() {
		var typ string
		var at time.Time
		var raw []byte
		if err := rows.Scan(&typ, &at, &raw); err != nil {
			return res, err
		}
		var sla struct {
			AlertAt *time.Time `json:"alertAt"`
			DueAt   *time.Time `json:"dueAt"`
		}
		if err := json.Unmarshal(raw, &sla); err != nil {
			return res, err
		}
		due := sla.DueAt
		if typ == "sla_alert" {
			due = sla.AlertAt
		}
		if due == nil {
			continue
		}
		late := max(at.Sub(*due), 0)
		lateness = append(lateness, late)
		if late > o.Grace {
			res.TimersLate++
		}
	}
	if err := rows.Err(); err != nil {
		return res, err
	}
	res.TimersFired = len(lateness)
	res.TimersMissed = res.TimersExpected - res.TimersFired
	slices.Sort(lateness)
	at := func(p float64) float64 {
		if len(lateness) == 0 {
			return 0
		}
		return round(float64(lateness[int(float64(len(lateness)-1)*p/100)].Microseconds()) / 1000)
	}
	res.LatenessP50Ms, res.LatenessP99Ms, res.LatenessMaxMs = at(50), at(99), at(100)

	fmt.Fprintf(o.Out, "\nopen requests %d, created %.1f/s; RSS with all open %.0f MB (peak %.0f MB, Go heap %.0f MB); sticky cache %d\n",
		res.Created, res.CreatedPerS, res.RSSWhileOpenMB, res.PeakRSSMB, res.GoHeapMB, res.StickyCacheSize)
	fmt.Fprintf(o.Out, "timers: %d expected, %d fired, %d later than %s, %d missed; lateness p50 %.0f ms, p99 %.0f ms, max %.0f ms\n\n",
		res.TimersExpected, res.TimersFired, res.TimersLate, o.Grace, res.TimersMissed, res.LatenessP50Ms, res.LatenessP99Ms, res.LatenessMaxMs)
	line, _ := json.Marshal(res)
	fmt.Fprintln(o.Out, string(line))
	if res.TimersMissed > 0 {
		return res, fmt.Errorf("bench: %d timers missed", res.TimersMissed)
	}
	return res, nil
}

// writeHeapProfile writes the heap profile (after the GC above) to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
