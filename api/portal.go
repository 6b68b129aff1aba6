package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/intake"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
)

// The customer portal: public pages (no staff login) where customers report problems as work
// orders, as guests or signed in with a one-time code sent by email, and where a device's QR code
// leads. Every form carries a signed token bound to the browser's anti-forgery cookie; its nonce
// is the idempotency key of the order, so a double submit makes one order. Every page is
// rate-limited per client address, and sign-in codes per email address too.

//go:embed templates/portal.html
var portalTemplates embed.FS

var portalPages = template.Must(template.ParseFS(portalTemplates, "templates/portal.html"))

const (
	// sessionCookie holds a signed-in contact's portal session.
	sessionCookie = "ff_portal"
	// formCookie is the browser's anti-forgery secret that form tokens are bound to.
	formCookie = "ff_portal_form"
	// maxFormBytes bounds a posted portal form.
	maxFormBytes = 64 << 10
)

// The portal's rate limits.
var (
	// Per client address, over every public page: a burst of 60, then one a second.
	portalIPRate  = rate.Every(time.Second)
	portalIPBurst = 60
	// Sign-in codes per email address: three at once, then one every five minutes.
	codeEmailRate  = rate.Every(5 * time.Minute)
	codeEmailBurst = 3
	// codeResendAfter: within it, asking again for a code for the same address (a double click, a
	// reload) sends no second email and keeps the code sent; the same page answers.
	codeResendAfter = time.Minute
)

// portal serves the public pages and holds their rate limits.
type portal struct {
	s       *Server
	byIP    *limiter
	byEmail *limiter
	// codesSent are the addresses a code went to lately, with its expiry.
	codesSent *recentAnswers
	// comments limits the comments on each request through its status link.
	comments *limiter
	// embedOrigins may frame the embeddable form and post JSON requests (FIELDFLOW_EMBED_ORIGINS).
	embedOrigins []string
}

func newPortal(s *Server) *portal {
	return &portal{s: s, byIP: newLimiter(portalIPRate, portalIPBurst), byEmail: newLimiter(codeEmailRate, codeEmailBurst),
		codesSent: newRecentAnswers(codeResendAfter, 100_000), comments: newLimiter(commentRate, commentBurst),
		embedOrigins: embedOriginsFromEnv(s.cfg.Logger)}
}

// portalRoutes are the customer portal's pages and form posts.
func (s *Server) portalRoutes(e *gin.Engine) {
	p := newPortal(s)
	e.GET("/portal", p.limitByIP, p.portalPage)
	e.POST("/portal/code", p.limitByIP, sameOrigin, p.requestCode)
	e.POST("/portal/login", p.limitByIP, sameOrigin, p.login)
	e.POST("/portal/logout", p.limitByIP, sameOrigin, p.logout)
	e.POST("/portal/work-orders", p.limitByIP, sameOrigin, p.submit)
	// Service requests (portal_requests.go).
	e.POST("/portal/service-requests", p.limitPage, p.embedOrSameOrigin, p.submitRequest)
	e.OPTIONS("/portal/service-requests", p.limitByIP, p.embedPreflight)
	e.GET(EmbedPath, p.limitPage, p.embedPage)
	e.GET(RequestStatusPath+":token", p.limitPage, p.statusPage)
	e.POST(RequestStatusPath+":token/comments", p.limitPage, sameOrigin, p.addComment)
}

// portalView is what a portal page shows.
type portalView struct {
	Title   string
	Message string
	// Contact is the signed-in contact; nil for a guest.
	Contact *process.Contact
	// Token is the form token every form on the page carries.
	Token string
	// Types are the record types the visitor may report; SignInTypes those a guest may report
	// only after signing in.
	Types       []typeOption
	SignInTypes []typeOption
	// Device is the equipment the page is about (a device code's page).
	Device *store.Device
	// ContactOptional: the device has a contact on file, so a guest need not give details.
	ContactOptional bool
	Values          portalSubmission
	Errors          []string
	// Email is where a sign-in code went.
	Email string
	// Next is where to go after signing in or submitting.
	Next string
	// Number and TypeTitle describe the order a submission made.
	Number, TypeTitle string

	// Service requests (portal_requests.go). Queues are the queues the visitor may write to;
	// SignInQueues those a guest may write to only after signing in.
	Queues       []queueOption
	SignInQueues []queueOption
	// Queue is the request form shown; FieldErrors what is wrong with its fields.
	Queue       *requestForm
	FieldErrors map[string]string
	// Embed: the page is the embeddable form (guest only); Binding is what its form token is
	// bound to, carried by the form itself.
	Embed   bool
	Binding string
	// StatusURL is a request's signed status page; Status what it shows, Comment a comment typed.
	StatusURL string
	Status    *statusView
	Comment   string
	// frameAncestors are the origins that may frame the page (none when empty).
	frameAncestors []string
}

