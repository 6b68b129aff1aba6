package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/intake"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
)

// workOrderRoutes are the work-order endpoints: intake by staff and other systems, dispatching,
// the engineer's answers, the on-site checklist.
func (s *Server) workOrderRoutes(v1 *gin.RouterGroup) {
	v1.POST("/work-orders", s.createWorkOrder)
	v1.GET("/work-orders", s.listWorkOrders)
	v1.GET("/work-orders/:id", s.getWorkOrder)
	v1.GET("/work-orders/:id/events", s.listWorkOrderEvents)
	v1.POST("/work-orders/:id/assign", s.assignWorkOrder)
	v1.POST("/work-orders/:id/claim", s.claimWorkOrder)
	v1.POST("/work-orders/:id/accept", s.acceptWorkOrder)
	v1.POST("/work-orders/:id/decline", s.declineWorkOrder)
	v1.POST("/work-orders/:id/transfer", s.transferWorkOrder)
	v1.POST("/work-orders/:id/progress", s.progressWorkOrder)
	v1.POST("/work-orders/:id/close", s.closeWorkOrder)
	v1.POST("/work-orders/:id/steps/:stepId/start", s.startStep)
	v1.POST("/work-orders/:id/steps/:stepId/stop", s.stopStep)
	v1.POST("/work-orders/:id/steps/:stepId/complete", s.completeStep)
	v1.POST("/work-orders/:id/attachments", s.addWorkOrderAttachment)
	v1.GET("/work-orders/:id/attachments/:itemId", s.sendAttachment)
	v1.POST("/work-orders/:id/approvals/:approvalId", s.decideWorkOrderApproval)
	v1.POST("/work-orders/:id/follow-up", s.followUpWorkOrder)
	v1.POST("/work-orders/:id/rating/skip", s.skipRating)
	v1.GET("/todo/pool", s.todoPool)
	v1.POST("/todo/:itemId/claim", s.claimTodo)
}

// createWorkOrderBody is the body of POST /v1/work-orders.
type createWorkOrderBody struct {
	RecordType  string            `json:"recordType"`
	Channel     string            `json:"channel"`
	Subject     string            `json:"subject"`
	Description string            `json:"description"`
	Contact     process.Contact   `json:"contact"`
	Account     string            `json:"account"`
	Region      string            `json:"region"`
	Device      process.Device    `json:"device"`
	Impact      string            `json:"impact"`
	Urgency     string            `json:"urgency"`
	Fields      map[string]string `json:"fields"`
	ExternalRef string            `json:"externalRef"`
}

// staffChannels are the channels staff may record an order as.
var staffChannels = []string{process.ChannelAgent, process.ChannelDispatcher, process.ChannelOnlineService}

func (s *Server) createWorkOrder(c *gin.Context) {
	var body createWorkOrderBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	p, _ := principalOf(c)
	key := c.GetHeader("Idempotency-Key")
	in := process.NewWorkOrder{
		RecordType: body.RecordType, Channel: body.Channel, Subject: body.Subject, Description: body.Description,
		Contact: body.Contact, Account: body.Account, Region: body.Region, Device: body.Device,
		Impact: body.Impact, Urgency: body.Urgency, Fields: body.Fields, ExternalRef: body.ExternalRef,
	}
	if p.HasAnyRole(auth.RoleIntegration) {
		// Other systems: channel api, their name is the source, and a retry must be safe.
		if key == "" {
			_ = c.Error(badRequest("other systems must send an Idempotency-Key header with every work order they push"))
			return
		}
		in.Channel, in.Source = process.ChannelAPI, p.Subject
	} else {
		switch {
		case in.Channel == "" && p.HasAnyRole(auth.RoleDispatcher):
			in.Channel = process.ChannelDispatcher
		case in.Channel == "":
			in.Channel = process.ChannelAgent
		case !slices.Contains(staffChannels, in.Channel):
			_ = c.Error(invalidFields(process.FieldError{Field: "channel", Message: fmt.Sprintf("staff record orders as %s", strings.Join(staffChannels, ", "))}))
			return
		}
		if in.ExternalRef != "" {
			in.Source = p.Subject
		}
	}
	in.Contact.ID = ""
	if s.cfg.Intake == nil {
		_ = c.Error(newProblem(http.StatusNotImplemented, "not-implemented", "Not implemented", "this server takes no work orders"))
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.ActionTimeout)
	defer cancel()
	wo, err := s.cfg.Intake.CreateWorkOrder(ctx, intake.Submission{Order: in, Actor: p.Subject, Key: key})
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("Location", "/v1/work-orders/"+wo.ID)
	writeJSON(c, http.StatusCreated, wo)
}

