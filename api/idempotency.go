package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"mime"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/fieldflow/fieldflow/store"
)

// idempotencyStore keeps the Idempotency-Keys of POST requests and their answers (implemented by
// *store.Store).
type idempotencyStore interface {
	BeginIdempotent(ctx context.Context, r store.IdempotentRequest, ttl, stale time.Duration) (store.IdempotencyRecord, bool, error)
	CompleteIdempotent(ctx context.Context, r store.IdempotentRequest, status int, contentType, location string, body []byte) error
	TouchIdempotent(ctx context.Context, r store.IdempotentRequest) error
	ReleaseIdempotent(ctx context.Context, r store.IdempotentRequest) error
	DeleteIdempotencyKeysBefore(ctx context.Context, t time.Time) (int64, error)
}

// lastIdempotencySweep is when expired keys were last deleted (Unix nanoseconds).
var lastIdempotencySweep atomic.Int64

// sweepIdempotencyKeys deletes the expired keys of every caller, at most every ten minutes (in the
// request that finds the last sweep too old: one indexed DELETE); a key is also dropped when its own
// caller reuses it after it expired.
func (s *Server) sweepIdempotencyKeys(ctx context.Context, is idempotencyStore, ttl time.Duration) {
	now := time.Now()
	last := lastIdempotencySweep.Load()
	if now.UnixNano()-last < int64(10*time.Minute) || !lastIdempotencySweep.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := is.DeleteIdempotencyKeysBefore(ctx, now.Add(-ttl)); err != nil {
		s.cfg.Logger.Warn("delete expired idempotency keys", zap.Error(err))
	}
}

const (
	// defaultIdempotencyTTL is how long a key is remembered when FIELDFLOW_IDEMPOTENCY_TTL is unset.
	defaultIdempotencyTTL = 24 * time.Hour
	// maxIdempotencyKeyLen bounds the Idempotency-Key header.
	maxIdempotencyKeyLen = 255
	// maxIdempotentBody is the largest request body hashed: the largest any endpoint accepts (an
	// upload). A larger one goes to the handler untouched, which rejects it.
	maxIdempotentBody = maxAttachmentBytes + 64<<10
	// maxReplayedBody is the largest answer kept for replay; a larger one is not kept.
	maxReplayedBody = 4 << 20
	// idempotencyHeartbeat is how often a request that runs touches its pending key, and
	// idempotencyStale how long a pending key may go untouched before a retry takes it over (its
	// process died: killed, or cut off from PostgreSQL). A takeover while the first request is in
	// fact still running meets the deterministic record ids and update IDs.
	idempotencyHeartbeat = 5 * time.Second
	idempotencyStale     = 4 * idempotencyHeartbeat
)

// idempotencyTTL is FIELDFLOW_IDEMPOTENCY_TTL (a Go duration such as 24h or 90m), 24h when unset
// or not a positive duration.
func idempotencyTTL() time.Duration {
	if v := os.Getenv("FIELDFLOW_IDEMPOTENCY_TTL"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
	}
	return defaultIdempotencyTTL
}

// finalStatus tells whether an answer is kept and replayed for its key. Outcomes that leave the
// caller free to try again with the same key are not kept: server errors (5xx), and refusals that
// changed nothing and may succeed later (401, 403, 408, 409, 425, 429).
func finalStatus(status int) bool {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestTimeout, http.StatusConflict,
		http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return status >= 200 && status < 500
}

