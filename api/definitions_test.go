package api_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/auth"
)

func TestListAndGetDefinitions(t *testing.T) {
	f := newFixture(t)
	agent := f.token(auth.RoleAgent)
	list := f.call("GET", "/v1/definitions", agent, "", "")
	require.Equal(t, http.StatusOK, list.status)
	byKey := map[string]map[string]any{}
	for _, item := range list.body["items"].([]any) {
		d := item.(map[string]any)
		byKey[d["kind"].(string)+"/"+d["key"].(string)] = d
	}
	for _, k := range []string{"ServiceRequestQueue/billing", "ServiceRequestQueue/technical-support", "WorkOrderType/repair",
		"WorkOrderType/installation", "WorkOrderType/maintenance", "Calendar/office", "MessageTemplate/sr-alert", "RatingTemplate/repair-survey"} {
		require.Contains(t, byKey, k)
		require.Len(t, byKey[k]["version"], 12)
	}
	require.Equal(t, "Billing", byKey["ServiceRequestQueue/billing"]["title"])

	billing := f.call("GET", "/v1/definitions/billing", agent, "", "")
	require.Equal(t, http.StatusOK, billing.status)
	require.Equal(t, byKey["ServiceRequestQueue/billing"]["version"], billing.body["version"])
	require.Contains(t, billing.body["source"], "kind: ServiceRequestQueue")
	require.Len(t, billing.body["versions"], 1)
	f.problem(http.StatusNotFound, "GET", "/v1/definitions/nope", agent, "", "")
}

func TestValidateDefinition(t *testing.T) {
	f := newFixture(t)
	designer := f.token(auth.RoleDesigner)
	f.problem(http.StatusForbidden, "POST", "/v1/definitions/validate", f.token(auth.RoleAgent), "application/yaml", "kind: x")

	good, err := os.ReadFile("../definitions/service-requests/billing.yaml")
	require.NoError(t, err)
	edited := strings.Replace(string(good), "title: Billing\n", "title: Billing desk\n", 1)
	ok := f.call("POST", "/v1/definitions/validate?file=definitions/service-requests/billing.yaml", designer, "application/yaml", edited)
	require.Equal(t, http.StatusOK, ok.status, ok.body)
	require.Equal(t, true, ok.body["valid"])
	require.Equal(t, "billing", ok.body["key"])

	broken := strings.Replace(edited, "calendar: office", "calendar: ofice", 1)
	broken = strings.Replace(broken, "onTimeout: reject", "onTimeout: maybe", 1)
	bad := f.problem(http.StatusUnprocessableEntity, "POST", "/v1/definitions/validate?file=billing.yaml", designer, "application/yaml", broken)
	errs := bad.body["errors"].([]any)
	require.Len(t, errs, 2)
	first := errs[0].(map[string]any)
	require.Equal(t, "billing.yaml", first["file"])
	require.EqualValues(t, 8, first["line"])
	require.EqualValues(t, 11, first["column"])
	require.Equal(t, `calendar "ofice" is not defined in definitions/calendars (did you mean "office"?)`, first["message"])
	require.Contains(t, errs[1].(map[string]any)["message"], `onTimeout "maybe": say approve or reject`)
}

func TestReloadDefinitions(t *testing.T) {
	dir := copyDefinitions(t)
	f := newFixtureIn(t, dir)
	designer := f.token(auth.RoleDesigner)
	before := f.call("GET", "/v1/definitions/billing", designer, "", "")
	require.Equal(t, http.StatusOK, before.status)

	file := filepath.Join(dir, "service-requests", "billing.yaml")
	text, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(string(text), "title: Billing\n", "title: Billing desk\n", 1)), 0o644))
	reloaded := f.call("POST", "/v1/definitions/reload", designer, "", "")
	require.Equal(t, http.StatusOK, reloaded.status, reloaded.body)
	changed := reloaded.body["changed"].([]any)
	require.Len(t, changed, 1)
	require.Equal(t, "billing", changed[0].(map[string]any)["key"])
	after := f.call("GET", "/v1/definitions/billing", designer, "", "")
	require.NotEqual(t, before.body["version"], after.body["version"])
	require.Len(t, after.body["versions"], 2, "every version is kept")

	// A broken folder is refused with every problem, and the last good definitions stay.
	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(string(text), "state: in_progress", "state: in_progres", 1)), 0o644))
	refused := f.problem(http.StatusUnprocessableEntity, "POST", "/v1/definitions/reload", designer, "", "")
	require.Contains(t, refused.body["detail"], "unchanged")
	still := f.call("GET", "/v1/definitions/billing", designer, "", "")
	require.Equal(t, after.body["version"], still.body["version"])
}

// copyDefinitions copies the shipped definitions to a folder the test may edit.
func copyDefinitions(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	require.NoError(t, filepath.Walk("../definitions", func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("../definitions", path)
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
