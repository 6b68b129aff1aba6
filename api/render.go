package api

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
)

// writeJSON answers with v as JSON followed by a newline, so answers read well in a terminal. A
// Content-Type already set (application/problem+json) is kept.
func writeJSON(c *gin.Context, status int, v any) {
	c.Render(status, jsonLine{v})
}

type jsonLine struct{ v any }

func (j jsonLine) Render(w http.ResponseWriter) error {
	j.WriteContentType(w)
	// Encode writes what Marshal gives plus the newline, in one Write, from a pooled buffer: no
	// copy of the body, and nothing written when v cannot be encoded.
	return json.NewEncoder(w).Encode(j.v)
}

func (jsonLine) WriteContentType(w http.ResponseWriter) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
}
