package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldflow/fieldflow/api"
	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/process"
)

// actionRoutes are the action endpoints whose JSON bodies are decoded into process actions; the
// fuzzer picks one by its second argument. SR is a billing request in its proposal stage with a
// pending approval, a note and a charge; WO a repair on its checklist, offered to the caller.
var actionRoutes = []struct{ method, path string }{
	{"PATCH", "/v1/service-requests/SR"},
	{"POST", "/v1/service-requests/SR/assign"},
	{"POST", "/v1/service-requests/SR/progress"},
	{"POST", "/v1/service-requests/SR/regress"},
	{"POST", "/v1/service-requests/SR/close"},
	{"POST", "/v1/service-requests/SR/approvals/ap1"},
	{"POST", "/v1/service-requests/SR/notes"},
	{"PATCH", "/v1/service-requests/SR/notes/n1"},
	{"POST", "/v1/service-requests/SR/charges"},
	{"PATCH", "/v1/service-requests/SR/charges/c1"},
	{"POST", "/v1/service-requests/SR/activities"},
	{"POST", "/v1/service-requests/SR/convert"},
	{"POST", "/v1/service-requests/SR/migrate"},
	{"POST", "/v1/work-orders/WO/assign"},
	{"POST", "/v1/work-orders/WO/decline"},
	{"POST", "/v1/work-orders/WO/transfer"},
	{"POST", "/v1/work-orders/WO/progress"},
	{"POST", "/v1/work-orders/WO/close"},
	{"POST", "/v1/work-orders/WO/steps/diagnose/complete"},
	{"POST", "/v1/work-orders/WO/approvals/ap1"},
	{"POST", "/v1/work-orders/WO/follow-up"},
	{"POST", "/v1/work-orders/WO/ratings"},
}

// FuzzActionBodies posts arbitrary bodies to every action endpoint of a stored service request and
// work order: the body decoders and the checks behind them (the interpreter's validation of the
// action against the record) answer a client error, or 503 once a valid action reaches for the
// Temporal server this fixture does not have — never a 500, and every refusal is
// application/problem+json.
func FuzzActionBodies(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `{"a":`, "\x00\xff", `{"toStage": "response"}`, `{"toStage": 7}`,
		`{"reason": "wrong invoice"}`, `{"reason": "", "toStage": "new"}`,
		`{"resolved": true, "resolution": "refunded"}`, `{"resolved": "yes"}`,
		`{"decision": "approve", "comment": "ok"}`, `{"decision": "maybe"}`,
		`{"text": "called back", "pinned": true}`, `{"text": null}`,
		`{"kind": "fee", "description": "visit", "quantity": 1, "unitPrice": 80}`, `{"quantity": -1e308, "unitPrice": 1e308}`,
		`{"title": "call back", "user": "alice", "due": "2026-12-01T10:00:00Z"}`,
		`{"recordType": "repair", "subject": "x"}`, `{"version": "000000000000"}`,
		`{"engineer": "erin", "group": "central-field"}`, `{"engineer": ""}`,
		`{"laborMinutes": 30, "note": "done"}`, `{"laborMinutes": -5}`, `{"laborMinutes": 1e99}`,
		`{"answers": {"q1": "yes"}, "score": 5}`, `{"score": 11, "comment": "great"}`, `{"score": -1}`,
		`{"subject": "new subject", "impact": "high", "tags": ["vip"], "fields": {"a": [1, {"b": null}]}}`,
	} {
		f.Add(seed, uint8(len(seed)%len(actionRoutes)))
	}
	for i := range actionRoutes {
		f.Add(`{}`, uint8(i))
	}
	fx := newFixtureIn(f, "../definitions", func(c *api.Config) { c.ActionTimeout = 50 * time.Millisecond })
	ctx := context.Background()
	now := time.Now().UTC()
	version := func(key string) string {
		versions, err := fx.store.ListDefinitionVersions(ctx, key)
		if err != nil || len(versions) == 0 {
			f.Fatalf("definition %s: %v", key, err)
		}
		return versions[0].Version
	}
	sr := process.ServiceRequest{
		ID: uuid.NewString(), Number: "SR-2026-000901", Queue: "billing", Stage: "proposal", State: process.StateInProgress,
		Priority: "medium", Impact: "medium", Urgency: "medium", Subject: "Refund", Owner: "root", CreatedBy: "root",
		Contact:    process.Contact{Name: "Ada", Email: "ada@example.com"},
		Categories: []string{"refund"}, Tags: []string{}, Fields: map[string]any{}, Related: []string{},
		Notes:      []process.Note{{ID: "n1", Text: "first call", By: "root", At: now}},
		Charges:    []process.Charge{{ID: "c1", Kind: "fee", Description: "visit", Quantity: 1, UnitPrice: 80, Amount: 80}},
		Activities: []process.Task{}, Attachments: []process.Attachment{},
		Approvals:  []process.ApprovalState{{ID: "ap1", Approvers: []process.Approver{{User: "root"}}, Needed: 1, Status: "pending", Decisions: []process.Decision{}}},
		Definition: process.DefinitionRef{Key: "billing", Version: version("billing")},
		CreatedAt:  now, UpdatedAt: now, Revision: 3,
	}
	if err := fx.store.SaveServiceRequest(ctx, sr, nil); err != nil {
		f.Fatal(err)
	}
	wo := process.WorkOrder{
		ID: uuid.NewString(), Number: "WO-2026-000901", RecordType: "repair", Stage: "repair", State: process.StateInProgress,
		Node: "work", NodeType: process.NodeChecklist, Priority: "medium", Subject: "Boiler leaking", Channel: "agent",
		Engineer: "root", Offer: &process.Offer{Engineer: "root"},
		Steps: []process.StepRecord{}, Ratings: []process.RatingRecord{}, Attachments: []process.Attachment{},
		Approvals:  []process.ApprovalState{{ID: "ap1", Approvers: []process.Approver{{User: "root"}}, Needed: 1, Status: "pending", Decisions: []process.Decision{}}},
		Definition: process.DefinitionRef{Key: "repair", Version: version("repair")},
		CreatedAt:  now, UpdatedAt: now, Revision: 5,
	}
	if err := fx.store.SaveWorkOrder(ctx, wo, nil); err != nil {
		f.Fatal(err)
	}
	admin, err := fx.keys.Issue(auth.Principal{Subject: "root", Roles: []auth.Role{auth.RoleAdmin, auth.RoleSupervisor, auth.RoleAgent, auth.RoleDispatcher, auth.RoleEngineer, auth.RoleFollowUp}}, time.Hour, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string, which uint8) {
		route := actionRoutes[int(which)%len(actionRoutes)]
		path := strings.NewReplacer("/SR", "/"+sr.ID, "/WO", "/"+wo.ID).Replace(route.path)
		if status := fuzzCall(t, fx.server.URL, route.method, path, body, admin); status < 300 {
			t.Fatalf("%s %s %q → %d without a Temporal server", route.method, route.path, body, status)
		}
	})
}
