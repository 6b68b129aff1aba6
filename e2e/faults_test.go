package e2e

// Dependency faults (issue 9, item 2): PostgreSQL stopped and restarted under load, the Temporal
// frontend unreachable from the API, and an SMTP server and a webhook receiver that fail or hang.
// Everything here is real: the private PostgreSQL cluster, the embedded Temporal server, go-smtp
// behind a TCP proxy the test controls, and an HTTP receiver.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/fieldflow/fieldflow/activities"
	ffapi "github.com/fieldflow/fieldflow/api"
	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/devstack"
	"github.com/fieldflow/fieldflow/devstack/postgres"
	"github.com/fieldflow/fieldflow/intake"
	"github.com/fieldflow/fieldflow/internal/smtptest"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/worker"
	"github.com/fieldflow/fieldflow/workflows"
)

// outcome is one HTTP exchange of a load goroutine (which may not call require).
type outcome struct {
	status int
	header http.Header
	raw    string
	err    error
	took   time.Duration
}

// try calls the API without failing the test: for goroutines, and for calls expected to fail.
func try(base, token, method, path string, body any, headers ...string) outcome {
	var r io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, base+path, r)
	if err != nil {
		return outcome{err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	start := time.Now()
	resp, err := (&http.Client{Timeout: 90 * time.Second}).Do(req)
	if err != nil {
		return outcome{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return outcome{status: resp.StatusCode, header: resp.Header, raw: string(raw), err: err, took: time.Since(start)}
}

// requireCleanFailure checks that a failed answer is a problem document and that a 503 says when
// to retry.
func requireCleanFailure(t *testing.T, what string, o outcome) {
	t.Helper()
	require.NoError(t, o.err, what)
	require.GreaterOrEqual(t, o.status, 500, "%s: %d %s", what, o.status, o.raw)
	require.Equal(t, "application/problem+json", o.header.Get("Content-Type"), "%s: %d %s", what, o.status, o.raw)
	var p map[string]any
	require.NoError(t, json.Unmarshal([]byte(o.raw), &p), what)
	require.EqualValues(t, o.status, p["status"], what)
	if o.status == http.StatusServiceUnavailable {
		require.NotEmpty(t, o.header.Get("Retry-After"), "%s: a 503 says when to retry: %s", what, o.raw)
	}
}

// readiness is GET /readyz: its status, Retry-After and checks.
func readiness(t *testing.T, base string) (int, string, map[string]any) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(base + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	checks, _ := body["checks"].(map[string]any)
	return resp.StatusCode, resp.Header.Get("Retry-After"), checks
}

// TestFaultPostgresRestartUnderLoad stops the PostgreSQL server while agents add notes to their
// requests, and starts it again. While it is down /readyz is 503 and an action either succeeds or
// fails cleanly (a problem document; a 503 with Retry-After); after the restart every acknowledged
// note is in the projection, and retrying the failed ones with their Idempotency-Key applies each
// exactly once. The embedded Temporal server keeps its state in the same PostgreSQL server and
// recovers with it.
func TestFaultPostgresRestartUnderLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pgDir := filepath.Join(dataDir(t), "postgres")
	pg, err := postgres.Start(ctx, pgDir, postgres.Options{})
	require.NoError(t, err)
	port := pg.Port()
	var pgMu sync.Mutex
	t.Cleanup(func() {
		pgMu.Lock()
		defer pgMu.Unlock()
		if pg != nil {
			_ = pg.Stop()
		}
	})
	// Temporal persists to the same server, as in `fieldflow dev`: both go down together. (Run with
	// devstack.TemporalStoreSQLite instead, only the projection's database fails; that passes too.)
	stack := startStack(t, func(c *devstack.Config) {
		c.DatabaseURL = pg.URL()
		c.TemporalStore = devstack.TemporalStorePostgres
	})

	// Each agent has a request of its own and adds numbered notes to it, each with its own key.
	const agents = 3
	type action struct {
		agent, n int
		key      string
		first    outcome
		phase    string
	}
	tokens := make([]string, agents)
	paths := make([]string, agents)
	for i := range agents {
		tokens[i] = token(t, stack, fmt.Sprintf("agent-%d", i), auth.RoleAgent)
		sr := api{t: t, base: stack.APIURL, token: tokens[i]}.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
			"queue": "technical-support", "subject": fmt.Sprintf("Outage %d", i), "contact": map[string]any{"phone": "+357 22 000000"},
		})
		paths[i] = "/v1/service-requests/" + sr["id"].(string)
	}
	var phase atomic.Value
	phase.Store("before")
	var recovered atomic.Int64 // actions that succeeded after the restart
	stop := make(chan struct{})
	results := make(chan action, 10000)
	var load sync.WaitGroup
	for i := range agents {
		load.Add(1)
		go func() {
			defer load.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				a := action{agent: i, n: n, key: fmt.Sprintf("note-%d-%d", i, n), phase: phase.Load().(string)}
				a.first = try(stack.APIURL, tokens[i], "POST", paths[i]+"/notes", map[string]any{"text": fmt.Sprintf("note %d of agent %d", n, i)}, "Idempotency-Key", a.key)
				if a.phase == "restarted" && a.first.status == http.StatusOK {
					recovered.Add(1)
				}
				results <- a
				time.Sleep(100 * time.Millisecond) // well under the per-caller rate limit
			}
		}()
	}

	time.Sleep(2 * time.Second)
	phase.Store("down")
	stopped := time.Now()
	pgMu.Lock()
	require.NoError(t, pg.Stop())
	pg = nil
	pgMu.Unlock()
	t.Logf("PostgreSQL stopped")
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status, retryAfter, checks := readiness(t, stack.APIURL)
		require.Equal(c, http.StatusServiceUnavailable, status)
		require.NotEmpty(c, retryAfter)
		require.NotEqual(c, "ok", checks["postgres"])
	}, 10*time.Second, 100*time.Millisecond, "/readyz reports the database down")
	// Reads come from the projection: they fail cleanly too.
	read := try(stack.APIURL, tokens[0], "GET", paths[0], nil)
	requireCleanFailure(t, "GET while PostgreSQL is down", read)
	require.Equal(t, http.StatusServiceUnavailable, read.status, read.raw)

	time.Sleep(time.Until(stopped.Add(4 * time.Second)))
	phase.Store("restarted")
	pgMu.Lock()
	pg, err = postgres.Start(ctx, pgDir, postgres.Options{Port: port})
	pgMu.Unlock()
	require.NoError(t, err)
	t.Logf("PostgreSQL started again after %s", time.Since(stopped).Round(time.Millisecond))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status, _, checks := readiness(t, stack.APIURL)
		require.Equal(c, http.StatusOK, status, "%v", checks)
	}, 30*time.Second, 100*time.Millisecond, "/readyz is ready again")
	require.Eventually(t, func() bool { return recovered.Load() >= 3*agents }, 30*time.Second, 100*time.Millisecond,
		"actions succeed again after the restart")
	close(stop)
	load.Wait()
	close(results)

	// Every answer was a success or a clean failure.
	var all []action
	counts := map[string]map[int]int{}
	for a := range results {
		all = append(all, a)
		if counts[a.phase] == nil {
			counts[a.phase] = map[int]int{}
		}
		counts[a.phase][a.first.status]++
		if a.first.status >= 200 && a.first.status < 300 {
			continue
		}
		requireCleanFailure(t, fmt.Sprintf("note %s (%s)", a.key, a.phase), a.first)
		require.Equal(t, http.StatusServiceUnavailable, a.first.status, "note %s (%s): the database is unavailable, not broken: %s", a.key, a.phase, a.first.raw)
	}
	t.Logf("answers by phase and status: %v", counts)
	require.NotZero(t, counts["before"][http.StatusOK])
	require.NotZero(t, counts["restarted"][http.StatusOK], "actions succeed again after the restart")
	down := 0
	for status, n := range counts["down"] {
		if status != http.StatusOK {
			down += n
		}
	}
	require.NotZero(t, down, "some actions met the database down")

	// The failed ones are retried with their keys, as a client would; each then succeeds.
	retryErrs := make(chan string, len(all))
	var retries sync.WaitGroup
	for i := range agents {
		retries.Add(1)
		go func() {
			defer retries.Done()
			for _, a := range all {
				if a.agent != i || a.first.status >= 200 && a.first.status < 300 {
					continue
				}
				var o outcome
				for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
					o = try(stack.APIURL, tokens[i], "POST", paths[i]+"/notes", map[string]any{"text": fmt.Sprintf("note %d of agent %d", a.n, i)}, "Idempotency-Key", a.key)
					if o.err == nil && o.status == http.StatusOK {
						break
					}
				}
				if o.err != nil || o.status != http.StatusOK {
					retryErrs <- fmt.Sprintf("retry of %s: %d %v %s", a.key, o.status, o.err, o.raw)
				}
			}
		}()
	}
	retries.Wait()
	close(retryErrs)
	for e := range retryErrs {
		t.Error(e)
	}

	// Every note is in the projection exactly once: none lost, none applied twice.
	for i := range agents {
		want := 0
		for _, a := range all {
			if a.agent == i {
				want++
			}
		}
		events := api{t: t, base: stack.APIURL, token: tokens[i]}.must(http.StatusOK, "GET", paths[i]+"/events?limit=1000", nil)
		seen := map[string]int{}
		for _, e := range events["items"].([]any) {
			ev := e.(map[string]any)
			if ev["type"] == "note_added" {
				raw, _ := json.Marshal(ev["details"])
				seen[string(raw)]++
			}
		}
		got := 0
		for _, n := range seen {
			require.Equal(t, 1, n, "a note applied twice: %v", seen)
			got += n
		}
		require.Equal(t, want, got, "agent %d: notes sent and notes in the projection", i)
		sr := api{t: t, base: stack.APIURL, token: tokens[i]}.must(http.StatusOK, "GET", paths[i], nil)
		notes, _ := sr["notes"].([]any)
		require.Len(t, notes, want, "agent %d: the record's notes", i)
	}
}

