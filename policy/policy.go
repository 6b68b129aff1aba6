// Package policy says who may call each route of the API: one table (Rules) names, for every
// route, the roles that may call it and, for a route on one record, the relation to that record a
// role needs (its owner, a member of its team, its engineer, an approver …). The API enforces the
// table in one middleware and narrows its lists with Scope; the authorization-matrix test calls
// every route with every role and relation and checks the answers against the table. A route
// without a row is refused.
//
// The runs keep their own, state-dependent checks (an offer accepted only by the engineer it is
// offered to, a step done in order): the table decides who may ask, the run whether it can happen
// now.
package policy

import (
	"slices"
	"strings"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/process"
)

// Relation is what a caller is to a record; a set of them is a bit mask.
type Relation uint16

// The relations. Anyone is not a relation: a grant with it needs the role alone.
const (
	// Owner: the service request's owner.
	Owner Relation = 1 << iota
	// Creator: who created the service request.
	Creator
	// TeamMember: a member of the service request's team.
	TeamMember
	// Unowned: the service request has neither owner nor team, so anyone with the role may take it.
	Unowned
	// ActivityAssignee: the activity the route names is given to the caller or to their team.
	ActivityAssignee
	// Approver: the caller is an approver of the approval the route names.
	Approver
	// AssignedEngineer: the work order's engineer.
	AssignedEngineer
	// Offered: the engineer the work order is offered to.
	Offered
	// GroupMember: a member of the work order's service group.
	GroupMember
	// FollowUpAgent: the work order's follow-up agent, or a member of its follow-up group.
	FollowUpAgent
	// Pusher: the integration that pushed the work order through the API.
	Pusher
	// Handler: the caller has one of the service request's handling roles or is in one of its
	// handling groups (its queue's when it was created), so may claim it while it is unassigned.
	// The relation holds whether or not the request is still unassigned: the run refuses a claim
	// on an owned request (409), so of two concurrent claims the loser hears why.
	Handler

	// Anyone: the role alone is enough, whatever the record.
	Anyone Relation = 1 << 15
)

var relationNames = []struct {
	r    Relation
	name string
}{
	{Owner, "owner"}, {Creator, "creator"}, {TeamMember, "team member"}, {Unowned, "unowned"},
	{ActivityAssignee, "activity assignee"}, {Approver, "approver"}, {AssignedEngineer, "assigned engineer"},
	{Offered, "offered engineer"}, {GroupMember, "group member"}, {FollowUpAgent, "follow-up agent"},
	{Pusher, "pushing integration"}, {Handler, "handler"}, {Anyone, "anyone"},
}

// String names the relations of a set, "none" for the empty set.
func (r Relation) String() string {
	var names []string
	for _, n := range relationNames {
		if r&n.r != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, " or ")
}

// Object is the kind of record a route acts on.
type Object string

// The objects.
const (
	NoObject       Object = ""
	ServiceRequest Object = "service request"
	WorkOrder      Object = "work order"
)

// Relations are the relations that can hold to a record of the object.
func (o Object) Relations() []Relation {
	switch o {
	case ServiceRequest:
		return []Relation{Owner, Creator, TeamMember, Unowned, ActivityAssignee, Approver, Handler}
	case WorkOrder:
		return []Relation{AssignedEngineer, Offered, GroupMember, FollowUpAgent, Pusher, Approver}
	}
	return nil
}

// Grant lets the roles call a route when the caller has one of the relations to the record.
type Grant struct {
	Roles     []auth.Role
	Relations Relation
}

// Rule is who may call one route.
type Rule struct {
	Method, Path string // path in gin syntax
	// Public names what guards a route without a bearer token instead (a signed link, a portal
	// session, a rate limit); empty for a route that needs a token.
	Public string
	// Object is the record the route acts on, named by :id (or by the part of :itemId before the
	// dot); List: the route lists records of that kind, narrowed by Scope.
	Object Object
	// Item, on a to-do route whose items are of several kinds, is the kind this rule is for: the
	// part of :itemId after the dot ("pool": a work order in a pool, "claim": an unassigned
	// service request). Such a route has one rule per kind; an item of another kind does not exist.
	Item   string
	List   bool
	Grants []Grant
}

// Roles lists the roles of the rule's grants, in the order of auth.Roles.
func (r Rule) Roles() []auth.Role {
	var out []auth.Role
	for _, role := range auth.Roles {
		if slices.ContainsFunc(r.Grants, func(g Grant) bool { return slices.Contains(g.Roles, role) }) {
			out = append(out, role)
		}
	}
	return out
}

// Needed is the set of relations that let a caller with these roles through; Anyone when the
// roles alone are enough, 0 when the roles may not call the route at all.
func (r Rule) Needed(roles []auth.Role) Relation {
	var need Relation
	for _, g := range r.Grants {
		if slices.ContainsFunc(g.Roles, func(role auth.Role) bool { return slices.Contains(roles, role) }) {
			need |= g.Relations
		}
	}
	if need&Anyone != 0 {
		return Anyone
	}
	return need
}

// Permits reports whether a caller with the roles and the relations may call the route.
func (r Rule) Permits(roles []auth.Role, have Relation) bool {
	need := r.Needed(roles)
	return need == Anyone || need&have != 0
}

