package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/fieldflow/fieldflow/api"
	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/policy"
	"github.com/fieldflow/fieldflow/process"
)

// matrixCaller is who calls in the matrix: one user, whose roles change from call to call.
const matrixCaller, matrixGroup = "pat", "g-pat"

// matrixRecords saves one record of each object per relation, in which the caller has exactly that
// relation (0: none), and returns their ids.
func (f *fixture) matrixRecords() map[policy.Object]map[policy.Relation]string {
	f.t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	ids := map[policy.Object]map[policy.Relation]string{policy.ServiceRequest: {}, policy.WorkOrder: {}}
	pending := func() []process.ApprovalState {
		return []process.ApprovalState{{ID: "ap1", Approvers: []process.Approver{{User: matrixCaller}}, Needed: 1, Status: "pending", Decisions: []process.Decision{}}}
	}
	for i, rel := range append([]policy.Relation{0}, policy.ServiceRequest.Relations()...) {
		sr := process.ServiceRequest{
			ID: uuid.NewString(), Number: fmt.Sprintf("SR-2026-%06d", 900+i), Queue: "it-support", Stage: "new", State: process.StateInProgress,
			Priority: "medium", Subject: "matrix " + rel.String(), Owner: "olga", Team: "t-other", CreatedBy: "carl",
			Categories: []string{}, Tags: []string{}, Fields: map[string]any{}, Related: []string{}, Notes: []process.Note{},
			Charges: []process.Charge{}, Activities: []process.Task{}, Attachments: []process.Attachment{}, Approvals: []process.ApprovalState{},
			CreatedAt: now, UpdatedAt: now, Revision: 1,
		}
		switch rel {
		case policy.Owner:
			sr.Owner = matrixCaller
		case policy.Creator:
			sr.CreatedBy = matrixCaller
		case policy.TeamMember:
			sr.Team = matrixGroup
		case policy.Unowned:
			sr.Owner, sr.Team = "", ""
		case policy.ActivityAssignee:
			sr.Activities = []process.Task{{ID: "a1", Title: "call back", User: matrixCaller, Status: "open", By: "olga", At: now}}
		case policy.Approver:
			sr.Approvals = pending()
		case policy.Handler:
			// Owned all the same: the relation does not need the request to be unassigned.
			sr.Handling = &process.Handling{Groups: []string{matrixGroup}}
		case 0:
		default:
			f.t.Fatalf("no service request fixture for relation %s", rel)
		}
		require.NoError(f.t, f.store.SaveServiceRequest(ctx, sr, nil))
		ids[policy.ServiceRequest][rel] = sr.ID
	}
	for i, rel := range append([]policy.Relation{0}, policy.WorkOrder.Relations()...) {
		wo := process.WorkOrder{
			ID: uuid.NewString(), Number: fmt.Sprintf("WO-2026-%06d", 900+i), RecordType: "repair", Stage: "repair", State: process.StateInProgress,
			Node: "work", NodeType: process.NodeChecklist, Priority: "medium", Subject: "matrix " + rel.String(), Channel: "agent",
			Group: "t-other", Engineer: "erin",
			Steps: []process.StepRecord{}, Ratings: []process.RatingRecord{}, Approvals: []process.ApprovalState{}, Attachments: []process.Attachment{},
			CreatedAt: now, UpdatedAt: now, Revision: 1,
		}
		switch rel {
		case policy.AssignedEngineer:
			wo.Engineer = matrixCaller
		case policy.Offered:
			wo.Offer = &process.Offer{Engineer: matrixCaller}
		case policy.GroupMember:
			wo.Group = matrixGroup
		case policy.FollowUpAgent:
			wo.FollowUp = &process.FollowUpState{Node: "follow-up", Agent: matrixCaller}
		case policy.Pusher:
			wo.Channel, wo.Source = process.ChannelAPI, matrixCaller
		case policy.Approver:
			wo.Approvals = pending()
		case 0:
		default:
			f.t.Fatalf("no work order fixture for relation %s", rel)
		}
		require.NoError(f.t, f.store.SaveWorkOrder(ctx, wo, nil))
		ids[policy.WorkOrder][rel] = wo.ID
	}
	return ids
}

// matrixURL fills a route's parameters: the record, and names the fixtures hold inside it; item is
// the kind of to-do item of a rule for one kind.
func matrixURL(route, record, item string) string {
	parts := strings.Split(route, "/")
	for i, p := range parts {
		switch p {
		case ":id":
			parts[i] = record
		case ":approvalId":
			parts[i] = "ap1"
		case ":itemId":
			switch {
			case strings.HasSuffix(route, "/complete") && strings.HasPrefix(route, "/v1/todo/"):
				parts[i] = record + ".a1"
			case strings.HasSuffix(route, "/claim") && strings.HasPrefix(route, "/v1/todo/"):
				parts[i] = record + "." + item
			default:
				parts[i] = "n1"
			}
		case ":stepId":
			parts[i] = "s1"
		case ":key":
			parts[i] = "g-x"
		case ":username":
			parts[i] = "bob"
		case ":code":
			parts[i] = "DEV-404"
		case ":token":
			parts[i] = "x"
		}
	}
	return strings.Join(parts, "/")
}

