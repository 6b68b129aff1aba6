package soak

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shDev supervises a stand-in for dev, a shell script, and returns it with the path of its log.
func shDev(t *testing.T, script string) (*proc, string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "dev.log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	dev := &proc{name: "dev", bin: "/bin/sh", args: []string{"-c", script}, log: log}
	dev.supervise()
	t.Cleanup(func() { dev.stop(os.Interrupt); log.Close() })
	return dev, logPath
}

// TestWaitForServicesGivesUpOnADevThatKeepsFailing: a dev that fails at once is not waited for
// until the deadline: after devGiveUp exits the error carries the end of its log.
func TestWaitForServicesGivesUpOnADevThatKeepsFailing(t *testing.T) {
	dev, logPath := shDev(t, "echo 'fieldflow: postgres: cannot reach the data dir'; exit 1")
	start := time.Now()
	err := waitForServices(context.Background(), dev, logPath, time.Minute)
	if err == nil {
		t.Fatal("a dev that never starts must fail the wait")
	}
	if !strings.Contains(err.Error(), "cannot reach the data dir") || !strings.Contains(err.Error(), "exited 3 times") {
		t.Errorf("the error should say why and how often: %v", err)
	}
	if waited := time.Since(start); waited > 30*time.Second {
		t.Errorf("gave up only after %s; three quick exits take about a second", waited)
	}
}

// TestWaitForServicesWaitsForReady: a dev that says it is ready ends the wait without error.
func TestWaitForServicesWaitsForReady(t *testing.T) {
	dev, logPath := shDev(t, "echo 'Fieldflow is ready (1s).'; exec sleep 30")
	if err := waitForServices(context.Background(), dev, logPath, time.Minute); err != nil {
		t.Fatal(err)
	}
}