// workOrderFilters are the query parameters of GET /v1/work-orders.
var workOrderFilters = []string{"recordType", "state", "stage", "engineer", "group", "channel", "priority", "parent", "cursor", "limit"}

func (s *Server) listWorkOrders(c *gin.Context) {
	for name := range c.Request.URL.Query() {
		if !slices.Contains(workOrderFilters, name) {
			_ = c.Error(badRequest(fmt.Sprintf("unknown query parameter %q; use %s", name, strings.Join(workOrderFilters, ", "))))
			return
		}
	}
	f := store.WorkOrderFilter{
		RecordType: c.Query("recordType"), State: c.Query("state"), Stage: c.Query("stage"), Engineer: c.Query("engineer"),
		Group: c.Query("group"), Channel: c.Query("channel"), Priority: c.Query("priority"), Parent: c.Query("parent"),
		Cursor: c.Query("cursor"),
	}
	p, _ := principalOf(c)
	orderScope(p, &f)
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			_ = c.Error(badRequest("limit must be a number from 1 to 200"))
			return
		}
		f.Limit = n
	}
	page, err := s.cfg.Store.ListWorkOrders(c.Request.Context(), f)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, page)
}

func (s *Server) getWorkOrder(c *gin.Context) {
	writeJSON(c, http.StatusOK, orderOf(c))
}

func (s *Server) listWorkOrderEvents(c *gin.Context) {
	id := c.Param("id")
	var after int64
	if a := c.Query("after"); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil || n < 0 {
			_ = c.Error(badRequest("after must be an event sequence number"))
			return
		}
		after = n
	}
	events, err := s.cfg.Store.ListWorkOrderEvents(c.Request.Context(), id, after, 0)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"items": events})
}

// actOnOrder sends an action to the order's run and returns the stored order; on failure it
// records the error and ok is false.
func (s *Server) actOnOrder(c *gin.Context, id string, a process.Action) (process.WorkOrder, bool) {
	p, _ := principalOf(c)
	a.Actor = p.Subject
	for _, r := range p.Roles {
		a.ActorRoles = append(a.ActorRoles, string(r))
	}
	a.ActorGroups = p.Groups
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.ActionTimeout)
	defer cancel()
	wo, err := s.cfg.Workflows.ActOnWorkOrder(ctx, id, a, s.updateID(c, p.Subject))
	if err != nil {
		_ = c.Error(endedRun(err, "work order", func() (string, process.StageState, error) {
			existing, err := s.cfg.Store.GetWorkOrder(ctx, id)
			return existing.Number, existing.State, err
		}))
		return wo, false
	}
	return wo, true
}

// actOrder sends an action and answers with the stored order.
func (s *Server) actOrder(c *gin.Context, a process.Action) {
	if wo, ok := s.actOnOrder(c, c.Param("id"), a); ok {
		writeJSON(c, http.StatusOK, wo)
	}
}

type assignBody struct {
	Group    string `json:"group"`
	Engineer string `json:"engineer"`
}

func (s *Server) assignWorkOrder(c *gin.Context) {
	var body assignBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	s.actOrder(c, process.Action{Kind: process.ActionAssign, Group: body.Group, Engineer: body.Engineer})
}

func (s *Server) claimWorkOrder(c *gin.Context) {
	s.actOrder(c, process.Action{Kind: process.ActionClaim})
}

func (s *Server) acceptWorkOrder(c *gin.Context) {
	s.actOrder(c, process.Action{Kind: process.ActionAccept})
}

type reasonBody struct {
	Reason   string `json:"reason"`
	Engineer string `json:"engineer"`
}

func (s *Server) declineWorkOrder(c *gin.Context) {
	var body reasonBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	s.actOrder(c, process.Action{Kind: process.ActionDecline, Reason: body.Reason})
}

func (s *Server) transferWorkOrder(c *gin.Context) {
	var body reasonBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	s.actOrder(c, process.Action{Kind: process.ActionTransfer, Engineer: body.Engineer, Reason: body.Reason})
}

