package api

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/workflows"
)

// Service requests from customers, on the same portal as work orders: a signed-in contact (channel
// portal) or a guest (channel guest, when the queue takes guests) picks a queue, fills the queue's
// layout (process.Queue.CustomerForm) and gets the request's number and a signed status link. The
// status page shows the request's stage and state and its public history, and takes the
// customer's comments. The form can also be embedded in a company's own site (GET /portal/embed,
// frame-ancestors and CORS from FIELDFLOW_EMBED_ORIGINS); an embedded form is always a guest's.

const (
	// RequestStatusPath is where a request's signed status page is served; the token follows it.
	RequestStatusPath = "/portal/requests/"
	// requestStatusPurpose is the purpose of a status link's token (auth.Keys.IssueLink).
	requestStatusPurpose = "request-status"
	// RequestStatusTTL is how long a status link works.
	RequestStatusTTL = 365 * 24 * time.Hour
	// EmbedPath is the embeddable request form.
	EmbedPath = "/portal/embed"
	// EmbedOriginsEnv lists the origins allowed to embed the form and to post requests from
	// their own pages (CORS), separated by commas or spaces.
	EmbedOriginsEnv = "FIELDFLOW_EMBED_ORIGINS"
)

// Comments through a status link: a burst of 5 per request, then one a minute.
var (
	commentRate  = rate.Every(time.Minute)
	commentBurst = 5
)

// portalRequestIDs derives request ids from form nonces and idempotency keys.
var portalRequestIDs = uuid.MustParse("0b8f7a52-6c1d-4f0e-8a3b-5e2d9c4f1a67")

// embedOriginsFromEnv reads FIELDFLOW_EMBED_ORIGINS when the server starts: the sites that may
// frame the embeddable form and post requests from their own pages (CORS). Origins are kept as
// scheme://host[:port], lower-cased; anything else is dropped with a warning. Unset: no site may
// (every page keeps frame-ancestors 'none').
func embedOriginsFromEnv(log *zap.Logger) []string {
	origins := strings.FieldsFunc(os.Getenv(EmbedOriginsEnv), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
	var out []string
	for _, o := range origins {
		o = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(o)), "/")
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			if log != nil && o != "" {
				log.Warn("embed origin ignored: use scheme://host[:port]", zap.String("origin", o))
			}
			continue
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	return out
}

// embedAllowed reports whether a browser origin may embed the form and post to it.
func (p *portal) embedAllowed(origin string) bool {
	return origin != "" && slices.Contains(p.embedOrigins, strings.ToLower(origin))
}

// queueOption is a queue the visitor may send a request to.
type queueOption struct {
	Key, Title, Description string
}

// requestForm is a queue's customer form as a page shows it.
type requestForm struct {
	Key, Title, Description string
	Fields                  []formFieldView
	// AsksPhone: the layout has the phone field, so the guest's details do not ask for it again.
	AsksPhone bool
}

// formFieldView is a field of the form with what was typed and what is wrong with it.
type formFieldView struct {
	process.FormField
	Value string
	Error string
}

// statusView is a request as its status page shows it.
type statusView struct {
	Number, Subject, Queue string
	Stage, State           string
	Closed                 bool
	CreatedAt              time.Time
	History                []historyEntry
}

// historyEntry is one line of a request's public history.
type historyEntry struct {
	At   time.Time
	Text string
	// Comment is a comment of the customer's.
	Comment string
}

// queuesFor lists the queues a channel may send requests to.
func queuesFor(cat *process.Catalog, channel string) []queueOption {
	var out []queueOption
	for _, q := range cat.Queues() {
		if slices.Contains(q.Channels(), channel) {
			out = append(out, queueOption{Key: q.Key, Title: q.Title, Description: q.Description})
		}
	}
	return out
}

