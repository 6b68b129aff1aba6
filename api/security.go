package api

import "github.com/gin-gonic/gin"

// securityHeaders sets the headers every answer carries: no MIME sniffing, no framing (the HTML
// forms cannot be clickjacked), no referrer by default (pages that need one set their own), and no
// caching of API answers that hold customer data.
func securityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if len(c.Request.URL.Path) >= 4 && c.Request.URL.Path[:4] == "/v1/" {
			h.Set("Cache-Control", "no-store")
		}
		c.Next()
	}
}
