package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/devstack/postgres"
)

// devProcess is `fieldflow dev` running as its own process.
type devProcess struct {
	t       *testing.T
	bin     string
	dataDir string
	args    []string
	addr    string
	cmd     *exec.Cmd
	logs    *bytes.Buffer
	done    chan error
}

var (
	binaryOnce sync.Once
	binaryDir  string
	binaryPath string
	binaryErr  error
)

// TestMain removes the binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binaryDir != "" {
		_ = os.RemoveAll(binaryDir)
	}
	os.Exit(code)
}

// buildBinary builds the fieldflow command, once for all the tests of the package.
func buildBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		if binaryDir, binaryErr = os.MkdirTemp("", "fieldflow-bin-"); binaryErr != nil {
			return
		}
		binaryPath = filepath.Join(binaryDir, "fieldflow")
		build := exec.Command("go", "build", "-o", binaryPath, "./cmd/fieldflow")
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			binaryErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	require.NoError(t, binaryErr)
	return binaryPath
}

func freePort(t *testing.T) int {
	p, err := postgres.FreePort()
	require.NoError(t, err)
	return p
}

// newDevProcess prepares `fieldflow dev` on free ports with its state in dir.
func newDevProcess(t *testing.T, bin, dir string) *devProcess {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	return &devProcess{t: t, bin: bin, dataDir: dir, addr: addr, args: []string{
		"dev", "--data-dir", dir, "--definitions", "../definitions", "--log-level", "warn", "--http", addr,
		"--temporal-port", fmt.Sprint(freePort(t)), "--ui-port", fmt.Sprint(freePort(t)),
		"--smtp-intake", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
	}}
}

func (d *devProcess) apiURL() string { return "http://" + d.addr }

// start launches the process and waits until /readyz answers 200.
func (d *devProcess) start() {
	d.t.Helper()
	d.logs = &bytes.Buffer{}
	d.cmd = exec.Command(d.bin, d.args...)
	d.cmd.Stdout = d.logs
	d.cmd.Stderr = d.logs
	require.NoError(d.t, d.cmd.Start())
	d.done = make(chan error, 1)
	go func() { d.done <- d.cmd.Wait() }()
	cmd := d.cmd
	d.t.Cleanup(func() {
		// Whatever happened in the test, leave no process behind.
		_ = cmd.Process.Kill()
		_ = postgres.StopLeftover(context.Background(), filepath.Join(d.dataDir, "postgres"))
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-d.done:
			d.t.Fatalf("fieldflow dev exited before it was ready: %v\n%s", err, d.logs)
		default:
		}
		resp, err := http.Get(d.apiURL() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		require.True(d.t, time.Now().Before(deadline), "fieldflow dev was not ready in time:\n%s", d.logs)
		time.Sleep(100 * time.Millisecond)
	}
}

// signal sends sig and waits for the process to exit, returning its exit error.
func (d *devProcess) signal(sig syscall.Signal) error {
	d.t.Helper()
	require.NoError(d.t, d.cmd.Process.Signal(sig))
	select {
	case err := <-d.done:
		return err
	case <-time.After(60 * time.Second):
		_ = d.cmd.Process.Kill()
		d.t.Fatalf("fieldflow dev did not exit after %v:\n%s", sig, d.logs)
		return nil
	}
}

func (d *devProcess) token(sub, roles string) string {
	d.t.Helper()
	out, err := exec.Command(d.bin, "token", "--data-dir", d.dataDir, "--sub", sub, "--roles", roles).Output()
	require.NoError(d.t, err)
	return strings.TrimSpace(string(out))
}

// TestDevSurvivesSIGKILL kills `fieldflow dev` mid-lifecycle and starts it again on the same data
// directory: every request is still there and carries on from where it was.
func TestDevSurvivesSIGKILL(t *testing.T) {
	dev := newDevProcess(t, buildBinary(t), dataDir(t))
	dev.start()
	alice := api{t: t, base: dev.apiURL(), token: dev.token("alice", "agent")}

	first := alice.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "billing", "subject": "Refund not received", "contact": map[string]any{"email": "ada@example.com"},
	})
	second := alice.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "technical-support", "subject": "No signal", "contact": map[string]any{"email": "bob@example.com"},
	})
	firstPath := "/v1/service-requests/" + first["id"].(string)
	secondPath := "/v1/service-requests/" + second["id"].(string)
	require.Equal(t, "investigation", alice.must(http.StatusOK, "POST", firstPath+"/progress", nil)["stage"])

	err := dev.signal(syscall.SIGKILL)
	require.Error(t, err, "killed")

	dev.start()
	// The token signed before the crash still works: the secret lives in the data directory.
	require.Equal(t, "investigation", alice.must(http.StatusOK, "GET", firstPath, nil)["stage"])
	require.Equal(t, "proposal", alice.must(http.StatusOK, "POST", firstPath+"/progress", nil)["stage"])
	closed := alice.must(http.StatusOK, "POST", secondPath+"/close", map[string]any{"resolved": false, "resolution": "duplicate"})
	require.Equal(t, "closed", closed["state"])
	require.Equal(t, []string{"created", "stage_changed", "stage_changed"}, eventTypes(alice.must(http.StatusOK, "GET", firstPath+"/events", nil)))
	third := alice.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "billing", "subject": "Copy of invoice", "contact": map[string]any{"email": "ada@example.com"},
	})
	require.NotEqual(t, first["number"], third["number"], "numbering continues after the restart")

	// SIGTERM stops everything cleanly, PostgreSQL included.
	require.NoError(t, dev.signal(syscall.SIGTERM), dev.logs.String())
	_, err = os.Stat(filepath.Join(dev.dataDir, "postgres", "data", "postmaster.pid"))
	require.True(t, os.IsNotExist(err), "the PostgreSQL server is stopped")

}