// requestQueues fills the queues a visitor may write to: for a guest those that take guests, and
// apart those that need signing in.
func (p *portal) requestQueues(v *portalView) {
	cat := p.s.cfg.Registry.Current()
	if v.Contact != nil {
		v.Queues = queuesFor(cat, process.ChannelPortal)
		return
	}
	v.Queues = queuesFor(cat, process.ChannelGuest)
	if v.Embed {
		return
	}
	for _, q := range queuesFor(cat, process.ChannelPortal) {
		if !slices.ContainsFunc(v.Queues, func(o queueOption) bool { return o.Key == q.Key }) {
			v.SignInQueues = append(v.SignInQueues, q)
		}
	}
}

// requestFormOf is the queue's form with the values and field errors given.
func requestFormOf(q *process.Queue, values map[string]string, fieldErrors map[string]string) *requestForm {
	f := &requestForm{Key: q.Key, Title: q.Title, Description: q.Description}
	for _, ff := range q.CustomerForm() {
		f.Fields = append(f.Fields, formFieldView{FormField: ff, Value: values[ff.Name], Error: fieldErrors[ff.Name]})
		if ff.Name == process.LayoutPhone {
			f.AsksPhone = true
		}
	}
	return f
}

// requestPage shows a queue's request form (GET /portal?queue=KEY).
func (p *portal) requestPage(c *gin.Context, key string, embed bool) {
	v, err := p.requestView(c, embed)
	if err != nil {
		p.renderFailure(c, err)
		return
	}
	q, ok := p.s.cfg.Registry.Queue(key)
	switch {
	case !ok || !slices.ContainsFunc(append(slices.Clone(v.Queues), v.SignInQueues...), func(o queueOption) bool { return o.Key == key }):
		v.Title, v.Message = "Unknown request type", fmt.Sprintf("We take no requests of the kind %q here.", key)
		if len(v.Queues) > 0 {
			v.Message += " Choose one below."
		}
		p.renderPage(c, http.StatusNotFound, "queues", v, embed)
		return
	case !slices.ContainsFunc(v.Queues, func(o queueOption) bool { return o.Key == key }):
		v.Title = q.Title
		v.Message = q.Title + ": signed-in customers only. Sign in with a code sent to your email, then fill in the form."
		v.Next = "/portal?queue=" + url.QueryEscape(key)
		p.renderPage(c, http.StatusOK, "queues", v, embed)
		return
	}
	v.Title, v.Queue = q.Title, requestFormOf(q, nil, nil)
	v.Next = "/portal?queue=" + url.QueryEscape(key)
	p.renderPage(c, http.StatusOK, "request", v, embed)
}

// embedPage is the embeddable form: the queue's form when the query names one, else the list of
// queues that take guests.
func (p *portal) embedPage(c *gin.Context) {
	if key := c.Query("queue"); key != "" {
		p.requestPage(c, key, true)
		return
	}
	v, err := p.requestView(c, true)
	if err != nil {
		p.renderFailure(c, err)
		return
	}
	v.Title = "Send us a request"
	p.renderPage(c, http.StatusOK, "queues", v, true)
}

// requestView is the page's frame: the form token, the visitor, the queues. An embedded page has
// no session and binds its token to a value it carries itself: a third-party frame gets no
// first-party cookies, and an embedded form only ever posts as a guest.
func (p *portal) requestView(c *gin.Context, embed bool) (portalView, error) {
	v := portalView{Embed: embed, Next: "/portal"}
	if embed {
		raw := make([]byte, 16)
		if _, err := rand.Read(raw); err != nil {
			return v, err
		}
		v.Binding = hex.EncodeToString(raw)
		token, err := p.s.cfg.Keys.IssuePortalForm(v.Binding, p.s.cfg.Now())
		if err != nil {
			return v, err
		}
		v.Token = token
	} else {
		token, err := p.formToken(c)
		if err != nil {
			return v, err
		}
		v.Token = token
		if contact, ok := p.session(c); ok {
			v.Contact = &contact
		}
	}
	p.requestQueues(&v)
	return v, nil
}

