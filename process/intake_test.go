package process

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIntakeValidationMessages breaks the intake settings of the shipped billing queue one rule at
// a time and checks the message, with its position.
func TestIntakeValidationMessages(t *testing.T) {
	const file = "service-requests/billing.yaml"
	cases := []struct{ name, old, new, want string }{
		{"unknown channel", "channels: [agent, online-service, portal, guest]", "channels: [agent, online-service, portal, gust]",
			`service-requests/billing.yaml:39:45: "gust" is not a channel of service requests (agent, online-service, portal, guest, email) (did you mean "guest"?)`},
		{"channel listed twice", "channels: [agent, online-service, portal, guest]", "channels: [agent, portal, portal]",
			`service-requests/billing.yaml:39:29: channel "portal" is listed twice`},
		{"unknown handling role", "handling: {roles: [agent]", "handling: {roles: [agnt]",
			`service-requests/billing.yaml:40:22: "agnt" is not a role (admin, designer, supervisor, agent, dispatcher, engineer, followup) (did you mean "agent"?)`},
		{"customers without handlers", "  handling: {roles: [agent], groups: [billing-desk]}  # who claims the requests nobody owns\n", "",
			`service-requests/billing.yaml:39:13: requests from customers (portal, guest, email) that no rule routes wait unassigned for a handler to claim them: add handling: {roles: [agent]} (or groups), or a default owner or team`},
		{"rules without customer channels", "channels: [agent, online-service, portal, guest]", "channels: [agent, online-service]",
			"service-requests/billing.yaml:42:5: defaults apply to requests from customers (portal, guest, email), and this queue takes none: add one to intake.channels\n" +
				"service-requests/billing.yaml:48:3: the layout is the form customers fill on the portal, and this queue takes no requests from it: add portal or guest to intake.channels"},
		{"default impact not in the matrix", "    impact: medium\n", "    impact: severe\n",
			`service-requests/billing.yaml:42:13: "severe" is not an impact level of the priority matrix`},
		{"default category not of the queue", "    tags: [self-service]\n", "    tags: [self-service]\n    categories: [refunds]\n",
			`service-requests/billing.yaml:45:18: "refunds" is not a category of the queue (did you mean "refund"?)`},
		{"rule that does not compile", `'= "refund" in request.categories'`, `'= "refund" in request.category'`,
			`service-requests/billing.yaml:46:14: expression "\"refund\" in request.category": type process.RequestView has no field category (1:21) (a condition must give true or false)`},
		{"rule without a destination", "team: billing-desk}", "tean: billing-desk}",
			`service-requests/billing.yaml:46:50: intake.rules[0]: unknown field "tean" (did you mean "team"?)`},
		{"rule that routes nowhere", ", team: billing-desk}", "}",
			`service-requests/billing.yaml:46:7: an assignment rule gives a team, an owner, or both`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := shippedFiles(t)
			text := string(files[file])
			require.Contains(t, text, tc.old, "the test's edit must apply")
			files[file] = []byte(strings.Replace(text, tc.old, tc.new, 1))
			_, err := Load(files)
			require.Equal(t, strings.Split(tc.want, "\n"), problemsOf(t, err))
		})
	}
}

func customerRequest(categories ...string) NewServiceRequest {
	return NewServiceRequest{ID: "r9", Number: "SR-2026-000009", Queue: "billing", Subject: "Please refund me",
		Contact: Contact{Name: "Ada", Email: "ada@example.com"}, Channel: ChannelPortal, Categories: categories}
}

