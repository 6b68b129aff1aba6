package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// response is an HTTP answer with its body decoded as JSON.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// api calls the Fieldflow API at base.
type api struct {
	t     *testing.T
	base  string
	token string
}

func (a api) as(token string) api { a.token = token; return a }

func (a api) do(method, path string, body any, headers ...string) response {
	a.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(a.t, err)
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.base+path, r)
	require.NoError(a.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	out := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if len(raw) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		require.NoError(a.t, json.Unmarshal(raw, &out.Body), string(raw))
	}
	return out
}

// must calls the API and requires the status.
func (a api) must(status int, method, path string, body any, headers ...string) map[string]any {
	a.t.Helper()
	r := a.do(method, path, body, headers...)
	require.Equal(a.t, status, r.Status, "%s %s: %s", method, path, r.Raw)
	return r.Body
}

// problem calls the API and requires a problem document with the status.
func (a api) problem(status int, method, path string, body any, headers ...string) map[string]any {
	a.t.Helper()
	r := a.do(method, path, body, headers...)
	require.Equal(a.t, status, r.Status, "%s %s: %s", method, path, r.Raw)
	require.Equal(a.t, "application/problem+json", r.Header.Get("Content-Type"))
	require.EqualValues(a.t, status, r.Body["status"])
	require.NotEmpty(a.t, r.Body["title"])
	require.NotEmpty(a.t, r.Body["type"])
	return r.Body
}

// dataDir makes a data directory the postgres system user can reach when the tests run as root.
func dataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fieldflow-e2e-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func eventTypes(body map[string]any) []string {
	var types []string
	for _, e := range body["items"].([]any) {
		types = append(types, e.(map[string]any)["type"].(string))
	}
	return types
}

func ids(body map[string]any) []string {
	var out []string
	for _, e := range body["items"].([]any) {
		out = append(out, e.(map[string]any)["id"].(string))
	}
	return out
}
