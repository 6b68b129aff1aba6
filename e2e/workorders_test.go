package e2e

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/devstack"
	"github.com/fieldflow/fieldflow/workflows"
)

// TestWorkOrderIntakeByStaffAndOtherSystems: staff create work orders with their channel; another
// system pushes them with its token, an Idempotency-Key and its own reference, unique per source;
// contacts are matched across orders by email or phone.
func TestWorkOrderIntakeByStaffAndOtherSystems(t *testing.T) {
	stack := startStack(t)
	anon := api{t: t, base: stack.APIURL}
	dan := anon.as(token(t, stack, "dan", auth.RoleDispatcher))
	alice := anon.as(token(t, stack, "alice", auth.RoleAgent))
	erp := anon.as(token(t, stack, "erp", auth.RoleIntegration))
	crm := anon.as(token(t, stack, "crm", auth.RoleIntegration))

	byDispatcher := dan.must(http.StatusCreated, "POST", "/v1/work-orders", map[string]any{
		"recordType": "repair", "subject": "Boiler leaking", "region": "north",
		"contact": map[string]any{"name": "Ada", "email": "Ada@Example.com", "phone": "+357 22 000 000"},
	})
	require.Equal(t, "dispatcher", byDispatcher["channel"])
	require.Regexp(t, `^WO-\d{4}-\d{6}$`, byDispatcher["number"])
	contactID := byDispatcher["contact"].(map[string]any)["id"]
	require.NotEmpty(t, contactID, "the contact was kept")

	online := alice.must(http.StatusCreated, "POST", "/v1/work-orders", map[string]any{
		"recordType": "repair", "channel": "online-service", "subject": "Radiator cold",
		"contact": map[string]any{"phone": "+35722000000"},
	})
	require.Equal(t, "online-service", online["channel"])
	require.Equal(t, contactID, online["contact"].(map[string]any)["id"], "the same person, matched by phone")
	require.Equal(t, "Ada", online["contact"].(map[string]any)["name"])
	p := alice.problem(http.StatusUnprocessableEntity, "POST", "/v1/work-orders", map[string]any{
		"recordType": "repair", "channel": "api", "subject": "x",
	})
	require.Equal(t, "channel", p["errors"].([]any)[0].(map[string]any)["field"])
	alice.problem(http.StatusUnprocessableEntity, "POST", "/v1/work-orders", map[string]any{"recordType": "repiar", "subject": "x"})

	// Other systems: the key is required, the reference too; a retry creates nothing new.
	push := map[string]any{"recordType": "repair", "subject": "Meter fault", "externalRef": "ERP-77", "contact": map[string]any{"email": "ada@example.com"}}
	erp.problem(http.StatusBadRequest, "POST", "/v1/work-orders", push)
	p = erp.problem(http.StatusUnprocessableEntity, "POST", "/v1/work-orders", map[string]any{"recordType": "repair", "subject": "x"}, "Idempotency-Key", "k0")
	require.Equal(t, "externalRef", p["errors"].([]any)[0].(map[string]any)["field"])
	first := erp.must(http.StatusCreated, "POST", "/v1/work-orders", push, "Idempotency-Key", "k1")
	require.Equal(t, "api", first["channel"])
	require.Equal(t, "erp", first["source"])
	require.Equal(t, "ERP-77", first["externalRef"])
	require.Equal(t, contactID, first["contact"].(map[string]any)["id"], "matched by email, whatever its case")
	again := erp.must(http.StatusCreated, "POST", "/v1/work-orders", push, "Idempotency-Key", "k1")
	require.Equal(t, first["id"], again["id"])
	require.Equal(t, first["number"], again["number"])
	p = erp.problem(http.StatusConflict, "POST", "/v1/work-orders", push, "Idempotency-Key", "k2")
	require.Contains(t, p["detail"], "ERP-77")
	// The reference is unique per source: another system may use the same one.
	crm.must(http.StatusCreated, "POST", "/v1/work-orders", push, "Idempotency-Key", "k1")

	// An integration reads back what it pushed, and nothing else.
	mine := erp.must(http.StatusOK, "GET", "/v1/work-orders", nil)
	require.Equal(t, []string{first["id"].(string)}, ids(mine))
	erp.problem(http.StatusNotFound, "GET", "/v1/work-orders/"+byDispatcher["id"].(string), nil)
	erp.problem(http.StatusForbidden, "GET", "/v1/service-requests", nil)
	list := dan.must(http.StatusOK, "GET", "/v1/work-orders?channel=api", nil)
	require.Len(t, list["items"], 2)
}