// TestAuthorizationMatrix calls every route of the API with every role and, on routes about one
// record, with every relation to that record, and checks each answer against the policy table: an
// allowed call gets past authorization (no 401/403, no "access denied" logged), a refused one is a
// 403 or 404 problem with the refusal logged. A route without a rule fails the test.
func TestAuthorizationMatrix(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	f := newFixtureIn(t, "../definitions", func(c *api.Config) {
		c.Logger = zap.New(core)
		c.ActionTimeout = 100 * time.Millisecond // allowed actions meet a Temporal that is down: 503
	})
	ids := f.matrixRecords()

	routes := f.api.Routes()
	sort.Strings(routes)
	var missing []string
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		if _, ok := policy.Lookup(method, path, ""); !ok && policy.ItemRules(method, path) == nil {
			missing = append(missing, r)
		}
	}
	require.Empty(t, missing, "routes without a rule in policy.Rules")
	for _, rule := range policy.Rules {
		require.Contains(t, routes, rule.Method+" "+rule.Path, "a rule for a route that does not exist")
	}

	denied := func(requestID string) bool {
		n := logs.FilterMessage("access denied").FilterField(zap.String("request_id", requestID)).Len()
		logs.TakeAll()
		return n > 0
	}
	n := 0
	call := func(method, url string, roles ...auth.Role) (answer, string) {
		n++
		rid := fmt.Sprintf("matrix-%d", n)
		req, err := http.NewRequest(method, f.server.URL+url, strings.NewReader("{}"))
		require.NoError(t, err)
		req.Header.Set("X-Request-ID", rid)
		if method != "GET" && method != "DELETE" {
			req.Header.Set("Content-Type", "application/json")
		}
		if roles != nil {
			tok, err := f.keys.Issue(auth.Principal{Subject: matrixCaller, Roles: roles, Groups: []string{matrixGroup}}, time.Hour, time.Now())
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		return answer{status: resp.StatusCode, header: resp.Header}, rid
	}

	cells, allowed := 0, 0
	var rules []policy.Rule
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		if items := policy.ItemRules(method, path); items != nil {
			rules = append(rules, items...)
			continue
		}
		rule, _ := policy.Lookup(method, path, "")
		rules = append(rules, rule)
	}
	for _, rule := range rules {
		method, path := rule.Method, rule.Path
		r := method + " " + path
		if rule.Item != "" {
			r += " (item " + rule.Item + ")"
		}
		if rule.Public != "" {
			a, rid := call(method, matrixURL(path, "x", rule.Item))
			require.False(t, denied(rid), "%s is public (%s) but was refused", r, rule.Public)
			require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, a.status, "%s is public", r)
			continue
		}
		a, rid := call(method, matrixURL(path, ids[policy.ServiceRequest][0], rule.Item))
		require.Equal(t, http.StatusUnauthorized, a.status, "%s without a token", r)
		require.True(t, denied(rid))

		relations := []policy.Relation{0}
		if rule.Object != policy.NoObject && !rule.List {
			relations = append(relations, rule.Object.Relations()...)
		}
		for _, role := range auth.Roles {
			for _, rel := range relations {
				record := "no-record"
				if rule.Object != policy.NoObject {
					record = ids[rule.Object][rel]
				}
				want := rule.Permits([]auth.Role{role}, rel)
				if rule.List {
					want = rule.Needed([]auth.Role{role}) != 0 // the list is narrowed, not refused (TestListScopes)
				}
				a, rid := call(method, matrixURL(path, record, rule.Item), role)
				cell := fmt.Sprintf("%s as %s (%s)", r, role, rel)
				cells++
				if want {
					allowed++
					require.False(t, denied(rid), "%s: the policy allows it, but it was refused with %d", cell, a.status)
					require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, a.status, cell)
					continue
				}
				require.True(t, denied(rid), "%s: the policy refuses it, but it got %d", cell, a.status)
				require.Contains(t, []int{http.StatusForbidden, http.StatusNotFound}, a.status, cell)
				require.Equal(t, "application/problem+json", a.header.Get("Content-Type"), cell)
			}
		}
	}
	// A to-do item of a kind no rule knows does not exist, for everyone.
	a, rid := call("POST", matrixURL("/v1/todo/:itemId/claim", ids[policy.ServiceRequest][0], "a1"), auth.RoleAdmin)
	require.Equal(t, http.StatusNotFound, a.status)
	require.True(t, denied(rid))
	a, _ = call("POST", matrixURL("/v1/todo/:itemId/claim", ids[policy.ServiceRequest][0], "a1"))
	require.Equal(t, http.StatusUnauthorized, a.status)
	t.Logf("%d routes, %d rules, %d role × relation cells (%d allowed)", len(routes), len(rules), cells, allowed)
}