// idempotent makes a POST with an Idempotency-Key happen once per caller and key. It runs after
// authenticate. The first request runs and its final answer (status, content type, Location and
// body) is kept; a retry with the same key and the same request (method, path and body) gets that
// answer again with Idempotent-Replayed: true; the same key with another request is a 422; a retry
// while the first still runs is a 409 with Retry-After. Keys expire after FIELDFLOW_IDEMPOTENCY_TTL.
// Deterministic record ids and update IDs derived from the key stay as the second line of defence.
func (s *Server) idempotent(c *gin.Context) {
	key := c.GetHeader("Idempotency-Key")
	if c.Request.Method != http.MethodPost || key == "" {
		c.Next()
		return
	}
	is, ok := s.cfg.Store.(idempotencyStore)
	p, signedIn := principalOf(c)
	if !ok || !signedIn {
		c.Next()
		return
	}
	if len(key) > maxIdempotencyKeyLen {
		_ = c.Error(badRequest("the Idempotency-Key header may have at most 255 characters"))
		c.Abort()
		return
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxIdempotentBody+1))
	if err != nil {
		_ = c.Error(badRequest("the body could not be read"))
		c.Abort()
		return
	}
	if len(body) > maxIdempotentBody {
		// Too large for any endpoint: the handler reads it again and rejects it.
		c.Request.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), c.Request.Body), c.Request.Body}
		c.Next()
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))

	req := store.IdempotentRequest{
		Principal: p.Subject, Key: key, Method: c.Request.Method, Path: c.Request.URL.RequestURI(),
		Hash: requestHash(c.Request, body),
	}
	ctx := context.WithoutCancel(c.Request.Context())
	ttl := s.idempotencyTTL
	s.sweepIdempotencyKeys(ctx, is, ttl)
	rec, first, err := is.BeginIdempotent(ctx, req, ttl, idempotencyStale)
	if err != nil {
		s.cfg.Logger.Error("idempotency key", zap.Error(err), zap.String("request_id", c.GetString(requestIDKey)))
		pe := newProblem(http.StatusServiceUnavailable, "unavailable", "Service unavailable", "the idempotency store cannot be reached; try again shortly")
		pe.retryAfter = "5"
		_ = c.Error(pe)
		c.Abort()
		return
	}
	if !first {
		switch {
		case !bytes.Equal(rec.Hash, req.Hash):
			_ = c.Error(newProblem(http.StatusUnprocessableEntity, "idempotency-key-reused", "Idempotency-Key reused",
				"this Idempotency-Key was used for another request ("+rec.Method+" "+rec.Path+" with another body); use a new key for a new request"))
		case !rec.Completed:
			pe := newProblem(http.StatusConflict, "idempotency-key-in-use", "Request in progress",
				"a request with this Idempotency-Key is still running; retry shortly to get its answer")
			pe.retryAfter = "1"
			_ = c.Error(pe)
		default:
			if rec.ContentType != "" {
				c.Header("Content-Type", rec.ContentType)
			}
			if rec.Location != "" {
				c.Header("Location", rec.Location)
			}
			c.Header("Idempotent-Replayed", "true")
			c.Status(rec.Status)
			if len(rec.Body) > 0 {
				_, _ = c.Writer.Write(rec.Body)
			} else {
				c.Writer.WriteHeaderNow()
			}
		}
		c.Abort()
		return
	}

	// First: run the handler, capture its answer, keep it when final, release the key otherwise
	// (also when the handler panics). While it runs, the key is touched so that it is not taken
	// for the key of a dead process.
	alive := make(chan struct{})
	go func() {
		tick := time.NewTicker(idempotencyHeartbeat)
		defer tick.Stop()
		for {
			select {
			case <-alive:
				return
			case <-tick.C:
				if err := is.TouchIdempotent(ctx, req); err != nil {
					s.cfg.Logger.Warn("touch idempotency key", zap.Error(err))
				}
			}
		}
	}()
	defer close(alive)
	done := false
	defer func() {
		if !done {
			if err := is.ReleaseIdempotent(ctx, req); err != nil {
				s.cfg.Logger.Warn("release idempotency key", zap.Error(err))
			}
		}
	}()
	w := &capturingWriter{ResponseWriter: c.Writer}
	c.Writer = w
	c.Next()
	c.Writer = w.ResponseWriter
	if len(c.Errors) > 0 && !w.Written() {
		// Render a client error here so its body is kept; server errors are left to renderErrors.
		if pe := toProblem(c.Errors.Last().Err); pe.problem.Status < 500 {
			c.Writer = w
			writeProblem(c, pe)
			c.Writer = w.ResponseWriter
		}
	}
	status := w.Status()
	if !finalStatus(status) || w.overflow || (len(c.Errors) > 0 && !w.Written()) {
		return
	}
	if err := is.CompleteIdempotent(ctx, req, status, w.Header().Get("Content-Type"), w.Header().Get("Location"), w.body.Bytes()); err != nil {
		// The answer went out; a retry runs again and meets the deterministic ids and update IDs.
		s.cfg.Logger.Warn("complete idempotency key", zap.Error(err))
		return
	}
	done = true
}

// requestHash is the SHA-256 of the method, path (with query) and body. The boundary of a multipart
// body is left out: clients pick a new one for every attempt.
func requestHash(r *http.Request, body []byte) []byte {
	h := sha256.New()
	io.WriteString(h, r.Method+" "+r.URL.RequestURI()+"\n")
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && params["boundary"] != "" && len(mt) > 10 && mt[:10] == "multipart/" {
		body = bytes.ReplaceAll(body, []byte(params["boundary"]), []byte("boundary"))
	}
	h.Write(body)
	return h.Sum(nil)
}

// capturingWriter passes the answer through and keeps a copy of its body.
type capturingWriter struct {
	gin.ResponseWriter
	body     bytes.Buffer
	overflow bool
}

func (w *capturingWriter) keep(b []byte) {
	if w.overflow || w.body.Len()+len(b) > maxReplayedBody {
		w.overflow = true
		return
	}
	w.body.Write(b)
}

func (w *capturingWriter) Write(b []byte) (int, error) {
	w.keep(b)
	return w.ResponseWriter.Write(b)
}

func (w *capturingWriter) WriteString(s string) (int, error) {
	w.keep([]byte(s))
	return w.ResponseWriter.WriteString(s)
}
