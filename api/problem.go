package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/fieldflow/fieldflow/intake"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/workflows"
)

// Problem is an RFC 9457 problem document, the body of every error response.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Errors lists what is wrong: fields ({field, message}) for a request, or positions
	// ({file, line, column, message}) for a definition.
	Errors any `json:"errors,omitempty"`
}

// problemError is an error that knows its problem document.
type problemError struct {
	problem Problem
	// retryAfter, in seconds, is sent as Retry-After when set.
	retryAfter string
}

func (e *problemError) Error() string { return e.problem.Title + ": " + e.problem.Detail }

func newProblem(status int, slug, title, detail string) *problemError {
	return &problemError{problem: Problem{Type: "/problems/" + slug, Title: title, Status: status, Detail: detail}}
}

func badRequest(detail string) error {
	return newProblem(http.StatusBadRequest, "malformed-request", "Malformed request", detail)
}

func unauthorized(detail string) error {
	return newProblem(http.StatusUnauthorized, "unauthorized", "Not authenticated", detail)
}

func forbidden(detail string) error {
	return newProblem(http.StatusForbidden, "forbidden", "Not allowed for your role", detail)
}

func notFound(detail string) error {
	return newProblem(http.StatusNotFound, "not-found", "Not found", detail)
}

func invalidFields(fields ...process.FieldError) error {
	p := newProblem(http.StatusUnprocessableEntity, "invalid-fields", "Invalid fields", "one or more fields are invalid")
	p.problem.Errors = fields
	return p
}

// toProblem maps every error a handler can return to its problem document. It is the only place
// that decides statuses.
func toProblem(err error) *problemError {
	var pe *problemError
	if errors.As(err, &pe) {
		return pe
	}
	var dup *intake.ErrDuplicateRef
	if errors.As(err, &dup) {
		return newProblem(http.StatusConflict, "duplicate-reference", "Reference already used", dup.Error())
	}
	var perr *process.Error
	if errors.As(err, &perr) && perr.Code != process.CodeNotFound {
		if perr.Code == process.CodeForbidden {
			return newProblem(http.StatusForbidden, "forbidden", "Not allowed for you", perr.Message)
		}
		if perr.Code == process.CodeInvalid {
			p := newProblem(http.StatusUnprocessableEntity, "invalid-fields", "Invalid fields", perr.Message)
			p.problem.Errors = perr.Fields
			return p
		}
		return newProblem(http.StatusConflict, "not-allowed", "Action not allowed now", perr.Message)
	}
	switch {
	case perrNotFound(err):
		p := newProblem(http.StatusNotFound, "not-found", "Not found", err.Error())
		return p
	case errors.Is(err, store.ErrNotFound), errors.Is(err, workflows.ErrNotFound):
		return newProblem(http.StatusNotFound, "not-found", "Not found", "no such record")
	case errors.Is(err, store.ErrBadCursor):
		return newProblem(http.StatusBadRequest, "malformed-request", "Malformed request", "the cursor is not one this API handed out")
	case errors.Is(err, workflows.ErrUnavailable):
		p := newProblem(http.StatusServiceUnavailable, "unavailable", "Service unavailable", "the workflow service cannot be reached; try again shortly")
		p.retryAfter = "5"
		return p
	case store.Unavailable(err):
		p := newProblem(http.StatusServiceUnavailable, "unavailable", "Service unavailable", "the database cannot be reached; try again shortly")
		p.retryAfter = "5"
		return p
	}
	return newProblem(http.StatusInternalServerError, "internal", "Internal error", "something went wrong on our side; it has been logged")
}

// renderErrors writes the problem document of the last error a handler recorded with c.Error.
// Unknown errors are logged with the request; their text never reaches the client.
func renderErrors(log *zap.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if len(c.Errors) == 0 || c.Writer.Written() {
			return
		}
		err := c.Errors.Last().Err
		p := toProblem(err)
		if p.problem.Status >= 500 {
			log.Error("request failed", zap.String("method", c.Request.Method), zap.String("path", c.Request.URL.Path),
				zap.String("request_id", c.GetString(requestIDKey)), zap.Error(err))
		}
		writeProblem(c, p)
	}
}

func writeProblem(c *gin.Context, p *problemError) {
	if p.retryAfter != "" {
		c.Header("Retry-After", p.retryAfter)
	}
	if p.problem.Status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="fieldflow"`)
	}
	// Set before writeJSON, which keeps a Content-Type that is already there.
	c.Header("Content-Type", "application/problem+json")
	writeJSON(c, p.problem.Status, p.problem)
}

// perrNotFound reports an interpreter refusal for something the record does not have.
func perrNotFound(err error) bool {
	var perr *process.Error
	return errors.As(err, &perr) && perr.Code == process.CodeNotFound
}