// TestListScopes checks that the lists show a caller exactly the records the policy lets them see.
func TestListScopes(t *testing.T) {
	f := newFixture(t)
	ids := f.matrixRecords()
	for _, list := range []struct {
		path   string
		object policy.Object
	}{{"/v1/service-requests?limit=200", policy.ServiceRequest}, {"/v1/work-orders?limit=200", policy.WorkOrder}} {
		rule, ok := policy.Lookup("GET", strings.Split(list.path, "?")[0], "")
		require.True(t, ok)
		for _, role := range auth.Roles {
			tok, err := f.keys.Issue(auth.Principal{Subject: matrixCaller, Roles: []auth.Role{role}, Groups: []string{matrixGroup}}, time.Hour, time.Now())
			require.NoError(t, err)
			a := f.callWith("GET", list.path, tok, "", "")
			if rule.Needed([]auth.Role{role}) == 0 {
				require.Equal(t, http.StatusForbidden, a.status, "%s as %s", list.path, role)
				continue
			}
			require.Equal(t, http.StatusOK, a.status, a.body)
			var listed []string
			for _, it := range a.body["items"].([]any) {
				listed = append(listed, it.(map[string]any)["id"].(string))
			}
			for rel, id := range ids[list.object] {
				if rel == policy.Approver || rel == policy.ActivityAssignee {
					continue // relations to an item a route names, not to the record in a list
				}
				want := policy.CanSee(list.object, []auth.Role{role}, rel)
				require.Equal(t, want, slices.Contains(listed, id), "%s as %s: the record of relation %s", list.path, role, rel)
			}
		}
	}
}

// TestPolicyTableIsSound checks the table's own rules: relations to an approval or an activity are
// granted only on routes that name one, and public routes grant no roles.
func TestPolicyTableIsSound(t *testing.T) {
	for _, r := range policy.Rules {
		if r.Public != "" {
			require.Empty(t, r.Grants, r.Path)
			continue
		}
		require.NotEmpty(t, r.Grants, "%s %s grants nobody", r.Method, r.Path)
		for _, g := range r.Grants {
			require.NotEmpty(t, g.Roles)
			require.NotZero(t, g.Relations, "%s %s: a grant needs Anyone or relations", r.Method, r.Path)
			if g.Relations != policy.Anyone {
				require.NotEqual(t, policy.NoObject, r.Object, "%s %s: relations on a route about no record", r.Method, r.Path)
			}
			if g.Relations&policy.Approver != 0 {
				require.Contains(t, r.Path, ":approvalId")
			}
			if g.Relations&policy.ActivityAssignee != 0 {
				require.Contains(t, r.Path, ":itemId")
			}
		}
	}
}

// TestPatchAllowList checks that PATCH changes only the fields it lists: the state, the stage, the
// charges and other unknown fields are refused, the owner and the team go through assign.
func TestPatchAllowList(t *testing.T) {
	f := newFixture(t)
	ids := f.matrixRecords()
	tok, err := f.keys.Issue(auth.Principal{Subject: matrixCaller, Roles: []auth.Role{auth.RoleAgent}}, time.Hour, time.Now())
	require.NoError(t, err)
	path := "/v1/service-requests/" + ids[policy.ServiceRequest][policy.Owner]
	for _, body := range []string{`{"state":"closed"}`, `{"stage":"resolved"}`, `{"charges":[{"amount":1}]}`, `{"invoice":{}}`, `{"revision":99}`, `{"createdBy":"pat"}`} {
		a := f.problem(http.StatusBadRequest, "PATCH", path, tok, "application/json", body)
		require.Contains(t, a.body["detail"], "unknown field", body)
	}
	for _, field := range []string{"owner", "team"} {
		a := f.problem(http.StatusUnprocessableEntity, "PATCH", path, tok, "application/json", `{"`+field+`":"pat"}`)
		require.Contains(t, fmt.Sprint(a.body["errors"]), "/assign", field)
	}
	f.problem(http.StatusUnprocessableEntity, "POST", path+"/assign", tok, "application/json", `{}`)
	f.problem(http.StatusBadRequest, "POST", path+"/assign", tok, "application/json", `{"state":"closed"}`)
}