// renderPage renders a portal page; an embedded one may be framed by the configured origins.
func (p *portal) renderPage(c *gin.Context, status int, name string, v portalView, embed bool) {
	if embed {
		v.Embed = true
		v.frameAncestors = p.embedOrigins
	}
	p.render(c, status, name, v)
}

// requestSubmission is the JSON body of POST /portal/service-requests.
type requestSubmission struct {
	Queue string `json:"queue"`
	// Name, Email and Phone are a guest's details; a signed-in contact's come from the session
	// (a phone given completes it).
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
	// Subject, Description, Category and Urgency are the layout's fields of those names.
	Subject     string `json:"subject"`
	Description string `json:"description"`
	Category    string `json:"category"`
	Urgency     string `json:"urgency"`
	// Fields are the layout's custom fields, by id.
	Fields map[string]any `json:"fields"`
}

// values are the submission as the form's fields.
func (in requestSubmission) values() map[string]string {
	v := map[string]string{"subject": in.Subject, "description": in.Description, "category": in.Category,
		"urgency": in.Urgency, "phone": in.Phone}
	for k, x := range in.Fields {
		switch x := x.(type) {
		case string:
			v["fields."+k] = x
		case bool:
			if x {
				v["fields."+k] = "true"
			}
		case float64:
			v["fields."+k] = strconv.FormatFloat(x, 'f', -1, 64)
		case nil:
		default:
			v["fields."+k] = fmt.Sprint(x)
		}
	}
	return v
}

