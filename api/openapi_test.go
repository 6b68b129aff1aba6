package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/fieldflow/fieldflow/api"
	"github.com/fieldflow/fieldflow/auth"
)

func openAPIDoc(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := api.OpenAPI()
	require.NoError(t, err)
	return doc
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc := openAPIDoc(t)
	require.NoError(t, doc.Validate(context.Background()))
	require.Equal(t, "Fieldflow", doc.Info.Title)
	require.Contains(t, doc.Components.Schemas, "Problem")
	require.Contains(t, doc.Components.SecuritySchemes, "bearer")

	public := []string{"/healthz", "/readyz", "/openapi.json", "/approve/", "/portal", "/d/", "/rate/"}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			require.NotEmpty(t, op.Summary, name)
			isPublic := slices.ContainsFunc(public, func(p string) bool {
				return path == p || strings.HasPrefix(path, p+"/") || (strings.HasSuffix(p, "/") && strings.HasPrefix(path, p))
			})
			if isPublic {
				require.NotNil(t, op.Security, name+" is public")
				require.Empty(t, *op.Security, name+" is public")
			} else {
				require.Nil(t, op.Security, name+" takes the document's bearer requirement")
				require.NotNil(t, op.Responses.Status(http.StatusUnauthorized), name)
				require.NotNil(t, op.Responses.Status(http.StatusForbidden), name)
			}
			if method == http.MethodPost || method == http.MethodPatch || method == http.MethodPut {
				if op.RequestBody != nil {
					require.NotNil(t, op.Responses.Status(http.StatusBadRequest), name)
				}
			}
			require.NotNil(t, op.Responses.Default(), name)
		}
	}
}

var openAPIParam = regexp.MustCompile(`\{([^}]+)\}`)

// TestOpenAPICoversEveryRoute keeps the document and the routes equal.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	keys, err := auth.NewKeys([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	srv := api.New(api.Config{Logger: zaptest.NewLogger(t), Keys: keys})
	routes := map[string]bool{}
	for _, r := range srv.Routes() {
		routes[r] = true
	}
	documented := map[string]bool{}
	for path, item := range openAPIDoc(t).Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+openAPIParam.ReplaceAllString(path, ":$1")] = true
		}
	}
	var missing, extra []string
	for r := range routes {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for r := range documented {
		if !routes[r] {
			extra = append(extra, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	require.Empty(t, missing, "routes the OpenAPI document lacks (add them to apiOperations in api/openapi.go)")
	require.Empty(t, extra, "operations in the OpenAPI document that no route serves")
	require.Len(t, documented, len(routes))
}

// openAPICheck validates requests and answers against the document served by the fixture.
type openAPICheck struct {
	t      *testing.T
	f      *fixture
	router routers.Router
}

func newOpenAPICheck(t *testing.T, f *fixture) *openAPICheck {
	t.Helper()
	a := f.callWith("GET", "/openapi.json", "", "", "")
	require.Equal(t, http.StatusOK, a.status)
	require.True(t, strings.HasPrefix(a.header.Get("Content-Type"), "application/json"))
	raw, err := json.Marshal(a.body)
	require.NoError(t, err)
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()), "the served document is valid")
	doc.Servers = openapi3.Servers{{URL: f.server.URL}}
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return &openAPICheck{t: t, f: f, router: router}
}

var filterOptions = &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}

// request validates a request against the document: nil when it conforms.
func (c *openAPICheck) request(method, path, token, contentType, body string) (*http.Request, *openapi3filter.RequestValidationInput, error) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.f.server.URL+path, strings.NewReader(body))
	require.NoError(c.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	route, params, err := c.router.FindRoute(req)
	require.NoError(c.t, err, "%s %s is in the document", method, path)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: filterOptions}
	verr := openapi3filter.ValidateRequest(context.Background(), in)
	req.Body = io.NopCloser(strings.NewReader(body))
	return req, in, verr
}

