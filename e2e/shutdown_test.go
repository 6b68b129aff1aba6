package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/soak"
)

// child is a fieldflow process of a test, with its output.
type child struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startChild(t *testing.T, name string, env []string, args ...string) *child {
	t.Helper()
	c := &child{t: t, name: name, out: &syncBuffer{}, done: make(chan struct{})}
	c.cmd = exec.Command(buildBinary(t), args...)
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	require.NoError(t, c.cmd.Start())
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.done
	})
	return c
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// waitExit waits for the process to exit and returns its exit error.
func (c *child) waitExit(within time.Duration) error {
	c.t.Helper()
	select {
	case <-c.done:
		return c.err
	case <-time.After(within):
		c.t.Fatalf("%s did not exit within %s:\n%s", c.name, within, c.out.String())
		return nil
	}
}

// TestGracefulShutdown sends SIGTERM to `fieldflow api` while a request waits for its run, and to
// `fieldflow worker` while it is sending an email: the API answers the request with 200 before it
// exits, and the worker finishes the email (the mail server holds it for 3 seconds) and records
// it, so it is not sent again by the next worker.
func TestGracefulShutdown(t *testing.T) {
	dir := dataDir(t)
	pgPort, temporalPort, httpPort := freePort(t), freePort(t), freePort(t)
	services := startChild(t, "dev", []string{"DATABASE_URL="}, "dev", "--services-only", "--data-dir", dir, "--definitions", "../definitions",
		"--postgres-port", fmt.Sprint(pgPort), "--temporal-port", fmt.Sprint(temporalPort), "--metrics", "", "--log-level", "warn")
	require.Eventually(t, func() bool {
		require.False(t, services.exited(), services.out.String())
		return strings.Contains(services.out.String(), "Fieldflow is ready")
	}, 2*time.Minute, 100*time.Millisecond)
	t.Cleanup(func() {
		_ = services.cmd.Process.Signal(syscall.SIGTERM)
		_ = services.waitExit(time.Minute)
	})

	mb, err := soak.StartMailbox()
	require.NoError(t, err)
	defer mb.Close()
	held := make(chan struct{}, 1)
	mb.Hold = func(m soak.Mail) {
		held <- struct{}{}
		time.Sleep(3 * time.Second)
	}
	apiAddr := fmt.Sprintf("127.0.0.1:%d", httpPort)
	env := []string{
		fmt.Sprintf("DATABASE_URL=postgres://fieldflow@127.0.0.1:%d/fieldflow?sslmode=disable", pgPort),
		"TEMPORAL_ADDRESS=" + fmt.Sprintf("127.0.0.1:%d", temporalPort),
		"FIELDFLOW_SMTP_ADDR=" + mb.Addr(), "FIELDFLOW_METRICS_ADDR=", "FIELDFLOW_LOG_LEVEL=info",
	}
	common := []string{"--data-dir", dir, "--definitions", "../definitions"}
	startWorker := func() *child {
		return startChild(t, "worker", env, append([]string{"worker"}, common...)...)
	}
	worker := startWorker()
	apiProc := startChild(t, "api", env, append([]string{"api", "--http", apiAddr}, common...)...)
	alice := api{t: t, base: "http://" + apiAddr}
	waitReady := func() {
		require.Eventually(t, func() bool {
			resp, err := http.Get(alice.base + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, time.Minute, 100*time.Millisecond, "api ready:\n%s", apiProc.out.String())
	}
	waitReady()
	out, err := exec.Command(buildBinary(t), "token", "--data-dir", dir, "--sub", "alice", "--roles", "agent").Output()
	require.NoError(t, err)
	alice.token = strings.TrimSpace(string(out))

	sr := alice.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "billing", "subject": "Shutdown", "contact": map[string]any{"email": "drain@example.com"},
	})
	path := "/v1/service-requests/" + sr["id"].(string)

	// The API: SIGTERM while a request waits for its run (no worker runs, so it waits).
	require.NoError(t, worker.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, worker.waitExit(30*time.Second), "the worker exits cleanly:\n%s", worker.out.String())
	type result struct {
		status int
		body   string
		err    error
	}
	answer := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("POST", alice.base+path+"/notes", strings.NewReader(`{"text": "written during shutdown"}`))
		req.Header.Set("Authorization", "Bearer "+alice.token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "note-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answer <- result{err: err}
			return
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		answer <- result{status: resp.StatusCode, body: b.String()}
	}()
	time.Sleep(1500 * time.Millisecond)
	require.NoError(t, apiProc.cmd.Process.Signal(syscall.SIGTERM))
	time.Sleep(time.Second)
	require.False(t, apiProc.exited(), "the api waits for the request in flight:\n%s", apiProc.out.String())
	worker = startWorker() // the run moves again, and the request gets its answer
	select {
	case r := <-answer:
		require.NoError(t, r.err)
		require.Equal(t, http.StatusOK, r.status, r.body)
	case <-time.After(40 * time.Second):
		t.Fatalf("the request in flight got no answer:\n%s", apiProc.out.String())
	}
	require.NoError(t, apiProc.waitExit(30*time.Second), "the api exits cleanly after the request:\n%s", apiProc.out.String())
	apiProc = startChild(t, "api", env, append([]string{"api", "--http", apiAddr}, common...)...)
	waitReady()

	// The worker: SIGTERM while the closing email is in the mail server's hands.
	alice.must(http.StatusOK, "POST", path+"/close", map[string]any{"resolved": false, "resolution": "test"}, "Idempotency-Key", "close-1")
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatalf("no email reached the mail server:\n%s", worker.out.String())
	}
	require.NoError(t, worker.cmd.Process.Signal(syscall.SIGTERM))
	time.Sleep(time.Second)
	require.False(t, worker.exited(), "the worker waits for the email it is sending")
	require.NoError(t, worker.waitExit(30*time.Second), "the worker exits cleanly:\n%s", worker.out.String())
	require.Len(t, mb.Messages(), 1)

	// The email the first worker finished is recorded: the next worker does not send it again.
	worker = startWorker()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		r := alice.do("GET", path+"/events", nil)
		require.Equal(c, http.StatusOK, r.Status)
		require.Contains(c, eventTypes(r.Body), "notification_sent")
		require.Contains(c, eventTypes(r.Body), "note_added")
	}, 30*time.Second, 200*time.Millisecond)
	time.Sleep(2 * time.Second)
	require.Len(t, mb.Messages(), 1, "the email was sent once")
	require.NoError(t, worker.cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, worker.waitExit(30*time.Second))
}