type typeOption struct {
	Key, Title string
	Selected   bool
}

// portalSubmission is a work order as a customer reports it: the portal form's fields, or the
// JSON body of POST /portal/work-orders.
type portalSubmission struct {
	RecordType  string `json:"recordType"`
	Subject     string `json:"subject"`
	Description string `json:"description"`
	Name        string `json:"name"`
	Email       string `json:"email"`
	Phone       string `json:"phone"`
	Region      string `json:"region"`
	Address     string `json:"address"`
	// Device is a device code: the order is about that equipment (channel device).
	Device string `json:"device"`
}

// portalPage shows the form to report a problem, and the sign-in form to a guest.
func (p *portal) portalPage(c *gin.Context) {
	if key := c.Query("queue"); key != "" {
		p.requestPage(c, key, false)
		return
	}
	v, err := p.formView(c, nil)
	if err != nil {
		p.renderFailure(c, err)
		return
	}
	if t := c.Query("type"); t != "" {
		v.Values.RecordType = t
		selectType(v.Types, t)
	}
	p.render(c, http.StatusOK, "form", v)
}

// devicePage is where a device's QR code leads: the portal form about that equipment.
func (p *portal) devicePage(c *gin.Context) {
	ps, err := p.s.portalStore()
	if err != nil {
		p.renderFailure(c, err)
		return
	}
	d, err := ps.GetDevice(c.Request.Context(), c.Param("code"))
	if errors.Is(err, store.ErrNotFound) {
		p.render(c, http.StatusNotFound, "message", portalView{Title: "Unknown device code",
			Message: "We do not know the device code " + store.NormalizeDeviceCode(c.Param("code")) + ". Check the label, or report the problem on the customer portal."})
		return
	}
	if err != nil {
		p.renderFailure(c, err)
		return
	}
	v, err := p.formView(c, &d)
	if err != nil {
		p.renderFailure(c, err)
		return
	}
	p.render(c, http.StatusOK, "form", v)
}

// formView is the report form for the visitor (signed in or not), about a device or not.
func (p *portal) formView(c *gin.Context, d *store.Device) (portalView, error) {
	token, err := p.formToken(c)
	if err != nil {
		return portalView{}, err
	}
	contact, signedIn := p.session(c)
	v := portalView{Title: "Report a problem", Token: token, Next: "/portal", Device: d}
	if signedIn {
		v.Contact = &contact
	}
	cat := p.s.cfg.Registry.Current()
	channel := process.ChannelGuest
	switch {
	case d != nil:
		channel = process.ChannelDevice
		v.Title, v.Next = "Report a problem with your equipment", DevicePath+url.PathEscape(d.Code)
		v.ContactOptional = !signedIn && d.ContactID != ""
	case signedIn:
		channel = process.ChannelPortal
	}
	v.Types = typesFor(cat, channel)
	if d == nil {
		p.requestQueues(&v)
	}
	if channel == process.ChannelGuest {
		for _, t := range typesFor(cat, process.ChannelPortal) {
			if !slices.ContainsFunc(v.Types, func(o typeOption) bool { return o.Key == t.Key }) {
				v.SignInTypes = append(v.SignInTypes, t)
			}
		}
	}
	return v, nil
}

// typesFor lists the record types a channel may create.
func typesFor(cat *process.Catalog, channel string) []typeOption {
	var out []typeOption
	for _, t := range cat.WorkOrderTypes() {
		if slices.Contains(t.Intake, channel) {
			out = append(out, typeOption{Key: t.Key, Title: t.Title})
		}
	}
	return out
}

func selectType(types []typeOption, key string) {
	for i := range types {
		types[i].Selected = types[i].Key == key
	}
}

