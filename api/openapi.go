package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"
	"github.com/gin-gonic/gin"

	"github.com/fieldflow/fieldflow/policy"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
)

// OpenAPIPath is where the OpenAPI document of this API is served.
const OpenAPIPath = "/openapi.json"

// Kinds of request body that are not JSON.
const (
	bodyMultipart = "multipart"    // a file upload (field "file")
	bodyForm      = "form"         // a browser form post (urlencoded or multipart)
	bodyFormJSON  = "form-or-json" // a form post, or the same fields as JSON
	bodyYAML      = "yaml"         // a definition as YAML
)

// Kinds of success answer that are not JSON.
const (
	answerPNG    = "image/png"
	answerHTML   = "text/html"
	answerFile   = "file"
	answerNoBody = "none"
)

// apiOperation is one route of the API as the OpenAPI document describes it. Adding a route means
// adding a row to apiOperations; the contract test fails until both agree.
type apiOperation struct {
	method, path string // path in gin syntax (":id")
	summary      string
	// body is a Go value whose type describes the JSON request body; bodyKind names a body that
	// is not JSON instead. optionalBody: the body may be left out.
	body         any
	bodyKind     string
	optionalBody bool
	status       int    // success status; 200 when zero
	result       string // component schema of the success answer; "" for any object
	answer       string // a success answer that is not JSON (answerPNG …)
	// alsoStatus is a second success status, answered with an object.
	alsoStatus int
	// mutates: the route acts on a run (409 when the action is refused, 503 when Temporal is away).
	mutates bool
	// limited: the route is rate limited (429).
	limited bool
	query   []string // query parameters
}

// reportQuery are the report endpoints' query parameters.
var reportQuery = []string{"from", "to", "queue"}

