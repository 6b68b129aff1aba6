// Package devstack runs the whole of Fieldflow in one process for development and tests: a private
// PostgreSQL cluster (unless DATABASE_URL is given), an embedded Temporal server persisting to that
// PostgreSQL server or to a SQLite file (Config.TemporalStore), the Temporal UI, the worker, the HTTP API and the SMTP intake of the service mailboxes. All state lives in one data directory,
// so a restart — even after kill -9 — finds everything again.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/fieldflow/fieldflow/api"
	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/devstack/postgres"
	"github.com/fieldflow/fieldflow/intake"
	"github.com/fieldflow/fieldflow/mailintake"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/worker"
	"github.com/fieldflow/fieldflow/workflows"
)

// Config says where the stack keeps its data and where it listens. A port of 0 picks a free one.
type Config struct {
	DataDir        string
	DefinitionsDir string
	// DatabaseURL uses an existing PostgreSQL database instead of a private cluster.
	DatabaseURL  string
	HTTPAddr     string
	TemporalPort int
	UIPort       int
	Logger       *zap.Logger
	// Mail configures the worker's email (see worker.MailFromEnv); no email is sent when unset.
	Mail func(*worker.Dependencies)
	// MailIntakeAddr is where the SMTP intake of the service mailboxes listens ("127.0.0.1:0"
	// picks a free port); "" runs none.
	MailIntakeAddr string
	// MetricsAddr is where the Prometheus /metrics of the API and the worker (one registry) are
	// served ("127.0.0.1:0" picks a free port); "" records none.
	MetricsAddr string
	// TemporalStore is where the embedded Temporal server persists: TemporalStorePostgres (the
	// PostgreSQL server above, databases <db>_temporal and <db>_temporal_visibility) or
	// TemporalStoreSQLite (temporal.db in DataDir). "" keeps the data dir's store, and gives a new
	// data dir DefaultTemporalStore. The data dir records its store; another one is an error.
	TemporalStore string
	// TemporalHistoryShards is the number of history shards of a new Temporal store (0: 1). It
	// cannot change for an existing one.
	TemporalHistoryShards int
	// PostgresPort is the port of the private PostgreSQL cluster (0 picks a free one at every
	// start). A fixed port lets separate `fieldflow api` and `fieldflow worker` processes keep one
	// DATABASE_URL across restarts of the stack.
	PostgresPort int
	// NoAPI, NoWorker and NoUI leave those parts out: with all three the stack is only the shared
	// services (PostgreSQL and Temporal), for separate api and worker processes. NoAPI also leaves
	// out the SMTP intake, which the API serves.
	NoAPI, NoWorker, NoUI bool
}

// Stack is a running development stack.
type Stack struct {
	// APIURL, UIURL and TemporalAddress are where the parts listen.
	APIURL          string
	UIURL           string
	TemporalAddress string
	DatabaseURL     string
	// TemporalStore is where Temporal persists (TemporalStoreSQLite or TemporalStorePostgres).
	TemporalStore string
	// MailIntakeAddr is the address of the SMTP intake ("" when it does not run).
	MailIntakeAddr string
	// MetricsURL is where the metrics are scraped ("" when none are recorded).
	MetricsURL string
	// Keys signs tokens the API accepts.
	Keys *auth.Keys
	// Registry holds the definitions; Reload publishes an edited folder.
	Registry *api.Registry

	log      *zap.Logger
	pg       *postgres.Cluster
	temporal *temporalServer
	ui       *uiServer
	client   client.Client
	worker   sdkworker.Worker
	store    *store.Store
	http     *http.Server
	mail     *mailintake.Server
	metrics  *api.MetricsServer
	errs     chan error

	serverLogLevel zap.AtomicLevel
}

