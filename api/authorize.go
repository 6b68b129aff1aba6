package api

import (
	"strings"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/policy"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
)

const recordKey = "record"

// authorize enforces the policy table (package policy) on every route, in one place: a public
// route passes; any other needs a valid bearer token, a role the route grants and, on a route about
// one record, a relation to that record the role needs. The record is read once here and handed to
// the handler (requestOf, orderOf). A caller who may not see the record is told it does not exist,
// so ids cannot be probed; one who may see it but not do this gets a 403. A route without a rule is
// refused. Every refusal is logged ("access denied").
func (s *Server) authorize(c *gin.Context) {
	route := c.FullPath()
	if route == "" {
		c.Next() // no such route: the 404 answer follows
		return
	}
	_, item, _ := strings.Cut(c.Param("itemId"), ".")
	rule, ok := policy.Lookup(c.Request.Method, route, item)
	// A to-do route whose item is of no kind it knows: no such item, said after authentication, so
	// the answer tells a caller without a token nothing.
	unknownItem := !ok && policy.ItemRules(c.Request.Method, route) != nil
	if !ok && !unknownItem {
		s.cfg.Logger.Error("route without an access policy", zap.String("route", c.Request.Method+" "+route))
		s.deny(c, auth.Principal{}, "no policy", forbidden("this route has no access policy"))
		return
	}
	if rule.Public != "" {
		c.Next()
		return
	}
	p, err := s.authenticate(c)
	if err != nil {
		s.deny(c, p, "not authenticated", err)
		return
	}
	if unknownItem {
		s.deny(c, p, "no record", notFound("no to-do item "+c.Param("itemId")+" to claim"))
		return
	}
	c.Set(principalKey, p)
	if rule.Needed(p.Roles) == 0 {
		s.deny(c, p, "role", forbidden("this needs one of the roles: "+joinRoles(rule.Roles())))
		return
	}
	if rule.Object == policy.NoObject || rule.List {
		c.Next()
		return
	}
	id, target := recordOfRoute(c)
	var have policy.Relation
	switch rule.Object {
	case policy.ServiceRequest:
		sr, err := s.cfg.Store.GetServiceRequest(c.Request.Context(), id)
		if err != nil {
			s.deny(c, p, "no record", err)
			return
		}
		have = policy.RequestRelations(p, sr, target)
		c.Set(recordKey, sr)
	case policy.WorkOrder:
		wo, err := s.cfg.Store.GetWorkOrder(c.Request.Context(), id)
		if err != nil {
			s.deny(c, p, "no record", err)
			return
		}
		have = policy.OrderRelations(p, wo, target)
		c.Set(recordKey, wo)
	}
	if !rule.Permits(p.Roles, have) {
		if !policy.CanSee(rule.Object, p.Roles, have) {
			s.deny(c, p, "relation", notFound("no "+string(rule.Object)+" "+id))
			return
		}
		need := rule.Needed(p.Roles)
		s.deny(c, p, "relation", forbidden("only the "+need.String()+" of this "+string(rule.Object)+" may do this"))
		return
	}
	c.Next()
}

// recordOfRoute is the record a route names (:id, or the part of :itemId before the dot on the
// to-do routes) and what else it names inside it.
func recordOfRoute(c *gin.Context) (string, policy.Target) {
	t := policy.Target{ApprovalID: c.Param("approvalId")}
	id := c.Param("id")
	if id == "" {
		var rest string
		id, rest, _ = strings.Cut(c.Param("itemId"), ".")
		t.ActivityID = rest
	}
	return id, t
}

// deny answers a refused request and logs it.
func (s *Server) deny(c *gin.Context, p auth.Principal, reason string, err error) {
	s.cfg.Logger.Info("access denied",
		zap.String("request_id", c.GetString(requestIDKey)),
		zap.String("route", c.Request.Method+" "+c.FullPath()),
		zap.String("sub", p.Subject),
		zap.Any("roles", p.Roles),
		zap.String("reason", reason))
	_ = c.Error(err)
	c.Abort()
}

// requestOf is the service request the route names, as authorize read it.
func requestOf(c *gin.Context) process.ServiceRequest {
	sr, _ := c.MustGet(recordKey).(process.ServiceRequest)
	return sr
}

// orderOf is the work order the route names, as authorize read it.
func orderOf(c *gin.Context) process.WorkOrder {
	wo, _ := c.MustGet(recordKey).(process.WorkOrder)
	return wo
}

// maySeeRequest reports whether the caller may see a request other than the route's (a related
// request named in a body).
func maySeeRequest(p auth.Principal, sr process.ServiceRequest) bool {
	return policy.CanSee(policy.ServiceRequest, p.Roles, policy.RequestRelations(p, sr, policy.Target{}))
}

// requestScope narrows a list of service requests to what the caller may see.
func requestScope(p auth.Principal, f *store.ServiceRequestFilter) {
	if policy.Scope(policy.ServiceRequest, p.Roles) != policy.Anyone {
		f.Viewer, f.ViewerGroups = p.Subject, p.Groups // owner, creator or team: the store's viewer filter
	}
}

// orderScope narrows a list of work orders to what the caller may see.
func orderScope(p auth.Principal, f *store.WorkOrderFilter) {
	switch scope := policy.Scope(policy.WorkOrder, p.Roles); {
	case scope == policy.Anyone:
	case scope == policy.Pusher:
		f.Channel, f.Source = process.ChannelAPI, p.Subject // an integration reads back what it pushed
	default:
		f.Viewer, f.ViewerGroups = p.Subject, p.Groups // engineer, offer, group or follow-up: the store's viewer filter
	}
}