// proxy is a TCP proxy the test can take down (connections are cut and new ones closed at once)
// and bring back, or make hang (connections are accepted and never answered).
type proxy struct {
	ln     net.Listener
	target string

	mu   sync.Mutex
	mode string // "pass", "down", "hang", or "reply:TEXT" (write TEXT, then close)
	// script are the modes of the next connections, one each, before mode applies again.
	script []string
	conns  map[net.Conn]struct{}
	// accepted counts connections by the mode they met.
	accepted map[string]int
	// gaveUp receives the time each hanging connection is given up by the client.
	gaveUp chan time.Time
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target, mode: "pass", conns: map[net.Conn]struct{}{}, accepted: map[string]int{}, gaveUp: make(chan time.Time, 16)}
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.set("down")
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// set changes the mode; "down" also cuts every open connection.
func (p *proxy) set(mode string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = mode
	if mode == "down" {
		for c := range p.conns {
			_ = c.Close()
		}
	}
}

func (p *proxy) count(mode string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted[mode]
}

func (p *proxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		if len(p.script) > 0 {
			mode, p.script = p.script[0], p.script[1:]
		}
		p.accepted[mode]++
		p.mu.Unlock()
		switch {
		case mode == "down":
			_ = c.Close()
		case strings.HasPrefix(mode, "reply:"):
			_, _ = io.WriteString(c, strings.TrimPrefix(mode, "reply:"))
			_ = c.Close()
		case mode == "hang":
			p.track(c, true)
			go func() {
				// Read and drop whatever comes, answer nothing; note when the client gives up.
				_, _ = io.Copy(io.Discard, c)
				p.track(c, false)
				_ = c.Close()
				p.gaveUp <- time.Now()
			}()
		default:
			go p.pipe(c)
		}
	}
}

