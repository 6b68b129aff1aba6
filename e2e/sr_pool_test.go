package e2e

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/devstack"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/workflows"
)

// customerRequests opens service requests as a customer channel does (the portal's submission is
// built on this): a number from the store, then the run, started on the stack's Temporal server.
type customerRequests struct {
	t      *testing.T
	stack  *devstack.Stack
	store  *store.Store
	client *workflows.Client
}

func newCustomerRequests(t *testing.T, stack *devstack.Stack) *customerRequests {
	ctx := context.Background()
	c, err := workflows.Dial(ctx, stack.TemporalAddress, devstack.Namespace, zaptest.NewLogger(t))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	st, err := store.Open(ctx, stack.DatabaseURL)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	return &customerRequests{t: t, stack: stack, store: st, client: workflows.NewClient(c, st)}
}

func (cr *customerRequests) open(queue, channel, subject string, categories ...string) process.ServiceRequest {
	t := cr.t
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q, ok := cr.stack.Registry.Queue(queue)
	require.True(t, ok)
	in := process.NewServiceRequest{ID: uuid.NewString(), Queue: q.Key, Subject: subject, Channel: channel,
		Contact: process.Contact{Name: "Ada", Email: "ada@example.com"}, Categories: categories}
	now := time.Now().UTC()
	numbering, err := process.ParseNumbering(q.Numbering)
	require.NoError(t, err)
	seq, err := cr.store.NextNumber(ctx, in.ID, numbering.Scope(now))
	require.NoError(t, err)
	in.Number = numbering.Format(now, seq)
	sr, err := cr.client.StartServiceRequest(ctx, q, in, "portal", now)
	require.NoError(t, err)
	return sr
}

// TestUnassignedRequestsAreClaimedOnce: a customer's request no rule routes waits in the pool of
// the queue's handlers; two agents claim it at once and exactly one wins (200), the other hears
// it is taken (409); the winner owns it and the claim is in its history. A request the queue's
// rules route lands in its group's team without anyone claiming it.
func TestUnassignedRequestsAreClaimedOnce(t *testing.T) {
	stack := startStack(t)
	anon := api{t: t, base: stack.APIURL}
	bob := anon.as(groupToken(t, stack.Keys, "bob", nil, auth.RoleAgent))
	carol := anon.as(groupToken(t, stack.Keys, "carol", nil, auth.RoleAgent))
	erin := anon.as(groupToken(t, stack.Keys, "erin", []string{"hvac"}, auth.RoleEngineer))
	desk := anon.as(groupToken(t, stack.Keys, "gus", []string{"billing-desk"}, auth.RoleAgent))
	customers := newCustomerRequests(t, stack)

	sr := customers.open("billing", process.ChannelGuest, "Two invoices this month", "invoice/copy")
	require.Empty(t, sr.Owner)
	require.Empty(t, sr.Team)
	require.Equal(t, []string{"self-service"}, sr.Tags, "the queue's default tags")
	item := sr.ID + ".claim"
	poolIDs := func(a api) []string { return ids(a.must(http.StatusOK, "GET", "/v1/todo/pool", nil)) }
	require.Contains(t, poolIDs(bob), item)
	require.Contains(t, poolIDs(desk), item)
	require.NotContains(t, poolIDs(erin), item, "engineers do not handle billing requests")
	erin.problem(http.StatusNotFound, "POST", "/v1/todo/"+item+"/claim", nil)

	var wg sync.WaitGroup
	statuses := make([]int, 2)
	bodies := make([]map[string]any, 2)
	for i, agent := range []api{bob, carol} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := agent.do("POST", "/v1/todo/"+item+"/claim", nil)
			statuses[i], bodies[i] = r.Status, r.Body
		}()
	}
	wg.Wait()
	require.ElementsMatch(t, []int{http.StatusOK, http.StatusConflict}, statuses, "exactly one claim wins: %v", bodies)
	winner, loser := "bob", 1
	if statuses[1] == http.StatusOK {
		winner, loser = "carol", 0
	}
	require.Equal(t, winner, bodies[1-loser]["owner"])
	require.Contains(t, bodies[loser]["detail"], winner+" owns it")

	path := "/v1/service-requests/" + sr.ID
	owner := anon.as(groupToken(t, stack.Keys, winner, nil, auth.RoleAgent))
	got := owner.must(http.StatusOK, "GET", path, nil)
	require.Equal(t, winner, got["owner"])
	require.Equal(t, "guest", got["channel"])
	events := owner.must(http.StatusOK, "GET", path+"/events", nil)
	require.Equal(t, []string{"created", "claimed"}, eventTypes(events))
	created := events["items"].([]any)[0].(map[string]any)["details"].(map[string]any)
	require.Equal(t, "pool", created["routedBy"])
	require.NotContains(t, poolIDs(bob), item, "claimed: out of the pool")
	owner.must(http.StatusOK, "POST", path+"/progress", nil) // the owner works it

	// A refund: the queue's rule routes it to billing-desk, no claim needed.
	refund := customers.open("billing", process.ChannelPortal, "Refund my deposit", "refund")
	require.Equal(t, "billing-desk", refund.Team)
	require.Empty(t, refund.Owner)
	refundPath := "/v1/service-requests/" + refund.ID
	require.Equal(t, "billing-desk", desk.must(http.StatusOK, "GET", refundPath, nil)["team"], "the team sees it")
	require.NotContains(t, poolIDs(bob), refund.ID+".claim")
	require.Contains(t, bob.problem(http.StatusConflict, "POST", "/v1/todo/"+refund.ID+".claim/claim", nil)["detail"], "team billing-desk has it")
	require.Equal(t, "gus", desk.must(http.StatusOK, "POST", refundPath+"/take-over", nil)["owner"])

	// An agent on a call records the conversation; the request is theirs as before.
	call := bob.must(http.StatusCreated, "POST", "/v1/service-requests", map[string]any{
		"queue": "billing", "subject": "Invoice question on the phone", "contact": map[string]any{"phone": "+357 99 000000"},
		"conversation": map[string]any{"channel": "phone", "reference": "call-8812"},
	})
	require.Equal(t, "bob", call["owner"])
	require.Equal(t, "online-service", call["channel"])
	require.Equal(t, map[string]any{"channel": "phone", "reference": "call-8812"}, call["conversation"])
	callEvents := bob.must(http.StatusOK, "GET", "/v1/service-requests/"+call["id"].(string)+"/events", nil)
	details := callEvents["items"].([]any)[0].(map[string]any)["details"].(map[string]any)
	require.Equal(t, map[string]any{"channel": "phone", "reference": "call-8812"}, details["conversation"])
}
