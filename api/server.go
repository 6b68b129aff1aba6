// Package api is Fieldflow's HTTP API (Gin): authentication, binding, mapping requests to
// interpreter actions, and one error renderer that answers every failure with a problem document.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/intake"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
)

// Workflows starts runs and sends them actions (implemented by *workflows.Client).
type Workflows interface {
	StartServiceRequest(ctx context.Context, q *process.Queue, in process.NewServiceRequest, actor string, at time.Time) (process.ServiceRequest, error)
	ActOnServiceRequest(ctx context.Context, id string, a process.Action, updateID string) (process.ServiceRequest, error)
	MigrateServiceRequest(ctx context.Context, id string, q *process.Queue, stages map[string]string, actor, updateID string) (process.ServiceRequest, error)
	SignalServiceRequest(ctx context.Context, id string, a process.Action) error
	ActOnWorkOrder(ctx context.Context, id string, a process.Action, updateID string) (process.WorkOrder, error)
	CheckHealth(ctx context.Context) error
}

// Store reads projections and hands out numbers (implemented by *store.Store).
type Store interface {
	NextNumber(ctx context.Context, recordID, scope string) (int64, error)
	GetServiceRequest(ctx context.Context, id string) (process.ServiceRequest, error)
	ListServiceRequests(ctx context.Context, f store.ServiceRequestFilter) (store.ServiceRequestPage, error)
	ListServiceRequestEvents(ctx context.Context, id string, afterSeq int64, limit int) ([]process.Event, error)
	GetDefinition(ctx context.Context, version string) (store.Definition, error)
	ListDefinitionVersions(ctx context.Context, key string) ([]store.Definition, error)
	ListTodo(ctx context.Context, user string, groups, roles []string) ([]store.TodoItem, error)
	GetTodoItem(ctx context.Context, id string) (store.TodoItem, error)
	GetWorkOrder(ctx context.Context, id string) (process.WorkOrder, error)
	ListWorkOrders(ctx context.Context, f store.WorkOrderFilter) (store.WorkOrderPage, error)
	ListWorkOrderEvents(ctx context.Context, id string, afterSeq int64, limit int) ([]process.Event, error)
	ListPool(ctx context.Context, groups, roles []string) ([]store.TodoItem, error)
	SaveAttachment(ctx context.Context, f store.StoredFile) error
	GetAttachment(ctx context.Context, recordID, id string) (store.StoredFile, error)
	DeleteAttachment(ctx context.Context, id string) error
	ReportSummary(ctx context.Context, f store.ReportFilter) ([]store.QueueSummary, error)
	ReportAnalysis(ctx context.Context, f store.ReportFilter) ([]store.PriorityAnalysis, error)
	Ping(ctx context.Context) error
}

// Config holds what the API depends on.
type Config struct {
	Logger    *zap.Logger
	Keys      *auth.Keys
	Workflows Workflows
	Store     Store
	// Registry holds the current definitions.
	Registry *Registry
	// Now is the clock for numbering; time.Now when nil.
	Now func() time.Time
	// ActionTimeout bounds how long an action waits for its run; 30s when zero.
	ActionTimeout time.Duration
	// Intake creates work orders for every channel.
	Intake *intake.Service
	// Mailer sends the mail the API sends itself (portal sign-in codes); nil: none is sent.
	Mailer Mailer
	// MailFrom is the sender of that mail.
	MailFrom string
	// PublicURL is where customers reach this API (links in mail, QR codes); the request's own
	// host when empty.
	PublicURL string
	// TokenRate is how many /v1 requests a second each caller (a token's subject) may send;
	// zero reads FIELDFLOW_TOKEN_RATE (default 20), negative disables the limit.
	TokenRate float64
	// TokenBurst is how many requests a caller may send at once; zero reads
	// FIELDFLOW_TOKEN_BURST (default 40).
	TokenBurst int
	// Metrics receives the API's request metrics (fieldflow_http_*); nil records none.
	Metrics prometheus.Registerer
}

// Mailer sends one message (implemented by activities.SMTPMailer).
type Mailer interface {
	Send(ctx context.Context, from string, to []string, msg []byte) error
}

// Server is the HTTP API.
type Server struct {
	cfg    Config
	engine *gin.Engine
	// idempotencyTTL is how long Idempotency-Keys are remembered (read once, at start).
	idempotencyTTL time.Duration
}

