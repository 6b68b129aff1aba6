package api

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/fieldflow/fieldflow/printout"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/workflows"
)

// Notes, charges, activities, the to-do center and the contact's approval link.

type noteBody struct {
	Text   *string `json:"text"`
	Pinned *bool   `json:"pinned"`
}

func (s *Server) addNote(c *gin.Context) {
	var body noteBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	s.act(c, process.Action{Kind: process.ActionAddNote, NoteInput: &process.NoteInput{Text: body.Text, Pinned: body.Pinned}})
}

func (s *Server) updateNote(c *gin.Context) {
	var body noteBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	s.act(c, process.Action{Kind: process.ActionUpdateNote, NoteInput: &process.NoteInput{ID: c.Param("itemId"), Text: body.Text, Pinned: body.Pinned}})
}

func (s *Server) deleteNote(c *gin.Context) {
	s.act(c, process.Action{Kind: process.ActionDeleteNote, NoteInput: &process.NoteInput{ID: c.Param("itemId")}})
}

type chargeBody struct {
	Kind        process.ChargeKind `json:"kind"`
	Description *string            `json:"description"`
	Quantity    *float64           `json:"quantity"`
	UnitPrice   *float64           `json:"unitPrice"`
}

func (b chargeBody) input(id string) *process.ChargeInput {
	return &process.ChargeInput{ID: id, Kind: b.Kind, Description: b.Description, Quantity: b.Quantity, UnitPrice: b.UnitPrice}
}

func (s *Server) addCharge(c *gin.Context) {
	var body chargeBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	s.act(c, process.Action{Kind: process.ActionAddCharge, Charge: body.input("")})
}

func (s *Server) updateCharge(c *gin.Context) {
	var body chargeBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	s.act(c, process.Action{Kind: process.ActionUpdateCharge, Charge: body.input(c.Param("itemId"))})
}

func (s *Server) removeCharge(c *gin.Context) {
	s.act(c, process.Action{Kind: process.ActionRemoveCharge, Charge: &process.ChargeInput{ID: c.Param("itemId")}})
}

type activityBody struct {
	Title string     `json:"title"`
	User  string     `json:"user"`
	Team  string     `json:"team"`
	Due   *time.Time `json:"due"`
}

func (s *Server) addActivity(c *gin.Context) {
	var body activityBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	s.act(c, process.Action{Kind: process.ActionAddActivity, Task: &process.TaskInput{Title: body.Title, User: body.User, Team: body.Team, Due: body.Due}})
}

// todo lists the caller's open activities and pending approvals.
func (s *Server) todo(c *gin.Context) {
	p, _ := principalOf(c)
	roles := make([]string, len(p.Roles))
	for i, r := range p.Roles {
		roles[i] = string(r)
	}
	items, err := s.cfg.Store.ListTodo(c.Request.Context(), p.Subject, p.Groups, roles)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"items": items})
}

// completeTodo completes an activity from the to-do center.
func (s *Server) completeTodo(c *gin.Context) {
	item, err := s.cfg.Store.GetTodoItem(c.Request.Context(), c.Param("itemId"))
	if err != nil {
		_ = c.Error(err)
		return
	}
	if item.Kind != "activity" {
		_ = c.Error(newProblem(http.StatusConflict, "not-allowed", "Action not allowed now", "approvals are decided, not completed: POST /v1/service-requests/{id}/approvals/{approvalId}"))
		return
	}
	_, activityID, _ := strings.Cut(item.ID, ".")
	p, _ := principalOf(c)
	a := process.Action{Kind: process.ActionCompleteTask, Actor: p.Subject, ActorGroups: p.Groups, Task: &process.TaskInput{ID: activityID}}
	for _, r := range p.Roles {
		a.ActorRoles = append(a.ActorRoles, string(r))
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.ActionTimeout)
	defer cancel()
	sr, err := s.cfg.Workflows.ActOnServiceRequest(ctx, item.RecordID, a, s.updateID(c, p.Subject))
	if err != nil {
		_ = c.Error(s.closedOrMissing(ctx, item.RecordID, err))
		return
	}
	writeJSON(c, http.StatusOK, sr)
}