// TestRepairFromDispatchToCompletion drives a repair through dispatch by round robin, a decline,
// the re-offer to the next engineer, acceptance, and the on-site checklist with labor time (a
// step timer and typed minutes) and a photo, to completion.
func TestRepairFromDispatchToCompletion(t *testing.T) {
	stack := startStack(t)
	anon := api{t: t, base: stack.APIURL}
	sam := anon.as(token(t, stack, "sam", auth.RoleSupervisor))
	dan := anon.as(token(t, stack, "dan", auth.RoleDispatcher))
	eve := anon.as(groupToken(t, stack.Keys, "eve", []string{"hvac"}, auth.RoleEngineer))
	frank := anon.as(groupToken(t, stack.Keys, "frank", []string{"hvac"}, auth.RoleEngineer))
	sam.must(http.StatusCreated, "POST", "/v1/groups", map[string]any{"key": "hvac", "title": "HVAC engineers"})
	for _, member := range []string{"eve", "frank"} {
		sam.must(http.StatusCreated, "PUT", "/v1/groups/hvac/members/"+member, map[string]any{})
	}

	wo := dan.must(http.StatusCreated, "POST", "/v1/work-orders", map[string]any{
		"recordType": "repair", "subject": "Boiler leaking", "device": map[string]any{"category": "hvac", "serial": "B-1"},
		"contact": map[string]any{"name": "Ada", "email": "ada@example.com"},
	})
	path := "/v1/work-orders/" + wo["id"].(string)
	require.Equal(t, "hvac", wo["group"], "the rules chose the group")
	offeredTo := func(who string) map[string]any {
		var got map[string]any
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			got = dan.must(http.StatusOK, "GET", path, nil)
			offer, _ := got["offer"].(map[string]any)
			require.NotNil(c, offer)
			require.Equal(c, who, offer["engineer"])
		}, 20*time.Second, 100*time.Millisecond)
		return got
	}
	offeredTo("eve") // round robin, in name order
	todo := eve.must(http.StatusOK, "GET", "/v1/todo", nil)
	require.Contains(t, todoKinds(todo), "offer", "the offer waits in eve's to-do list")

	frank.problem(http.StatusForbidden, "POST", path+"/accept", nil) // not his offer (the policy: offered engineer)
	eve.problem(http.StatusUnprocessableEntity, "POST", path+"/decline", map[string]any{})
	eve.must(http.StatusOK, "POST", path+"/decline", map[string]any{"reason": "on another site all day"})
	offeredTo("frank") // back to dispatch, and round robin offers it to the next engineer
	accepted := frank.must(http.StatusOK, "POST", path+"/accept", nil)
	require.Equal(t, "frank", accepted["engineer"])

	var onsite map[string]any
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		onsite = frank.must(http.StatusOK, "GET", path, nil)
		require.Equal(c, "onsite", onsite["node"], "past the notification, at the checklist")
	}, 20*time.Second, 100*time.Millisecond)
	require.Equal(t, "service", onsite["stage"])

	frank.must(http.StatusOK, "POST", path+"/steps/arrive/complete", map[string]any{"note": "customer home"})
	frank.problem(http.StatusConflict, "POST", path+"/steps/photo/complete", map[string]any{}) // diagnose comes first
	frank.must(http.StatusOK, "POST", path+"/steps/diagnose/start", nil)
	time.Sleep(1100 * time.Millisecond)
	frank.must(http.StatusOK, "POST", path+"/steps/diagnose/stop", nil)
	diagnosed := frank.must(http.StatusOK, "POST", path+"/steps/diagnose/complete", map[string]any{"result": "worn-seal"})
	require.EqualValues(t, 1, diagnosed["laborMinutes"], "the timer ran: at least a minute counts")
	frank.problem(http.StatusUnprocessableEntity, "POST", path+"/steps/repair/complete", map[string]any{})
	frank.must(http.StatusOK, "POST", path+"/steps/repair/complete", map[string]any{"laborMinutes": 55, "note": "seal replaced"})
	frank.problem(http.StatusConflict, "POST", path+"/steps/photo/complete", map[string]any{}) // no photo yet
	status, withPhoto := uploadStep(t, frank, path+"/attachments", "photo", "unit.png", pngBytes(t))
	require.Equal(t, http.StatusCreated, status, "%v", withPhoto)
	done := frank.must(http.StatusOK, "POST", path+"/steps/photo/complete", map[string]any{})
	require.EqualValues(t, 56, done["laborMinutes"], "the order shows its total labor time")
	require.Equal(t, "feedback", done["stage"], "the last step moved the order on")
	photoID := done["attachments"].([]any)[0].(map[string]any)["id"].(string)
	photo := frank.do("GET", path+"/attachments/"+photoID, nil)
	require.Equal(t, http.StatusOK, photo.Status)
	require.Equal(t, "image/png", photo.Header.Get("Content-Type"))

	closed := dan.must(http.StatusOK, "POST", path+"/close", map[string]any{"resolved": true, "resolution": "seal replaced"})
	require.Equal(t, "closed", closed["state"])

	events := dan.must(http.StatusOK, "GET", path+"/events", nil)
	types := eventTypes(events)
	for _, want := range []string{"assigned", "offered", "declined", "accepted", "step_started", "step_stopped", "step_completed", "attachment_added", "closed"} {
		require.Contains(t, types, want)
	}
	require.Equal(t, 2, count(types, "offered"), "offered to eve, then to frank")
	recordHistory(t, stack.Client(), workflows.WorkOrderWorkflowID(wo["id"].(string)), "work-order-repair-dispatch-checklist")
}

