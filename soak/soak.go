// Package soak is Fieldflow's crash test: it runs PostgreSQL and Temporal in a `fieldflow dev
// --services-only` process, the API and the worker as separate `fieldflow api` and `fieldflow
// worker` processes against them, drives a mixed load of service requests and work orders through
// the HTTP API, and kills one of the three processes with SIGKILL at random moments (each is
// started again at once). Every POST carries an Idempotency-Key and is retried with the same key
// until an answer decides it, as a real client does. Afterwards it reads every record back and
// checks it against its log of acknowledged actions: each acknowledged action is in the record's
// events exactly once, every run reached the state its script ends in, every resolved request
// with charges has exactly one invoice, and every run's contact got exactly one email.
//
// `fieldflow soak` runs it for a chosen duration; e2e/crash_test.go runs a short one.
package soak

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/devstack/postgres"
)

// Config says what to run and for how long.
type Config struct {
	// Binary is the fieldflow executable to run.
	Binary string
	// DataDir keeps the stack's state and the processes' logs (logs/); it should be new or empty.
	DataDir string
	// Definitions is the definitions folder.
	Definitions string
	// Duration is how long the load runs; MinKills more kills are made, if the load has not made
	// them yet, before it stops.
	Duration time.Duration
	MinKills int
	// KillEvery is the range of the pause between one process being back and the next kill.
	KillEvery [2]time.Duration
	// Clients is the number of concurrent clients (4 when zero).
	Clients int
	// Settle bounds the wait for every run to reach its end after the load (2 minutes when zero).
	Settle time.Duration
	// Progress receives a line per kill; nil for none.
	Progress io.Writer
	// Seed makes the kill schedule reproducible; 0 picks one.
	Seed uint64
}

// Report is the outcome.
type Report struct {
	Elapsed           time.Duration
	Runs, RunsDone    int
	ServiceRequests   int
	WorkOrders        int
	Acknowledged      int
	Retried           int // acknowledged after more than one attempt
	Replayed          int // acknowledged by a replay of the stored answer
	Verified          int
	Lost, Duplicated  int
	Invoices          int
	InvoicesExpected  int
	Emails            int
	EmailsExpected    int
	EmailsRedelivered int
	Kills             map[string]int
	KillsSurvived     int
	Problems          []string
	Seed              uint64
	// Slowest are the acknowledged actions that took longest, with their first error.
	Slowest []string
}

// OK is true when nothing was lost, duplicated or stuck.
func (r *Report) OK() bool {
	return r.Lost == 0 && r.Duplicated == 0 && len(r.Problems) == 0 && r.Acknowledged > 0 && r.Verified == r.Acknowledged
}

// Print writes the summary.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "soak: %s, seed %d\n", r.Elapsed.Round(time.Second), r.Seed)
	fmt.Fprintf(w, "  runs                  %d (%d service requests, %d work orders), %d finished their script\n", r.Runs, r.ServiceRequests, r.WorkOrders, r.RunsDone)
	fmt.Fprintf(w, "  actions acknowledged  %d (%d after a retry, %d answered by replay)\n", r.Acknowledged, r.Retried, r.Replayed)
	fmt.Fprintf(w, "  actions verified      %d\n", r.Verified)
	fmt.Fprintf(w, "  lost                  %d\n", r.Lost)
	fmt.Fprintf(w, "  duplicated            %d\n", r.Duplicated)
	fmt.Fprintf(w, "  invoices              %d issued, %d expected\n", r.Invoices, r.InvoicesExpected)
	fmt.Fprintf(w, "  emails                %d distinct, %d expected (%d redelivered with the same Message-ID)\n", r.Emails, r.EmailsExpected, r.EmailsRedelivered)
	fmt.Fprintf(w, "  kills survived        %d (worker %d, api %d, dev %d)\n", r.KillsSurvived, r.Kills["worker"], r.Kills["api"], r.Kills["dev"])
	for _, s := range r.Slowest {
		fmt.Fprintf(w, "  slow                  %s\n", s)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  PROBLEM %s\n", p)
	}
	if r.OK() {
		fmt.Fprintln(w, "  result                ok")
	} else {
		fmt.Fprintln(w, "  result                FAILED")
	}
}

