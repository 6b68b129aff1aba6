package e2e

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/workflows"
)

// TestChargesApprovalByLinkAndInvoice: charges above 100 make the billing queue ask for approval
// on leaving the proposal stage; the contact receives a signed link by email and approves through
// it without a login; the request moves on and, closed as resolved (twice, with the same key), is
// invoiced once.
func TestChargesApprovalByLinkAndInvoice(t *testing.T) {
	box := startMailbox(t)
	stack := startStack(t, box.mailer)
	alice := api{t: t, base: stack.APIURL, token: token(t, stack, "alice", auth.RoleAgent)}
	sr := alice.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "billing", "subject": "Refund for the outage", "contact": map[string]any{"name": "Ada", "email": "ada@example.com"},
	})
	path := "/v1/service-requests/" + sr["id"].(string)
	alice.problem(http.StatusUnprocessableEntity, "POST", path+"/charges", map[string]any{"kind": "gift", "description": ""})
	alice.must(http.StatusOK, "POST", path+"/charges", map[string]any{"kind": "service", "description": "Refund handling", "unitPrice": 40})
	withCharges := alice.must(http.StatusOK, "POST", path+"/charges", map[string]any{"kind": "product", "description": "Router", "quantity": 2, "unitPrice": 35.5})
	require.Len(t, withCharges["charges"], 2)

	alice.must(http.StatusOK, "POST", path+"/progress", nil)
	require.Equal(t, "proposal", alice.must(http.StatusOK, "POST", path+"/progress", nil)["stage"])
	asked := alice.must(http.StatusOK, "POST", path+"/progress", nil)
	require.Equal(t, "proposal", asked["stage"], "111 > 100: the move waits for an approval")
	approval := asked["approvals"].([]any)[0].(map[string]any)
	require.Equal(t, "pending", approval["status"])

	require.Eventually(t, func() bool { return len(box.received()) >= 1 }, 20*time.Second, 100*time.Millisecond)
	asking := box.received()[0]
	require.Equal(t, []string{"ada@example.com"}, asking.to)
	require.Contains(t, asking.data, "Subject: Your approval is needed: "+sr["number"].(string))
	link := regexp.MustCompile(`http://\S+/approve/\S+`).FindString(asking.body(t))
	require.NotEmpty(t, link, asking.body(t))
	// Staff can fetch a link for the contact too (to give it by phone, say).
	again := alice.must(http.StatusOK, "GET", path+"/approvals/"+approval["id"].(string)+"/link", nil)["url"].(string)
	require.True(t, strings.HasPrefix(again, stack.APIURL+"/approve/"), again)
	page, err := http.Get(link)
	require.NoError(t, err)
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Contains(t, string(html), "Refund for the outage")
	require.Contains(t, string(html), `value="approve"`)
	bad, err := http.Get(strings.Replace(link, "/approve/", "/approve/x", 1))
	require.NoError(t, err)
	bad.Body.Close()
	require.Equal(t, http.StatusNotFound, bad.StatusCode, "a tampered link shows a clear page, not an error dump")

	resp, err := http.PostForm(link, url.Values{"decision": {"approve"}, "comment": {"fine by me"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var moved map[string]any
	require.Eventually(t, func() bool {
		moved = alice.must(http.StatusOK, "GET", path, nil)
		return moved["stage"] == "response"
	}, 20*time.Second, 100*time.Millisecond)
	decision := moved["approvals"].([]any)[0].(map[string]any)["decisions"].([]any)[0].(map[string]any)
	require.Equal(t, "contact", decision["by"])
	require.Equal(t, "fine by me", decision["comment"])

	closeBody := map[string]any{"resolved": true, "resolution": "refunded"}
	alice.must(http.StatusOK, "POST", path+"/close", closeBody, "Idempotency-Key", "close-1")
	// The retry gets the first answer while the run is still finishing, or 409 once it has ended;
	// either way nothing is billed twice.
	retry := alice.do("POST", path+"/close", closeBody, "Idempotency-Key", "close-1")
	require.Contains(t, []int{http.StatusOK, http.StatusConflict}, retry.Status, retry.Raw)
	var closed map[string]any
	require.Eventually(t, func() bool {
		closed = alice.must(http.StatusOK, "GET", path, nil)
		return closed["invoice"] != nil
	}, 20*time.Second, 100*time.Millisecond)
	invoice := closed["invoice"].(map[string]any)
	require.Regexp(t, `^INV-\d{4}-000001$`, invoice["number"])
	require.EqualValues(t, 111, invoice["total"])
	types := eventTypes(alice.must(http.StatusOK, "GET", path+"/events", nil))
	require.Equal(t, 1, count(types, "invoice_issued"))
	require.Equal(t, 1, count(types, "closed"))
	recordHistory(t, stack.Client(), workflows.ServiceRequestWorkflowID(sr["id"].(string)), "service-request-approval-invoice")

	// Unresolved: nothing is billed.
	other := alice.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "billing", "subject": "Other", "contact": map[string]any{"email": "ada@example.com"},
	})
	otherPath := "/v1/service-requests/" + other["id"].(string)
	alice.must(http.StatusOK, "POST", otherPath+"/charges", map[string]any{"kind": "service", "description": "Visit", "unitPrice": 80})
	alice.must(http.StatusOK, "POST", otherPath+"/close", map[string]any{"resolved": false})
	time.Sleep(500 * time.Millisecond)
	require.Nil(t, alice.must(http.StatusOK, "GET", otherPath, nil)["invoice"])
	require.NotContains(t, eventTypes(alice.must(http.StatusOK, "GET", otherPath+"/events", nil)), "invoice_issued")
}

