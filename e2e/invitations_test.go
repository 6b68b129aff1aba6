package e2e

import (
	"bytes"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/activities"
	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/devstack"
	"github.com/fieldflow/fieldflow/worker"
)

// smsGateway is a real HTTP server standing in for the SMS provider; it answers with status.
type smsGateway struct {
	mu     sync.Mutex
	status int
	got    []activities.TextMessage
}

func (g *smsGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m activities.TextMessage
	raw, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(raw, &m)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.got = append(g.got, m)
	w.WriteHeader(g.status)
}

func (g *smsGateway) setStatus(s int) { g.mu.Lock(); g.status = s; g.mu.Unlock() }

func (g *smsGateway) received() []activities.TextMessage {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]activities.TextMessage(nil), g.got...)
}

// withSMS makes the stack's worker send SMS through the gateway at url, keeping the email set by
// an earlier option; WeChat stays unconfigured.
func withSMS(url string) func(*devstack.Config) {
	return func(cfg *devstack.Config) {
		mail := cfg.Mail
		cfg.Mail = func(d *worker.Dependencies) {
			if mail != nil {
				mail(d)
			}
			d.SMS = activities.HTTPTextSender{URL: url, Token: "sms-token"}
		}
	}
}

// TestRatingInvitationChannels drives repairs to their rating node, whose invitation goes out on
// [wechat, sms, email, qr] with channel priority. WeChat has no provider. While the SMS provider
// answers 502 the invitation goes out by email and the order's history records each channel;
// once it works, the SMS brings the signed rating link and no invitation email is sent. Staff
// who see the order get the link as a QR code to show on site.
func TestRatingInvitationChannels(t *testing.T) {
	gateway := &smsGateway{status: http.StatusBadGateway}
	srv := httptest.NewServer(gateway)
	t.Cleanup(srv.Close)
	box := startMailbox(t)
	stack := startStack(t, box.mailer, withSMS(srv.URL+"/sms"))
	anon := api{t: t, base: stack.APIURL}
	sam := anon.as(token(t, stack, "sam", auth.RoleSupervisor))
	dan := anon.as(token(t, stack, "dan", auth.RoleDispatcher))
	eve := anon.as(groupToken(t, stack.Keys, "eve", []string{"hvac"}, auth.RoleEngineer))
	sam.must(http.StatusCreated, "POST", "/v1/groups", map[string]any{"key": "hvac", "title": "HVAC engineers"})
	sam.must(http.StatusCreated, "PUT", "/v1/groups/hvac/members/eve", map[string]any{})

	// (a) The SMS provider fails: the email goes out, and the history says why not by SMS.
	first, firstNumber := repairAtRating(t, dan, eve, "ada@example.com")
	invite := invitationEvent(t, dan, first)
	require.Equal(t, "ada@example.com", invite["sentTo"])
	require.Equal(t, "sent to ada@example.com", invite["channel.email"])
	require.Equal(t, "failed: 502 from provider", invite["channel.sms"])
	require.Contains(t, invite["channel.wechat"], "failed: no WeChat provider configured")
	require.Equal(t, "not tried: email delivered first", invite["channel.qr"])
	mail := invitationMail(t, box, firstNumber)
	require.NotNil(t, mail, "the invitation email arrived")
	require.Equal(t, []string{"ada@example.com"}, mail.to)
	require.Contains(t, mail.body(t), stack.APIURL+"/rate/")
	require.True(t, smsTo(gateway, firstNumber), "the SMS provider was asked first")

	// The QR code of the open rating decodes to the signed rating link.
	qr := dan.do("GET", first+"/rating/qr.png", nil)
	require.Equal(t, http.StatusOK, qr.Status, qr.Raw)
	require.Equal(t, "image/png", qr.Header.Get("Content-Type"))
	link := decodeQR(t, []byte(qr.Raw))
	tok, ok := strings.CutPrefix(link, stack.APIURL+"/rate/")
	require.True(t, ok, link)
	orderID, inv, err := stack.Keys.VerifyRatingLink(tok)
	require.NoError(t, err)
	require.Equal(t, strings.TrimPrefix(first, "/v1/work-orders/"), orderID)
	require.Equal(t, invite["effect"], inv)
	eve.must(http.StatusOK, "GET", first, nil)
	require.Equal(t, http.StatusOK, eve.do("GET", first+"/rating/qr.png", nil).Status, "the engineer on the order shows it")
	outsider := anon.as(groupToken(t, stack.Keys, "olga", []string{"plumbers"}, auth.RoleEngineer))
	outsider.problem(http.StatusNotFound, "GET", first+"/rating/qr.png", nil)

	// (b) The SMS provider works: the SMS brings the link, and no invitation email is sent.
	gateway.setStatus(http.StatusOK)
	wo := dan.must(http.StatusCreated, "POST", "/v1/work-orders", map[string]any{
		"recordType": "repair", "subject": "Boiler leaking again", "device": map[string]any{"category": "hvac"},
		"contact": map[string]any{"name": "Bo", "email": "bo@example.com", "phone": "+44 20 7946 0001"},
	})
	dan.problem(http.StatusConflict, "GET", "/v1/work-orders/"+wo["id"].(string)+"/rating/qr.png", nil) // no rating open yet
	second, secondNumber := driveToRating(t, dan, eve, wo)
	invite = invitationEvent(t, dan, second)
	require.Equal(t, "+44 20 7946 0001", invite["sentTo"])
	require.Equal(t, "sent to +44 20 7946 0001", invite["channel.sms"])
	require.Equal(t, "not tried: sms delivered first", invite["channel.email"])
	var sms *activities.TextMessage
	for _, m := range gateway.received() {
		if strings.Contains(m.Subject, secondNumber) && strings.Contains(m.Subject, "How did we do") {
			sms = &m
		}
	}
	require.NotNil(t, sms, "the SMS provider got the invitation")
	require.Equal(t, "+44 20 7946 0001", sms.To)
	require.True(t, strings.HasPrefix(sms.Link, stack.APIURL+"/rate/"), sms.Link)
	require.Contains(t, sms.Text, sms.Link)
	require.Equal(t, invite["effect"].(string)+"."+strings.TrimPrefix(second, "/v1/work-orders/"), sms.Reference)
	require.Nil(t, invitationMail(t, box, secondNumber), "no invitation email")
}