// submit records a work order from the portal: channel portal for a signed-in contact, guest
// for anyone else, device when it names a device code. Form posts answer with a page, JSON
// posts with JSON.
func (p *portal) submit(c *gin.Context) {
	asJSON, err := portalBody(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	ps, err := p.s.portalStore()
	if err == nil && p.s.cfg.Intake == nil {
		err = newProblem(http.StatusServiceUnavailable, "unavailable", "Service unavailable", "work-order intake is not configured on this server")
	}
	if err != nil {
		p.fail(c, asJSON, err, nil)
		return
	}
	var in portalSubmission
	var nonce string
	if asJSON {
		if err := bindJSON(c, &in); err != nil {
			_ = c.Error(err)
			return
		}
	} else {
		if nonce, err = p.checkForm(c); err != nil {
			p.fail(c, false, err, nil)
			return
		}
		in = portalSubmission{RecordType: c.PostForm("recordType"), Subject: c.PostForm("subject"), Description: c.PostForm("description"),
			Name: c.PostForm("name"), Email: c.PostForm("email"), Phone: c.PostForm("phone"), Region: c.PostForm("region"),
			Address: c.PostForm("address"), Device: c.PostForm("device")}
	}
	in = trimSubmission(in)
	ctx, cancel := context.WithTimeout(c.Request.Context(), p.s.cfg.ActionTimeout)
	defer cancel()

	var device *store.Device
	if in.Device != "" {
		d, err := ps.GetDevice(ctx, in.Device)
		if errors.Is(err, store.ErrNotFound) {
			p.fail(c, asJSON, invalidFields(process.FieldError{Field: "device", Message: "no device has this code"}), nil)
			return
		}
		if err != nil {
			p.fail(c, asJSON, err, nil)
			return
		}
		device = &d
	}
	// On a refusal the form is shown again, with what the customer wrote and the same token: sent
	// again after a failure that may have left an order behind, it makes no second one.
	again := func() *portalView {
		if asJSON {
			return nil
		}
		v, err := p.formView(c, device)
		if err != nil {
			return nil
		}
		v.Token, v.Values = c.PostForm("token"), in
		selectType(v.Types, in.RecordType)
		return &v
	}

	contact, signedIn := p.session(c)
	channel, actor := process.ChannelGuest, "guest"
	if signedIn {
		channel, actor = process.ChannelPortal, "portal:"+contact.ID
	}
	if device != nil {
		channel = process.ChannelDevice
	}
	order := process.NewWorkOrder{RecordType: in.RecordType, Channel: channel, Subject: in.Subject, Description: in.Description,
		Region: in.Region}
	if in.Address != "" {
		order.Fields = map[string]string{"address": in.Address}
	}
	if device != nil {
		order.Device, order.Account = device.ProcessDevice(), device.Account
	}

	fields := p.checkType(in.RecordType, channel, signedIn)
	if len(fields) == 0 && !signedIn && channel == process.ChannelGuest && p.guestNeedsSignIn(in.RecordType) {
		t, _ := p.s.cfg.Registry.Current().WorkOrderType(in.RecordType)
		p.fail(c, asJSON, newProblem(http.StatusForbidden, "sign-in-required", "Sign in first",
			fmt.Sprintf("%s can be requested by signed-in customers only: sign in with a code sent to your email, then send the form again", t.Title)), again())
		return
	}
	if in.Subject == "" {
		fields = append(fields, process.FieldError{Field: "subject", Message: "is required"})
	}
	fields = append(fields, checkLengths(in)...)
	switch {
	case signedIn:
		// The session says who it is; a phone given on the form completes the contact.
		fields = append(fields, checkContact("", process.Contact{Phone: in.Phone}, false, true)...)
		order.Contact = process.Contact{ID: contact.ID, Name: contact.Name, Email: contact.Email, Phone: contact.Phone}
		if order.Contact.Phone == "" {
			order.Contact.Phone = in.Phone
		}
	case device != nil && device.ContactID != "" && in.Name == "" && in.Email == "" && in.Phone == "":
		// Nobody named: the equipment's contact on file.
		onFile, err := ps.GetContact(ctx, device.ContactID)
		if err != nil {
			p.fail(c, asJSON, err, nil)
			return
		}
		order.Contact = onFile
	default:
		fields = append(fields, checkContact("", process.Contact{Name: in.Name, Email: in.Email, Phone: in.Phone}, true, false)...)
		order.Contact = process.Contact{Name: in.Name, Email: in.Email, Phone: in.Phone}
	}
	if len(fields) > 0 {
		p.fail(c, asJSON, invalidFields(fields...), again())
		return
	}

	key := "form:" + nonce
	if asJSON {
		key = ""
		if k := c.GetHeader("Idempotency-Key"); k != "" {
			// Scoped to who sends it, so nobody reaches another customer's order by guessing keys.
			scope := strings.Join([]string{contact.ID, store.NormalizeEmail(in.Email), store.NormalizePhone(in.Phone), in.Device}, "\n")
			h := sha256.Sum256([]byte(scope + "\n" + k))
			key = "json:" + hex.EncodeToString(h[:])
		}
	}
	wo, err := p.s.cfg.Intake.CreateWorkOrder(ctx, intake.Submission{Order: order, Actor: actor, Key: key})
	if err != nil {
		p.fail(c, asJSON, err, again())
		return
	}
	if asJSON {
		writeJSON(c, http.StatusCreated, gin.H{"id": wo.ID, "number": wo.Number, "recordType": wo.RecordType, "channel": wo.Channel,
			"subject": wo.Subject, "stage": wo.Stage, "state": wo.State, "createdAt": wo.CreatedAt})
		return
	}
	typeTitle := wo.RecordType
	if t, ok := p.s.cfg.Registry.Current().WorkOrderType(wo.RecordType); ok {
		typeTitle = strings.ToLower(t.Title)
	}
	next := "/portal"
	if device != nil {
		next = DevicePath + url.PathEscape(device.Code)
	}
	p.render(c, http.StatusCreated, "thanks", portalView{Title: "Thank you", Number: wo.Number, TypeTitle: typeTitle, Next: next})
}

// checkType checks that the record type exists and takes work from the channel. A type a guest
// may not report but a signed-in contact may is left to guestNeedsSignIn.
func (p *portal) checkType(key, channel string, signedIn bool) []process.FieldError {
	if key == "" {
		return []process.FieldError{{Field: "recordType", Message: "is required"}}
	}
	t, ok := p.s.cfg.Registry.Current().WorkOrderType(key)
	if !ok {
		return []process.FieldError{{Field: "recordType", Message: fmt.Sprintf("%q is not a kind of work we take", key)}}
	}
	if slices.Contains(t.Intake, channel) || (channel == process.ChannelGuest && !signedIn && slices.Contains(t.Intake, process.ChannelPortal)) {
		return nil
	}
	where := "on the customer portal"
	if channel == process.ChannelDevice {
		where = "from a device code"
	}
	return []process.FieldError{{Field: "recordType", Message: fmt.Sprintf("%s cannot be requested %s", t.Title, where)}}
}

// guestNeedsSignIn: the type takes work from signed-in contacts but not from guests.
func (p *portal) guestNeedsSignIn(key string) bool {
	t, ok := p.s.cfg.Registry.Current().WorkOrderType(key)
	return ok && !slices.Contains(t.Intake, process.ChannelGuest) && slices.Contains(t.Intake, process.ChannelPortal)
}

func trimSubmission(in portalSubmission) portalSubmission {
	for _, f := range []*string{&in.RecordType, &in.Subject, &in.Description, &in.Name, &in.Email, &in.Phone, &in.Region, &in.Address, &in.Device} {
		*f = strings.TrimSpace(*f)
	}
	return in
}

func checkLengths(in portalSubmission) []process.FieldError {
	var out []process.FieldError
	for _, f := range []struct {
		name, value string
		max         int
	}{{"subject", in.Subject, 200}, {"description", in.Description, 5000}, {"region", in.Region, 100}, {"address", in.Address, 500}} {
		if len(f.value) > f.max {
			out = append(out, process.FieldError{Field: f.name, Message: fmt.Sprintf("must be at most %d characters", f.max)})
		}
	}
	return out
}

// checkContact checks a person's details: a name when needName, an email or a phone (unless
// reachOptional), and that what is given is well-formed. prefix goes before the field names.
func checkContact(prefix string, ct process.Contact, needName, reachOptional bool) []process.FieldError {
	var out []process.FieldError
	name, email, phone := strings.TrimSpace(ct.Name), strings.TrimSpace(ct.Email), strings.TrimSpace(ct.Phone)
	if needName && name == "" {
		out = append(out, process.FieldError{Field: prefix + "name", Message: "is required"})
	}
	if len(name) > 200 {
		out = append(out, process.FieldError{Field: prefix + "name", Message: "must be at most 200 characters"})
	}
	if email == "" && phone == "" && !reachOptional {
		out = append(out, process.FieldError{Field: prefix + "email", Message: "give an email or a phone number, so we can reach you"})
	}
	if email != "" && !validEmail(email) {
		out = append(out, process.FieldError{Field: prefix + "email", Message: "is not an email address"})
	}
	if digits := len(strings.TrimPrefix(store.NormalizePhone(phone), "+")); phone != "" && (digits < 5 || digits > 20 || len(phone) > 40) {
		out = append(out, process.FieldError{Field: prefix + "phone", Message: "is not a phone number"})
	}
	return out
}

// validEmail accepts a bare address (no display name), as a mail header may carry it.
func validEmail(s string) bool {
	if len(s) > 254 || strings.ContainsAny(s, "\r\n<>,;\"") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// requestCode emails a one-time sign-in code.
func (p *portal) requestCode(c *gin.Context) {
	asJSON, err := portalBody(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	var body struct {
		Email string `json:"email"`
	}
	next := "/portal"
	if asJSON {
		if err := bindJSON(c, &body); err != nil {
			_ = c.Error(err)
			return
		}
	} else {
		if _, err := p.checkForm(c); err != nil {
			p.fail(c, false, err, nil)
			return
		}
		body.Email, next = c.PostForm("email"), safeNext(c.PostForm("next"))
	}
	email := strings.TrimSpace(body.Email)
	if email == "" || !validEmail(email) {
		msg := "is not an email address"
		if email == "" {
			msg = "is required"
		}
		var again *portalView
		if !asJSON {
			if v, err := p.formView(c, nil); err == nil {
				again = &v
			}
		}
		p.fail(c, asJSON, invalidFields(process.FieldError{Field: "email", Message: msg}), again)
		return
	}
	ps, err := p.s.portalStore()
	if err == nil && p.s.cfg.Mailer == nil {
		err = newProblem(http.StatusServiceUnavailable, "mail-unavailable", "Email is not set up", "this server sends no email, so it cannot send sign-in codes")
	}
	if err != nil {
		p.fail(c, asJSON, err, nil)
		return
	}
	now := p.s.cfg.Now()
	sent := func(expires time.Time) {
		if asJSON {
			writeJSON(c, http.StatusAccepted, gin.H{"sentTo": email, "expiresAt": expires})
			return
		}
		token, err := p.formToken(c)
		if err != nil {
			p.renderFailure(c, err)
			return
		}
		p.render(c, http.StatusOK, "code", portalView{Title: "Enter your code", Token: token, Email: email, Next: next,
			Message: fmt.Sprintf("We emailed a six-digit code to %s. It works once, for %d minutes.", email, int(store.PortalCodeTTL/time.Minute))})
	}
	// Asked again right after a code went out: the same answer, no second email (and the code
	// sent stays the valid one).
	key := store.NormalizeEmail(email)
	if prev, ok := p.codesSent.claim(key, "", time.Now()); ok {
		expires, err := time.Parse(time.RFC3339Nano, prev)
		if err != nil {
			// Still being sent.
			expires = now.Add(store.PortalCodeTTL).UTC()
		}
		sent(expires)
		return
	}
	if wait := p.byEmail.reserve(key, now); wait > 0 {
		p.codesSent.release(key)
		_ = c.Error(tooManyRequests(wait, "too many codes were asked for this email address"))
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 20*time.Second)
	defer cancel()
	code, expires, err := ps.NewPortalCode(ctx, email, now)
	if err != nil {
		p.codesSent.release(key)
		p.fail(c, asJSON, err, nil)
		return
	}
	from := p.s.cfg.MailFrom
	if from == "" {
		from = "no-reply@" + hostOf(p.s.baseURL(c))
	}
	if err := p.s.cfg.Mailer.Send(ctx, from, []string{email}, codeMessage(from, email, code, p.s.baseURL(c), now)); err != nil {
		// The error names the server, never the code.
		p.s.cfg.Logger.Warn("portal: sign-in code not sent", zap.String("request_id", c.GetString(requestIDKey)), zap.Error(err))
		p.codesSent.release(key)
		pe := newProblem(http.StatusServiceUnavailable, "mail-failed", "Email not sent", "we could not send the code just now; try again in a minute")
		pe.retryAfter = "60"
		p.fail(c, asJSON, pe, nil)
		return
	}
	p.codesSent.set(key, expires.Format(time.RFC3339Nano), time.Now())
	sent(expires)
}

// codeMessage is the email that carries a sign-in code: plain text, quoted-printable.
func codeMessage(from, to, code, base string, at time.Time) []byte {
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	h("From", from)
	h("To", to)
	h("Subject", mime.QEncoding.Encode("utf-8", "Your sign-in code"))
	h("Date", at.UTC().Format(time.RFC1123Z))
	h("Message-ID", "<portal-code."+hex.EncodeToString(id)+"@"+hostOf(base)+">")
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	h("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	text := fmt.Sprintf("Hello,\n\nYour code to sign in to the customer portal is\n\n    %s\n\n"+
		"It works once, for %d minutes: enter it on the page where you asked for it (%s/portal).\n\n"+
		"If you did not ask for a code, ignore this message: nobody can sign in without it.\n",
		code, int(store.PortalCodeTTL/time.Minute), base)
	w := quotedprintable.NewWriter(&b)
	_, _ = w.Write([]byte(strings.ReplaceAll(text, "\n", "\r\n")))
	_ = w.Close()
	return b.Bytes()
}

func hostOf(base string) string {
	u, err := url.Parse(base)
	if err != nil || u.Hostname() == "" {
		return "localhost"
	}
	return u.Hostname()
}

// login checks a sign-in code and starts the contact's session: a signed cookie for seven days.
// Signing in matches the contact by email, or creates it.
func (p *portal) login(c *gin.Context) {
	asJSON, err := portalBody(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	var body struct {
		Email string `json:"email"`
		Code  string `json:"code"`
	}
	next := "/portal"
	if asJSON {
		if err := bindJSON(c, &body); err != nil {
			_ = c.Error(err)
			return
		}
	} else {
		if _, err := p.checkForm(c); err != nil {
			p.fail(c, false, err, nil)
			return
		}
		body.Email, body.Code, next = c.PostForm("email"), c.PostForm("code"), safeNext(c.PostForm("next"))
	}
	email, code := strings.TrimSpace(body.Email), strings.TrimSpace(body.Code)
	// On a refusal the code page is shown again.
	again := func() *portalView {
		if asJSON {
			return nil
		}
		token, err := p.formToken(c)
		if err != nil {
			return nil
		}
		return &portalView{Title: "Enter your code", Token: token, Email: email, Next: next,
			Message: "Enter the six-digit code we emailed to " + email + "."}
	}
	var fields []process.FieldError
	if !validEmail(email) {
		fields = append(fields, process.FieldError{Field: "email", Message: "is not an email address"})
	}
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		fields = append(fields, process.FieldError{Field: "code", Message: "is the six digits we emailed you"})
	}
	if len(fields) > 0 {
		p.fail(c, asJSON, invalidFields(fields...), again())
		return
	}
	ps, err := p.s.portalStore()
	if err != nil {
		p.fail(c, asJSON, err, nil)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 20*time.Second)
	defer cancel()
	if err := ps.UsePortalCode(ctx, email, code, p.s.cfg.Now()); err != nil {
		var ce *store.CodeError
		switch {
		case errors.Is(err, store.ErrCodeWrong) && errors.As(err, &ce):
			msg := fmt.Sprintf("is wrong; %d more tries", ce.AttemptsLeft)
			if ce.AttemptsLeft == 0 {
				msg = "is wrong, and that was the last try: ask for a new code"
			}
			err = invalidFields(process.FieldError{Field: "code", Message: msg})
		case errors.Is(err, store.ErrCodeLocked):
			err = newProblem(http.StatusForbidden, "code-locked", "Code locked", "too many wrong codes were tried; ask for a new code")
		case errors.Is(err, store.ErrCodeExpired):
			err = invalidFields(process.FieldError{Field: "code", Message: "has expired or was used already; ask for a new code"})
		}
		p.fail(c, asJSON, err, again())
		return
	}
	contact, err := ps.MatchContact(ctx, process.Contact{Email: email})
	if err == nil && contact.ID == "" {
		err = errors.New("portal: the contact was not kept")
	}
	if err != nil {
		p.fail(c, asJSON, err, nil)
		return
	}
	session, err := p.s.cfg.Keys.IssuePortalSession(contact.ID, p.s.cfg.Now())
	if err != nil {
		p.fail(c, asJSON, err, nil)
		return
	}
	p.setCookie(c, sessionCookie, session, int(auth.PortalSessionTTL/time.Second))
	if asJSON {
		writeJSON(c, http.StatusOK, gin.H{"contact": contact})
		return
	}
	c.Redirect(http.StatusSeeOther, next)
}

// logout ends the portal session.
func (p *portal) logout(c *gin.Context) {
	asJSON, err := portalBody(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	if !asJSON {
		if _, err := p.checkForm(c); err != nil {
			p.fail(c, false, err, nil)
			return
		}
	}
	p.setCookie(c, sessionCookie, "", -1)
	if asJSON {
		c.Status(http.StatusNoContent)
		return
	}
	c.Redirect(http.StatusSeeOther, "/portal")
}

// session is the signed-in contact, when the request carries a valid session.
func (p *portal) session(c *gin.Context) (process.Contact, bool) {
	raw, err := c.Cookie(sessionCookie)
	if err != nil || raw == "" {
		return process.Contact{}, false
	}
	id, err := p.s.cfg.Keys.VerifyPortalSession(raw)
	if err != nil {
		return process.Contact{}, false
	}
	ps, err := p.s.portalStore()
	if err != nil {
		return process.Contact{}, false
	}
	contact, err := ps.GetContact(c.Request.Context(), id)
	if err != nil {
		return process.Contact{}, false
	}
	return contact, true
}

// formToken is a new token for the page's forms, bound to the browser's anti-forgery cookie
// (set now when the browser has none).
func (p *portal) formToken(c *gin.Context) (string, error) {
	binding, err := c.Cookie(formCookie)
	if err != nil || len(binding) < 32 {
		raw := make([]byte, 16)
		if _, err := rand.Read(raw); err != nil {
			return "", err
		}
		binding = hex.EncodeToString(raw)
		p.setCookie(c, formCookie, binding, int(time.Duration(30*24*time.Hour)/time.Second))
	}
	return p.s.cfg.Keys.IssuePortalForm(binding, p.s.cfg.Now())
}

// checkForm reads a posted form and checks its token against the browser's anti-forgery
// cookie; it returns the form's nonce.
func (p *portal) checkForm(c *gin.Context) (string, error) {
	if err := p.parseForm(c); err != nil {
		return "", err
	}
	binding, _ := c.Cookie(formCookie)
	nonce, err := p.s.cfg.Keys.VerifyPortalForm(c.PostForm("token"), binding)
	if err != nil {
		return "", formExpired()
	}
	return nonce, nil
}

// parseForm reads a posted form of at most maxFormBytes.
func (p *portal) parseForm(c *gin.Context) error {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxFormBytes)
	var err error
	if c.ContentType() == "multipart/form-data" {
		err = c.Request.ParseMultipartForm(maxFormBytes)
	} else {
		err = c.Request.ParseForm()
	}
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return newProblem(http.StatusRequestEntityTooLarge, "too-large", "Request too large", fmt.Sprintf("a form may have at most %d bytes", maxFormBytes))
		}
		return badRequest("the form could not be read")
	}
	return nil
}

func (p *portal) setCookie(c *gin.Context, name, value string, maxAge int) {
	secure := c.Request.TLS != nil || c.GetHeader("X-Forwarded-Proto") == "https" || strings.HasPrefix(p.s.cfg.PublicURL, "https://")
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: secure, SameSite: http.SameSiteLaxMode})
}