// Describe says in words who may call the route (for the API's documentation).
func (r Rule) Describe() string {
	if r.Public != "" {
		return "Public: " + r.Public + "."
	}
	var parts []string
	for _, g := range r.Grants {
		names := make([]string, len(g.Roles))
		for i, role := range g.Roles {
			names[i] = string(role)
		}
		part := strings.Join(names, ", ")
		if g.Relations != Anyone {
			part += " (as " + g.Relations.String() + ")"
		}
		parts = append(parts, part)
	}
	return "Roles: " + strings.Join(parts, "; ") + "."
}

// Lookup finds the rule of a route; item is the kind of to-do item the route's :itemId names (the
// part after the dot), which picks the rule on a route with one rule per kind and is ignored on
// any other.
func Lookup(method, path, item string) (Rule, bool) {
	if r, ok := byRoute[method+" "+path]; ok {
		return r, true
	}
	r, ok := byRoute[method+" "+path+" "+item]
	return r, ok && item != ""
}

// ItemRules are the rules of a route with one rule per kind of to-do item, in the table's order;
// nil for any other route.
func ItemRules(method, path string) []Rule {
	var out []Rule
	for _, r := range Rules {
		if r.Method == method && r.Path == path && r.Item != "" {
			out = append(out, r)
		}
	}
	return out
}

var byRoute = func() map[string]Rule {
	m := make(map[string]Rule, len(Rules))
	for _, r := range Rules {
		key := r.Method + " " + r.Path
		if r.Item != "" {
			key += " " + r.Item
		}
		if _, dup := m[key]; dup {
			panic("policy: two rules for " + key)
		}
		m[key] = r
	}
	for _, r := range Rules {
		if _, plain := m[r.Method+" "+r.Path]; plain && r.Item != "" {
			panic("policy: " + r.Method + " " + r.Path + " has a rule for every item and one for " + r.Item)
		}
	}
	return m
}()

// Target is what, besides the record, the route names: the approval or the activity.
type Target struct {
	ApprovalID string
	ActivityID string
}

// caller is the principal as the process's own checks see an actor.
func caller(p auth.Principal) process.Action {
	a := process.Action{Actor: p.Subject, ActorGroups: p.Groups}
	for _, r := range p.Roles {
		a.ActorRoles = append(a.ActorRoles, string(r))
	}
	return a
}

// RequestRelations are the relations of p to a service request.
func RequestRelations(p auth.Principal, sr process.ServiceRequest, t Target) Relation {
	var have Relation
	if sr.Owner != "" && sr.Owner == p.Subject {
		have |= Owner
	}
	if sr.CreatedBy != "" && sr.CreatedBy == p.Subject {
		have |= Creator
	}
	if sr.Team != "" && slices.Contains(p.Groups, sr.Team) {
		have |= TeamMember
	}
	if sr.Owner == "" && sr.Team == "" {
		have |= Unowned
	}
	if t.ActivityID != "" {
		if i := slices.IndexFunc(sr.Activities, func(a process.Task) bool { return a.ID == t.ActivityID }); i >= 0 && sr.Activities[i].GivenTo(p.Subject, p.Groups) {
			have |= ActivityAssignee
		}
	}
	if approves(sr.Approvals, t.ApprovalID, p) {
		have |= Approver
	}
	roles := make([]string, len(p.Roles))
	for i, r := range p.Roles {
		roles[i] = string(r)
	}
	if sr.Handling.Includes(roles, p.Groups) {
		have |= Handler
	}
	return have
}

// OrderRelations are the relations of p to a work order.
func OrderRelations(p auth.Principal, wo process.WorkOrder, t Target) Relation {
	var have Relation
	if wo.Engineer != "" && wo.Engineer == p.Subject {
		have |= AssignedEngineer
	}
	if wo.Offer != nil && wo.Offer.Engineer == p.Subject {
		have |= Offered
	}
	if wo.Group != "" && slices.Contains(p.Groups, wo.Group) {
		have |= GroupMember
	}
	if f := wo.FollowUp; f != nil && ((f.Agent != "" && f.Agent == p.Subject) || (f.Group != "" && slices.Contains(p.Groups, f.Group))) {
		have |= FollowUpAgent
	}
	if wo.Channel == process.ChannelAPI && wo.Source != "" && wo.Source == p.Subject && p.HasAnyRole(auth.RoleIntegration) {
		have |= Pusher
	}
	if approves(wo.Approvals, t.ApprovalID, p) {
		have |= Approver
	}
	return have
}

func approves(approvals []process.ApprovalState, id string, p auth.Principal) bool {
	if id == "" {
		return false
	}
	i := slices.IndexFunc(approvals, func(a process.ApprovalState) bool { return a.ID == id })
	return i >= 0 && approvals[i].MayDecide(caller(p))
}

// readRules are the rules that say who may see a record at all.
var readRules = map[Object]string{
	ServiceRequest: "GET /v1/service-requests/:id",
	WorkOrder:      "GET /v1/work-orders/:id",
}

// CanSee reports whether a caller with the roles and relations may read a record of the object.
// A caller who may not is told the record does not exist, so ids cannot be probed.
func CanSee(o Object, roles []auth.Role, have Relation) bool {
	return byRoute[readRules[o]].Permits(roles, have)
}

// Scope is how far a list of records of the object reaches for a caller with the roles: every
// record (Anyone), or those the caller has one of the relations to.
func Scope(o Object, roles []auth.Role) Relation {
	return byRoute[readRules[o]].Needed(roles)
}