// repairAtRating creates a repair for an hvac device and drives it to its rating node.
func repairAtRating(t *testing.T, dan, eve api, email string) (string, string) {
	t.Helper()
	wo := dan.must(http.StatusCreated, "POST", "/v1/work-orders", map[string]any{
		"recordType": "repair", "subject": "Boiler leaking", "device": map[string]any{"category": "hvac"},
		"contact": map[string]any{"name": "Ada", "email": email, "phone": "+44 20 7946 0000"},
	})
	return driveToRating(t, dan, eve, wo)
}

// driveToRating has eve accept the order and work through the checklist; it returns the order's
// path and number once the order is at its rating node.
func driveToRating(t *testing.T, dan, eve api, wo map[string]any) (string, string) {
	t.Helper()
	path := "/v1/work-orders/" + wo["id"].(string)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		offer, _ := dan.must(http.StatusOK, "GET", path, nil)["offer"].(map[string]any)
		require.NotNil(c, offer)
		require.Equal(c, "eve", offer["engineer"])
	}, 20*time.Second, 100*time.Millisecond)
	eve.must(http.StatusOK, "POST", path+"/accept", nil)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.Equal(c, "onsite", eve.must(http.StatusOK, "GET", path, nil)["node"])
	}, 20*time.Second, 100*time.Millisecond)
	eve.must(http.StatusOK, "POST", path+"/steps/arrive/complete", map[string]any{})
	eve.must(http.StatusOK, "POST", path+"/steps/diagnose/complete", map[string]any{"result": "worn-seal", "laborMinutes": 10})
	eve.must(http.StatusOK, "POST", path+"/steps/repair/complete", map[string]any{"laborMinutes": 30})
	status, body := uploadStep(t, eve, path+"/attachments", "photo", "unit.png", pngBytes(t))
	require.Equal(t, http.StatusCreated, status, "%v", body)
	done := eve.must(http.StatusOK, "POST", path+"/steps/photo/complete", map[string]any{})
	require.Equal(t, "rating", done["node"])
	require.NotEmpty(t, done["rating"].(map[string]any)["invitation"])
	return path, done["number"].(string)
}

// invitationEvent waits for the delivery event of the order's rating invitation and returns its
// details.
func invitationEvent(t *testing.T, a api, path string) map[string]any {
	t.Helper()
	var details map[string]any
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		details = nil
		for _, e := range a.must(http.StatusOK, "GET", path+"/events", nil)["items"].([]any) {
			ev := e.(map[string]any)
			d, _ := ev["details"].(map[string]any)
			if effect, _ := d["effect"].(string); strings.HasPrefix(effect, "invite:") {
				require.Equal(c, "notification_sent", ev["type"], "%v", d)
				details = d
			}
		}
		require.NotNil(c, details)
	}, 30*time.Second, 200*time.Millisecond)
	return details
}

// invitationMail is the rating invitation mailed for the order number, or nil.
func invitationMail(t *testing.T, box *mailbox, number string) *received {
	t.Helper()
	for _, m := range box.received() {
		if strings.Contains(m.data, "Subject: How did we do on "+number+"?") {
			return &m
		}
	}
	return nil
}

func smsTo(g *smsGateway, number string) bool {
	for _, m := range g.received() {
		if strings.Contains(m.Subject, number) && strings.Contains(m.Subject, "How did we do") {
			return true
		}
	}
	return false
}

func decodeQR(t *testing.T, data []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	require.NoError(t, err)
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true}) // a rendered code, not a photo
	require.NoError(t, err)
	return res.GetText()
}