// send sends a request and validates the answer against the document; it returns the status and
// content type.
func (c *openAPICheck) send(req *http.Request, in *openapi3filter.RequestValidationInput) (int, string) {
	c.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	out.SetBodyBytes(body)
	require.NoError(c.t, openapi3filter.ValidateResponse(context.Background(), out), "%s %s answered %d: %s", req.Method, req.URL.Path, resp.StatusCode, bytes.TrimSpace(body))
	return resp.StatusCode, resp.Header.Get("Content-Type")
}

func TestOpenAPIRequestsAndAnswers(t *testing.T) {
	f := newFixture(t)
	check := newOpenAPICheck(t, f)
	agent := f.token(auth.RoleAgent)

	// A valid body conforms to the document; the server takes it (and answers 503: Temporal is away).
	req, in, err := check.request("POST", "/v1/service-requests", agent, "application/json",
		`{"queue":"billing","subject":"s","contact":{"email":"a@example.com"}}`)
	require.NoError(t, err)
	status, ctype := check.send(req, in)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "application/problem+json", ctype)

	// A body of the wrong type breaks the document, and the server refuses it as well.
	req, in, err = check.request("POST", "/v1/service-requests", agent, "application/json", `{"queue":42}`)
	require.Error(t, err, "the document rejects a number for queue")
	var rerr *openapi3filter.RequestError
	require.ErrorAs(t, err, &rerr)
	status, ctype = check.send(req, in)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "application/problem+json", ctype)

	// An unknown field is refused by both.
	req, in, err = check.request("POST", "/v1/service-requests", agent, "application/json", `{"queue":"billing","colour":"red"}`)
	require.Error(t, err, "the document refuses unknown fields")
	status, _ = check.send(req, in)
	require.Equal(t, http.StatusBadRequest, status)

	// A work order body with a wrong type, and a group body that conforms.
	_, _, err = check.request("POST", "/v1/work-orders", agent, "application/json", `{"recordType":["repair"]}`)
	require.Error(t, err)
	_, _, err = check.request("POST", "/v1/groups", f.token(auth.RoleDispatcher), "application/json", `{"key":"north","title":"North"}`)
	require.NoError(t, err)

	// Public routes need no token.
	req, in, err = check.request("GET", "/healthz", "", "", "")
	require.NoError(t, err)
	status, _ = check.send(req, in)
	require.Equal(t, http.StatusOK, status)
}

// TestOpenAPIErrorsAreProblems: the error answers of a sample of routes are problem documents,
// as the document says.
func TestOpenAPIErrorsAreProblems(t *testing.T) {
	f := newFixture(t)
	check := newOpenAPICheck(t, f)
	agent := f.token(auth.RoleAgent)
	engineer := f.token(auth.RoleEngineer)
	cases := []struct {
		method, path, token, contentType, body string
		status                                 int
	}{
		{"GET", "/v1/service-requests", "", "", "", http.StatusUnauthorized},
		{"GET", "/v1/work-orders", "garbage", "", "", http.StatusUnauthorized},
		{"POST", "/v1/service-requests", engineer, "application/json", `{}`, http.StatusForbidden},
		{"GET", "/v1/reports/service-requests/summary", agent, "", "", http.StatusForbidden},
		{"GET", "/v1/service-requests/not-a-uuid", agent, "", "", http.StatusNotFound},
		{"GET", "/v1/service-requests?limit=0", agent, "", "", http.StatusBadRequest},
		{"POST", "/v1/service-requests", agent, "application/json", `{}`, http.StatusUnprocessableEntity},
		{"POST", "/v1/service-requests", agent, "application/x-www-form-urlencoded", `queue=billing`, http.StatusUnsupportedMediaType},
		{"POST", "/v1/groups", engineer, "application/json", `{"key":"x","title":"X"}`, http.StatusForbidden},
		{"POST", "/v1/work-orders/00000000-0000-0000-0000-000000000009/accept", agent, "", "", http.StatusForbidden},
		{"GET", "/v1/definitions/nope", agent, "", "", http.StatusNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, f.server.URL+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			route, params, err := check.router.FindRoute(req)
			require.NoError(t, err)
			in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: filterOptions}
			status, ctype := check.send(req, in)
			require.Equal(t, tc.status, status)
			require.Equal(t, "application/problem+json", ctype)
		})
	}
}