// stack is the three supervised processes.
type stack struct {
	dev, api, worker *proc
	apiURL           string
	dbURL            string
	devLog           string
}

// Run runs the crash test.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Clients == 0 {
		cfg.Clients = 4
	}
	if cfg.Settle == 0 {
		cfg.Settle = 2 * time.Minute
	}
	if cfg.KillEvery[1] == 0 {
		cfg.KillEvery = [2]time.Duration{5 * time.Second, 15 * time.Second}
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 1))
	started := time.Now()
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	logDir := filepath.Join(dataDir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	mb, err := StartMailbox()
	if err != nil {
		return nil, err
	}
	defer mb.Close()

	st, err := startStack(ctx, cfg, dataDir, logDir, mb.Addr())
	if st != nil {
		defer st.stop()
	}
	if err != nil {
		return nil, err
	}
	c, err := newClient(dataDir, st.apiURL)
	if err != nil {
		return nil, err
	}
	d := &driver{c: c, seq: map[string]int{}, prefix: fmt.Sprintf("soak%d", cfg.Seed%100000)}
	rep := &Report{Kills: map[string]int{}, Seed: cfg.Seed}

	// The load: clients run scripts one after the other until the load stops.
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var load sync.WaitGroup
	for i := range cfg.Clients {
		load.Add(1)
		go func() {
			defer load.Done()
			scripts := []struct{ kind, script string }{
				{"service-request", "billing-resolved"}, {"work-order", "installation"},
				{"service-request", "billing-unresolved"}, {"work-order", "installation"},
			}
			for n := i; loadCtx.Err() == nil; n++ {
				s := scripts[n%len(scripts)]
				// A script started runs to its end, even when the load stops meanwhile.
				d.runScript(ctx, d.newRun(s.kind, s.script))
			}
		}()
	}

	// A line every 15 seconds on how the load goes.
	go func() {
		tick := time.NewTicker(15 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-loadCtx.Done():
				return
			case <-tick.C:
				runs := d.Runs()
				done := 0
				for _, r := range runs {
					if r.Done {
						done++
					}
				}
				fmt.Fprintf(cfg.Progress, "soak: %s: %d actions acknowledged, %d of %d runs finished\n",
					time.Since(started).Round(time.Second), countAcked(runs), done, len(runs))
			}
		}
	}()

	// The killer: a random process at a random moment, each kind in turn in a shuffled order.
	deadline := time.Now().Add(cfg.Duration)
	var kinds []string
	var killErr error
	for ctx.Err() == nil && (time.Now().Before(deadline) || rep.KillsSurvived < cfg.MinKills) {
		pause := cfg.KillEvery[0] + time.Duration(rng.Int64N(int64(cfg.KillEvery[1]-cfg.KillEvery[0])+1))
		if left := time.Until(deadline); left > 0 && pause > left && rep.KillsSurvived >= cfg.MinKills {
			sleep(ctx, left)
			break
		}
		sleep(ctx, pause)
		if len(kinds) == 0 {
			kinds = []string{"worker", "api", "dev"}
			rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
		}
		kind := kinds[0]
		kinds = kinds[1:]
		p := map[string]*proc{"worker": st.worker, "api": st.api, "dev": st.dev}[kind]
		at := time.Since(started).Round(100 * time.Millisecond)
		if err := p.kill(); err != nil {
			fmt.Fprintf(cfg.Progress, "soak: %s: kill %s: %v\n", at, kind, err)
			continue
		}
		rep.Kills[kind]++
		if err := st.waitReady(ctx, 3*time.Minute); err != nil {
			killErr = fmt.Errorf("after killing %s: %w", kind, err)
			break
		}
		rep.KillsSurvived++
		fmt.Fprintf(cfg.Progress, "soak: %s: killed %s with SIGKILL, back in %s (%d acknowledged actions so far)\n",
			at, kind, (time.Since(started) - at).Round(100*time.Millisecond), countAcked(d.Runs()))
	}
	stopLoad()
	fmt.Fprintf(cfg.Progress, "soak: %s: load stopped; the clients finish the scripts they are in\n", time.Since(started).Round(100*time.Millisecond))
	load.Wait()
	fmt.Fprintf(cfg.Progress, "soak: %s: every script ended; verifying\n", time.Since(started).Round(100*time.Millisecond))
	if killErr != nil {
		return rep, killErr
	}

	db, err := pgx.Connect(ctx, st.dbURL)
	if err != nil {
		return rep, fmt.Errorf("connect to PostgreSQL to read invoices: %w", err)
	}
	defer db.Close(context.Background())
	d.settle(ctx, db, mb, cfg.Settle, rep)
	fmt.Fprintf(cfg.Progress, "soak: %s: verified\n", time.Since(started).Round(100*time.Millisecond))
	runs := d.Runs()
	rep.Runs = len(runs)
	for _, r := range runs {
		if r.Done {
			rep.RunsDone++
		}
		if r.Kind == "service-request" {
			rep.ServiceRequests++
		} else {
			rep.WorkOrders++
		}
		for _, a := range r.Actions {
			if a.Acked && a.Attempts > 1 {
				rep.Retried++
			}
			if a.Acked && a.Replayed {
				rep.Replayed++
			}
		}
	}
	var all []*Action
	for _, r := range runs {
		for _, a := range r.Actions {
			if a.Acked {
				all = append(all, a)
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Took > all[j].Took })
	for _, a := range all[:min(3, len(all))] {
		rep.Slowest = append(rep.Slowest, fmt.Sprintf("%s %s %s: %s in %d attempts, first failure: %.200s", a.Run, a.Name, a.Path, a.Took.Round(100*time.Millisecond), a.Attempts, a.FirstErr))
	}
	rep.Elapsed = time.Since(started)
	return rep, nil
}

