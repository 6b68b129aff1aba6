package policy

import "github.com/fieldflow/fieldflow/auth"

// The roles, and the groups of them the table names.
var (
	admin       = auth.RoleAdmin
	supervisor  = auth.RoleSupervisor
	agent       = auth.RoleAgent
	dispatcher  = auth.RoleDispatcher
	engineer    = auth.RoleEngineer
	designer    = auth.RoleDesigner
	followup    = auth.RoleFollowUp
	integration = auth.RoleIntegration

	staff = auth.StaffRoles
	// The desk and dispatch see every work order.
	deskAndDispatch = []auth.Role{admin, supervisor, dispatcher, agent}
	supervisors     = []auth.Role{supervisor, admin}
	dispatchers     = []auth.Role{dispatcher, supervisor, admin}
)

func roles(r ...auth.Role) []auth.Role { return r }

// to grants the roles the route when the caller has one of the relations.
func to(rs []auth.Role, rel Relation) Grant { return Grant{Roles: rs, Relations: rel} }

// The grants the table repeats.
var (
	// Seeing a request: supervisors and admins see all; other staff their own, what they created
	// and their team's.
	seeRequest = []Grant{to(supervisors, Anyone), to(roles(agent, designer, dispatcher, engineer, followup), Owner|Creator|TeamMember)}
	// Working a request as an agent: supervisors and admins always; an agent who can see it.
	workRequest = []Grant{to(supervisors, Anyone), to(roles(agent), Owner|Creator|TeamMember)}
	// Changing a request or moving it: its owner.
	ownRequest = []Grant{to(supervisors, Anyone), to(roles(agent), Owner)}
	// Writing on a request (notes, files): its owner and its team.
	writeOnRequest = []Grant{to(supervisors, Anyone), to(roles(agent), Owner|TeamMember)}
	// Deciding an approval: its approvers, whatever else they are.
	decide = []Grant{to(staff, Approver)}

	// Seeing a work order: the desk and dispatch all; field staff theirs, their offers, their
	// groups' and their follow-ups; an integration what it pushed.
	seeOrder = []Grant{
		to(deskAndDispatch, Anyone),
		to(roles(engineer, designer, followup), AssignedEngineer|Offered|GroupMember|FollowUpAgent),
		to(roles(integration), Pusher),
	}
	// Answering an offer: the engineer it is offered to, and dispatch.
	answerOffer = []Grant{to(dispatchers, Anyone), to(roles(engineer), Offered|AssignedEngineer)}
	// Working an order on site: its engineer, and dispatch.
	workOrder = []Grant{to(dispatchers, Anyone), to(roles(engineer), AssignedEngineer)}
	// Finishing an order (closing, rating): its engineer, the desk and dispatch.
	finishOrder = []Grant{to(deskAndDispatch, Anyone), to(roles(engineer), AssignedEngineer)}
	// Claiming from a pool: members of the order's group, and dispatch.
	claimOrder = []Grant{to(dispatchers, Anyone), to(roles(engineer), GroupMember)}
	// Claiming an unassigned request: its handlers (the queue's handling roles and groups),
	// supervisors and admins; the run refuses a request that is no longer unassigned.
	claimRequest = []Grant{to(supervisors, Anyone), to(roles(agent, designer, dispatcher, engineer, followup), Handler)}
)

// public is a route without a bearer token, guarded by what it names.
func public(method, path, guard string) Rule {
	return Rule{Method: method, Path: path, Public: guard}
}

// byRole is a route any caller with one of the roles may call.
func byRole(method, path string, rs ...auth.Role) Rule {
	return Rule{Method: method, Path: path, Grants: []Grant{to(rs, Anyone)}}
}

// onRequest and onOrder are routes on one record.
func onRequest(method, path string, g []Grant) Rule {
	return Rule{Method: method, Path: path, Object: ServiceRequest, Grants: g}
}

func onOrder(method, path string, g []Grant) Rule {
	return Rule{Method: method, Path: path, Object: WorkOrder, Grants: g}
}