// TestCustomerRequestsAreRoutedByRules: a rule that holds gives the team; none leaves the request
// unassigned in the pool of the queue's handlers; the defaults fill in what the customer left out.
func TestCustomerRequestsAreRoutedByRules(t *testing.T) {
	q := billingQueue(t)

	sr, effects, err := CreateServiceRequest(q, customerRequest("refund"), "portal:ada@example.com", t0)
	require.NoError(t, err)
	require.Equal(t, "billing-desk", sr.Team, "the refund rule routes it")
	require.Empty(t, sr.Owner, "a customer's request is not owned by whoever submitted it")
	require.False(t, sr.Unassigned())
	require.Equal(t, ChannelPortal, sr.Channel)
	require.Equal(t, []string{"self-service"}, sr.Tags, "the queue's default tags")
	require.Equal(t, "medium", sr.Priority)
	created := effects[0].(Emit).Event
	require.Equal(t, EventCreated, created.Type)
	require.Equal(t, "rules[0]", created.Details["routedBy"])
	require.Equal(t, "billing-desk", created.Details["team"])
	require.Equal(t, ChannelPortal, created.Details["channel"])

	sr, effects, err = CreateServiceRequest(q, customerRequest("invoice/copy"), "guest", t0)
	require.NoError(t, err)
	require.Empty(t, sr.Owner)
	require.Empty(t, sr.Team)
	require.True(t, sr.Unassigned(), "no rule holds: it waits for a handler")
	require.Equal(t, &Handling{Roles: []string{"agent"}, Groups: []string{"billing-desk"}}, sr.Handling)
	require.Equal(t, "pool", effects[0].(Emit).Event.Details["routedBy"])

	// The customer's own values win over the defaults.
	in := customerRequest()
	in.Impact, in.Urgency, in.Tags = "high", "high", []string{"vip"}
	sr, _, err = CreateServiceRequest(q, in, "guest", t0)
	require.NoError(t, err)
	require.Equal(t, "critical", sr.Priority)
	require.Equal(t, []string{"vip"}, sr.Tags)
}

// TestCustomerRoutingFallsBackToDefaultOwner: with no rule holding, the default owner or team of
// the queue takes the request; a rule whose value fails to evaluate is skipped and recorded.
func TestCustomerRoutingFallsBackToDefaultOwner(t *testing.T) {
	q := *billingQueue(t)
	in := *q.Intake
	in.Defaults = &RequestDefaults{Owner: "fred", Tags: []string{"web"}}
	in.Rules = []AssignmentRule{
		{When: `= request.fields.region == "north"`, Team: "north-desk"},            // no such field: does not hold
		{When: `= request.priority == "critical"`, Owner: `= request.contact.name`}, // does not hold
	}
	q.Intake = &in
	sr, effects, err := CreateServiceRequest(&q, customerRequest(), "guest", t0)
	require.NoError(t, err)
	require.Equal(t, "fred", sr.Owner)
	require.Empty(t, sr.Team)
	require.Equal(t, "defaults", effects[0].(Emit).Event.Details["routedBy"])

	in.Rules = []AssignmentRule{{When: "= true", Team: `= request.fields.desk.name`}, {When: "= true", Owner: "= request.contact.name"}}
	sr, effects, err = CreateServiceRequest(&q, customerRequest(), "guest", t0)
	require.NoError(t, err)
	require.Equal(t, "Ada", sr.Owner, "the failing rule is skipped, the next one routes")
	var failed []EventType
	for _, e := range effects {
		if em, ok := e.(Emit); ok {
			failed = append(failed, em.Event.Type)
		}
	}
	require.Equal(t, []EventType{EventCreated, EventExpressionFailed}, failed)
}

// TestAgentRequestsAreUnchanged: an agent's request ignores the customer defaults and rules, and
// without owner or team the agent owns it, as before; the conversation is kept.
func TestAgentRequestsAreUnchanged(t *testing.T) {
	q := billingQueue(t)
	in := customerRequest("refund")
	in.Channel = ChannelOnlineService
	in.Conversation = &Conversation{Channel: "wechat", Reference: "chat-42"}
	sr, effects, err := CreateServiceRequest(q, in, "alice", t0)
	require.NoError(t, err)
	require.Equal(t, "alice", sr.Owner)
	require.Empty(t, sr.Team)
	require.Empty(t, sr.Tags, "customer defaults do not apply")
	require.Equal(t, &Conversation{Channel: "wechat", Reference: "chat-42"}, sr.Conversation)
	details := effects[0].(Emit).Event.Details
	require.Equal(t, map[string]any{"channel": "wechat", "reference": "chat-42"}, details["conversation"])
	require.Equal(t, ChannelOnlineService, details["channel"])
	require.NotContains(t, details, "routedBy")
}