// TestConcurrentClaimsOfAPooledOrder: a dispatcher leaves an installation in a group's pool; five
// members claim it at once; exactly one gets it, the others get 409.
func TestConcurrentClaimsOfAPooledOrder(t *testing.T) {
	stack := startStack(t)
	anon := api{t: t, base: stack.APIURL}
	dan := anon.as(token(t, stack, "dan", auth.RoleDispatcher))
	wo := dan.must(http.StatusCreated, "POST", "/v1/work-orders", map[string]any{
		"recordType": "installation", "subject": "New heat pump", "contact": map[string]any{"email": "ada@example.com"},
	})
	path := "/v1/work-orders/" + wo["id"].(string)
	dan.must(http.StatusOK, "POST", path+"/assign", map[string]any{"group": "installers"})

	members := []string{"ann", "ben", "cat", "dov", "eli"}
	first := anon.as(groupToken(t, stack.Keys, members[0], []string{"installers"}, auth.RoleEngineer))
	var item string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		pool := first.must(http.StatusOK, "GET", "/v1/todo/pool", nil)
		items := pool["items"].([]any)
		require.Len(c, items, 1)
		item = items[0].(map[string]any)["id"].(string)
	}, 20*time.Second, 100*time.Millisecond)
	outsider := anon.as(groupToken(t, stack.Keys, "olga", []string{"plumbers"}, auth.RoleEngineer))
	require.Empty(t, outsider.must(http.StatusOK, "GET", "/v1/todo/pool", nil)["items"])

	statuses := make([]int, len(members))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, m := range members {
		tok := groupToken(t, stack.Keys, m, []string{"installers"}, auth.RoleEngineer)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest("POST", stack.APIURL+"/v1/todo/"+item+"/claim", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				statuses[i] = resp.StatusCode
				resp.Body.Close()
			}
		}()
	}
	close(start)
	wg.Wait()
	winners := 0
	winner := ""
	for i, s := range statuses {
		switch s {
		case http.StatusOK:
			winners++
			winner = members[i]
		case http.StatusConflict:
		default:
			t.Fatalf("claim by %s answered %d", members[i], s)
		}
	}
	require.Equal(t, 1, winners, "statuses %v", statuses)
	got := dan.must(http.StatusOK, "GET", path, nil)
	require.Equal(t, winner, got["engineer"])
	require.Equal(t, "install", got["node"], "claiming is accepting: the order is at the checklist")
	require.Empty(t, first.must(http.StatusOK, "GET", "/v1/todo/pool", nil)["items"])
	recordHistory(t, stack.Client(), workflows.WorkOrderWorkflowID(wo["id"].(string)), "work-order-pool-claim")
}

// withWorkOrderType runs the stack on the shipped definitions plus one more work-order type.
func withWorkOrderType(t *testing.T, key, yaml string) func(*devstack.Config) {
	defs := t.TempDir()
	require.NoError(t, os.CopyFS(defs, os.DirFS("../definitions")))
	require.NoError(t, os.WriteFile(filepath.Join(defs, "work-orders", key+".yaml"), []byte(yaml), 0o644))
	return func(c *devstack.Config) { c.DefinitionsDir = defs }
}

// quickType is a work-order type with second-scale timeouts, on wall-clock time.
const quickType = `apiVersion: fieldflow/v1
kind: WorkOrderType
key: quick
title: Quick
numbering: "QK-{seq:4}"
intake: [dispatcher]
stages:
  - {id: new, title: New, state: new}
  - {id: dispatch, title: Dispatch, state: in_progress}
  - {id: work, title: Work, state: in_progress}
  - {id: closed, title: Closed, state: closed}
nodes:
  - {id: dispatch, type: assignment, stage: dispatch, path: [dispatcher, engineer]}
  - {id: accept, type: acceptance, timeout: 2s, onDecline: dispatch, onTimeout: dispatch, maxOffers: 2}
  - {id: work, type: stage, stage: work}
  - {id: done, type: end, stage: closed}
`