// progressWorkOrder moves an order to its next node. It takes no body; one that is not {} is a
// 400, so a client that sends a stage learns it is not taken.
func (s *Server) progressWorkOrder(c *gin.Context) {
	var body struct{}
	if err := bindOptionalJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	s.actOrder(c, process.Action{Kind: process.ActionProgress})
}

func (s *Server) closeWorkOrder(c *gin.Context) {
	var body closeBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	s.actOrder(c, process.Action{Kind: process.ActionClose, Resolved: body.Resolved, Resolution: body.Resolution})
}

type stepBody struct {
	Result       string `json:"result"`
	LaborMinutes int    `json:"laborMinutes"`
	Note         string `json:"note"`
}

func (s *Server) completeStep(c *gin.Context) {
	var body stepBody
	if err := bindOptionalJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	s.actOrder(c, process.Action{Kind: process.ActionCompleteStep, StepID: c.Param("stepId"), StepResult: body.Result,
		LaborMinutes: body.LaborMinutes, Note: body.Note})
}

func (s *Server) startStep(c *gin.Context) {
	s.actOrder(c, process.Action{Kind: process.ActionStartStep, StepID: c.Param("stepId")})
}

func (s *Server) stopStep(c *gin.Context) {
	s.actOrder(c, process.Action{Kind: process.ActionStopStep, StepID: c.Param("stepId")})
}

type followUpBody struct {
	Answers      map[string]string `json:"answers"`
	Score        *float64          `json:"score"`
	OutboundCall bool              `json:"outboundCall"`
}

// followUpWorkOrder records the follow-up survey: its answers (kept as a rating record of the
// follow-up template), an optional score, and whether the agent called the customer.
func (s *Server) followUpWorkOrder(c *gin.Context) {
	var body followUpBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	s.actOrder(c, process.Action{Kind: process.ActionFollowUp, Answers: body.Answers, Score: body.Score, OutboundCall: body.OutboundCall})
}

// skipRating moves past a rating node whose definition lets staff skip it.
func (s *Server) skipRating(c *gin.Context) {
	s.actOrder(c, process.Action{Kind: process.ActionSkipRating})
}

func (s *Server) decideWorkOrderApproval(c *gin.Context) {
	var body decideBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	s.actOrder(c, process.Action{Kind: process.ActionDecide, ApprovalID: c.Param("approvalId"), Decision: body.Decision, Comment: body.Comment})
}

// addWorkOrderAttachment keeps a file (a photo of a checklist step when the form field "step" names
// one) and records it on the order.
func (s *Server) addWorkOrderAttachment(c *gin.Context) {
	id := c.Param("id")
	var wo process.WorkOrder
	att, ok := s.keepUpload(c, id, func(att process.Attachment) bool {
		att.Step = c.PostForm("step")
		var ok bool
		wo, ok = s.actOnOrder(c, id, process.Action{Kind: process.ActionAddAttachment, Attachment: &att})
		return ok
	})
	if !ok {
		return
	}
	c.Header("Location", "/v1/work-orders/"+id+"/attachments/"+att.ID)
	writeJSON(c, http.StatusCreated, wo)
}

// todoPool lists what waits for the caller to claim it: the work orders in the pools of their
// groups (kind pool) and the unassigned service requests of queues their roles or groups handle
// (kind claim).
func (s *Server) todoPool(c *gin.Context) {
	p, _ := principalOf(c)
	roles := make([]string, len(p.Roles))
	for i, r := range p.Roles {
		roles[i] = string(r)
	}
	items, err := s.cfg.Store.ListPool(c.Request.Context(), p.Groups, roles)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"items": items})
}

// claimTodo claims an item of the pool for the caller: "<order id>.pool" takes a pooled work
// order, "<request id>.claim" makes the caller the owner of an unassigned service request. Under
// concurrent claims exactly one wins; the run answers the others 409, because the record has left
// the pool. (authorize has already refused any other kind of item.)
func (s *Server) claimTodo(c *gin.Context) {
	recordID, kind, _ := strings.Cut(c.Param("itemId"), ".")
	switch kind {
	case store.TodoClaim:
		if sr, ok := s.actOnRequest(c, recordID, process.Action{Kind: process.ActionClaim}); ok {
			writeJSON(c, http.StatusOK, sr)
		}
	default:
		if wo, ok := s.actOnOrder(c, recordID, process.Action{Kind: process.ActionClaim}); ok {
			writeJSON(c, http.StatusOK, wo)
		}
	}
}