// apiOperations is every route of the API.
var apiOperations = []apiOperation{
	{method: "GET", path: "/healthz", summary: "Liveness: the process answers"},
	{method: "GET", path: "/readyz", summary: "Readiness: Temporal and Postgres answer (503 with Retry-After when not)", alsoStatus: http.StatusServiceUnavailable},
	{method: "GET", path: OpenAPIPath, summary: "This OpenAPI document"},
	{method: "GET", path: "/approve/:token", summary: "Customer approval page of an approval link", answer: answerHTML, limited: true},
	{method: "POST", path: "/approve/:token", summary: "Customer decision on an approval link (form: decision, comment)", bodyKind: bodyForm, answer: answerHTML, limited: true, mutates: true},

	// Service requests.
	{method: "POST", path: "/v1/service-requests", summary: "Create a service request", body: createServiceRequestBody{}, status: http.StatusCreated, result: "ServiceRequest", mutates: true},
	{method: "GET", path: "/v1/service-requests", summary: "List service requests (filters, cursor paging)", query: listFilters},
	{method: "GET", path: "/v1/service-requests/:id", summary: "Get a service request", result: "ServiceRequest"},
	{method: "PATCH", path: "/v1/service-requests/:id", summary: "Edit a service request's fields (an allow-list: contact and queue are immutable, owner and team change through assign, stage and charges through their actions)", body: patchBody{}, result: "ServiceRequest", mutates: true},
	{method: "POST", path: "/v1/service-requests/:id/assign", summary: "Hand the request to another owner and/or team (PATCH does not change them)", body: assignRequestBody{}, result: "ServiceRequest", mutates: true},
	{method: "POST", path: "/v1/service-requests/:id/take-over", summary: "Take over a service request as its owner", result: "ServiceRequest", mutates: true},
	{method: "GET", path: "/v1/service-requests/:id/events", summary: "A service request's events history", query: []string{"after", "limit"}},
	{method: "POST", path: "/v1/service-requests/:id/progress", summary: "Progress to the next (or a named later) stage", body: progressBody{}, optionalBody: true, result: "ServiceRequest", mutates: true},
	{method: "POST", path: "/v1/service-requests/:id/regress", summary: "Regress to an earlier stage, with a reason", body: regressBody{}, result: "ServiceRequest", mutates: true},
	{method: "POST", path: "/v1/service-requests/:id/close", summary: "Close, resolved or not (resolved issues the invoice)", body: closeBody{}, result: "ServiceRequest", mutates: true},
	{method: "POST", path: "/v1/service-requests/:id/approvals/:approvalId", summary: "Approve or reject a pending approval", body: decideBody{}, result: "ServiceRequest", mutates: true},
	{method: "GET", path: "/v1/service-requests/:id/approvals/:approvalId/link", summary: "A signed link for the contact to decide an approval"},
	{method: "POST", path: "/v1/service-requests/:id/notes", summary: "Add a note", body: noteBody{}, result: "ServiceRequest", mutates: true},
	{method: "PATCH", path: "/v1/service-requests/:id/notes/:itemId", summary: "Edit or pin a note", body: noteBody{}, result: "ServiceRequest", mutates: true},
	{method: "DELETE", path: "/v1/service-requests/:id/notes/:itemId", summary: "Delete the latest note (its author only)", result: "ServiceRequest", mutates: true},
	{method: "POST", path: "/v1/service-requests/:id/charges", summary: "Add a charge (service or product)", body: chargeBody{}, result: "ServiceRequest", mutates: true},
	{method: "PATCH", path: "/v1/service-requests/:id/charges/:itemId", summary: "Edit a charge", body: chargeBody{}, result: "ServiceRequest", mutates: true},
	{method: "DELETE", path: "/v1/service-requests/:id/charges/:itemId", summary: "Remove a charge", result: "ServiceRequest", mutates: true},
	{method: "POST", path: "/v1/service-requests/:id/activities", summary: "Give an activity to a user or team", body: activityBody{}, result: "ServiceRequest", mutates: true},
	{method: "POST", path: "/v1/service-requests/:id/convert", summary: "Convert into a work order (201 with the work order; 202 while pending)", body: convertBody{}, status: http.StatusCreated, result: "WorkOrder", alsoStatus: http.StatusAccepted, mutates: true},
	{method: "GET", path: "/v1/service-requests/:id/print", summary: "A printable page of the service request", answer: answerHTML},
	{method: "POST", path: "/v1/service-requests/:id/attachments", summary: "Attach a file (multipart/form-data, field \"file\")", bodyKind: bodyMultipart, status: http.StatusCreated, result: "ServiceRequest", mutates: true},
	{method: "GET", path: "/v1/service-requests/:id/attachments/:itemId", summary: "Download an attachment", answer: answerFile},
	{method: "POST", path: "/v1/service-requests/:id/email", summary: "Email the service request to its contact", result: "ServiceRequest", mutates: true},
	{method: "POST", path: "/v1/service-requests/:id/migrate", summary: "Move a running request to another definition version", body: migrateBody{}, result: "ServiceRequest", mutates: true},
	{method: "GET", path: "/v1/reports/service-requests/summary", summary: "Summary per queue", query: reportQuery},
	{method: "GET", path: "/v1/reports/service-requests/analysis", summary: "Analysis per priority", query: reportQuery},
	{method: "GET", path: "/v1/todo", summary: "My to-do list"},
	{method: "POST", path: "/v1/todo/:itemId/complete", summary: "Complete an activity on my to-do list", mutates: true},

	// Work orders.
	{method: "POST", path: "/v1/work-orders", summary: "Create a work order (staff or another system)", body: createWorkOrderBody{}, status: http.StatusCreated, result: "WorkOrder", mutates: true},
	{method: "GET", path: "/v1/work-orders", summary: "List work orders (filters, cursor paging)", query: workOrderFilters},
	{method: "GET", path: "/v1/work-orders/:id", summary: "Get a work order", result: "WorkOrder"},
	{method: "GET", path: "/v1/work-orders/:id/events", summary: "A work order's events history", query: []string{"after", "limit"}},
	{method: "POST", path: "/v1/work-orders/:id/assign", summary: "Assign to a service group and/or an engineer", body: assignBody{}, result: "WorkOrder", mutates: true},
	{method: "POST", path: "/v1/work-orders/:id/claim", summary: "Claim a work order from the pool", result: "WorkOrder", mutates: true},
	{method: "POST", path: "/v1/work-orders/:id/accept", summary: "Accept the offered work order", result: "WorkOrder", mutates: true},
	{method: "POST", path: "/v1/work-orders/:id/decline", summary: "Decline the offered work order, with a reason", body: reasonBody{}, result: "WorkOrder", mutates: true},
	{method: "POST", path: "/v1/work-orders/:id/transfer", summary: "Transfer to another engineer", body: reasonBody{}, result: "WorkOrder", mutates: true},
	{method: "POST", path: "/v1/work-orders/:id/progress", summary: "Progress to the next node (no body)", result: "WorkOrder", mutates: true},
	{method: "POST", path: "/v1/work-orders/:id/close", summary: "Close a work order", body: closeBody{}, result: "WorkOrder", mutates: true},
	{method: "POST", path: "/v1/work-orders/:id/steps/:stepId/start", summary: "Start an SOP step (labor clock)", result: "WorkOrder", mutates: true},
	{method: "POST", path: "/v1/work-orders/:id/steps/:stepId/stop", summary: "Stop an SOP step's labor clock", result: "WorkOrder", mutates: true},
	{method: "POST", path: "/v1/work-orders/:id/steps/:stepId/complete", summary: "Complete an SOP step", body: stepBody{}, optionalBody: true, result: "WorkOrder", mutates: true},
	{method: "POST", path: "/v1/work-orders/:id/attachments", summary: "Attach a file (multipart/form-data, fields \"file\" and \"step\")", bodyKind: bodyMultipart, status: http.StatusCreated, result: "WorkOrder", mutates: true},
	{method: "GET", path: "/v1/work-orders/:id/attachments/:itemId", summary: "Download an attachment", answer: answerFile},
	{method: "POST", path: "/v1/work-orders/:id/approvals/:approvalId", summary: "Approve or reject a pending approval", body: decideBody{}, result: "WorkOrder", mutates: true},
	{method: "POST", path: "/v1/work-orders/:id/follow-up", summary: "Record the follow-up survey", body: followUpBody{}, result: "WorkOrder", mutates: true},
	{method: "POST", path: "/v1/work-orders/:id/rating/skip", summary: "Skip the service rating node", result: "WorkOrder", mutates: true},
	{method: "GET", path: "/v1/work-orders/:id/rating/qr.png", summary: "QR code of the rating invitation, shown on site", answer: answerPNG},
	{method: "POST", path: "/v1/work-orders/:id/ratings", summary: "Record a rating on the customer's behalf", body: rateBody{}, result: "WorkOrder", mutates: true},
	{method: "GET", path: "/v1/todo/pool", summary: "What waits to be claimed: work orders in my groups' pools (kind pool), unassigned service requests of queues I handle (kind claim)"},
	{method: "POST", path: "/v1/todo/:itemId/claim", summary: "Claim an item of the pool: {id}.pool takes a work order (answers the work order), {id}.claim makes me the owner of a service request (answers the request); 409 when it was claimed first", mutates: true},

	// Ratings.
	{method: "GET", path: "/v1/ratings", summary: "List ratings (filters, cursor paging)", query: ratingListFilters},
	{method: "GET", path: "/v1/ratings/summary", summary: "Rating averages", query: ratingFilters},
	{method: "GET", path: "/rate/:token", summary: "Public rating page of an invitation link", answer: answerHTML, limited: true},
	{method: "POST", path: "/rate/:token", summary: "Submit a rating from the public page (form)", bodyKind: bodyForm, answer: answerHTML, limited: true, mutates: true},

	// Devices.
	{method: "POST", path: "/v1/devices", summary: "Register a device and its code", body: createDeviceBody{}, status: http.StatusCreated},
	{method: "GET", path: "/v1/devices/:code", summary: "Get a device"},
	{method: "GET", path: "/v1/devices/:code/qr.png", summary: "The QR code to stick on the device", answer: answerPNG},
	{method: "GET", path: DevicePath + ":code", summary: "Public page a device's QR code opens", answer: answerHTML, limited: true},

	// Customer portal.
	{method: "GET", path: "/portal", summary: "Customer self-service portal page", answer: answerHTML, limited: true},
	{method: "POST", path: "/portal/code", summary: "Send a sign-in code by email (202)", bodyKind: bodyFormJSON, status: http.StatusAccepted, limited: true},
	{method: "POST", path: "/portal/login", summary: "Sign in with the emailed code", bodyKind: bodyFormJSON, limited: true},
	{method: "POST", path: "/portal/logout", summary: "Sign out", bodyKind: bodyFormJSON, optionalBody: true, status: http.StatusNoContent, limited: true},
	{method: "POST", path: "/portal/work-orders", summary: "Submit a work order as a registered or guest customer", bodyKind: bodyFormJSON, status: http.StatusCreated, limited: true, mutates: true},
	{method: "POST", path: "/portal/service-requests", summary: "Submit a service request as a registered or guest customer (the queue's layout fields); 201 with its number and signed statusUrl", bodyKind: bodyFormJSON, status: http.StatusCreated, limited: true, mutates: true},
	{method: "OPTIONS", path: "/portal/service-requests", summary: "CORS preflight for a site in FIELDFLOW_EMBED_ORIGINS", status: http.StatusNoContent, answer: answerNoBody, limited: true},
	{method: "GET", path: "/portal/embed", summary: "The embeddable request form (guests; frameable by FIELDFLOW_EMBED_ORIGINS)", answer: answerHTML, limited: true, query: []string{"queue"}},
	{method: "GET", path: "/portal/requests/:token", summary: "A request's status page from its signed link: stage, state, public history", answer: answerHTML, limited: true},
	{method: "POST", path: "/portal/requests/:token/comments", summary: "Add the customer's comment from the status page (form; 303 to the status page)", bodyKind: bodyForm, status: http.StatusSeeOther, answer: answerHTML, limited: true, mutates: true},

	// Service groups.
	{method: "GET", path: "/v1/groups", summary: "List service groups"},
	{method: "POST", path: "/v1/groups", summary: "Create a service group", body: createGroupBody{}, status: http.StatusCreated, result: "Group"},
	{method: "GET", path: "/v1/groups/:key", summary: "Get a service group and its members", result: "Group"},
	{method: "PATCH", path: "/v1/groups/:key", summary: "Rename a service group", body: patchGroupBody{}, result: "Group"},
	{method: "DELETE", path: "/v1/groups/:key", summary: "Delete a service group", status: http.StatusNoContent, answer: answerNoBody},
	{method: "PUT", path: "/v1/groups/:key/members/:username", summary: "Add a member or set whether they are active (201 when added)", body: putMemberBody{}, optionalBody: true, alsoStatus: http.StatusCreated},
	{method: "DELETE", path: "/v1/groups/:key/members/:username", summary: "Remove a member", status: http.StatusNoContent, answer: answerNoBody},

	// API tokens of other systems.
	{method: "POST", path: "/v1/api-tokens", summary: "Create an API token (the secret is shown this once)", body: apiTokenBody{}, status: http.StatusCreated},
	{method: "GET", path: "/v1/api-tokens", summary: "List API tokens (no secrets)"},
	{method: "DELETE", path: "/v1/api-tokens/:id", summary: "Revoke an API token at once", status: http.StatusNoContent, answer: answerNoBody},

	// Definitions.
	{method: "GET", path: "/v1/definitions", summary: "List the current definitions"},
	{method: "GET", path: "/v1/definitions/:key", summary: "Get a definition and its versions"},
	{method: "POST", path: "/v1/definitions/validate", summary: "Validate a definition (YAML body); errors carry file, line and column", bodyKind: bodyYAML},
	{method: "POST", path: "/v1/definitions/reload", summary: "Reload the definitions from their folder"},
}

