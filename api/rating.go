package api

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"
	"golang.org/x/time/rate"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/workflows"
)

// The public rating page: the contact opens the signed link of a rating invitation, sees a short
// form (the score on the rating node's scale and the rating template's questions) and sends it.
// The token is the capability: it names the work order and the invitation, works once, and only
// while that rating is open.

// The rating page's rate limit per client address: a burst of 20, then one every two seconds.
var (
	ratingIPRate  = rate.Every(2 * time.Second)
	ratingIPBurst = 20
)

// maxRatingText bounds the comment and every text answer, in characters.
const maxRatingText = 2000

//go:embed templates/rating.html
var ratingFiles embed.FS

var ratingTemplate = template.Must(template.New("rating.html").ParseFS(ratingFiles, "templates/rating.html"))

// ratingPage serves /rate/{token} and holds its rate limit.
type ratingPage struct {
	s    *Server
	byIP *limiter
}

// ratingRoutes are the public rating page and its form post.
func (s *Server) ratingRoutes(e *gin.Engine) {
	p := &ratingPage{s: s, byIP: newLimiter(ratingIPRate, ratingIPBurst)}
	e.GET(auth.RatingPath+":token", p.limit, p.show)
	e.POST(auth.RatingPath+":token", p.limit, p.sameSite, p.submit)
}

// ratingView is what the rating page shows.
type ratingView struct {
	Title   string
	Message string
	Number  string
	Subject string
	// Form: the form is shown.
	Form bool
	// Score is the overall score; Questions the template's other questions.
	Score     ratingField
	Questions []ratingField
	// CommentLabel labels the comment box; Comment is what was typed.
	CommentLabel string
	Comment      string
	CommentError string
	// Errors sums up what to correct, each linking to its field.
	Errors []ratingError
}

type ratingError struct {
	Anchor, Message string
}

// ratingField is one question of the form.
type ratingField struct {
	ID       string // the question's id in the answers ("" for the overall score without a question)
	Name     string // the form field's name
	Text     string
	Type     string // score, choice or text
	Required bool
	Choices  []ratingChoice
	Value    string
	Error    string
}

type ratingChoice struct {
	Value, Label, InputID string
	Checked               bool
}

// ratingForm is the open rating an invitation link leads to.
type ratingForm struct {
	order      process.WorkOrder
	invitation string
	scale      string
	template   *process.Template
}

// limit answers a client over its rate with a page asking it to wait.
func (p *ratingPage) limit(c *gin.Context) {
	p.byIP.admit(c, func(wait time.Duration) {
		waitPage(c, wait, func(title, message string) {
			renderRating(c, http.StatusTooManyRequests, ratingView{Title: title, Message: message})
		})
	})
}

// sameSite refuses a form a browser posts from another site: the link is the capability, but a
// page elsewhere must not send a rating in the contact's name.
func (p *ratingPage) sameSite(c *gin.Context) {
	site := c.GetHeader("Sec-Fetch-Site")
	refused := site == "cross-site" || site == "same-site"
	switch origin := c.GetHeader("Origin"); origin {
	case "":
	case "null":
		// An opaque origin (a sandboxed frame, a data: page, or a strict referrer policy): only
		// the browser's own word that the post comes from this origin lets it through.
		refused = refused || site != "same-origin"
	default:
		u, err := url.Parse(origin)
		refused = refused || err != nil || u.Host == "" || !strings.EqualFold(u.Host, c.Request.Host)
	}
	if refused {
		renderRating(c, http.StatusForbidden, ratingView{Title: "Please use the form on this site",
			Message: "We accept ratings sent from our own rating page only. Open the link from your email again."})
		c.Abort()
		return
	}
	c.Next()
}

// show renders the form, or a page saying why there is none.
func (p *ratingPage) show(c *gin.Context) {
	f, ok := p.load(c)
	if !ok {
		return
	}
	renderRating(c, http.StatusOK, f.view(nil, nil))
}

