package api

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
)

// PortalStore is what the device endpoints and the customer portal keep and read (implemented
// by *store.Store). The API's Store gives it when it can; otherwise these endpoints answer 503.
type PortalStore interface {
	MatchContact(ctx context.Context, c process.Contact) (process.Contact, error)
	GetContact(ctx context.Context, id string) (process.Contact, error)
	CreateDevice(ctx context.Context, d store.Device) (store.Device, error)
	GetDevice(ctx context.Context, code string) (store.Device, error)
	NewPortalCode(ctx context.Context, email string, now time.Time) (string, time.Time, error)
	UsePortalCode(ctx context.Context, email, code string, now time.Time) error
}

var _ PortalStore = (*store.Store)(nil)

// DevicePath is where the page of a device code is served; the code follows it.
const DevicePath = "/d/"

// deviceRoutes are the staff's device endpoints and the public page a device's QR code opens.
func (s *Server) deviceRoutes(v1 *gin.RouterGroup, public *gin.Engine) {
	v1.POST("/devices", s.createDevice)
	v1.GET("/devices/:code", s.getDevice)
	v1.GET("/devices/:code/qr.png", s.deviceQR)
	p := newPortal(s)
	public.GET(DevicePath+":code", p.limitByIP, p.devicePage)
}

// portalStore is the store's portal side; nil when the configured store has none.
func (s *Server) portalStore() (PortalStore, error) {
	ps, ok := s.cfg.Store.(PortalStore)
	if !ok {
		return nil, newProblem(http.StatusServiceUnavailable, "unavailable", "Service unavailable", "devices and the customer portal are not configured on this server")
	}
	return ps, nil
}

// baseURL is where customers reach this API: PublicURL, or the request's own scheme and host.
func (s *Server) baseURL(c *gin.Context) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimSuffix(s.cfg.PublicURL, "/")
	}
	return s.publicURL(c)
}

// deviceView is a device as the API shows it to staff.
type deviceView struct {
	store.Device
	Contact *process.Contact `json:"contact,omitempty"`
	// PortalURL is the page the device's QR code opens.
	PortalURL string `json:"portalUrl"`
	// QRURL is the PNG of the QR code, for staff to print on a label.
	QRURL string `json:"qrUrl"`
}

func (s *Server) viewDevice(c *gin.Context, ps PortalStore, d store.Device) (deviceView, error) {
	base := s.baseURL(c)
	v := deviceView{Device: d, PortalURL: base + DevicePath + url.PathEscape(d.Code),
		QRURL: base + "/v1/devices/" + url.PathEscape(d.Code) + "/qr.png"}
	if d.ContactID != "" {
		contact, err := ps.GetContact(c.Request.Context(), d.ContactID)
		if err != nil {
			return v, err
		}
		v.Contact = &contact
	}
	return v, nil
}

// createDeviceBody is the body of POST /v1/devices.
type createDeviceBody struct {
	Code     string           `json:"code"`
	Account  string           `json:"account"`
	Category string           `json:"category"`
	Model    string           `json:"model"`
	Serial   string           `json:"serial"`
	Contact  *process.Contact `json:"contact"`
}

// maxDeviceField bounds the length of a device's text fields.
const maxDeviceField = 200