// componentTypes are the Go types the document's component schemas are generated from.
var componentTypes = map[string]any{
	"ServiceRequest": process.ServiceRequest{},
	"WorkOrder":      process.WorkOrder{},
	"TodoItem":       store.TodoItem{},
	"Group":          store.Group{},
}

// errorResponses are the reusable problem answers, by status.
var errorResponses = map[int]struct{ name, description string }{
	http.StatusBadRequest:            {"BadRequest", "Malformed request (not JSON, unknown field, wrong type, bad query)"},
	http.StatusUnauthorized:          {"Unauthorized", "No valid bearer token"},
	http.StatusForbidden:             {"Forbidden", "Not allowed for your role"},
	http.StatusNotFound:              {"NotFound", "No such record"},
	http.StatusConflict:              {"Conflict", "The run refused the action in its current state"},
	http.StatusRequestEntityTooLarge: {"TooLarge", "The body is too large"},
	http.StatusUnsupportedMediaType:  {"UnsupportedMediaType", "The body is not of a type this route takes"},
	http.StatusUnprocessableEntity:   {"InvalidFields", "One or more fields are invalid (errors lists them)"},
	http.StatusTooManyRequests:       {"TooManyRequests", "Rate limited; see Retry-After"},
	http.StatusServiceUnavailable:    {"Unavailable", "Temporal or the store is unavailable; see Retry-After"},
}

var ginParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// openAPIPath turns a gin path into an OpenAPI one (":id" → "{id}") and lists its parameters.
func openAPIPath(p string) (string, []string) {
	var names []string
	for _, m := range ginParam.FindAllStringSubmatch(p, -1) {
		names = append(names, m[1])
	}
	return ginParam.ReplaceAllString(p, "{$1}"), names
}

// nullableCustomizer lets slices, maps and pointers be null, as encoding/json writes them.
func nullableCustomizer(_ string, t reflect.Type, _ reflect.StructTag, s *openapi3.Schema) error {
	switch t.Kind() {
	case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface:
		s.Nullable = true
	}
	return nil
}

// closeObjects forbids unknown properties in every struct of a request body, as bindJSON does.
func closeObjects(ref *openapi3.SchemaRef) {
	if ref == nil || ref.Value == nil {
		return
	}
	s := ref.Value
	if len(s.Properties) > 0 && s.AdditionalProperties.Schema == nil {
		no := false
		s.AdditionalProperties.Has = &no
	}
	for _, p := range s.Properties {
		closeObjects(p)
	}
	closeObjects(s.Items)
}

func objectSchema() *openapi3.SchemaRef {
	return openapi3.NewSchemaRef("", openapi3.NewObjectSchema())
}

func problemJSON(problem *openapi3.Schema, description string) *openapi3.ResponseRef {
	content := openapi3.NewContentWithSchemaRef(openapi3.NewSchemaRef("#/components/schemas/Problem", problem), []string{"application/problem+json"})
	return &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription(description).WithContent(content)}
}