// submit checks the form and records the rating through the order's run. Posted again once the
// rating is recorded (a double click, a reload, a retry after a lost answer), the same answers get
// the same confirmation and record nothing more; other answers are refused (410): a rating is
// given once.
func (p *ratingPage) submit(c *gin.Context) {
	f, ok := p.loadFor(c, true)
	if !ok {
		return
	}
	form, ok := readRatingForm(c)
	if !ok {
		return
	}
	score, comment, answers, errs := f.check(form)
	if len(errs) > 0 {
		renderRating(c, http.StatusUnprocessableEntity, f.view(form, errs))
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), p.s.cfg.ActionTimeout)
	defer cancel()
	// The invitation names the update: a second click on "Send" gets the first answer.
	_, err := p.s.cfg.Workflows.ActOnWorkOrder(ctx, f.order.ID, process.Action{Kind: process.ActionRate, Actor: "contact",
		Score: &score, Comment: comment, Answers: answers, Invitation: f.invitation}, "rating-link:"+f.invitation)
	var pe *process.Error
	switch {
	case err == nil:
		renderRating(c, http.StatusOK, ratingThanks(f.order))
	case errors.As(err, &pe) && pe.Code == process.CodeInvalid:
		fields := map[string]string{}
		for _, fe := range pe.Fields {
			fields[fe.Field] = fe.Message
		}
		if len(fields) == 0 {
			fields["score"] = pe.Message
		}
		renderRating(c, http.StatusUnprocessableEntity, f.view(form, fields))
	case errors.As(err, &pe) || errors.Is(err, workflows.ErrNotFound) || errors.Is(err, workflows.ErrFinished):
		// The invitation was used meanwhile (by this very answer, sent twice at once?), or the
		// rating closed.
		if wo, err := p.s.cfg.Store.GetWorkOrder(ctx, f.order.ID); err == nil && slices.Contains(wo.UsedInvitations, f.invitation) {
			p.answerAgain(c, wo, f.invitation, form)
			return
		}
		renderRating(c, http.StatusGone, usedOrClosed(f.order, f.invitation))
	default:
		status := http.StatusInternalServerError
		if errors.Is(err, workflows.ErrUnavailable) {
			status = http.StatusServiceUnavailable
			c.Header("Retry-After", "30")
		}
		p.s.cfg.Logger.Warn("rating page: rating not recorded", zap.String("order", f.order.ID), zap.Error(err))
		renderRating(c, status, ratingView{Title: "Please try again", Number: f.order.Number, Subject: f.order.Subject,
			Message: "We could not record your rating just now. Your link still works: please try again in a few minutes."})
	}
}

// readRatingForm reads the posted form; when it cannot it has rendered the page that says so.
func readRatingForm(c *gin.Context) (url.Values, bool) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 64<<10)
	if err := c.Request.ParseForm(); err != nil {
		renderRating(c, http.StatusBadRequest, ratingView{Title: "Please try again",
			Message: "Your answers could not be read. Open the link from your email again."})
		return nil, false
	}
	return c.Request.PostForm, true
}

// answerAgain answers a form posted through an invitation that has been used: the confirmation
// again when the contact's recorded rating on the invitation's node has exactly these answers,
// else a page saying the rating is recorded already and cannot be changed (410).
func (p *ratingPage) answerAgain(c *gin.Context, wo process.WorkOrder, invitation string, form url.Values) {
	node := invitationNode(invitation)
	for _, r := range wo.Ratings {
		if r.Kind != "" || r.By != "contact" || (node != "" && r.Node != node) {
			continue
		}
		f := ratingForm{order: wo, invitation: invitation, scale: r.Scale, template: p.templateOf(r.Template)}
		score, comment, answers, errs := f.check(form)
		if len(errs) == 0 && score == r.Score && comment == r.Comment && maps.Equal(answers, r.Answers) {
			renderRating(c, http.StatusOK, ratingThanks(wo))
			return
		}
	}
	renderRating(c, http.StatusGone, ratingView{Title: "Already rated", Number: wo.Number, Subject: wo.Subject,
		Message: "This link has been used: the rating sent first is recorded, and it cannot be changed. If something is wrong, please contact us."})
}