func (s *Server) createDevice(c *gin.Context) {
	ps, err := s.portalStore()
	if err != nil {
		_ = c.Error(err)
		return
	}
	var body createDeviceBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	p, _ := principalOf(c)
	d := store.Device{Code: store.NormalizeDeviceCode(body.Code), Account: strings.TrimSpace(body.Account),
		Category: strings.TrimSpace(body.Category), Model: strings.TrimSpace(body.Model), Serial: strings.TrimSpace(body.Serial),
		CreatedBy: p.Subject, CreatedAt: s.cfg.Now()}
	var fields []process.FieldError
	if d.Code != "" && !store.ValidDeviceCode(d.Code) {
		fields = append(fields, process.FieldError{Field: "code", Message: "must be 4 to 32 letters, digits or dashes (leave it out to have one generated)"})
	}
	if d.Account == "" {
		fields = append(fields, process.FieldError{Field: "account", Message: "is required"})
	}
	for _, f := range []struct{ name, value string }{{"account", d.Account}, {"category", d.Category}, {"model", d.Model}, {"serial", d.Serial}} {
		if len(f.value) > maxDeviceField {
			fields = append(fields, process.FieldError{Field: f.name, Message: "must be at most " + strconv.Itoa(maxDeviceField) + " characters"})
		}
	}
	if body.Contact != nil {
		fields = append(fields, checkContact("contact.", *body.Contact, false, false)...)
	}
	if len(fields) > 0 {
		_ = c.Error(invalidFields(fields...))
		return
	}
	// A retry with the same Idempotency-Key and no code of its own gets the same generated code.
	key := c.GetHeader("Idempotency-Key")
	if d.Code == "" && key != "" {
		d.Code = derivedDeviceCode(p.Subject, key)
	}
	ctx := c.Request.Context()
	if body.Contact != nil {
		contact, err := ps.MatchContact(ctx, process.Contact{Name: body.Contact.Name, Email: body.Contact.Email, Phone: body.Contact.Phone})
		if err != nil {
			_ = c.Error(err)
			return
		}
		d.ContactID = contact.ID
	}
	created, err := ps.CreateDevice(ctx, d)
	if errors.Is(err, store.ErrDeviceExists) {
		existing, getErr := ps.GetDevice(ctx, d.Code)
		if getErr != nil || key == "" || !sameDevice(existing, d) {
			_ = c.Error(newProblem(http.StatusConflict, "device-exists", "Device code in use", "another device has the code "+d.Code))
			return
		}
		// The retry of a creation that succeeded: the same answer.
		created, err = existing, nil
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	v, err := s.viewDevice(c, ps, created)
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("Location", "/v1/devices/"+url.PathEscape(created.Code))
	writeJSON(c, http.StatusCreated, v)
}

// sameDevice reports whether a stored device is the one a creation asked for.
func sameDevice(stored, asked store.Device) bool {
	return stored.Account == asked.Account && stored.Category == asked.Category && stored.Model == asked.Model &&
		stored.Serial == asked.Serial && stored.ContactID == asked.ContactID && stored.CreatedBy == asked.CreatedBy
}

// derivedDeviceCode is the code a creation with an Idempotency-Key and no code gets: always the
// same for the caller and key.
func derivedDeviceCode(subject, key string) string {
	h := sha256.Sum256([]byte("device\n" + subject + "\n" + key))
	b := make([]byte, store.DeviceCodeLength)
	for i := range b {
		b[i] = store.DeviceCodeAlphabet[int(h[i])%len(store.DeviceCodeAlphabet)]
	}
	return string(b)
}

func (s *Server) getDevice(c *gin.Context) {
	ps, err := s.portalStore()
	if err != nil {
		_ = c.Error(err)
		return
	}
	d, err := ps.GetDevice(c.Request.Context(), c.Param("code"))
	if err != nil {
		_ = c.Error(err)
		return
	}
	v, err := s.viewDevice(c, ps, d)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, v)
}

// deviceQR answers with the PNG of the QR code that opens the device's page; size (pixels, 128
// to 1024, 256 by default) sets its width and height.
func (s *Server) deviceQR(c *gin.Context) {
	ps, err := s.portalStore()
	if err != nil {
		_ = c.Error(err)
		return
	}
	size := qrDefaultSize
	if q := c.Query("size"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 128 || n > 1024 {
			_ = c.Error(badRequest("size must be a number of pixels from 128 to 1024"))
			return
		}
		size = n
	}
	d, err := ps.GetDevice(c.Request.Context(), c.Param("code"))
	if err != nil {
		_ = c.Error(err)
		return
	}
	png, err := qrPNG(s.baseURL(c)+DevicePath+url.PathEscape(d.Code), size)
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("Content-Disposition", `inline; filename="device-`+d.Code+`.png"`)
	c.Header("Cache-Control", "private, max-age=300")
	c.Data(http.StatusOK, "image/png", png)
}