// OpenAPI builds the OpenAPI 3 document of the API from apiOperations.
func OpenAPI() (*openapi3.T, error) {
	doc := &openapi3.T{
		OpenAPI: "3.0.3",
		Info: &openapi3.Info{
			Title:       "Fieldflow",
			Version:     "v1",
			Description: "Service requests and work orders run as Temporal workflows. Every error is an RFC 9457 problem document (application/problem+json).",
		},
		Servers: openapi3.Servers{{URL: "/", Description: "this server"}},
		Paths:   openapi3.NewPaths(),
		Components: &openapi3.Components{
			Schemas:   openapi3.Schemas{},
			Responses: openapi3.ResponseBodies{},
			SecuritySchemes: openapi3.SecuritySchemes{
				"bearer": {Value: openapi3.NewJWTSecurityScheme().WithDescription("A staff JWT (HS256 from fieldflow token, or RS256/ES256 from the identity provider configured with FIELDFLOW_OIDC_*; claims sub, roles, groups) or an API token of another system (ffk_…)")},
			},
		},
		Security: openapi3.SecurityRequirements{{"bearer": []string{}}},
	}
	fieldError := openapi3.NewObjectSchema().
		WithProperty("field", openapi3.NewStringSchema()).
		WithProperty("message", openapi3.NewStringSchema()).
		WithProperty("file", openapi3.NewStringSchema()).
		WithProperty("line", openapi3.NewIntegerSchema()).
		WithProperty("column", openapi3.NewIntegerSchema())
	problem := openapi3.NewObjectSchema().
		WithProperty("type", openapi3.NewStringSchema()).
		WithProperty("title", openapi3.NewStringSchema()).
		WithProperty("status", openapi3.NewIntegerSchema()).
		WithProperty("detail", openapi3.NewStringSchema()).
		WithProperty("errors", openapi3.NewArraySchema().WithItems(fieldError))
	problem.Required = []string{"type", "title", "status"}
	problem.Description = "RFC 9457 problem document, the body of every error answer"
	doc.Components.Schemas["Problem"] = openapi3.NewSchemaRef("", problem)

	gen := openapi3gen.NewGenerator(openapi3gen.SchemaCustomizer(nullableCustomizer))
	generate := func(v any) (*openapi3.SchemaRef, error) {
		return gen.NewSchemaRefForValue(v, doc.Components.Schemas)
	}
	for name, v := range componentTypes {
		ref, err := generate(v)
		if err != nil {
			return nil, err
		}
		doc.Components.Schemas[name] = ref
	}
	statuses := make([]int, 0, len(errorResponses))
	for status := range errorResponses {
		statuses = append(statuses, status)
	}
	sort.Ints(statuses)
	for _, status := range statuses {
		r := errorResponses[status]
		doc.Components.Responses[r.name] = problemJSON(problem, r.description)
	}

	for _, op := range apiOperations {
		path, params := openAPIPath(op.path)
		o := openapi3.NewOperation()
		o.Summary = op.summary
		o.OperationID = strings.ToLower(op.method) + strings.NewReplacer("/", "_", "{", "", "}", "", ".", "_", "-", "_").Replace(path)
		rule, ok := policy.Lookup(op.method, op.path, "")
		if items := policy.ItemRules(op.method, op.path); !ok && items != nil {
			// One rule per kind of item: describe each.
			var parts []string
			for _, r := range items {
				parts = append(parts, fmt.Sprintf("Item {id}.%s (a %s): %s", r.Item, r.Object, r.Describe()))
			}
			rule, ok = items[0], true
			o.Description = strings.Join(parts, " ")
		} else {
			o.Description = rule.Describe()
		}
		if !ok {
			return nil, fmt.Errorf("openapi: %s %s has no access policy", op.method, op.path)
		}
		if rule.Public != "" {
			o.Security = &openapi3.SecurityRequirements{}
		}
		for _, name := range params {
			o.AddParameter(openapi3.NewPathParameter(name).WithSchema(openapi3.NewStringSchema()))
		}
		for _, name := range op.query {
			o.AddParameter(openapi3.NewQueryParameter(name).WithSchema(openapi3.NewStringSchema()))
		}
		if op.method == "POST" || op.method == "PATCH" || op.method == "PUT" {
			if op.method == "POST" && strings.HasPrefix(op.path, "/v1/") {
				o.AddParameter(&openapi3.Parameter{In: openapi3.ParameterInHeader, Name: "Idempotency-Key", Schema: openapi3.NewStringSchema().NewRef(),
					Description: "A retried POST with the same key happens once: the first final answer is replayed (Idempotent-Replayed: true); another request under the key is a 422, a key still running a 409"})
			}
			rb := openapi3.NewRequestBody().WithRequired(!op.optionalBody)
			switch {
			case op.body != nil:
				// A generator of its own, so closing its objects touches no shared schema.
				ref, err := openapi3gen.NewSchemaRefForValue(op.body, nil, openapi3gen.SchemaCustomizer(nullableCustomizer))
				if err != nil {
					return nil, err
				}
				closeObjects(ref)
				rb.WithContent(openapi3.NewContentWithJSONSchemaRef(ref))
			case op.bodyKind == bodyMultipart:
				file := openapi3.NewObjectSchema().
					WithProperty("file", openapi3.NewStringSchema().WithFormat("binary")).
					WithProperty("step", openapi3.NewStringSchema())
				file.Required = []string{"file"}
				rb.WithContent(openapi3.NewContentWithFormDataSchema(file))
			case op.bodyKind == bodyForm || op.bodyKind == bodyFormJSON:
				content := openapi3.Content{
					"application/x-www-form-urlencoded": openapi3.NewMediaType().WithSchema(openapi3.NewObjectSchema()),
					"multipart/form-data":               openapi3.NewMediaType().WithSchema(openapi3.NewObjectSchema()),
				}
				if op.bodyKind == bodyFormJSON {
					content["application/json"] = openapi3.NewMediaType().WithSchema(openapi3.NewObjectSchema())
				}
				rb.WithContent(content)
			case op.bodyKind == bodyYAML:
				rb.WithContent(openapi3.Content{
					"application/yaml": openapi3.NewMediaType().WithSchema(openapi3.NewStringSchema()),
					"text/plain":       openapi3.NewMediaType().WithSchema(openapi3.NewStringSchema()),
				})
			default:
				rb = nil
			}
			if rb != nil {
				o.RequestBody = &openapi3.RequestBodyRef{Value: rb}
			}
		}

		status := op.status
		if status == 0 {
			status = http.StatusOK
		}
		success := openapi3.NewResponse().WithDescription(http.StatusText(status))
		switch op.answer {
		case "":
			schema := objectSchema()
			if op.result != "" {
				schema = openapi3.NewSchemaRef("#/components/schemas/"+op.result, doc.Components.Schemas[op.result].Value)
			}
			success.WithContent(openapi3.NewContentWithJSONSchemaRef(schema))
		case answerPNG:
			success.WithContent(openapi3.Content{"image/png": openapi3.NewMediaType().WithSchema(openapi3.NewStringSchema().WithFormat("binary"))})
		case answerHTML:
			success.WithContent(openapi3.Content{"text/html": openapi3.NewMediaType().WithSchema(openapi3.NewStringSchema())})
		case answerFile:
			success.WithContent(openapi3.Content{"application/octet-stream": openapi3.NewMediaType().WithSchema(openapi3.NewStringSchema().WithFormat("binary"))})
		case answerNoBody:
		}
		o.AddResponse(status, success)
		if op.alsoStatus != 0 {
			o.AddResponse(op.alsoStatus, openapi3.NewResponse().WithDescription(http.StatusText(op.alsoStatus)).
				WithContent(openapi3.NewContentWithJSONSchemaRef(objectSchema())))
		}

		var errs []int
		if rule.Public == "" {
			errs = append(errs, http.StatusUnauthorized, http.StatusForbidden)
		}
		if o.RequestBody != nil || len(op.query) > 0 {
			errs = append(errs, http.StatusBadRequest, http.StatusUnprocessableEntity)
		}
		if o.RequestBody != nil {
			errs = append(errs, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
		}
		if len(params) > 0 {
			errs = append(errs, http.StatusNotFound)
		}
		if op.mutates {
			errs = append(errs, http.StatusConflict, http.StatusServiceUnavailable)
		}
		if op.method == "POST" && strings.HasPrefix(op.path, "/v1/") {
			// Idempotency-Key: reused for another request (422), still running (409).
			errs = append(errs, http.StatusConflict, http.StatusUnprocessableEntity)
		}
		if op.limited || strings.HasPrefix(op.path, "/v1/") {
			// /v1 is limited per caller (ratelimit.go), the public pages per address.
			errs = append(errs, http.StatusTooManyRequests)
		}
		if strings.HasPrefix(op.path, "/v1/") && !op.mutates {
			errs = append(errs, http.StatusServiceUnavailable)
		}
		for _, status := range errs {
			if _, done := o.Responses.Map()[strconv.Itoa(status)]; done {
				continue
			}
			name := errorResponses[status].name
			o.Responses.Set(strconv.Itoa(status), &openapi3.ResponseRef{Ref: "#/components/responses/" + name, Value: doc.Components.Responses[name].Value})
		}
		o.Responses.Set("default", problemJSON(problem, "Any other failure, as a problem document"))
		doc.AddOperation(path, op.method, o)
	}
	return doc, nil
}

var openAPIDoc struct {
	once sync.Once
	body []byte
	err  error
}

// openAPI serves the OpenAPI document (built once).
func (s *Server) openAPI(c *gin.Context) {
	openAPIDoc.once.Do(func() {
		doc, err := OpenAPI()
		if err == nil {
			err = doc.Validate(context.Background())
		}
		if err != nil {
			openAPIDoc.err = err
			return
		}
		openAPIDoc.body, openAPIDoc.err = json.Marshal(doc)
	})
	if openAPIDoc.err != nil {
		_ = c.Error(openAPIDoc.err)
		return
	}
	c.Data(http.StatusOK, "application/json", openAPIDoc.body)
}