func (p *proxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.track(c, true)
	p.track(up, true)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	_ = c.Close()
	_ = up.Close()
	p.track(c, false)
	p.track(up, false)
}

// TestFaultTemporalUnreachable cuts an API's connection to the Temporal frontend: actions and
// creations answer 503 with Retry-After (at once, once the outage is known), /readyz is 503, reads
// from the projection still work;
// when the frontend is reachable again the API recovers and the refused actions, retried with
// their keys, apply once.
func TestFaultTemporalUnreachable(t *testing.T) {
	stack := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A second API, like a separate `fieldflow api` process, reaches Temporal through the proxy.
	front := startProxy(t, stack.TemporalAddress)
	logger := zaptest.NewLogger(t, zaptest.Level(zapcore.ErrorLevel))
	c, err := workflows.Dial(ctx, front.addr(), devstack.Namespace, logger)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	st, err := store.Open(ctx, stack.DatabaseURL)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	wf := workflows.NewClient(c, st)
	srv := httptest.NewServer(ffapi.New(ffapi.Config{
		Logger: logger, Keys: stack.Keys, Workflows: wf, Store: st, Registry: stack.Registry,
		Intake: &intake.Service{Catalog: stack.Registry, Store: st, Workflows: wf}, ActionTimeout: 10 * time.Second,
	}))
	t.Cleanup(srv.Close)
	alice := api{t: t, base: srv.URL, token: token(t, stack, "alice", auth.RoleAgent)}
	body := map[string]any{"queue": "technical-support", "subject": "Router down", "contact": map[string]any{"phone": "+357 22 000000"}}
	sr := alice.must(http.StatusCreated, "POST", "/v1/service-requests", body)
	path := "/v1/service-requests/" + sr["id"].(string)
	require.Equal(t, "triage", alice.must(http.StatusOK, "POST", path+"/progress", nil)["stage"])

	front.set("down")
	status, retryAfter, checks := readiness(t, srv.URL)
	require.Equal(t, http.StatusServiceUnavailable, status, "%v", checks)
	require.NotEmpty(t, retryAfter)
	require.NotEqual(t, "ok", checks["temporal"])
	require.Equal(t, "ok", checks["postgres"])

	// The SDK retries an unreachable frontend until the action's deadline (ActionTimeout, here 10 s);
	// the client checks the frontend's health first when it knows it unreachable (here from the
	// /readyz above). Both calls go at once.
	var created, note outcome
	var calls sync.WaitGroup
	calls.Add(2)
	go func() {
		defer calls.Done()
		created = try(srv.URL, alice.token, "POST", "/v1/service-requests", body, "Idempotency-Key", "create-1")
	}()
	go func() {
		defer calls.Done()
		note = try(srv.URL, alice.token, "POST", path+"/notes", map[string]any{"text": "called back"}, "Idempotency-Key", "note-1")
	}()
	calls.Wait()
	requireCleanFailure(t, "create", created)
	require.Equal(t, http.StatusServiceUnavailable, created.status, created.raw)
	requireCleanFailure(t, "note", note)
	require.Equal(t, http.StatusServiceUnavailable, note.status, note.raw)
	t.Logf("answers while Temporal is unreachable took %s (create) and %s (note)", created.took.Round(time.Millisecond), note.took.Round(time.Millisecond))
	// Now the client knows: the next action checks the frontend's health first (2 s at most) and
	// answers 503 without waiting for its deadline.
	progress := try(srv.URL, alice.token, "POST", path+"/progress", nil, "Idempotency-Key", "progress-1")
	requireCleanFailure(t, "progress", progress)
	require.Equal(t, http.StatusServiceUnavailable, progress.status, progress.raw)
	require.Less(t, progress.took, 6*time.Second, "a known outage answers before the 10 s deadline")
	t.Logf("the next action's 503 took %s", progress.took.Round(time.Millisecond))
	// The projection still answers reads.
	require.Equal(t, "triage", alice.must(http.StatusOK, "GET", path, nil)["stage"])

	front.set("pass")
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		status, _, checks := readiness(t, srv.URL)
		require.Equal(c, http.StatusOK, status, "%v", checks)
	}, 30*time.Second, 200*time.Millisecond)
	again := alice.must(http.StatusCreated, "POST", "/v1/service-requests", body, "Idempotency-Key", "create-1")
	require.Equal(t, "new", again["stage"])
	alice.must(http.StatusOK, "POST", path+"/notes", map[string]any{"text": "called back"}, "Idempotency-Key", "note-1")
	alice.must(http.StatusOK, "POST", path+"/notes", map[string]any{"text": "called back"}, "Idempotency-Key", "note-1")
	require.Equal(t, "diagnosis", alice.must(http.StatusOK, "POST", path+"/progress", nil, "Idempotency-Key", "progress-1")["stage"])
	require.Equal(t, []string{"created", "stage_changed", "note_added", "stage_changed"}, eventTypes(alice.must(http.StatusOK, "GET", path+"/events", nil)))
	mine := ids(alice.must(http.StatusOK, "GET", "/v1/service-requests?owner=alice", nil))
	require.Len(t, mine, 2, "the refused creation, retried, made one request")
}