// portalBody tells a JSON post from a form post; anything else is refused.
func portalBody(c *gin.Context) (asJSON bool, err error) {
	switch c.ContentType() {
	case "application/json":
		return true, nil
	case "application/x-www-form-urlencoded", "multipart/form-data":
		return false, nil
	}
	return false, newProblem(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
		"send the portal's form (application/x-www-form-urlencoded) or application/json")
}

// sameOrigin refuses posts a browser sends from another site. Form tokens stop them too; this
// also covers JSON posts, which carry none.
func sameOrigin(c *gin.Context) {
	if site := c.GetHeader("Sec-Fetch-Site"); site == "cross-site" {
		_ = c.Error(newProblem(http.StatusForbidden, "cross-site", "Cross-site request refused", "the portal accepts posts from its own pages only"))
		c.Abort()
		return
	}
	if origin := c.GetHeader("Origin"); origin != "" {
		u, err := url.Parse(origin)
		// "null": the page's Referrer-Policy is no-referrer (the portal's own pages), so the
		// browser hides the origin of a form post; only its own word that the post comes from
		// this origin lets it through.
		opaqueButSameOrigin := origin == "null" && c.GetHeader("Sec-Fetch-Site") == "same-origin"
		if !opaqueButSameOrigin && (err != nil || u.Host == "" || !strings.EqualFold(u.Host, c.Request.Host)) {
			_ = c.Error(newProblem(http.StatusForbidden, "cross-site", "Cross-site request refused", "the portal accepts posts from its own pages only"))
			c.Abort()
			return
		}
	}
	c.Next()
}