// submitRequest records a service request from the portal: channel portal for a signed-in
// contact, guest for anyone else and for every embedded form. Form posts answer with a page (the
// form again with the reasons, or the confirmation), JSON posts with JSON. The form token's nonce
// (or a JSON post's Idempotency-Key) names the request: sent twice, one request.
func (p *portal) submitRequest(c *gin.Context) {
	asJSON, err := portalBody(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	var in requestSubmission
	var nonce string
	embed, fresh := false, false
	if asJSON {
		if err := bindJSON(c, &in); err != nil {
			_ = c.Error(err)
			return
		}
		// A post from an embedding site's own page is a guest's, whatever cookies it carries.
		embed = c.GetHeader("Origin") != "" && !sameHost(c.GetHeader("Origin"), c.Request.Host)
	} else {
		if err := p.parseForm(c); err != nil {
			p.fail(c, false, err, nil)
			return
		}
		embed = c.PostForm("embed") == "1"
		binding, _ := c.Cookie(formCookie)
		if embed {
			binding = c.PostForm("binding")
		}
		in = requestSubmission{Queue: c.PostForm("queue"), Name: c.PostForm("name"), Email: c.PostForm("email"), Phone: c.PostForm("phone")}
		nonce, err = p.s.cfg.Keys.VerifyPortalForm(c.PostForm("token"), binding)
		if err != nil {
			// An expired form (or one from another browser) comes back filled in, with a new token.
			fresh = true
		}
	}
	values := in.values()
	if !asJSON {
		for k := range c.Request.PostForm {
			if k == process.LayoutSubject || k == process.LayoutDescription || k == process.LayoutCategory ||
				k == process.LayoutUrgency || k == process.LayoutPhone || strings.HasPrefix(k, "fields.") {
				values[k] = c.PostForm(k)
			}
		}
	}
	in.Name, in.Email, in.Phone = strings.TrimSpace(in.Name), strings.TrimSpace(in.Email), strings.TrimSpace(values["phone"])
	if fresh {
		q, _ := p.s.cfg.Registry.Queue(strings.TrimSpace(in.Queue))
		p.failRequest(c, false, embed, q, values, in, newProblem(http.StatusForbidden, "form-expired", "Form expired",
			"this form had expired or was not loaded in this browser: check it and send it again"), true)
		return
	}

	var contact process.Contact
	signedIn := false
	if !embed {
		contact, signedIn = p.session(c)
	}
	channel, actor := process.ChannelGuest, "guest"
	if signedIn {
		channel, actor = process.ChannelPortal, "portal:"+contact.ID
	}

	q, ok := p.s.cfg.Registry.Queue(strings.TrimSpace(in.Queue))
	if !ok {
		msg := "is required"
		if in.Queue != "" {
			msg = fmt.Sprintf("%q is not a kind of request we take", in.Queue)
		}
		p.failRequest(c, asJSON, embed, nil, values, in, invalidFields(process.FieldError{Field: "queue", Message: msg}), false)
		return
	}
	if !slices.Contains(q.Channels(), channel) {
		if channel == process.ChannelGuest && !embed && slices.Contains(q.Channels(), process.ChannelPortal) {
			p.failRequest(c, asJSON, embed, q, values, in, newProblem(http.StatusForbidden, "sign-in-required", "Sign in first",
				fmt.Sprintf("%s requests can be sent by signed-in customers only: sign in with a code sent to your email, then send the form again", q.Title)), false)
			return
		}
		p.failRequest(c, asJSON, embed, nil, values, in, invalidFields(process.FieldError{Field: "queue", Message: q.Title + " takes no requests here"}), false)
		return
	}

	form, fields := q.ReadCustomerForm(values)
	if asJSON {
		onForm := map[string]bool{}
		for _, f := range q.CustomerForm() {
			onForm[f.Name] = true
		}
		for k := range values {
			if values[k] != "" && !onForm[k] {
				fields = append(fields, process.FieldError{Field: k, Message: "is not a field of the " + q.Title + " form"})
			}
		}
		slices.SortFunc(fields, func(a, b process.FieldError) int { return strings.Compare(a.Field, b.Field) })
	}
	if signedIn {
		fields = append(fields, checkContact("", process.Contact{Phone: form.Phone}, false, true)...)
		contact = process.Contact{ID: contact.ID, Name: contact.Name, Email: contact.Email, Phone: cmp.Or(contact.Phone, form.Phone)}
	} else {
		contact = process.Contact{Name: in.Name, Email: in.Email, Phone: in.Phone}
		fields = append(fields, checkContact("", contact, true, false)...)
	}
	if len(fields) > 0 {
		p.failRequest(c, asJSON, embed, q, values, in, invalidFields(fields...), false)
		return
	}

	key := ""
	switch {
	case !asJSON:
		key = "form:" + nonce
	case c.GetHeader("Idempotency-Key") != "":
		// Scoped to who sends it, so nobody reaches another customer's request by guessing keys.
		scope := strings.Join([]string{contact.ID, store.NormalizeEmail(contact.Email), store.NormalizePhone(contact.Phone), q.Key}, "\n")
		h := sha256.Sum256([]byte(scope + "\n" + c.GetHeader("Idempotency-Key")))
		key = "json:" + hex.EncodeToString(h[:])
	}
	id := uuid.Must(uuid.NewV7()).String()
	if key != "" {
		id = uuid.NewSHA1(portalRequestIDs, []byte(actor+"\n"+key)).String()
	}
	nsr := process.NewServiceRequest{ID: id, Queue: q.Key, Subject: form.Subject, Description: form.Description,
		Contact: contact, Urgency: form.Urgency, Categories: form.Categories, Fields: form.Fields, Channel: channel}
	ctx, cancel := context.WithTimeout(c.Request.Context(), p.s.cfg.ActionTimeout)
	defer cancel()
	sr, err := p.s.createCustomerRequest(ctx, q, nsr, actor)
	if err != nil {
		p.failRequest(c, asJSON, embed, q, values, in, err, false)
		return
	}
	link, err := p.s.requestStatusURL(c, sr)
	if err != nil {
		p.fail(c, asJSON, err, nil)
		return
	}
	if asJSON {
		if origin := c.GetHeader("Origin"); p.embedAllowed(origin) {
			c.Header("Access-Control-Allow-Origin", origin)
		}
		writeJSON(c, http.StatusCreated, gin.H{"id": sr.ID, "number": sr.Number, "queue": sr.Queue, "channel": sr.Channel,
			"subject": sr.Subject, "stage": sr.Stage, "state": sr.State, "createdAt": sr.CreatedAt, "statusUrl": link})
		return
	}
	next := "/portal?queue=" + url.QueryEscape(q.Key)
	if embed {
		next = EmbedPath + "?queue=" + url.QueryEscape(q.Key)
	}
	p.renderPage(c, http.StatusCreated, "received", portalView{Title: "Request received", Number: sr.Number, TypeTitle: q.Title,
		StatusURL: link, Next: next}, embed)
}

// createCustomerRequest numbers a customer's request and starts its run, as POST
// /v1/service-requests does for staff: the queue's defaults and assignment rules apply (the
// customer channel tells process.CreateServiceRequest to apply them). Validation comes first, so
// a refused request uses up no number.
func (s *Server) createCustomerRequest(ctx context.Context, q *process.Queue, in process.NewServiceRequest, actor string) (process.ServiceRequest, error) {
	now := s.cfg.Now()
	if _, _, err := process.CreateServiceRequest(q, in, actor, now); err != nil {
		return process.ServiceRequest{}, err
	}
	numbering, err := process.ParseNumbering(q.Numbering)
	if err != nil {
		return process.ServiceRequest{}, fmt.Errorf("queue %s: %w", q.Key, err)
	}
	seq, err := s.cfg.Store.NextNumber(ctx, in.ID, numbering.Scope(now))
	if err != nil {
		return process.ServiceRequest{}, err
	}
	in.Number = numbering.Format(now, seq)
	sr, err := s.cfg.Workflows.StartServiceRequest(ctx, q, in, actor, now)
	if errors.Is(err, workflows.ErrFinished) {
		// A retry of a creation whose request has closed since: that request.
		return s.cfg.Store.GetServiceRequest(ctx, in.ID)
	}
	return sr, err
}

// requestStatusURL is the signed status link of a request.
func (s *Server) requestStatusURL(c *gin.Context, sr process.ServiceRequest) (string, error) {
	token, err := s.cfg.Keys.IssueLink(auth.LinkClaims{Purpose: requestStatusPurpose, RecordID: sr.ID, ItemID: sr.Number}, RequestStatusTTL, s.cfg.Now())
	if err != nil {
		return "", err
	}
	return s.baseURL(c) + RequestStatusPath + token, nil
}

// failRequest answers a refused submission: a problem document to JSON clients; to a browser the
// form again, with what was typed, the same token (a new one when fresh: the posted one did not
// check) and the reasons (by field), so nothing is lost and sending it again makes one request.
func (p *portal) failRequest(c *gin.Context, asJSON, embed bool, q *process.Queue, values map[string]string, in requestSubmission, err error, fresh bool) {
	if asJSON {
		if origin := c.GetHeader("Origin"); p.embedAllowed(origin) {
			c.Header("Access-Control-Allow-Origin", origin)
		}
		_ = c.Error(err)
		return
	}
	v, verr := p.requestView(c, embed)
	if verr != nil {
		p.renderFailure(c, err)
		return
	}
	if !fresh {
		// The token posted stays: its nonce names the request.
		v.Token = c.PostForm("token")
		if embed {
			v.Binding = c.PostForm("binding")
		}
	}
	v.Values = portalSubmission{Name: in.Name, Email: in.Email, Phone: in.Phone}
	pe := toProblem(err)
	fieldErrors := map[string]string{}
	if fields, ok := pe.problem.Errors.([]process.FieldError); ok && len(fields) > 0 {
		for _, f := range fields {
			label := fieldLabel(f.Field)
			if q != nil {
				for _, ff := range q.CustomerForm() {
					if ff.Name == f.Field {
						label = ff.Label + ":"
					}
				}
			}
			if _, seen := fieldErrors[f.Field]; !seen {
				fieldErrors[f.Field] = f.Message
			}
			v.Errors = append(v.Errors, label+" "+f.Message)
		}
	} else {
		v.Errors = append(v.Errors, pe.problem.Detail)
	}
	if pe.problem.Status >= 500 {
		p.s.cfg.Logger.Warn("portal: request not recorded", zap.String("request_id", c.GetString(requestIDKey)), zap.Error(err))
	}
	if pe.retryAfter != "" {
		c.Header("Retry-After", pe.retryAfter)
	}
	if q == nil {
		v.Title = "Send us a request"
		p.renderPage(c, pe.problem.Status, "queues", v, embed)
		return
	}
	v.Title, v.Queue, v.FieldErrors = q.Title, requestFormOf(q, values, fieldErrors), fieldErrors
	v.Next = "/portal?queue=" + url.QueryEscape(q.Key)
	p.renderPage(c, pe.problem.Status, "request", v, embed)
}

// statusLink reads a status link; when it does not work it has rendered the page that says why.
func (p *portal) statusLink(c *gin.Context) (process.ServiceRequest, bool) {
	l, err := p.s.cfg.Keys.VerifyLink(c.Param("token"), requestStatusPurpose)
	if errors.Is(err, jwt.ErrTokenExpired) {
		p.render(c, http.StatusGone, "message", portalView{Title: "This link has expired",
			Message: "Status links work for a year. Please contact us and quote your request number."})
		return process.ServiceRequest{}, false
	}
	if err != nil {
		p.render(c, http.StatusBadRequest, "message", portalView{Title: "This link does not work",
			Message: "It is incomplete or not valid. Please open it again exactly as you received it."})
		return process.ServiceRequest{}, false
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	sr, err := p.s.cfg.Store.GetServiceRequest(ctx, l.RecordID)
	if errors.Is(err, store.ErrNotFound) {
		p.render(c, http.StatusNotFound, "message", portalView{Title: "Request not found",
			Message: "We cannot find request " + l.ItemID + " just now. If you sent it a moment ago, reload this page in a minute."})
		return process.ServiceRequest{}, false
	}
	if err != nil {
		p.s.cfg.Logger.Warn("portal: status page", zap.String("request", l.RecordID), zap.Error(err))
		c.Header("Retry-After", "30")
		p.render(c, http.StatusServiceUnavailable, "message", portalView{Title: "Please try again",
			Message: "We could not open your request just now. Please try again in a few minutes."})
		return process.ServiceRequest{}, false
	}
	return sr, true
}

// statusPage shows a request's stage, state and public history, with a form for a comment.
func (p *portal) statusPage(c *gin.Context) {
	sr, ok := p.statusLink(c)
	if !ok {
		return
	}
	p.renderStatus(c, http.StatusOK, sr, "", nil)
}

// renderStatus renders the status page, with a comment typed and errors when a comment was
// refused.
func (p *portal) renderStatus(c *gin.Context, status int, sr process.ServiceRequest, comment string, errs []string) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	events, err := p.s.cfg.Store.ListServiceRequestEvents(ctx, sr.ID, 0, 500)
	if err != nil {
		p.renderFailure(c, err)
		return
	}
	v := portalView{Title: "Request " + sr.Number, Status: p.statusOf(sr, events), Comment: comment, Errors: errs,
		StatusURL: RequestStatusPath + c.Param("token")}
	if !v.Status.Closed {
		raw := make([]byte, 16)
		if _, err := rand.Read(raw); err != nil {
			p.renderFailure(c, err)
			return
		}
		v.Binding = hex.EncodeToString(raw)
		if v.Token, err = p.s.cfg.Keys.IssuePortalForm(v.Binding, p.s.cfg.Now()); err != nil {
			p.renderFailure(c, err)
			return
		}
	}
	if len(errs) > 0 {
		// The form posted again keeps its token: its nonce names the comment.
		v.Token, v.Binding = c.PostForm("token"), c.PostForm("binding")
	}
	p.render(c, status, "status", v)
}

// statusOf is what the customer sees of a request: its stage and state, and the events that
// concern them (received, taken on, moved, closed, their own comments) without staff names or
// internal notes.
func (p *portal) statusOf(sr process.ServiceRequest, events []process.Event) *statusView {
	q, _ := p.s.cfg.Registry.Queue(sr.Queue)
	stageTitle := func(id string) string {
		if q != nil {
			for _, st := range q.Stages {
				if st.ID == id && st.Title != "" {
					return st.Title
				}
			}
		}
		return id
	}
	v := &statusView{Number: sr.Number, Subject: sr.Subject, Queue: sr.Queue, Stage: stageTitle(sr.Stage),
		State: strings.ReplaceAll(string(sr.State), "_", " "), Closed: sr.State == process.StateClosed, CreatedAt: sr.CreatedAt}
	if q != nil {
		v.Queue = q.Title
	}
	taken := false
	for _, e := range events {
		str := func(k string) string { s, _ := e.Details[k].(string); return s }
		switch e.Type {
		case process.EventCreated:
			v.History = append(v.History, historyEntry{At: e.At, Text: "Request received"})
			if str("owner") != "" || str("team") != "" {
				v.History = append(v.History, historyEntry{At: e.At, Text: "Passed to the team that handles it"})
				taken = true
			}
		case process.EventClaimed, process.EventOwnerChanged:
			if !taken {
				v.History = append(v.History, historyEntry{At: e.At, Text: "Taken on by our team"})
				taken = true
			}
		case process.EventStageChanged:
			v.History = append(v.History, historyEntry{At: e.At, Text: "Now: " + stageTitle(str("to"))})
		case process.EventRegressed:
			v.History = append(v.History, historyEntry{At: e.At, Text: "Back to: " + stageTitle(str("to"))})
		case process.EventClosed:
			text := "Closed"
			if r, ok := e.Details["resolved"].(bool); ok && r {
				text = "Closed: resolved"
			} else if ok {
				text = "Closed: not resolved"
			}
			v.History = append(v.History, historyEntry{At: e.At, Text: text})
		case process.EventCustomerCommented:
			v.History = append(v.History, historyEntry{At: e.At, Text: "You wrote", Comment: str("text")})
		}
	}
	return v
}

// addComment records a comment from the status page through the request's run. The form's
// nonce names the update, so a comment posted twice is recorded once; answers redirect to the
// status page (303), whose history shows it.
func (p *portal) addComment(c *gin.Context) {
	sr, ok := p.statusLink(c)
	if !ok {
		return
	}
	if err := p.parseForm(c); err != nil {
		p.renderFailure(c, err)
		return
	}
	comment := strings.TrimSpace(c.PostForm("comment"))
	nonce, err := p.s.cfg.Keys.VerifyPortalForm(c.PostForm("token"), c.PostForm("binding"))
	if err != nil {
		p.renderStatus(c, http.StatusForbidden, sr, comment, []string{"This form has expired: your comment is below, send it again."})
		return
	}
	switch {
	case comment == "":
		p.renderStatus(c, http.StatusUnprocessableEntity, sr, comment, []string{"Comment: is required"})
		return
	case len([]rune(comment)) > process.MaxCustomerComment:
		p.renderStatus(c, http.StatusUnprocessableEntity, sr, comment, []string{fmt.Sprintf("Comment: must be at most %d characters", process.MaxCustomerComment)})
		return
	}
	if wait := p.comments.reserve(sr.ID, time.Now()); wait > 0 {
		c.Header("Retry-After", strconv.Itoa(retrySeconds(wait)))
		p.renderStatus(c, http.StatusTooManyRequests, sr, comment, []string{"Too many comments on this request just now: wait a minute, then send it again."})
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), p.s.cfg.ActionTimeout)
	defer cancel()
	_, err = p.s.cfg.Workflows.ActOnServiceRequest(ctx, sr.ID, process.Action{Kind: process.ActionCustomerComment,
		Actor: process.CustomerActor, Comment: comment}, "portal-comment:"+nonce)
	if err != nil {
		err = p.s.closedOrMissing(ctx, sr.ID, err) // a run that has ended: its request is closed
	}
	var pe *process.Error
	switch {
	case err == nil:
		c.Redirect(http.StatusSeeOther, RequestStatusPath+c.Param("token")+"#history")
	case errors.Is(err, workflows.ErrFinished) || (errors.As(err, &pe) && pe.Code == process.CodeNotAllowed):
		if now, rerr := p.s.cfg.Store.GetServiceRequest(ctx, sr.ID); rerr == nil {
			sr = now
		}
		p.renderStatus(c, http.StatusConflict, sr, comment, []string{"This request is closed, so it takes no more comments. Please send us a new request."})
	case errors.As(err, &pe) && pe.Code == process.CodeInvalid:
		var msgs []string
		for _, f := range pe.Fields {
			msgs = append(msgs, fieldLabel(f.Field)+" "+f.Message)
		}
		p.renderStatus(c, http.StatusUnprocessableEntity, sr, comment, msgs)
	default:
		status := http.StatusInternalServerError
		if errors.Is(err, workflows.ErrUnavailable) {
			status = http.StatusServiceUnavailable
			c.Header("Retry-After", "30")
		}
		p.s.cfg.Logger.Warn("portal: comment not recorded", zap.String("request", sr.ID), zap.Error(err))
		p.renderStatus(c, status, sr, comment, []string{"We could not record your comment just now. It is below: please send it again in a few minutes."})
	}
}