// smtpUnavailable is an SMTP server's greeting refusing service for now (RFC 5321, 4.2.3): the
// sender is to try again later.
const smtpUnavailable = "reply:421 4.3.2 smtptest.local Service not available, try again later\r\n"

// TestFaultMailAndWebhookRetry: the billing queue's "on closed" automation emails the contact and
// posts a webhook. The SMTP server (go-smtp behind a proxy) first hangs, then refuses with 421,
// then takes the message; the webhook receiver first hangs, then answers 503, then 200. Each hung
// attempt is given up at a timeout, the activities retry with growing intervals, and the mail and
// the webhook arrive exactly once; the delivery log records both.
func TestFaultMailAndWebhookRetry(t *testing.T) {
	t.Parallel() // mostly waiting for the timeouts of the hung attempts
	box := smtptest.Start(t)
	mailFront := startProxy(t, box.Addr())
	mailFront.script = []string{"hang", smtpUnavailable}

	type delivery struct {
		at          time.Time
		id, body    string
		status      int
		gaveUpAfter time.Duration
	}
	var (
		hookMu sync.Mutex
		hooks  []delivery
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		n := len(hooks)
		hooks = append(hooks, delivery{at: time.Now(), id: r.Header.Get(activities.DeliveryHeader), body: string(raw)})
		hookMu.Unlock()
		switch n {
		case 0: // hang until the sender gives up
			start := time.Now()
			<-r.Context().Done()
			hookMu.Lock()
			hooks[n].gaveUpAfter = time.Since(start)
			hookMu.Unlock()
			return
		case 1:
			hookMu.Lock()
			hooks[n].status = http.StatusServiceUnavailable
			hookMu.Unlock()
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			hookMu.Lock()
			hooks[n].status = http.StatusOK
			hookMu.Unlock()
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(receiver.Close)

	defs := copyTree(t, "../definitions")
	file := filepath.Join(defs, "service-requests", "billing.yaml")
	text, err := os.ReadFile(file)
	require.NoError(t, err)
	edited := strings.Replace(string(text), "do: [{notify: {template: sr-closed, to: [contact], channels: [email]}}]",
		fmt.Sprintf("do: [{notify: {template: sr-closed, to: [contact], channels: [email]}}, {webhook: {url: %q}}]", receiver.URL+"/hooks/closed"), 1)
	require.NotEqual(t, string(text), edited, "the billing queue's automation changed")
	require.NoError(t, os.WriteFile(file, []byte(edited), 0o644))
	stack := startStack(t, func(c *devstack.Config) {
		c.DefinitionsDir = defs
		c.Mail = func(d *worker.Dependencies) {
			d.Mailer, d.MailFrom = activities.SMTPMailer{Addr: mailFront.addr()}, "desk@fieldflow.test"
		}
	})
	alice := api{t: t, base: stack.APIURL, token: token(t, stack, "alice", auth.RoleAgent)}
	sr := alice.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "billing", "subject": "Copy of invoice 78", "contact": map[string]any{"name": "Ada", "email": "ada@example.com"},
	})
	path := "/v1/service-requests/" + sr["id"].(string)
	closedAt := time.Now()
	alice.must(http.StatusOK, "POST", path+"/close", map[string]any{"resolved": true})

	// The mail: the hung exchange is given up at the activity's timeout, then 421, then delivered.
	msgs := box.Wait(t, 1, 90*time.Second)
	select {
	case at := <-mailFront.gaveUp:
		t.Logf("the hung SMTP exchange was given up after %s", at.Sub(closedAt).Round(time.Millisecond))
		require.Less(t, at.Sub(closedAt), 45*time.Second)
	default:
		require.Fail(t, "the hung SMTP connection was never given up")
	}
	require.Equal(t, 1, mailFront.count("hang"))
	require.Equal(t, 1, mailFront.count(smtpUnavailable))
	require.Contains(t, msgs[0].Raw, "Subject: Your request "+sr["number"].(string)+" is closed")
	require.Equal(t, []string{"ada@example.com"}, msgs[0].To)

	// The webhook: hang, 503, 200; the same delivery ID on every attempt, growing intervals.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		hookMu.Lock()
		defer hookMu.Unlock()
		require.Len(c, hooks, 3)
		require.Equal(c, http.StatusOK, hooks[2].status)
	}, 90*time.Second, 100*time.Millisecond)

	// Nothing more arrives: each was delivered exactly once.
	var events map[string]any
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		events = alice.must(http.StatusOK, "GET", path+"/events", nil)
		types := eventTypes(events)
		require.Contains(c, types, "notification_sent")
		require.Contains(c, types, "webhook_delivered")
	}, 20*time.Second, 100*time.Millisecond)
	time.Sleep(3 * time.Second)
	require.Len(t, box.Messages(), 1, "the mail arrived once")
	require.Equal(t, 1, mailFront.count("pass"), "no SMTP attempt after the delivery")
	hookMu.Lock()
	got := append([]delivery(nil), hooks...)
	hookMu.Unlock()
	require.Len(t, got, 3, "no webhook attempt after the delivery")
	for _, h := range got {
		require.Equal(t, got[0].id, h.id, "one delivery ID on every attempt")
		require.Equal(t, got[0].body, h.body)
	}
	require.NotEmpty(t, got[0].id)
	t.Logf("webhook attempts at +%s (given up after %s), +%s (503), +%s (200)", got[0].at.Sub(closedAt).Round(time.Millisecond),
		got[0].gaveUpAfter.Round(time.Millisecond), got[1].at.Sub(closedAt).Round(time.Millisecond), got[2].at.Sub(closedAt).Round(time.Millisecond))
	require.NotZero(t, got[0].gaveUpAfter, "the hung webhook was given up")
	require.Less(t, got[0].gaveUpAfter, 35*time.Second, "a hanging receiver meets a timeout")
	first, second := got[1].at.Sub(got[0].at.Add(got[0].gaveUpAfter)), got[2].at.Sub(got[1].at)
	// The policy (workflows' effectOptions): 1 s before the first retry, doubling after each.
	require.GreaterOrEqual(t, first, 800*time.Millisecond, "a retry waits")
	require.GreaterOrEqual(t, second, 1600*time.Millisecond, "retries back off")

	var delivered map[string]any
	for _, e := range events["items"].([]any) {
		if ev := e.(map[string]any); ev["type"] == "webhook_delivered" {
			delivered = ev["details"].(map[string]any)
		}
	}
	t.Logf("webhook_delivered details: %v", delivered)
}