// safeNext keeps a redirect target on this site's portal pages.
func safeNext(next string) string {
	if (strings.HasPrefix(next, "/portal") || strings.HasPrefix(next, DevicePath)) && !strings.Contains(next, "//") &&
		!strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return "/portal"
}

// fail answers a refusal: a problem document to JSON clients; to a browser the page again (again,
// when given) with the reasons, or a page saying what went wrong.
func (p *portal) fail(c *gin.Context, asJSON bool, err error, again *portalView) {
	if asJSON {
		_ = c.Error(err)
		return
	}
	pe := toProblem(err)
	if again == nil {
		p.renderFailure(c, err)
		return
	}
	again.Errors = nil
	if fields, ok := pe.problem.Errors.([]process.FieldError); ok && len(fields) > 0 {
		for _, f := range fields {
			again.Errors = append(again.Errors, fieldLabel(f.Field)+" "+f.Message)
		}
	} else {
		again.Errors = append(again.Errors, pe.problem.Detail)
	}
	tmpl := "form"
	if again.Email != "" {
		tmpl = "code"
	}
	p.render(c, pe.problem.Status, tmpl, *again)
}

// renderFailure shows a page saying what went wrong.
func (p *portal) renderFailure(c *gin.Context, err error) {
	pe := toProblem(err)
	if pe.problem.Status >= 500 {
		p.s.cfg.Logger.Error("portal request failed", zap.String("path", c.Request.URL.Path),
			zap.String("request_id", c.GetString(requestIDKey)), zap.Error(err))
	}
	if pe.retryAfter != "" {
		c.Header("Retry-After", pe.retryAfter)
	}
	p.render(c, pe.problem.Status, "message", portalView{Title: pe.problem.Title, Message: pe.problem.Detail})
}