// limitPage is limitByIP for the request pages: a browser over its rate gets a page asking it to
// wait (framable on the embeddable form), a JSON client a 429 problem.
func (p *portal) limitPage(c *gin.Context) {
	if c.ContentType() == "application/json" {
		p.limitByIP(c)
		return
	}
	p.byIP.admit(c, func(wait time.Duration) {
		waitPage(c, wait, func(title, message string) {
			p.renderPage(c, http.StatusTooManyRequests, "message", portalView{Title: title, Message: message}, c.FullPath() == EmbedPath)
		})
	})
}

// embedPreflight answers a browser's CORS preflight for a JSON post from an embedding site.
func (p *portal) embedPreflight(c *gin.Context) {
	origin := c.GetHeader("Origin")
	c.Header("Vary", "Origin")
	if !p.embedAllowed(origin) {
		// No CORS headers: the browser does not send the post. (The allowed origins are listed
		// in FIELDFLOW_EMBED_ORIGINS.)
		c.Status(http.StatusNoContent)
		return
	}
	c.Header("Access-Control-Allow-Origin", origin)
	c.Header("Access-Control-Allow-Methods", "POST")
	c.Header("Access-Control-Allow-Headers", "Content-Type, Idempotency-Key")
	c.Header("Access-Control-Max-Age", "600")
	c.Status(http.StatusNoContent)
}

// embedOrSameOrigin lets JSON posts through from the configured embedding origins (CORS); every
// other post must come from the portal's own pages (sameOrigin).
func (p *portal) embedOrSameOrigin(c *gin.Context) {
	if origin := c.GetHeader("Origin"); p.embedAllowed(origin) && c.ContentType() == "application/json" {
		c.Header("Vary", "Origin")
		c.Next()
		return
	}
	sameOrigin(c)
}

// sameHost reports whether a browser origin names the host the request was sent to.
func sameHost(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// formExpired is the refusal of a form whose token does not check.
func formExpired() error {
	return newProblem(http.StatusForbidden, "form-expired", "Form expired",
		"this form has expired or was not sent from our page (cookies must be allowed); load the page again and send it again")
}