// New builds the API's routes.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ActionTimeout == 0 {
		cfg.ActionTimeout = 30 * time.Second
	}
	if cfg.Intake == nil {
		// Work orders arrive through the intake service; build it from the API's own parts.
		st, okStore := cfg.Store.(intake.Store)
		wf, okWorkflows := cfg.Workflows.(intake.Starter)
		if okStore && okWorkflows && cfg.Registry != nil {
			cfg.Intake = &intake.Service{Catalog: cfg.Registry, Store: st, Workflows: wf, Now: cfg.Now}
		}
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	cfg.TokenRate, cfg.TokenBurst = tokenRateSettings(cfg.TokenRate, cfg.TokenBurst)
	s := &Server{cfg: cfg, engine: e, idempotencyTTL: idempotencyTTL()}
	e.Use(requestID(), httpMetrics(cfg.Metrics, cfg.Logger), securityHeaders(), logRequests(cfg.Logger), recoverPanics(cfg.Logger), renderErrors(cfg.Logger), s.authorize)
	e.NoRoute(func(c *gin.Context) { _ = c.Error(notFound("no route " + c.Request.Method + " " + c.Request.URL.Path)) })
	e.NoMethod(func(c *gin.Context) {
		_ = c.Error(newProblem(http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed", c.Request.Method+" is not allowed on "+c.Request.URL.Path))
	})

	e.GET("/healthz", s.healthz)
	e.GET(OpenAPIPath, s.openAPI)
	e.GET("/readyz", s.readyz)
	approvals := newApprovalPages(s)
	e.GET(auth.ApprovalPath+":token", approvals.limit, approvals.approvalPageGet)
	e.POST(auth.ApprovalPath+":token", approvals.limit, approvals.approvalPagePost)

	v1 := e.Group("/v1", s.limitPerToken(), s.idempotent)
	v1.POST("/service-requests", s.createServiceRequest)
	v1.GET("/service-requests", s.listServiceRequests)
	v1.GET("/service-requests/:id", s.getServiceRequest)
	v1.PATCH("/service-requests/:id", s.patchServiceRequest)
	v1.POST("/service-requests/:id/take-over", s.takeOverServiceRequest)
	v1.POST("/service-requests/:id/assign", s.assignServiceRequest)
	v1.GET("/service-requests/:id/events", s.listServiceRequestEvents)
	v1.POST("/service-requests/:id/progress", s.progressServiceRequest)
	v1.POST("/service-requests/:id/regress", s.regressServiceRequest)
	v1.POST("/service-requests/:id/close", s.closeServiceRequest)
	v1.POST("/service-requests/:id/approvals/:approvalId", s.decideApproval)
	v1.GET("/service-requests/:id/approvals/:approvalId/link", s.approvalLink)
	v1.POST("/service-requests/:id/notes", s.addNote)
	v1.PATCH("/service-requests/:id/notes/:itemId", s.updateNote)
	v1.DELETE("/service-requests/:id/notes/:itemId", s.deleteNote)
	v1.POST("/service-requests/:id/charges", s.addCharge)
	v1.PATCH("/service-requests/:id/charges/:itemId", s.updateCharge)
	v1.DELETE("/service-requests/:id/charges/:itemId", s.removeCharge)
	v1.POST("/service-requests/:id/activities", s.addActivity)
	v1.POST("/service-requests/:id/convert", s.convertServiceRequest)
	v1.GET("/service-requests/:id/print", s.printServiceRequest)
	v1.POST("/service-requests/:id/attachments", s.addAttachment)
	v1.GET("/service-requests/:id/attachments/:itemId", s.sendAttachment)
	v1.POST("/service-requests/:id/email", s.emailServiceRequest)
	v1.GET("/reports/service-requests/summary", s.reportSummary)
	v1.GET("/reports/service-requests/analysis", s.reportAnalysis)
	v1.GET("/todo", s.todo)
	v1.POST("/todo/:itemId/complete", s.completeTodo)
	v1.POST("/service-requests/:id/migrate", s.migrateServiceRequest)
	s.workOrderRoutes(v1)
	s.apiTokenRoutes(v1)
	s.invitationRoutes(v1)
	s.ratingDataRoutes(v1)
	s.ratingRoutes(e)
	s.deviceRoutes(v1, e)
	s.portalRoutes(e)
	s.groupRoutes(v1)

	v1.GET("/definitions", s.listDefinitions)
	v1.GET("/definitions/:key", s.getDefinition)
	v1.POST("/definitions/validate", s.validateDefinition)
	v1.POST("/definitions/reload", s.reloadDefinitions)
	return s
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// Routes lists every route as "METHOD /path", for the contract tests.
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.engine.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

const requestIDKey = "request_id"

// requestID takes the caller's X-Request-ID or makes one, and echoes it.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-ID")
		if id == "" || len(id) > 128 {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Set(requestIDKey, id)
		c.Header("X-Request-ID", id)
		c.Next()
	}
}

// logRequests writes one zap line per request.
func logRequests(log *zap.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		fields := []zap.Field{
			zap.String("method", c.Request.Method),
			zap.String("path", c.Request.URL.Path),
			zap.Int("status", c.Writer.Status()),
			zap.Duration("latency", time.Since(start)),
			zap.String("request_id", c.GetString(requestIDKey)),
		}
		if p, ok := principalOf(c); ok {
			fields = append(fields, zap.String("sub", p.Subject))
		}
		switch {
		case c.Writer.Status() >= 500:
			log.Warn("request", fields...)
		case c.Request.URL.Path == "/healthz" || c.Request.URL.Path == "/readyz":
			log.Debug("request", fields...)
		default:
			log.Info("request", fields...)
		}
	}
}

// recoverPanics turns a panic in a handler into a logged 500 problem.
func recoverPanics(log *zap.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic in handler", zap.Any("panic", r), zap.String("path", c.Request.URL.Path), zap.Stack("stack"))
				c.Abort()
				writeProblem(c, toProblem(fmt.Errorf("panic: %v", r)))
			}
		}()
		c.Next()
	}
}

func (s *Server) healthz(c *gin.Context) {
	writeJSON(c, http.StatusOK, gin.H{"status": "ok"})
}

// readyz reports whether Temporal and Postgres answer.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	checks := gin.H{}
	ready := true
	for name, check := range map[string]func(context.Context) error{
		"temporal": s.cfg.Workflows.CheckHealth,
		"postgres": s.cfg.Store.Ping,
	} {
		if err := check(ctx); err != nil {
			checks[name] = err.Error()
			ready = false
		} else {
			checks[name] = "ok"
		}
	}
	if !ready {
		c.Header("Retry-After", "5")
		writeJSON(c, http.StatusServiceUnavailable, gin.H{"status": "unavailable", "checks": checks})
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"status": "ready", "checks": checks})
}
