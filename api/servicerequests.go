package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/workflows"
)

// createServiceRequestBody is the body of POST /v1/service-requests.
type createServiceRequestBody struct {
	Queue           string           `json:"queue"`
	Contact         process.Contact  `json:"contact"`
	Subject         string           `json:"subject"`
	Description     string           `json:"description"`
	Impact          string           `json:"impact"`
	Urgency         string           `json:"urgency"`
	Categories      []string         `json:"categories"`
	Tags            []string         `json:"tags"`
	Owner           string           `json:"owner"`
	Team            string           `json:"team"`
	Fields          map[string]any   `json:"fields"`
	Related         []string         `json:"related"`
	Address         *process.Address `json:"address"`
	AffectedService string           `json:"affectedService"`
	// Channel is agent (the default) or online-service (the default with a conversation): staff
	// record requests on those; customers' channels belong to the portal.
	Channel string `json:"channel"`
	// Conversation is the chat or call the agent is in: {channel: web|phone|wechat|email|sms,
	// reference}.
	Conversation *process.Conversation `json:"conversation"`
}

// staffRequestChannels are the channels staff may record a request as.
var staffRequestChannels = []string{process.ChannelAgent, process.ChannelOnlineService}

// idNamespace derives request ids from idempotency keys.
var idNamespace = uuid.MustParse("7d6c0a1e-5b0e-4d4e-9a57-2f7f3c1c9a10")

func (s *Server) createServiceRequest(c *gin.Context) {
	var body createServiceRequestBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	p, _ := principalOf(c)
	q, ok := s.cfg.Registry.Queue(body.Queue)
	if !ok {
		msg := "is required"
		if body.Queue != "" {
			msg = fmt.Sprintf("%q is not a queue", body.Queue)
		}
		_ = c.Error(invalidFields(process.FieldError{Field: "queue", Message: msg}))
		return
	}
	// A retried creation (same caller, same Idempotency-Key) gets the same id, hence the same
	// number and the same run: it creates nothing new.
	id := uuid.Must(uuid.NewV7()).String()
	if key := c.GetHeader("Idempotency-Key"); key != "" {
		id = uuid.NewSHA1(idNamespace, []byte(p.Subject+"\n"+key)).String()
	}
	in := process.NewServiceRequest{
		ID: id, Queue: q.Key, Subject: body.Subject, Description: body.Description, Contact: body.Contact,
		Impact: body.Impact, Urgency: body.Urgency, Categories: body.Categories, Tags: body.Tags,
		Owner: body.Owner, Team: body.Team, Fields: body.Fields, Related: body.Related, Address: body.Address,
		AffectedService: body.AffectedService, Channel: body.Channel, Conversation: body.Conversation,
	}
	switch {
	case in.Channel == "" && in.Conversation != nil:
		in.Channel = process.ChannelOnlineService
	case in.Channel == "":
		in.Channel = process.ChannelAgent
	case !slices.Contains(staffRequestChannels, in.Channel):
		_ = c.Error(invalidFields(process.FieldError{Field: "channel", Message: fmt.Sprintf("staff record requests as %s", strings.Join(staffRequestChannels, ", "))}))
		return
	}
	if err := s.requireRequests(c.Request.Context(), p, "related", body.Related); err != nil {
		_ = c.Error(err)
		return
	}
	now := s.cfg.Now()
	// Validate before a number is used up; the run applies the same rules again.
	if _, _, err := process.CreateServiceRequest(q, in, p.Subject, now); err != nil {
		_ = c.Error(err)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.ActionTimeout)
	defer cancel()
	numbering, err := process.ParseNumbering(q.Numbering)
	if err != nil {
		_ = c.Error(fmt.Errorf("queue %s: %w", q.Key, err))
		return
	}
	seq, err := s.cfg.Store.NextNumber(ctx, id, numbering.Scope(now))
	if err != nil {
		_ = c.Error(err)
		return
	}
	in.Number = numbering.Format(now, seq)
	sr, err := s.cfg.Workflows.StartServiceRequest(ctx, q, in, p.Subject, now)
	if errors.Is(err, workflows.ErrFinished) {
		sr, err = s.cfg.Store.GetServiceRequest(ctx, id)
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("Location", "/v1/service-requests/"+sr.ID)
	writeJSON(c, http.StatusCreated, sr)
}

// listFilters are the query parameters of GET /v1/service-requests.
var listFilters = []string{"queue", "state", "stage", "owner", "priority", "tag", "cursor", "limit"}

func (s *Server) listServiceRequests(c *gin.Context) {
	for name := range c.Request.URL.Query() {
		if !slices.Contains(listFilters, name) {
			_ = c.Error(badRequest(fmt.Sprintf("unknown query parameter %q; use %s", name, strings.Join(listFilters, ", "))))
			return
		}
	}
	f := store.ServiceRequestFilter{
		Queue: c.Query("queue"), State: c.Query("state"), Stage: c.Query("stage"), Owner: c.Query("owner"),
		Priority: c.Query("priority"), Tag: c.Query("tag"), Cursor: c.Query("cursor"),
	}
	p, _ := principalOf(c)
	requestScope(p, &f)
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			_ = c.Error(badRequest("limit must be a number from 1 to 200"))
			return
		}
		f.Limit = n
	}
	page, err := s.cfg.Store.ListServiceRequests(c.Request.Context(), f)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"items": page.Items, "nextCursor": page.NextCursor})
}