// Start brings every part up and returns once the API serves. On error, whatever started is
// stopped again.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	// Before the embedded server's system worker makes the SDK's one workflow cache.
	worker.ApplyStickyCacheSize()
	// Fail fast on a malformed definition, before anything starts.
	if _, err := process.LoadDir(cfg.DefinitionsDir); err != nil {
		return nil, fmt.Errorf("definitions in %s:\n%w", cfg.DefinitionsDir, err)
	}
	secret, err := auth.LoadSecret(cfg.DataDir, true)
	if err != nil {
		return nil, err
	}
	keys, err := auth.NewKeys(secret)
	if err != nil {
		return nil, err
	}
	// A company identity provider (FIELDFLOW_OIDC_*), when one is configured; one that cannot be
	// reached yet is logged, and its keys fetched again on the first token.
	idp, err := keys.TrustIssuerFromEnv(ctx, func(err error) { log.Warn("identity provider keys", zap.Error(err)) })
	if err != nil {
		return nil, err
	}
	if idp != nil {
		log.Info("trusting the tokens of an identity provider", zap.String("issuer", idp.Issuer), zap.String("jwks", idp.JWKSURL))
	}
	temporalStore, err := chooseTemporalStore(cfg.DataDir, cfg.TemporalStore, cfg.TemporalHistoryShards)
	if err != nil {
		return nil, err
	}
	var httpListener net.Listener
	if !cfg.NoAPI {
		if httpListener, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("api: listen on %s (choose another with --http): %w", cfg.HTTPAddr, err)
		}
	}
	s := &Stack{Keys: keys, log: log, errs: make(chan error, 4), DatabaseURL: cfg.DatabaseURL, TemporalStore: temporalStore.Store}
	defer func() {
		if err != nil {
			if httpListener != nil {
				_ = httpListener.Close()
			}
			s.Stop()
		}
	}()
	// One registry for the API and the worker; its listener opens first, so a taken port fails fast.
	var (
		metricsRegistry *prometheus.Registry
		temporalMetrics client.MetricsHandler
	)
	if cfg.MetricsAddr != "" {
		metricsRegistry = api.NewMetricsRegistry()
		if temporalMetrics, err = api.TemporalMetrics(metricsRegistry); err != nil {
			return nil, err
		}
		if s.metrics, err = api.ListenMetrics(cfg.MetricsAddr, metricsRegistry); err != nil {
			return nil, fmt.Errorf("%w (choose another with --metrics, or \"\" for none)", err)
		}
		s.MetricsURL = s.metrics.URL()
		go func() {
			if err := s.metrics.Serve(); err != nil {
				s.errs <- err
			}
		}()
	}
	temporalPort := cfg.TemporalPort
	if temporalPort == 0 {
		if temporalPort, err = postgres.FreePort(); err != nil {
			return nil, err
		}
	}
	uiPort := cfg.UIPort
	if uiPort == 0 {
		if uiPort, err = postgres.FreePort(); err != nil {
			return nil, err
		}
	}

	// PostgreSQL and Temporal start side by side; Temporal persisting to PostgreSQL waits for it.
	g, gctx := errgroup.WithContext(ctx)
	databaseUp := make(chan struct{})
	g.Go(func() error {
		if s.DatabaseURL == "" {
			pg, err := postgres.Start(gctx, filepath.Join(cfg.DataDir, "postgres"), postgres.Options{Durable: true, Port: cfg.PostgresPort})
			if err != nil {
				return err
			}
			s.pg = pg
			s.DatabaseURL = pg.URL()
		}
		close(databaseUp)
		if _, err := store.Migrate(gctx, s.DatabaseURL); err != nil {
			return err
		}
		st, err := store.Open(gctx, s.DatabaseURL)
		if err != nil {
			return err
		}
		s.store = st
		s.Registry, err = api.NewRegistry(gctx, cfg.DefinitionsDir, st, log.Named("definitions"))
		return err
	})
	g.Go(func() error {
		serverLog, level := newServerLogger(log)
		s.serverLogLevel = level
		storage := temporalStorage{temporalChoice: temporalStore, SQLiteFile: filepath.Join(cfg.DataDir, "temporal.db")}
		if storage.Store == TemporalStorePostgres {
			select {
			case <-databaseUp:
				storage.DatabaseURL = s.DatabaseURL
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		ts, err := startTemporal(gctx, storage, temporalPort, serverLog)
		if err != nil {
			return err
		}
		s.temporal = ts
		s.TemporalAddress = ts.hostPort
		c, err := workflows.Dial(gctx, ts.hostPort, Namespace, log, func(o *client.Options) { o.MetricsHandler = temporalMetrics })
		if err != nil {
			return err
		}
		s.client = c
		if err := workflows.WaitForServer(gctx, c); err != nil {
			return err
		}
		if err := workflows.RegisterSearchAttributes(gctx, c, Namespace); err != nil {
			return err
		}
		return keepClosedRuns(gctx, c)
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}

	if !cfg.NoUI {
		if s.ui, err = startUI(ctx, uiPort, s.TemporalAddress); err != nil {
			return nil, err
		}
		s.UIURL = "http://127.0.0.1:" + strconv.Itoa(uiPort)
	}

	baseURL := "http://" + cfg.HTTPAddr
	if httpListener != nil {
		baseURL = "http://" + httpListener.Addr().String()
	}
	deps := worker.Dependencies{Store: s.store, BaseURL: baseURL, Keys: keys}
	if cfg.Mail != nil {
		cfg.Mail(&deps)
	}
	if !cfg.NoWorker {
		// On Stop the worker lets running activities (an email being sent) finish first.
		s.worker = worker.New(s.client, deps, sdkworker.Options{WorkerStopTimeout: workerDrain})
		if err := s.worker.Start(); err != nil {
			return nil, fmt.Errorf("worker: start: %w", err)
		}
	}
	if cfg.NoAPI {
		return s, nil
	}

	wf := workflows.NewClient(s.client, s.store)
	intakeService := &intake.Service{Catalog: s.Registry, Store: s.store, Workflows: wf}
	apiConfig := api.Config{
		Logger: log.Named("api"), Keys: keys, Workflows: wf, Store: s.store, Registry: s.Registry,
		Intake: intakeService,
		Mailer: deps.Mailer, MailFrom: deps.MailFrom, PublicURL: deps.BaseURL,
	}
	if metricsRegistry != nil {
		apiConfig.Metrics = metricsRegistry
	}
	handler := api.New(apiConfig)
	if cfg.MailIntakeAddr != "" {
		s.mail, err = mailintake.Listen(cfg.MailIntakeAddr, mailintake.Config{
			Catalog: s.Registry, Intake: intakeService, Store: s.store, Logger: log.Named("mailintake"),
		})
		if err != nil {
			return nil, fmt.Errorf("%w (choose another with --smtp-intake, or \"\" for none)", err)
		}
		s.MailIntakeAddr = s.mail.Addr()
		go func() {
			if err := s.mail.Serve(); err != nil {
				s.errs <- fmt.Errorf("mail intake: %w", err)
			}
		}()
	}
	s.http = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	s.APIURL = "http://" + httpListener.Addr().String()
	go func() {
		if err := s.http.Serve(httpListener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errs <- fmt.Errorf("api: %w", err)
		}
	}()
	return s, nil
}

// Err delivers an error when a part of the stack fails after start.
func (s *Stack) Err() <-chan error { return s.errs }

// AdminToken signs a token with every role, for the developer at the keyboard.
func (s *Stack) AdminToken(ttl time.Duration) (string, error) {
	return s.Keys.Issue(auth.Principal{Subject: "admin", Roles: []auth.Role{auth.RoleAdmin, auth.RoleSupervisor, auth.RoleAgent}}, ttl, time.Now())
}

// Client is the stack's Temporal client.
func (s *Stack) Client() client.Client { return s.client }

// Stop shuts every part down, the API and the mail intake first and PostgreSQL last.
func (s *Stack) Stop() {
	if s.mail != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.mail.Close(ctx)
		cancel()
	}
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.http.Shutdown(ctx)
		cancel()
	}
	if s.worker != nil {
		s.worker.Stop()
	}
	if s.metrics != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.metrics.Close(ctx)
		cancel()
	}
	if s.ui != nil {
		s.ui.stop()
	}
	if s.client != nil {
		s.client.Close()
	}
	if s.temporal != nil {
		s.serverLogLevel.SetLevel(zap.FatalLevel)
		if err := s.temporal.stop(); err != nil {
			s.log.Warn("stop temporal", zap.Error(err))
		}
	}
	if s.store != nil {
		s.store.Close()
	}
	if s.pg != nil {
		if err := s.pg.Stop(); err != nil {
			s.log.Warn("stop postgres", zap.Error(err))
		}
	}
}

// workerDrain is how long Stop waits for the worker's running activities.
const workerDrain = 10 * time.Second

// closedRunRetention is how long the dev server keeps finished runs visible in the UI.
const closedRunRetention = 30 * 24 * time.Hour

// keepClosedRuns raises the namespace's retention, so closed requests stay in the Temporal UI.
func keepClosedRuns(ctx context.Context, c client.Client) error {
	desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: Namespace})
	if err != nil {
		return fmt.Errorf("temporal: describe namespace: %w", err)
	}
	if desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() >= closedRunRetention {
		return nil
	}
	// Only the retention: fields left unset are not changed.
	cfg := &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(closedRunRetention)}
	if _, err := c.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{Namespace: Namespace, Config: cfg}); err != nil {
		return fmt.Errorf("temporal: set retention: %w", err)
	}
	return nil
}