func count(items []string, want string) int {
	n := 0
	for _, s := range items {
		if s == want {
			n++
		}
	}
	return n
}

// TestNotesActivitiesAndTodo: notes with pinning and the latest-only delete rule; an activity for a
// team shows in its members' to-do center and is completed there.
func TestNotesActivitiesAndTodo(t *testing.T) {
	stack := startStack(t)
	anon := api{t: t, base: stack.APIURL}
	alice := anon.as(groupToken(t, stack.Keys, "alice", nil, auth.RoleAgent))
	fay := anon.as(groupToken(t, stack.Keys, "fay", []string{"finance"}, auth.RoleAgent))
	sr := alice.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "billing", "subject": "Refund", "contact": map[string]any{"email": "ada@example.com"},
	})
	path := "/v1/service-requests/" + sr["id"].(string)
	alice.must(http.StatusOK, "POST", path+"/notes", map[string]any{"text": "called the customer"})
	alice.must(http.StatusOK, "POST", path+"/notes", map[string]any{"text": "finance agrees", "pinned": true})
	withNotes := alice.must(http.StatusOK, "POST", path+"/notes", map[string]any{"text": "waiting for the bank"})
	notes := withNotes["notes"].([]any)
	require.Equal(t, "finance agrees", notes[0].(map[string]any)["text"], "pinned first")
	oldest := notes[2].(map[string]any)["id"].(string)
	alice.problem(http.StatusConflict, "DELETE", path+"/notes/"+oldest, nil)
	latest := notes[1].(map[string]any)["id"].(string)
	require.Len(t, alice.must(http.StatusOK, "DELETE", path+"/notes/"+latest, nil)["notes"], 2)

	due := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	alice.must(http.StatusOK, "POST", path+"/activities", map[string]any{"title": "Confirm the refund", "team": "finance", "due": due})
	todo := fay.must(http.StatusOK, "GET", "/v1/todo", nil)["items"].([]any)
	require.Len(t, todo, 1)
	item := todo[0].(map[string]any)
	require.Equal(t, "activity", item["kind"])
	require.Equal(t, sr["number"], item["number"])
	require.Empty(t, alice.must(http.StatusOK, "GET", "/v1/todo", nil)["items"])
	done := fay.must(http.StatusOK, "POST", "/v1/todo/"+item["id"].(string)+"/complete", nil)
	require.Equal(t, "done", done["activities"].([]any)[0].(map[string]any)["status"])
	require.Empty(t, fay.must(http.StatusOK, "GET", "/v1/todo", nil)["items"])
	recordHistory(t, stack.Client(), workflows.ServiceRequestWorkflowID(sr["id"].(string)), "service-request-notes-activities")
}