func (s *Server) getServiceRequest(c *gin.Context) {
	writeJSON(c, http.StatusOK, requestOf(c))
}

// requireRequests checks that every id names a request the caller may see.
func (s *Server) requireRequests(ctx context.Context, p auth.Principal, field string, ids []string) error {
	for i, id := range ids {
		sr, err := s.cfg.Store.GetServiceRequest(ctx, id)
		visible := err == nil && maySeeRequest(p, sr)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !visible) {
			return invalidFields(process.FieldError{Field: fmt.Sprintf("%s[%d]", field, i), Message: fmt.Sprintf("no request %q", id)})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) listServiceRequestEvents(c *gin.Context) {
	ctx := c.Request.Context()
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
	events, err := s.cfg.Store.ListServiceRequestEvents(ctx, id, after, 0)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"items": events})
}

type progressBody struct {
	ToStage string `json:"toStage"`
}

type regressBody struct {
	ToStage string `json:"toStage"`
	Reason  string `json:"reason"`
}

type closeBody struct {
	Resolved   *bool  `json:"resolved"`
	Resolution string `json:"resolution"`
}

func (s *Server) progressServiceRequest(c *gin.Context) {
	var body progressBody
	if err := bindOptionalJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	s.act(c, process.Action{Kind: process.ActionProgress, ToStage: body.ToStage})
}

func (s *Server) regressServiceRequest(c *gin.Context) {
	var body regressBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	s.act(c, process.Action{Kind: process.ActionRegress, ToStage: body.ToStage, Reason: body.Reason})
}

func (s *Server) closeServiceRequest(c *gin.Context) {
	var body closeBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	s.act(c, process.Action{Kind: process.ActionClose, Resolved: body.Resolved, Resolution: body.Resolution})
}

// patchBody is the body of PATCH /v1/service-requests/{id}: the fields that may change (an
// allow-list: unknown fields are refused). The contact and the queue are named only to refuse them
// with a clear message, the owner and team to point at the assign action; the state, the stage and
// the charges have actions of their own and are refused as unknown fields.
type patchBody struct {
	process.Changes
	Contact json.RawMessage `json:"contact"`
	Queue   json.RawMessage `json:"queue"`
}

// assignRequestBody is the body of POST /v1/service-requests/{id}/assign.
type assignRequestBody struct {
	Owner *string `json:"owner"`
	Team  *string `json:"team"`
}

// assignServiceRequest hands a request to another owner and/or team.
func (s *Server) assignServiceRequest(c *gin.Context) {
	var body assignRequestBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	if body.Owner == nil && body.Team == nil {
		_ = c.Error(invalidFields(process.FieldError{Field: "owner", Message: "give the owner, the team or both"}))
		return
	}
	s.act(c, process.Action{Kind: process.ActionUpdate, Changes: &process.Changes{Owner: body.Owner, Team: body.Team}})
}

