package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/devstack"
	"github.com/fieldflow/fieldflow/workflows"
)

// TestRunsKeepTheirVersion edits a queue while a request runs: the running request follows the
// version it started with, a new one follows the edit, and an admin can migrate the old one.
func TestRunsKeepTheirVersion(t *testing.T) {
	defs := copyTree(t, "../definitions")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stack, err := devstack.Start(ctx, devstack.Config{
		DataDir: dataDir(t), DefinitionsDir: defs, HTTPAddr: "127.0.0.1:0",
		Logger: zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel)),
	})
	require.NoError(t, err)
	t.Cleanup(stack.Stop)
	alice := api{t: t, base: stack.APIURL, token: token(t, stack, "alice", auth.RoleAgent)}
	designer := alice.as(token(t, stack, "dora", auth.RoleDesigner))
	admin := alice.as(token(t, stack, "root", auth.RoleAdmin))
	body := map[string]any{"queue": "billing", "subject": "Refund", "contact": map[string]any{"email": "ada@example.com"}}

	old := alice.must(http.StatusCreated, "POST", "/v1/service-requests", body)
	oldVersion := old["definition"].(map[string]any)["version"].(string)

	// The designer adds a review stage after investigation and publishes it without a restart.
	file := filepath.Join(defs, "service-requests", "billing.yaml")
	text, err := os.ReadFile(file)
	require.NoError(t, err)
	edited := strings.Replace(string(text), "  - {id: investigation, title: Investigation, state: in_progress}\n",
		"  - {id: investigation, title: Investigation, state: in_progress}\n  - {id: review, title: Review, state: in_progress}\n", 1)
	require.NoError(t, os.WriteFile(file, []byte(edited), 0o644))
	reloaded := designer.must(http.StatusOK, "POST", "/v1/definitions/reload", nil)
	require.Len(t, reloaded["changed"], 1)

	fresh := alice.must(http.StatusCreated, "POST", "/v1/service-requests", body)
	newVersion := fresh["definition"].(map[string]any)["version"].(string)
	require.NotEqual(t, oldVersion, newVersion)

	oldPath := "/v1/service-requests/" + old["id"].(string)
	freshPath := "/v1/service-requests/" + fresh["id"].(string)
	for range 2 {
		alice.must(http.StatusOK, "POST", oldPath+"/progress", nil)
		alice.must(http.StatusOK, "POST", freshPath+"/progress", nil)
	}
	gotOld := alice.must(http.StatusOK, "GET", oldPath, nil)
	gotFresh := alice.must(http.StatusOK, "GET", freshPath, nil)
	require.Equal(t, "proposal", gotOld["stage"], "the running request keeps the stages it started with")
	require.Equal(t, oldVersion, gotOld["definition"].(map[string]any)["version"])
	require.Equal(t, "review", gotFresh["stage"], "the new request follows the edit")
	require.Equal(t, newVersion, gotFresh["definition"].(map[string]any)["version"])

	// An admin migrates the old request onto the new version; its stage exists there too.
	alice.problem(http.StatusForbidden, "POST", oldPath+"/migrate", map[string]any{"version": newVersion})
	admin.problem(http.StatusUnprocessableEntity, "POST", oldPath+"/migrate", map[string]any{"version": "000000000000"})
	migrated := admin.must(http.StatusOK, "POST", oldPath+"/migrate", map[string]any{"version": newVersion})
	require.Equal(t, newVersion, migrated["definition"].(map[string]any)["version"])
	require.Equal(t, "proposal", migrated["stage"])
	admin.problem(http.StatusConflict, "POST", oldPath+"/migrate", map[string]any{"version": newVersion})
	require.Equal(t, "response", alice.must(http.StatusOK, "POST", oldPath+"/progress", nil)["stage"])
	require.Contains(t, eventTypes(alice.must(http.StatusOK, "GET", oldPath+"/events", nil)), "migrated")
	requireVisible(t, stack.Client(), workflows.ServiceRequestWorkflowID(old["id"].(string)), "DefinitionVersion = '"+newVersion+"'")
	recordHistory(t, stack.Client(), workflows.ServiceRequestWorkflowID(old["id"].(string)), "service-request-migrated")

	// Both versions stay stored; a broken edit is refused and changes nothing.
	versions := designer.must(http.StatusOK, "GET", "/v1/definitions/billing", nil)["versions"].([]any)
	require.Len(t, versions, 2)
	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(edited, "calendar: office", "calendar: nowhere", 1)), 0o644))
	designer.problem(http.StatusUnprocessableEntity, "POST", "/v1/definitions/reload", nil)
	again := alice.must(http.StatusCreated, "POST", "/v1/service-requests", body)
	require.Equal(t, newVersion, again["definition"].(map[string]any)["version"])
}

// copyTree copies a folder into a temporary one the test may edit.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	require.NoError(t, filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, raw, 0o644)
	}))
	return dst
}