// approvalLink gives staff the signed link a contact approves through, without a login.
func (s *Server) approvalLink(c *gin.Context) {
	sr := requestOf(c)
	id := c.Param("approvalId")
	i := slices.IndexFunc(sr.Approvals, func(a process.ApprovalState) bool { return a.ID == id })
	if i < 0 {
		_ = c.Error(notFound(fmt.Sprintf("no approval %q on request %s", id, sr.Number)))
		return
	}
	ap := sr.Approvals[i]
	if !slices.ContainsFunc(ap.Approvers, func(a process.Approver) bool { return a.Contact }) {
		_ = c.Error(newProblem(http.StatusConflict, "not-allowed", "Action not allowed now", "the contact is not an approver of this approval"))
		return
	}
	if ap.Status != "pending" {
		_ = c.Error(newProblem(http.StatusConflict, "not-allowed", "Action not allowed now", "the approval is "+ap.Status))
		return
	}
	link, expires, err := s.cfg.Keys.ApprovalURL(s.publicURL(c), sr.ID, id, s.cfg.Now())
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"url": link, "expiresAt": expires})
}

func (s *Server) publicURL(c *gin.Context) string {
	scheme := "http"
	if c.Request.TLS != nil || c.GetHeader("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host
}

var approvalPage = template.Must(template.New("approve").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
button{font:inherit;padding:.6rem 1.2rem;margin:.3rem .5rem .3rem 0;border-radius:.4rem;border:1px solid #555;cursor:pointer}
.approve{background:#1f7a3a;color:#fff;border-color:#1f7a3a}.reject{background:#fff}
textarea{width:100%;font:inherit;min-height:4rem}label{display:block;margin:1rem 0 .3rem}</style></head>
<body><main>
<h1>{{.Title}}</h1>
{{if .Number}}<p>Request <strong>{{.Number}}</strong>: {{.Subject}}</p>{{end}}
<p>{{.Message}}</p>
{{if .Open}}<form method="post">
<label for="comment">Comment (optional)</label>
<textarea id="comment" name="comment" maxlength="2000"></textarea>
<p><button class="approve" name="decision" value="approve">Approve</button>
<button class="reject" name="decision" value="reject">Reject</button></p>
</form>{{end}}
</main></body></html>
`))

type approvalView struct {
	Title, Number, Subject, Message string
	Open                            bool
}

// approvalFromLink checks the link and finds the request and the approval.
func (s *Server) approvalFromLink(c *gin.Context) (process.ServiceRequest, process.ApprovalState, error) {
	claims, err := s.cfg.Keys.VerifyLink(c.Param("token"), "approval")
	if err != nil {
		return process.ServiceRequest{}, process.ApprovalState{}, err
	}
	sr, err := s.cfg.Store.GetServiceRequest(c.Request.Context(), claims.RecordID)
	if err != nil {
		return sr, process.ApprovalState{}, err
	}
	i := slices.IndexFunc(sr.Approvals, func(a process.ApprovalState) bool { return a.ID == claims.ItemID })
	if i < 0 {
		return sr, process.ApprovalState{}, store.ErrNotFound
	}
	return sr, sr.Approvals[i], nil
}

func renderApproval(c *gin.Context, status int, v approvalView) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	c.Status(status)
	_ = approvalPage.Execute(c.Writer, v)
}

// approvalPageGet shows the contact the request and the approve/reject form.
func (a *approvalPages) approvalPageGet(c *gin.Context) {
	sr, ap, err := a.s.approvalFromLink(c)
	if err != nil {
		renderApproval(c, http.StatusNotFound, approvalView{Title: "This link does not work", Message: "It has expired or is not valid. Ask us for a new one."})
		return
	}
	if ap.Status != "pending" {
		renderApproval(c, http.StatusOK, approvalView{Title: "Already decided", Number: sr.Number, Subject: sr.Subject, Message: "This approval is " + ap.Status + "; nothing more is needed."})
		return
	}
	renderApproval(c, http.StatusOK, approvalView{Title: "Your approval is requested", Number: sr.Number, Subject: sr.Subject,
		Message: "Please approve or reject so we can go on with your request.", Open: true})
}

// approvalPagePost records the contact's decision as a signal: it is accepted even while no worker
// runs, and applied in order by the request's run. The form is idempotent: posted again (a double
// click, a reload) with the same decision it answers the same confirmation and sends nothing
// more; with the other decision it is refused (409), the first one stands.
func (a *approvalPages) approvalPagePost(c *gin.Context) {
	s := a.s
	sr, ap, err := s.approvalFromLink(c)
	if err != nil {
		renderApproval(c, http.StatusNotFound, approvalView{Title: "This link does not work", Message: "It has expired or is not valid. Ask us for a new one."})
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 16<<10)
	decision := c.PostForm("decision")
	if decision != "approve" && decision != "reject" {
		renderApproval(c, http.StatusUnprocessableEntity, approvalView{Title: "Please choose", Number: sr.Number, Subject: sr.Subject, Message: "Approve or reject.", Open: true})
		return
	}
	word := map[string]string{"approve": "approval", "reject": "rejection"}
	thanks := approvalView{Title: "Thank you", Number: sr.Number, Subject: sr.Subject, Message: "Your " + word[decision] + " is recorded."}
	refused := func(msg string) {
		renderApproval(c, http.StatusConflict, approvalView{Title: "Already decided", Number: sr.Number, Subject: sr.Subject, Message: msg})
	}
	if ap.Status != "pending" {
		// The run has applied a decision: the contact's own, posted again, gets the same answer.
		i := slices.IndexFunc(ap.Decisions, func(d process.Decision) bool { return d.By == "contact" })
		switch {
		case i >= 0 && ap.Decisions[i].Decision == decision:
			renderApproval(c, http.StatusOK, thanks)
		case i >= 0:
			refused("You already sent your " + word[ap.Decisions[i].Decision] + " through this link; it cannot be changed here. This approval is " + ap.Status + ".")
		case ap.Status == decision+"d" || ap.Status == decision+"ed":
			renderApproval(c, http.StatusOK, approvalView{Title: "Already decided", Number: sr.Number, Subject: sr.Subject, Message: "This approval is " + ap.Status + "; nothing more is needed."})
		default:
			refused("This approval is " + ap.Status + " already; your answer was not recorded. Contact us if something is wrong.")
		}
		return
	}
	// Sent lately but not applied yet: not sent twice.
	key := sr.ID + "\n" + ap.ID
	if prev, ok := a.sent.claim(key, decision, time.Now()); ok {
		if prev == decision {
			renderApproval(c, http.StatusOK, thanks)
		} else {
			refused("You already sent your " + word[prev] + " through this link; it cannot be changed here.")
		}
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.ActionTimeout)
	defer cancel()
	err = s.cfg.Workflows.SignalServiceRequest(ctx, sr.ID, process.Action{Kind: process.ActionDecide, Actor: "contact", ViaLink: true,
		ApprovalID: ap.ID, Decision: decision, Comment: strings.TrimSpace(c.PostForm("comment"))})
	if err != nil {
		a.sent.release(key)
		status := http.StatusInternalServerError
		if errors.Is(err, workflows.ErrUnavailable) {
			status = http.StatusServiceUnavailable
			c.Header("Retry-After", "30")
		}
		renderApproval(c, status, approvalView{Title: "Please try again", Message: "We could not record your answer just now."})
		return
	}
	renderApproval(c, http.StatusOK, thanks)
}

type convertBody struct {
	RecordType string `json:"recordType"`
}

// convertServiceRequest starts a work order from the request with the queue's mapping and answers
// with the work order once its run has started (201), or 409 when the queue converts to nothing.
func (s *Server) convertServiceRequest(c *gin.Context) {
	var body convertBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	if body.RecordType == "" {
		_ = c.Error(invalidFields(process.FieldError{Field: "recordType", Message: "is required"}))
		return
	}
	sr, ok := s.actAndReturn(c, process.Action{Kind: process.ActionConvert, RecordType: body.RecordType})
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.ActionTimeout)
	defer cancel()
	effect := fmt.Sprintf("convert:%d", sr.Revision)
	for {
		events, err := s.cfg.Store.ListServiceRequestEvents(ctx, sr.ID, sr.Revision, 0)
		if err != nil {
			_ = c.Error(err)
			return
		}
		for _, e := range events {
			if e.Details["effect"] != effect {
				continue
			}
			switch e.Type {
			case process.EventConverted:
				// The child run projects its record itself, a moment after the request records the
				// conversion: until the row is there, keep waiting.
				wo, err := s.cfg.Store.GetWorkOrder(ctx, fmt.Sprint(e.Details["id"]))
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					_ = c.Error(err)
					return
				}
				c.Header("Location", "/v1/work-orders/"+wo.ID)
				writeJSON(c, http.StatusCreated, wo)
				return
			case process.EventConversionFailed:
				_ = c.Error(newProblem(http.StatusConflict, "conversion-failed", "Conversion failed", fmt.Sprint(e.Details["error"])))
				return
			}
		}
		select {
		case <-ctx.Done():
			// Still starting: the conversion goes on, and shows in the request's events (converted).
			writeJSON(c, http.StatusAccepted, gin.H{"status": "pending", "request": sr})
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// printServiceRequest renders the request as an HTML page to print.
func (s *Server) printServiceRequest(c *gin.Context) {
	sr := requestOf(c)
	title := sr.Queue
	if q, ok := s.cfg.Registry.Queue(sr.Queue); ok {
		title = q.Title
	}
	html, err := printout.Render(sr, title)
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(html))
}

// emailServiceRequest emails the printout to the request's contact.
func (s *Server) emailServiceRequest(c *gin.Context) {
	s.act(c, process.Action{Kind: process.ActionEmailRecord})
}

// maxAttachmentBytes bounds an uploaded file.
const maxAttachmentBytes = 10 << 20

// attachmentTypes are the content types a file may have.
var attachmentTypes = []string{"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf", "text/plain",
	"text/csv", "application/zip", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

// addAttachment takes a file (multipart/form-data, field "file"), keeps it and lists it on the request.
func (s *Server) addAttachment(c *gin.Context) {
	id := c.Param("id")
	att, ok := s.keepUpload(c, id, func(att process.Attachment) bool {
		_, ok := s.actAndReturn(c, process.Action{Kind: process.ActionAddAttachment, Attachment: &att})
		return ok
	})
	if !ok {
		return
	}
	sr, err := s.cfg.Store.GetServiceRequest(c.Request.Context(), id)
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("Location", "/v1/service-requests/"+id+"/attachments/"+att.ID)
	writeJSON(c, http.StatusCreated, sr)
}

// keepUpload stores the uploaded file of record id, then lets record list it on the record; when
// record fails (it has recorded the error), the file is deleted again.
func (s *Server) keepUpload(c *gin.Context, id string, record func(process.Attachment) bool) (process.Attachment, bool) {
	name, ctype, data, err := readUpload(c)
	if err != nil {
		_ = c.Error(err)
		return process.Attachment{}, false
	}
	p, _ := principalOf(c)
	att := process.Attachment{ID: uuid.New().String(), Name: name, ContentType: ctype, Size: int64(len(data))}
	if err := s.cfg.Store.SaveAttachment(c.Request.Context(), store.StoredFile{ID: att.ID, RecordID: id, Name: name,
		ContentType: ctype, CreatedBy: p.Subject, Data: data}); err != nil {
		_ = c.Error(err)
		return att, false
	}
	if !record(att) {
		_ = s.cfg.Store.DeleteAttachment(context.WithoutCancel(c.Request.Context()), att.ID)
		return att, false
	}
	return att, true
}

// sendAttachment downloads the file :itemId of the record :id (the caller may see the record).
func (s *Server) sendAttachment(c *gin.Context) {
	f, err := s.cfg.Store.GetAttachment(c.Request.Context(), c.Param("id"), c.Param("itemId"))
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, f.ContentType, f.Data)
}

// readUpload reads the file of a multipart upload (field "file"): its name, its type as the
// content says, and its bytes; a problem when it is missing, empty, too large or of a type not
// accepted.
func readUpload(c *gin.Context) (string, string, []byte, error) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxAttachmentBytes+64<<10)
	fh, err := c.FormFile("file")
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return "", "", nil, newProblem(http.StatusRequestEntityTooLarge, "too-large", "File too large", fmt.Sprintf("a file may have at most %d bytes", maxAttachmentBytes))
		}
		return "", "", nil, badRequest("send the file as multipart/form-data in the field \"file\"")
	}
	if fh.Size > maxAttachmentBytes {
		return "", "", nil, newProblem(http.StatusRequestEntityTooLarge, "too-large", "File too large", fmt.Sprintf("a file may have at most %d bytes", maxAttachmentBytes))
	}
	f, err := fh.Open()
	if err != nil {
		return "", "", nil, badRequest("the file could not be read")
	}
	defer f.Close()
	data := make([]byte, fh.Size)
	if _, err := io.ReadFull(f, data); err != nil {
		return "", "", nil, badRequest("the file could not be read")
	}
	if len(data) == 0 {
		return "", "", nil, invalidFields(process.FieldError{Field: "file", Message: "is empty"})
	}
	// The content decides the type, not what the client claims.
	ctype, _, _ := strings.Cut(http.DetectContentType(data), ";")
	if declared := fh.Header.Get("Content-Type"); ctype == "application/octet-stream" || (ctype == "text/plain" && strings.HasPrefix(declared, "text/csv")) {
		ctype, _, _ = strings.Cut(declared, ";")
	}
	if !slices.Contains(attachmentTypes, ctype) {
		return "", "", nil, newProblem(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported file type",
			fmt.Sprintf("%s files are not accepted; send %s", ctype, strings.Join(attachmentTypes, ", ")))
	}
	return filepath.Base(fh.Filename), ctype, data, nil
}