// fieldLabel names a field as the form shows it.
func fieldLabel(field string) string {
	switch field {
	case "recordType":
		return "What you need:"
	case "email":
		return "Email:"
	case "code":
		return "The code"
	case "":
		return ""
	}
	return strings.ToUpper(field[:1]) + field[1:] + ":"
}

func (p *portal) render(c *gin.Context, status int, name string, v portalView) {
	var b bytes.Buffer
	if err := portalPages.ExecuteTemplate(&b, name, v); err != nil {
		p.s.cfg.Logger.Error("portal: render page", zap.String("page", name), zap.Error(err))
		_ = c.Error(err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("X-Content-Type-Options", "nosniff")
	ancestors := "'none'"
	if len(v.frameAncestors) > 0 {
		// The embeddable form: the configured sites may frame it (X-Frame-Options cannot say so).
		ancestors = strings.Join(v.frameAncestors, " ")
		c.Writer.Header().Del("X-Frame-Options")
	}
	c.Header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors "+ancestors+"; base-uri 'none'")
	c.Data(status, "text/html; charset=utf-8", b.Bytes())
}

// limitByIP refuses a client that has sent too many requests lately.
func (p *portal) limitByIP(c *gin.Context) {
	p.byIP.admit(c, func(wait time.Duration) { _ = c.Error(tooManyRequests(wait, "too many requests from your address")) })
}
