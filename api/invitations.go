package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	qrcode "github.com/skip2/go-qrcode"
)

// invitationRoutes serve the rating invitation's QR code, which the engineer shows the customer on
// site (the invitation's "qr" channel).
func (s *Server) invitationRoutes(v1 *gin.RouterGroup) {
	v1.GET("/work-orders/:id/rating/qr.png", s.ratingQR)
}

// ratingQR answers a PNG QR code of the signed rating link of the order's open rating: 409 when
// no rating with an invitation is open. The link is signed afresh on every call and works until
// the rating node closes; it is a credential, so the answer is not cached.
func (s *Server) ratingQR(c *gin.Context) {
	size := qrDefaultSize
	if q := c.Query("size"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 128 || n > 1024 {
			_ = c.Error(badRequest("size must be a number of pixels from 128 to 1024"))
			return
		}
		size = n
	}
	wo := orderOf(c)
	if wo.Rating == nil || wo.Rating.Invitation == "" {
		_ = c.Error(newProblem(http.StatusConflict, "not-allowed", "Action not allowed now",
			"work order "+wo.Number+" has no open rating with an invitation"))
		return
	}
	link, _, err := s.cfg.Keys.RatingURL(s.baseURL(c), wo.ID, wo.Rating.Invitation, s.cfg.Now(), wo.Rating.ClosesAt)
	if err != nil {
		_ = c.Error(err)
		return
	}
	png, err := qrPNG(link, size)
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("Content-Disposition", `inline; filename="rating-`+wo.Number+`.png"`)
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "image/png", png)
}

// qrDefaultSize is a QR code's side in pixels unless ?size= asks otherwise: a signed rating link
// needs a version-13 code (77 modules with the quiet zone), which wants at least 5 pixels a module
// to scan reliably.
const qrDefaultSize = 512

// qrPNG renders content as a QR code of at most size pixels a side, every module a whole number of
// pixels: a size that does not divide into the modules would make some a pixel wider than others,
// which scanners (and the tests' decoder) misread now and then.
func qrPNG(content string, size int) ([]byte, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	modules := len(q.Bitmap()) // with the quiet zone
	return q.PNG(-max(1, size/modules))
}