// Rules is every route of the API and who may call it.
var Rules = []Rule{
	public("GET", "/healthz", "liveness, no data"),
	public("GET", "/readyz", "readiness, no data"),
	public("GET", "/openapi.json", "the API's description"),
	public("GET", "/approve/:token", "a signed, expiring approval link"),
	public("POST", "/approve/:token", "a signed, expiring approval link, once; rate limited per address"),
	public("GET", "/rate/:token", "a signed rating link; rate limited per address"),
	public("POST", "/rate/:token", "a signed rating link, once; same-site form; rate limited per address"),
	public("GET", "/d/:code", "a device's printed code; rate limited per address"),
	public("GET", "/portal", "rate limited per address"),
	public("POST", "/portal/code", "same-origin form; rate limited per address and per email"),
	public("POST", "/portal/login", "an emailed one-time code; same-origin form; rate limited"),
	public("POST", "/portal/logout", "the portal session; same-origin form"),
	public("POST", "/portal/work-orders", "the portal session, or a record type that takes guests; same-origin form with a one-time form token; rate limited"),
	public("POST", "/portal/service-requests", "the portal session, or a queue that takes guests (embedded forms and CORS posts from FIELDFLOW_EMBED_ORIGINS are guests'); one-time form token; rate limited"),
	public("OPTIONS", "/portal/service-requests", "CORS preflight for FIELDFLOW_EMBED_ORIGINS, no data; rate limited"),
	public("GET", "/portal/embed", "the embeddable guest form, framed only by FIELDFLOW_EMBED_ORIGINS; rate limited"),
	public("GET", "/portal/requests/:token", "a signed request status link; rate limited per address"),
	public("POST", "/portal/requests/:token/comments", "a signed request status link; same-origin form with a one-time form token; rate limited per address and per request"),

	// Service requests.
	byRole("POST", "/v1/service-requests", agent, supervisor, admin),
	{Method: "GET", Path: "/v1/service-requests", Object: ServiceRequest, List: true, Grants: seeRequest},
	onRequest("GET", "/v1/service-requests/:id", seeRequest),
	onRequest("PATCH", "/v1/service-requests/:id", ownRequest),
	onRequest("POST", "/v1/service-requests/:id/assign", ownRequest),
	onRequest("POST", "/v1/service-requests/:id/take-over", []Grant{to(supervisors, Anyone), to(roles(agent), TeamMember|Unowned)}),
	onRequest("GET", "/v1/service-requests/:id/events", seeRequest),
	onRequest("POST", "/v1/service-requests/:id/progress", ownRequest),
	onRequest("POST", "/v1/service-requests/:id/regress", ownRequest),
	onRequest("POST", "/v1/service-requests/:id/close", ownRequest),
	onRequest("POST", "/v1/service-requests/:id/approvals/:approvalId", decide),
	onRequest("GET", "/v1/service-requests/:id/approvals/:approvalId/link", workRequest),
	onRequest("POST", "/v1/service-requests/:id/notes", writeOnRequest),
	onRequest("PATCH", "/v1/service-requests/:id/notes/:itemId", writeOnRequest),
	onRequest("DELETE", "/v1/service-requests/:id/notes/:itemId", writeOnRequest),
	onRequest("POST", "/v1/service-requests/:id/charges", ownRequest),
	onRequest("PATCH", "/v1/service-requests/:id/charges/:itemId", ownRequest),
	onRequest("DELETE", "/v1/service-requests/:id/charges/:itemId", ownRequest),
	onRequest("POST", "/v1/service-requests/:id/activities", ownRequest),
	onRequest("POST", "/v1/service-requests/:id/convert", ownRequest),
	onRequest("GET", "/v1/service-requests/:id/print", seeRequest),
	onRequest("POST", "/v1/service-requests/:id/attachments", writeOnRequest),
	onRequest("GET", "/v1/service-requests/:id/attachments/:itemId", seeRequest),
	onRequest("POST", "/v1/service-requests/:id/email", ownRequest),
	onRequest("POST", "/v1/service-requests/:id/migrate", []Grant{to(roles(admin), Anyone)}),
	byRole("GET", "/v1/reports/service-requests/summary", supervisors...),
	byRole("GET", "/v1/reports/service-requests/analysis", supervisors...),
	byRole("GET", "/v1/todo", staff...),
	// :itemId is "<request id>.<activity id>".
	onRequest("POST", "/v1/todo/:itemId/complete", []Grant{to(supervisors, Anyone), to(roles(agent, designer, dispatcher, engineer, followup), ActivityAssignee)}),

	// Work orders.
	byRole("POST", "/v1/work-orders", agent, dispatcher, supervisor, admin, integration),
	{Method: "GET", Path: "/v1/work-orders", Object: WorkOrder, List: true, Grants: seeOrder},
	onOrder("GET", "/v1/work-orders/:id", seeOrder),
	onOrder("GET", "/v1/work-orders/:id/events", seeOrder),
	onOrder("POST", "/v1/work-orders/:id/assign", []Grant{to(dispatchers, Anyone)}),
	onOrder("POST", "/v1/work-orders/:id/claim", claimOrder),
	onOrder("POST", "/v1/work-orders/:id/accept", answerOffer),
	onOrder("POST", "/v1/work-orders/:id/decline", answerOffer),
	onOrder("POST", "/v1/work-orders/:id/transfer", answerOffer),
	onOrder("POST", "/v1/work-orders/:id/progress", workOrder),
	onOrder("POST", "/v1/work-orders/:id/close", finishOrder),
	onOrder("POST", "/v1/work-orders/:id/steps/:stepId/start", workOrder),
	onOrder("POST", "/v1/work-orders/:id/steps/:stepId/stop", workOrder),
	onOrder("POST", "/v1/work-orders/:id/steps/:stepId/complete", workOrder),
	onOrder("POST", "/v1/work-orders/:id/attachments", workOrder),
	onOrder("GET", "/v1/work-orders/:id/attachments/:itemId", seeOrder),
	onOrder("POST", "/v1/work-orders/:id/approvals/:approvalId", decide),
	onOrder("POST", "/v1/work-orders/:id/follow-up", []Grant{to(roles(agent, supervisor, admin), Anyone), to(roles(followup), FollowUpAgent)}),
	onOrder("POST", "/v1/work-orders/:id/rating/skip", finishOrder),
	onOrder("GET", "/v1/work-orders/:id/rating/qr.png", finishOrder),
	onOrder("POST", "/v1/work-orders/:id/ratings", finishOrder),
	// The pool: work orders in the caller's groups' pools, unassigned requests the caller handles.
	byRole("GET", "/v1/todo/pool", staff...),
	// :itemId is "<work order id>.pool" for a pooled order, "<request id>.claim" for an unassigned
	// service request.
	{Method: "POST", Path: "/v1/todo/:itemId/claim", Item: "pool", Object: WorkOrder, Grants: claimOrder},
	{Method: "POST", Path: "/v1/todo/:itemId/claim", Item: "claim", Object: ServiceRequest, Grants: claimRequest},

	// Ratings.
	byRole("GET", "/v1/ratings", dispatcher, supervisor, admin),
	byRole("GET", "/v1/ratings/summary", dispatcher, supervisor, admin),

	// Devices.
	byRole("POST", "/v1/devices", agent, dispatcher, supervisor, admin),
	byRole("GET", "/v1/devices/:code", staff...),
	byRole("GET", "/v1/devices/:code/qr.png", staff...),

	// Service groups.
	byRole("GET", "/v1/groups", staff...),
	byRole("POST", "/v1/groups", dispatchers...),
	byRole("GET", "/v1/groups/:key", staff...),
	byRole("PATCH", "/v1/groups/:key", dispatchers...),
	byRole("DELETE", "/v1/groups/:key", dispatchers...),
	byRole("PUT", "/v1/groups/:key/members/:username", dispatchers...),
	byRole("DELETE", "/v1/groups/:key/members/:username", dispatchers...),

	// API tokens of other systems.
	byRole("POST", "/v1/api-tokens", admin),
	byRole("GET", "/v1/api-tokens", admin),
	byRole("DELETE", "/v1/api-tokens/:id", admin),

	// Definitions.
	byRole("GET", "/v1/definitions", staff...),
	byRole("GET", "/v1/definitions/:key", staff...),
	byRole("POST", "/v1/definitions/validate", designer, admin),
	byRole("POST", "/v1/definitions/reload", designer, admin),
}