func countAcked(runs []*Trace) int {
	n := 0
	for _, r := range runs {
		for _, a := range r.Actions {
			if a.Acked {
				n++
			}
		}
	}
	return n
}

// newClient signs the load's tokens with the secret the dev process keeps in the data directory.
func newClient(dataDir, apiURL string) (*client, error) {
	secret, err := auth.LoadSecret(dataDir, false)
	if err != nil {
		return nil, err
	}
	keys, err := auth.NewKeys(secret)
	if err != nil {
		return nil, err
	}
	c := &client{base: apiURL, tokens: map[string]string{}, http: &http.Client{Timeout: time.Minute}, patience: 3 * time.Minute}
	for user, p := range map[string]auth.Principal{
		"alice": {Subject: "alice", Roles: []auth.Role{auth.RoleAgent}},
		"dan":   {Subject: "dan", Roles: []auth.Role{auth.RoleDispatcher}},
		"eve":   {Subject: "eve", Roles: []auth.Role{auth.RoleEngineer}, Groups: []string{"installers"}},
	} {
		if c.tokens[user], err = keys.Issue(p, 48*time.Hour, time.Now()); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// startStack starts the services, then the worker and the API, and waits until the API is ready.
func startStack(ctx context.Context, cfg Config, dataDir, logDir, smtpAddr string) (*stack, error) {
	var ports [3]int
	for i := range ports {
		p, err := postgres.FreePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	pgPort, temporalPort, httpPort := ports[0], ports[1], ports[2]
	temporalAddr := fmt.Sprintf("127.0.0.1:%d", temporalPort)
	st := &stack{
		apiURL: fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		dbURL:  fmt.Sprintf("postgres://fieldflow@127.0.0.1:%d/fieldflow?sslmode=disable", pgPort),
		devLog: filepath.Join(logDir, "dev.log"),
	}
	base := cleanEnv()
	common := []string{"--data-dir", dataDir, "--definitions", cfg.Definitions, "--log-level", "warn", "--metrics", ""}
	open := func(name string) (io.Writer, error) {
		return os.OpenFile(filepath.Join(logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	}
	devLog, err := open("dev")
	if err != nil {
		return nil, err
	}
	st.dev = &proc{name: "dev", bin: cfg.Binary, env: base, log: devLog,
		args: append([]string{"dev", "--services-only", "--postgres-port", fmt.Sprint(pgPort), "--temporal-port", fmt.Sprint(temporalPort)}, common...)}
	st.dev.supervise()
	// The api and the worker connect once the services are there.
	if err := waitForServices(ctx, st.dev, st.devLog, 3*time.Minute); err != nil {
		return st, err
	}
	env := append(base, "DATABASE_URL="+st.dbURL, "FIELDFLOW_SMTP_ADDR="+smtpAddr, "FIELDFLOW_SMTP_FROM=desk@soak.example.com",
		"FIELDFLOW_PUBLIC_URL="+st.apiURL)
	workerLog, err := open("worker")
	if err != nil {
		return st, err
	}
	st.worker = &proc{name: "worker", bin: cfg.Binary, env: env, log: workerLog,
		args: append([]string{"worker", "--temporal-address", temporalAddr}, common...)}
	apiLog, err := open("api")
	if err != nil {
		return st, err
	}
	st.api = &proc{name: "api", bin: cfg.Binary, env: env, log: apiLog,
		args: append([]string{"api", "--temporal-address", temporalAddr, "--http", strings.TrimPrefix(st.apiURL, "http://")}, common...)}
	st.worker.supervise()
	st.api.supervise()
	return st, st.waitReady(ctx, 3*time.Minute)
}

// cleanEnv is the environment without the settings the soak chooses itself.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "DATABASE_URL" || name == "TEMPORAL_ADDRESS" || strings.HasPrefix(name, "FIELDFLOW_") && name != "FIELDFLOW_JWT_SECRET" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// waitReady waits until the API answers /readyz with 200 (it checks PostgreSQL and Temporal).
func (s *stack) waitReady(ctx context.Context, within time.Duration) error {
	hc := &http.Client{Timeout: 5 * time.Second}
	return waitFor(ctx, within, func() bool {
		resp, err := hc.Get(s.apiURL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// stop stops the API and the worker, then the services, with SIGTERM.
func (s *stack) stop() {
	for _, p := range []*proc{s.api, s.worker, s.dev} {
		if p != nil {
			p.stop(syscall.SIGTERM)
		}
	}
}

// devGiveUp is how many times dev may exit before it is ready: a start that fails at once (a
// port taken, a data dir PostgreSQL cannot reach) fails the same way every time.
const devGiveUp = 3

// waitForServices waits until dev says it is ready, and gives up early when it keeps failing.
func waitForServices(ctx context.Context, dev *proc, logPath string, within time.Duration) error {
	var raw []byte
	ready := false
	err := waitFor(ctx, within, func() bool {
		raw, _ = os.ReadFile(logPath)
		ready = bytes.Contains(raw, []byte("Fieldflow is ready"))
		return ready || dev.exitCount() >= devGiveUp
	})
	if err == nil && !ready {
		err = fmt.Errorf("it exited %d times; the last lines of its log:\n%s", dev.exitCount(), lastLines(raw, 3))
	}
	if err != nil {
		return fmt.Errorf("fieldflow dev --services-only did not start (log in %s): %w", logPath, err)
	}
	return nil
}

// lastLines is the end of a log: its last n lines.
func lastLines(raw []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func waitFor(ctx context.Context, within time.Duration, ok func() bool) error {
	deadline := time.Now().Add(within)
	for !ok() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return errors.New("timed out after " + within.String())
		}
		sleep(ctx, 200*time.Millisecond)
	}
	return nil
}