func (s *Server) patchServiceRequest(c *gin.Context) {
	var body patchBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	var fixed []process.FieldError
	if body.Contact != nil {
		fixed = append(fixed, process.FieldError{Field: "contact", Message: "cannot change after the request is created"})
	}
	if body.Queue != nil {
		fixed = append(fixed, process.FieldError{Field: "queue", Message: "cannot change after the request is created"})
	}
	if body.Owner != nil {
		fixed = append(fixed, process.FieldError{Field: "owner", Message: "is changed with POST /v1/service-requests/{id}/assign"})
	}
	if body.Team != nil {
		fixed = append(fixed, process.FieldError{Field: "team", Message: "is changed with POST /v1/service-requests/{id}/assign"})
	}
	if len(fixed) > 0 {
		_ = c.Error(invalidFields(fixed...))
		return
	}
	if body.Related != nil {
		p, _ := principalOf(c)
		if err := s.requireRequests(c.Request.Context(), p, "related", *body.Related); err != nil {
			_ = c.Error(err)
			return
		}
	}
	changes := body.Changes
	s.act(c, process.Action{Kind: process.ActionUpdate, Changes: &changes})
}

func (s *Server) takeOverServiceRequest(c *gin.Context) {
	s.act(c, process.Action{Kind: process.ActionTakeOver})
}

type decideBody struct {
	Decision string `json:"decision"`
	Comment  string `json:"comment"`
}

func (s *Server) decideApproval(c *gin.Context) {
	var body decideBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	s.act(c, process.Action{Kind: process.ActionDecide, ApprovalID: c.Param("approvalId"), Decision: body.Decision, Comment: body.Comment})
}

// act sends an action to the request's run and answers with the stored request.
func (s *Server) act(c *gin.Context, a process.Action) {
	if sr, ok := s.actAndReturn(c, a); ok {
		writeJSON(c, http.StatusOK, sr)
	}
}

// actAndReturn sends an action and returns the stored request; on failure it records the error
// and ok is false.
func (s *Server) actAndReturn(c *gin.Context, a process.Action) (process.ServiceRequest, bool) {
	return s.actOnRequest(c, c.Param("id"), a)
}

// actOnRequest sends an action to the run of request id and returns the stored request; on
// failure it records the error and ok is false.
func (s *Server) actOnRequest(c *gin.Context, id string, a process.Action) (process.ServiceRequest, bool) {
	p, _ := principalOf(c)
	a.Actor = p.Subject
	for _, r := range p.Roles {
		a.ActorRoles = append(a.ActorRoles, string(r))
	}
	a.ActorGroups = p.Groups
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.ActionTimeout)
	defer cancel()
	sr, err := s.cfg.Workflows.ActOnServiceRequest(ctx, id, a, s.updateID(c, p.Subject))
	if err != nil {
		_ = c.Error(s.closedOrMissing(ctx, id, err))
		return sr, false
	}
	return sr, true
}

// updateID turns the caller's Idempotency-Key into the update ID, so a retried action applies once.
func (s *Server) updateID(c *gin.Context, subject string) string {
	if key := c.GetHeader("Idempotency-Key"); key != "" {
		return subject + ":" + key
	}
	return ""
}

// closedOrMissing explains a run that is not there: either there is no such request, or it is
// closed and its run has ended.
func (s *Server) closedOrMissing(ctx context.Context, id string, err error) error {
	return endedRun(err, "request", func() (string, process.StageState, error) {
		sr, err := s.cfg.Store.GetServiceRequest(ctx, id)
		return sr.Number, sr.State, err
	})
}

// endedRun turns a workflow's ErrNotFound into what the caller needs to know: the record does not
// exist (the read's error), or it is closed and its run has ended (409). read reads the record.
func endedRun(err error, what string, read func() (number string, state process.StageState, err error)) error {
	if !errors.Is(err, workflows.ErrNotFound) {
		return err
	}
	number, state, getErr := read()
	if getErr != nil {
		return getErr
	}
	if state == process.StateClosed {
		return &process.Error{Code: process.CodeNotAllowed, Message: fmt.Sprintf("%s %s is closed", what, number)}
	}
	return err
}