// TestOfferTimesOutAndReturnsToDispatch: with second-scale timeouts, an unanswered offer goes back
// to dispatch; after the last offer the dispatcher is alerted in the to-do center.
func TestOfferTimesOutAndReturnsToDispatch(t *testing.T) {
	stack := startStack(t, withWorkOrderType(t, "quick", quickType))
	anon := api{t: t, base: stack.APIURL}
	dan := anon.as(token(t, stack, "dan", auth.RoleDispatcher))
	wo := dan.must(http.StatusCreated, "POST", "/v1/work-orders", map[string]any{"recordType": "quick", "subject": "Fuse", "contact": map[string]any{"email": "ada@example.com"}})
	path := "/v1/work-orders/" + wo["id"].(string)

	for i, engineer := range []string{"eve", "frank"} {
		offered := dan.must(http.StatusOK, "POST", path+"/assign", map[string]any{"engineer": engineer})
		require.Equal(t, engineer, offered["offer"].(map[string]any)["engineer"])
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			got := dan.must(http.StatusOK, "GET", path, nil)
			require.Equal(c, "dispatch", got["node"], "offer %d expired", i+1)
			require.Nil(c, got["offer"])
		}, 20*time.Second, 200*time.Millisecond)
	}
	events := eventTypes(dan.must(http.StatusOK, "GET", path+"/events", nil))
	require.Equal(t, 2, count(events, "offer_expired"))
	require.Contains(t, events, "escalated")
	got := dan.must(http.StatusOK, "GET", path, nil)
	require.Equal(t, "dispatcher", got["escalated"])
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.Contains(c, todoKinds(dan.must(http.StatusOK, "GET", "/v1/todo", nil)), "dispatch")
	}, 10*time.Second, 100*time.Millisecond, "the dispatcher is alerted")
	recordHistory(t, stack.Client(), workflows.WorkOrderWorkflowID(wo["id"].(string)), "work-order-offer-timeout")
}

// quickRating is a work-order type whose rating node auto-completes after two seconds.
const quickRating = `apiVersion: fieldflow/v1
kind: WorkOrderType
key: quick-rating
title: Quick rating
numbering: "QR-{seq:4}"
intake: [dispatcher]
stages:
  - {id: new, title: New, state: new}
  - {id: feedback, title: Feedback, state: in_progress}
  - {id: closed, title: Closed, state: closed}
nodes:
  - {id: rate, type: rating, stage: feedback, scale: five-star, template: standard-survey, autoComplete: 2s}
  - {id: done, type: end, stage: closed}
`

// TestRatingAutoCompletesInSeconds: nobody rates, so the rating node is force-skipped when its
// auto-complete time has passed, and the order goes on (here: closes).
func TestRatingAutoCompletesInSeconds(t *testing.T) {
	stack := startStack(t, withWorkOrderType(t, "quick-rating", quickRating))
	dan := api{t: t, base: stack.APIURL, token: token(t, stack, "dan", auth.RoleDispatcher)}
	wo := dan.must(http.StatusCreated, "POST", "/v1/work-orders", map[string]any{"recordType": "quick-rating", "subject": "Boiler check", "contact": map[string]any{"email": "ada@example.com"}})
	require.Equal(t, "rate", wo["node"])
	require.NotEmpty(t, wo["rating"].(map[string]any)["closesAt"])
	path := "/v1/work-orders/" + wo["id"].(string)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.Equal(c, "closed", dan.must(http.StatusOK, "GET", path, nil)["state"])
	}, 20*time.Second, 200*time.Millisecond)
	events := eventTypes(dan.must(http.StatusOK, "GET", path+"/events", nil))
	require.Contains(t, events, "rating_skipped")
	require.Less(t, indexOf(events, "rating_skipped"), indexOf(events, "closed"))
	recordHistory(t, stack.Client(), workflows.WorkOrderWorkflowID(wo["id"].(string)), "work-order-rating-auto-complete")
}

func indexOf(items []string, want string) int {
	for i, it := range items {
		if it == want {
			return i
		}
	}
	return -1
}

func todoKinds(body map[string]any) []string {
	var kinds []string
	for _, it := range body["items"].([]any) {
		kinds = append(kinds, it.(map[string]any)["kind"].(string))
	}
	return kinds
}

// uploadStep posts a photo of a checklist step.
func uploadStep(t *testing.T, a api, path, step, name string, data []byte) (int, map[string]any) {
	t.Helper()
	return upload(t, a, path, name, "image/png", data, "step", step)
}

func pngBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}