// TestIntakeRefusesWhatTheQueueDoesNotTake: channels the queue does not list, unknown conversation
// media, and customers choosing their owner are invalid fields.
func TestIntakeRefusesWhatTheQueueDoesNotTake(t *testing.T) {
	q := billingQueue(t)
	in := customerRequest()
	in.Channel = ChannelEmail
	err := ValidateNewServiceRequest(q, in)
	require.ErrorContains(t, err, "")
	require.Equal(t, "channel", err.(*Error).Fields[0].Field)

	in = customerRequest()
	in.Owner = "ada"
	require.Equal(t, "owner", ValidateNewServiceRequest(q, in).(*Error).Fields[0].Field)

	in = customerRequest()
	in.Channel = ChannelAgent
	in.Conversation = &Conversation{Channel: "fax"}
	require.Equal(t, "conversation.channel", ValidateNewServiceRequest(q, in).(*Error).Fields[0].Field)

	// A queue without intake settings takes requests from staff only.
	plain := *q
	plain.Intake = nil
	require.Equal(t, "channel", ValidateNewServiceRequest(&plain, customerRequest()).(*Error).Fields[0].Field)
	in = customerRequest()
	in.Channel = ""
	require.NoError(t, ValidateNewServiceRequest(&plain, in))
}

// TestClaimUnassignedRequest: a handler claims an unassigned request and owns it; a second claim
// is refused as not allowed (409) because the request is owned; someone outside the handling roles
// and groups is forbidden.
func TestClaimUnassignedRequest(t *testing.T) {
	q := billingQueue(t)
	sr, _, err := CreateServiceRequest(q, customerRequest(), "guest", t0)
	require.NoError(t, err)
	require.True(t, sr.Unassigned())

	_, _, err = ApplyServiceRequest(q, sr, Action{Kind: ActionClaim, Actor: "erin", ActorRoles: []string{"engineer"}}, t0)
	require.Equal(t, CodeForbidden, err.(*Error).Code, "an engineer does not handle billing requests")

	byGroup, effects, err := ApplyServiceRequest(q, sr, Action{Kind: ActionClaim, Actor: "gus", ActorRoles: []string{"engineer"}, ActorGroups: []string{"billing-desk"}}, t0)
	require.NoError(t, err, "members of a handling group claim whatever their role")
	require.Equal(t, "gus", byGroup.Owner)
	require.Equal(t, EventClaimed, effects[0].(Emit).Event.Type)

	claimed, effects, err := ApplyServiceRequest(q, sr, Action{Kind: ActionClaim, Actor: "bob", ActorRoles: []string{"agent"}}, t0)
	require.NoError(t, err)
	require.Equal(t, "bob", claimed.Owner)
	require.False(t, claimed.Unassigned())
	ev := effects[0].(Emit).Event
	require.Equal(t, EventClaimed, ev.Type)
	require.Equal(t, "bob", ev.Actor)
	require.Equal(t, map[string]any{"owner": "bob"}, ev.Details)

	_, _, err = ApplyServiceRequest(q, claimed, Action{Kind: ActionClaim, Actor: "carol", ActorRoles: []string{"agent"}}, t0)
	require.Equal(t, CodeNotAllowed, err.(*Error).Code)
	require.Contains(t, err.Error(), "bob owns it")

	// An agent's own request is not in any pool.
	mine := newRequest(t, q)
	_, _, err = ApplyServiceRequest(q, mine, Action{Kind: ActionClaim, Actor: "carol", ActorRoles: []string{"agent"}}, t0)
	require.Equal(t, CodeNotAllowed, err.(*Error).Code)

	// A request routed to a team is not unassigned either.
	routed, _, err := CreateServiceRequest(q, customerRequest("refund"), "guest", t0)
	require.NoError(t, err)
	_, _, err = ApplyServiceRequest(q, routed, Action{Kind: ActionClaim, Actor: "carol", ActorRoles: []string{"agent"}}, t0)
	require.Equal(t, CodeNotAllowed, err.(*Error).Code)
	require.Contains(t, err.Error(), "team billing-desk has it")
}