// invitationNode is the rating node an invitation was made for ("invite:<node>:<revision>").
func invitationNode(invitation string) string {
	rest, ok := strings.CutPrefix(invitation, "invite:")
	if !ok {
		return ""
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return ""
	}
	return rest[:i]
}

// ratingThanks is the page of a recorded rating.
func ratingThanks(wo process.WorkOrder) ratingView {
	return ratingView{Title: "Thank you", Number: wo.Number, Subject: wo.Subject,
		Message: "Your rating is recorded. It helps us serve you better."}
}

// load checks the link and finds the open rating it leads to; when there is none it has rendered
// the page that says why.
func (p *ratingPage) load(c *gin.Context) (ratingForm, bool) { return p.loadFor(c, false) }

// loadFor is load; for a post (posting), a used invitation is answered by answerAgain.
func (p *ratingPage) loadFor(c *gin.Context, posting bool) (ratingForm, bool) {
	orderID, invitation, err := p.s.cfg.Keys.VerifyRatingLink(c.Param("token"))
	if errors.Is(err, jwt.ErrTokenExpired) {
		renderRating(c, http.StatusGone, ratingView{Title: "This link has expired",
			Message: "The time to rate this visit is over. Thank you all the same."})
		return ratingForm{}, false
	}
	if err != nil {
		renderRating(c, http.StatusBadRequest, ratingView{Title: "This link does not work",
			Message: "It is incomplete or not valid. Please open the link from your email again, exactly as it is."})
		return ratingForm{}, false
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	wo, err := p.s.cfg.Store.GetWorkOrder(ctx, orderID)
	if errors.Is(err, store.ErrNotFound) {
		renderRating(c, http.StatusNotFound, ratingView{Title: "This link does not work",
			Message: "We cannot find the visit it is about. Please contact us."})
		return ratingForm{}, false
	}
	if err != nil {
		p.s.cfg.Logger.Warn("rating page: load order", zap.String("order", orderID), zap.Error(err))
		c.Header("Retry-After", "30")
		renderRating(c, http.StatusServiceUnavailable, ratingView{Title: "Please try again",
			Message: "We could not open your rating just now. Please try again in a few minutes."})
		return ratingForm{}, false
	}
	if posting && slices.Contains(wo.UsedInvitations, invitation) {
		if form, ok := readRatingForm(c); ok {
			p.answerAgain(c, wo, invitation, form)
		}
		return ratingForm{}, false
	}
	if slices.Contains(wo.UsedInvitations, invitation) || wo.Rating == nil || wo.Rating.Invitation != invitation {
		renderRating(c, http.StatusGone, usedOrClosed(wo, invitation))
		return ratingForm{}, false
	}
	f := ratingForm{order: wo, invitation: invitation, scale: p.scaleOf(ctx, wo)}
	f.template = p.templateOf(wo.Rating.Template)
	return f, true
}

// usedOrClosed is the page of an invitation that can no longer be used.
func usedOrClosed(wo process.WorkOrder, invitation string) ratingView {
	if slices.Contains(wo.UsedInvitations, invitation) {
		return ratingView{Title: "Already rated", Number: wo.Number, Subject: wo.Subject,
			Message: "This link has been used: your rating is recorded. Thank you!"}
	}
	return ratingView{Title: "Rating closed", Number: wo.Number, Subject: wo.Subject,
		Message: "This visit can no longer be rated through this link. Thank you all the same."}
}

// scaleOf is the scale of the order's open rating node, as its pinned definition says; the
// current definition of the record type when the pinned one cannot be read.
func (p *ratingPage) scaleOf(ctx context.Context, wo process.WorkOrder) string {
	var nodes []process.Node
	def, err := p.s.cfg.Store.GetDefinition(ctx, wo.Definition.Version)
	if err == nil {
		var t process.WorkOrderType
		if err = json.Unmarshal(def.Compiled, &t); err == nil {
			nodes = t.Nodes
		}
	}
	if err != nil {
		p.s.cfg.Logger.Warn("rating page: pinned definition", zap.String("version", wo.Definition.Version), zap.Error(err))
		if t, ok := p.s.cfg.Registry.Current().WorkOrderType(wo.Definition.Key); ok {
			nodes = t.Nodes
		}
	}
	for _, n := range nodes {
		if n.ID == wo.Rating.Node && n.Scale != "" {
			return n.Scale
		}
	}
	return "five-star"
}

// templateOf is the current rating template with the key; nil (a score and a comment) when there
// is none.
func (p *ratingPage) templateOf(key string) *process.Template {
	if key == "" || p.s.cfg.Registry == nil {
		return nil
	}
	src, ok := p.s.cfg.Registry.Current().Source(process.KindRatingTemplate, key)
	if !ok {
		return nil
	}
	// The loader has validated the file; only the questions matter here.
	var doc struct {
		Questions []struct {
			ID       string   `yaml:"id"`
			Text     string   `yaml:"text"`
			Type     string   `yaml:"type"`
			Options  []string `yaml:"options"`
			Required bool     `yaml:"required"`
		} `yaml:"questions"`
	}
	if err := yaml.Unmarshal([]byte(src.Text), &doc); err != nil {
		p.s.cfg.Logger.Warn("rating page: template", zap.String("template", key), zap.Error(err))
		return nil
	}
	t := &process.Template{Version: src.Version}
	for _, q := range doc.Questions {
		t.Questions = append(t.Questions, process.Question{ID: q.ID, Text: q.Text, Type: q.Type, Options: q.Options, Required: q.Required})
	}
	return t
}

// scoreRange is the lowest and highest score of a scale.
func scoreRange(scale string) (int, int) {
	if scale == "ten-point" {
		return 0, 10
	}
	return 1, 5
}

// overall is the template's question the score answers (its first score question), if any.
func (f ratingForm) overall() *process.Question {
	if f.template == nil {
		return nil
	}
	for i, q := range f.template.Questions {
		if q.Type == "score" {
			return &f.template.Questions[i]
		}
	}
	return nil
}

// commentQuestion is the template's text question the comment box answers (id "comment"), if any.
func (f ratingForm) commentQuestion() *process.Question {
	if f.template == nil {
		return nil
	}
	for i, q := range f.template.Questions {
		if q.Type == "text" && q.ID == "comment" {
			return &f.template.Questions[i]
		}
	}
	return nil
}

// others are the template's questions besides the overall score and the comment.
func (f ratingForm) others() []process.Question {
	if f.template == nil {
		return nil
	}
	overall, comment := f.overall(), f.commentQuestion()
	var out []process.Question
	for i := range f.template.Questions {
		q := &f.template.Questions[i]
		if q != overall && q != comment {
			out = append(out, *q)
		}
	}
	return out
}

// check reads the form: the score, the comment and the answers, or what is wrong by field name.
func (f ratingForm) check(form url.Values) (float64, string, map[string]string, map[string]string) {
	errs := map[string]string{}
	lo, hi := scoreRange(f.scale)
	readScore := func(name string, required bool) (int, bool) {
		v := strings.TrimSpace(form.Get(name))
		if v == "" {
			if required {
				errs[name] = "Please choose a score."
			}
			return 0, false
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			errs[name] = fmt.Sprintf("Choose a score from %d to %d.", lo, hi)
			return 0, false
		}
		return n, true
	}
	score, _ := readScore("score", true)
	answers := map[string]string{}
	if q := f.overall(); q != nil {
		answers[q.ID] = strconv.Itoa(score)
	}
	comment := strings.TrimSpace(form.Get("comment"))
	if utf8.RuneCountInString(comment) > maxRatingText {
		errs["comment"] = fmt.Sprintf("Please keep it under %d characters.", maxRatingText)
	}
	if q := f.commentQuestion(); q != nil {
		if q.Required && comment == "" {
			errs["comment"] = "Please answer this question."
		}
		if comment != "" {
			answers[q.ID] = comment
		}
	}
	for _, q := range f.others() {
		name := "q_" + q.ID
		v := strings.TrimSpace(form.Get(name))
		switch q.Type {
		case "score":
			if n, ok := readScore(name, q.Required); ok {
				answers[q.ID] = strconv.Itoa(n)
			}
			continue
		case "choice":
			if v != "" && !slices.Contains(q.Options, v) {
				errs[name] = "Please choose one of the options."
				continue
			}
		case "text":
			if utf8.RuneCountInString(v) > maxRatingText {
				errs[name] = fmt.Sprintf("Please keep it under %d characters.", maxRatingText)
				continue
			}
		}
		if v == "" {
			if q.Required {
				errs[name] = "Please answer this question."
			}
			continue
		}
		answers[q.ID] = v
	}
	if len(answers) == 0 {
		answers = nil
	}
	return float64(score), comment, answers, errs
}

// view is the form with the values sent (nil: empty) and the errors by field name.
func (f ratingForm) view(form url.Values, errs map[string]string) ratingView {
	lo, hi := scoreRange(f.scale)
	scoreChoices := func(name string) []ratingChoice {
		var out []ratingChoice
		for n := hi; n >= lo; n-- {
			v := strconv.Itoa(n)
			label := v
			switch {
			case n == hi:
				label += " (best)"
			case n == lo:
				label += " (worst)"
			}
			out = append(out, ratingChoice{Value: v, Label: label, InputID: name + "-" + v, Checked: form.Get(name) == v})
		}
		return out
	}
	v := ratingView{Title: "How did we do?", Number: f.order.Number, Subject: f.order.Subject, Form: true,
		Message: "Please rate the service you received. It takes a minute.", CommentLabel: "Comment (optional)",
		Comment: form.Get("comment"), CommentError: errs["comment"]}
	v.Score = ratingField{Name: "score", Type: "score", Required: true, Choices: scoreChoices("score"), Error: errs["score"],
		Text: "How satisfied are you with our service?"}
	if q := f.overall(); q != nil {
		v.Score.ID, v.Score.Text = q.ID, q.Text
	}
	if f.scale == "ten-point" {
		v.Score.Text += " (0 to 10)"
	} else {
		v.Score.Text += " (1 to 5 stars)"
	}
	if q := f.commentQuestion(); q != nil {
		v.CommentLabel = q.Text
		if !q.Required {
			v.CommentLabel += " (optional)"
		}
	}
	for _, q := range f.others() {
		name := "q_" + q.ID
		field := ratingField{ID: q.ID, Name: name, Text: q.Text, Type: q.Type, Required: q.Required, Value: form.Get(name), Error: errs[name]}
		switch q.Type {
		case "score":
			field.Choices = scoreChoices(name)
		case "choice":
			for i, o := range q.Options {
				field.Choices = append(field.Choices, ratingChoice{Value: o, Label: o, InputID: fmt.Sprintf("%s-%d", name, i), Checked: field.Value == o})
			}
		}
		v.Questions = append(v.Questions, field)
	}
	// The summary lists the errors in the order of the form.
	add := func(name, anchor string) {
		if msg := errs[name]; msg != "" {
			v.Errors = append(v.Errors, ratingError{Anchor: anchor, Message: msg})
		}
	}
	add("score", "score-"+strconv.Itoa(hi))
	for _, q := range v.Questions {
		anchor := q.Name
		if len(q.Choices) > 0 {
			anchor = q.Choices[0].InputID
		}
		add(q.Name, anchor)
	}
	add("comment", "comment")
	if len(v.Errors) > 0 {
		v.Title, v.Message = "Please check your answers", ""
	}
	return v
}

// renderRating writes the rating page with the headers of a public page that runs no script.
func renderRating(c *gin.Context, status int, v ratingView) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	// same-origin, not no-referrer: the link's token never leaves the site, and the form's post
	// still carries its Origin.
	c.Header("Referrer-Policy", "same-origin")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	c.Status(status)
	_ = ratingTemplate.Execute(c.Writer, v)
}
