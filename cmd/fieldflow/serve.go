package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/fieldflow/fieldflow/api"
	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/intake"
	"github.com/fieldflow/fieldflow/internal/env"
	"github.com/fieldflow/fieldflow/mailintake"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/worker"
	"github.com/fieldflow/fieldflow/workflows"
)

// connections are the Temporal and Postgres settings of the api and worker commands.
type connections struct {
	temporalAddress string
	namespace       string
}

func (c *connections) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.temporalAddress, "temporal-address", envOr("TEMPORAL_ADDRESS", "127.0.0.1:7233"), "Temporal frontend host:port (env TEMPORAL_ADDRESS)")
	cmd.Flags().StringVar(&c.namespace, "namespace", envOr("TEMPORAL_NAMESPACE", "default"), "Temporal namespace (env TEMPORAL_NAMESPACE)")
}

func databaseURL() (string, error) {
	url := env.Or("DATABASE_URL", "")
	if url == "" {
		return "", errors.New("set DATABASE_URL to the PostgreSQL database, e.g. postgres://fieldflow:secret@db:5432/fieldflow")
	}
	return url, nil
}

// dial connects to Postgres and Temporal; metrics, when not nil, is the Temporal client's metrics
// handler.
func (c *connections) dial(ctx context.Context, log *zap.Logger, metrics client.MetricsHandler) (*store.Store, client.Client, error) {
	url, err := databaseURL()
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	tc, err := workflows.Dial(ctx, c.temporalAddress, c.namespace, log, func(o *client.Options) { o.MetricsHandler = metrics })
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, tc, nil
}

// processMetrics is a process's Prometheus registry and the listener serving it at /metrics.
type processMetrics struct {
	registry *prometheus.Registry
	server   *api.MetricsServer
	temporal client.MetricsHandler
}

// startMetrics serves the process's metrics at addr/metrics; with addr empty it returns nil and
// nothing is recorded. The listener fails alone: its errors are logged, the process goes on.
func startMetrics(addr string, log *zap.Logger) (*processMetrics, error) {
	if addr == "" {
		return nil, nil
	}
	reg := api.NewMetricsRegistry()
	temporal, err := api.TemporalMetrics(reg)
	if err != nil {
		return nil, err
	}
	srv, err := api.ListenMetrics(addr, reg)
	if err != nil {
		return nil, err
	}
	go func() {
		if err := srv.Serve(); err != nil {
			log.Error("metrics listener stopped", zap.Error(err))
		}
	}()
	log.Info("metrics listening", zap.String("url", srv.URL()))
	return &processMetrics{registry: reg, server: srv, temporal: temporal}, nil
}

// temporalHandler is the Temporal client's metrics handler; nil (the SDK's no-op) when off.
func (m *processMetrics) temporalHandler() client.MetricsHandler {
	if m == nil {
		return nil
	}
	return m.temporal
}

// stop closes the listener.
func (m *processMetrics) stop() {
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = m.server.Close(ctx)
}

// metricsFlag is the --metrics flag of the api and worker commands.
func metricsFlag(cmd *cobra.Command, addr *string) {
	cmd.Flags().StringVar(addr, "metrics", envOr("FIELDFLOW_METRICS_ADDR", ""), "address of the Prometheus /metrics listener, like :9464; off when empty (env FIELDFLOW_METRICS_ADDR)")
}

func apiCommand(g *globals) *cobra.Command {
	var (
		conn        connections
		httpAddr    string
		definitions string
		publicURL   string
		smtpIntake  string
		metricsAddr string
		drain       time.Duration
	)
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Serve the HTTP API against an existing Temporal server and PostgreSQL database",
		Long: `Serves the HTTP API against an existing Temporal server and PostgreSQL database. With
--smtp-intake it also runs the SMTP intake of the service mailboxes (Mailbox definitions): mail to
their addresses becomes work orders. The intake is off unless asked for, so only the replicas that
should receive mail listen for it. On SIGTERM or Ctrl-C it stops accepting connections and lets the
requests in flight finish, for up to --drain, before it exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			log := g.log
			if _, err := process.LoadDir(definitions); err != nil {
				return fmt.Errorf("definitions in %s:\n%w", definitions, err)
			}
			secret, err := auth.LoadSecret(g.dataDir, false)
			if err != nil {
				return err
			}
			keys, err := auth.NewKeys(secret)
			if err != nil {
				return err
			}
			if err := trustIdentityProvider(ctx, keys, log); err != nil {
				return err
			}
			metrics, err := startMetrics(metricsAddr, log)
			if err != nil {
				return err
			}
			defer metrics.stop()
			st, tc, err := conn.dial(ctx, log, metrics.temporalHandler())
			if err != nil {
				return err
			}
			defer st.Close()
			defer tc.Close()
			registry, err := api.NewRegistry(ctx, definitions, st, log.Named("definitions"))
			if err != nil {
				return err
			}
			go reloadOnHangup(ctx, registry, log)
			cfg := apiConfig(log, keys, workflows.NewClient(tc, st), st, registry, publicURL)
			if metrics != nil {
				cfg.Metrics = metrics.registry
			}
			srv := &http.Server{
				Addr:              httpAddr,
				ReadHeaderTimeout: 10 * time.Second,
				Handler:           api.New(cfg),
			}
			errs := make(chan error, 2)
			var mail *mailintake.Server
			if smtpIntake != "" {
				mail, err = mailintake.Listen(smtpIntake, mailintake.Config{
					Catalog: registry, Intake: cfg.Intake, Store: st, Logger: log.Named("mailintake"),
				})
				if err != nil {
					return err
				}
				go func() {
					if err := mail.Serve(); err != nil {
						errs <- fmt.Errorf("mail intake: %w", err)
					}
				}()
				log.Info("smtp intake listening", zap.String("addr", mail.Addr()))
			}
			go func() {
				if err := srv.ListenAndServe(); err != nil {
					errs <- fmt.Errorf("api: %w", err)
				}
			}()
			log.Info("api listening", zap.String("addr", httpAddr))
			select {
			case err := <-errs:
				return err
			case <-ctx.Done():
			}
			log.Info("stopping: draining the requests in flight", zap.Duration("drain", drain))
			shutdown, cancel := context.WithTimeout(context.Background(), drain)
			defer cancel()
			if mail != nil {
				_ = mail.Close(shutdown)
			}
			err = srv.Shutdown(shutdown)
			log.Info("api stopped", zap.Error(err))
			return err
		},
	}
	conn.flags(cmd)
	cmd.Flags().StringVar(&httpAddr, "http", envOr("FIELDFLOW_HTTP", ":8080"), "address of the HTTP API (env FIELDFLOW_HTTP)")
	cmd.Flags().StringVar(&publicURL, "public-url", envOr("FIELDFLOW_PUBLIC_URL", "http://localhost:8080"), "public address of the API, for links in mail and QR codes (env FIELDFLOW_PUBLIC_URL)")
	cmd.Flags().StringVar(&definitions, "definitions", envOr("FIELDFLOW_DEFINITIONS", "definitions"), "folder of process definitions (env FIELDFLOW_DEFINITIONS)")
	cmd.Flags().DurationVar(&drain, "drain", 40*time.Second, "on SIGTERM, how long requests in flight may take to finish before the API exits")
	cmd.Flags().StringVar(&smtpIntake, "smtp-intake", envOr("FIELDFLOW_SMTP_INTAKE", ""), "address of the SMTP intake of the service mailboxes, like :2525; off when empty (env FIELDFLOW_SMTP_INTAKE)")
	metricsFlag(cmd, &metricsAddr)
	return cmd
}

func workerCommand(g *globals) *cobra.Command {
	var (
		conn        connections
		definitions string
		baseURL     string
		metricsAddr string
		drain       time.Duration
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run the Temporal worker that executes Fieldflow's workflows and activities",
		Long: `Runs the Temporal worker that executes Fieldflow's workflows and activities. On SIGTERM or
Ctrl-C it stops taking tasks and lets the activities it is running finish (an email being sent, a
projection being written) for up to --drain before it exits; what is still running then is retried
by another worker after its timeout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			log := g.log
			// Runs carry their definitions pinned in their input, so the worker needs no folder; when
			// it has one it checks it, and refuses to start beside a malformed definition.
			if _, statErr := os.Stat(definitions); statErr == nil {
				if _, err := process.LoadDir(definitions); err != nil {
					return fmt.Errorf("definitions in %s:\n%w", definitions, err)
				}
			}
			// The worker signs the links contacts answer approvals through, with the API's secret.
			secret, err := auth.LoadSecret(g.dataDir, false)
			if err != nil {
				return err
			}
			keys, err := auth.NewKeys(secret)
			if err != nil {
				return err
			}
			metrics, err := startMetrics(metricsAddr, log)
			if err != nil {
				return err
			}
			defer metrics.stop()
			st, tc, err := conn.dial(ctx, log, metrics.temporalHandler())
			if err != nil {
				return err
			}
			defer st.Close()
			defer tc.Close()
			if err := workflows.RegisterSearchAttributes(ctx, tc, conn.namespace); err != nil {
				return err
			}
			deps := worker.Dependencies{Store: st, BaseURL: baseURL, Keys: keys}
			worker.MailFromEnv(&deps)
			w := worker.New(tc, deps, sdkworker.Options{WorkerStopTimeout: drain})
			log.Info("worker started", zap.String("task_queue", workflows.TaskQueue))
			err = w.Run(interruptOn(ctx))
			log.Info("worker stopped")
			return err
		},
	}
	conn.flags(cmd)
	cmd.Flags().StringVar(&definitions, "definitions", envOr("FIELDFLOW_DEFINITIONS", "definitions"), "folder of process definitions, checked at start (env FIELDFLOW_DEFINITIONS)")
	cmd.Flags().StringVar(&baseURL, "public-url", envOr("FIELDFLOW_PUBLIC_URL", "http://localhost:8080"), "public address of the API, for links in messages (env FIELDFLOW_PUBLIC_URL)")
	cmd.Flags().DurationVar(&drain, "drain", 30*time.Second, "on SIGTERM, how long running activities may take to finish before the worker exits")
	metricsFlag(cmd, &metricsAddr)
	return cmd
}

// reloadOnHangup reloads the definitions folder on SIGHUP; a folder with mistakes is refused and
// the definitions in use stay.
func reloadOnHangup(ctx context.Context, r *api.Registry, log *zap.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if _, err := r.Reload(ctx); err != nil {
				log.Error("definitions not reloaded; the previous ones stay in use", zap.Error(err))
			}
		}
	}
}

// interruptOn turns context cancellation into the channel the SDK worker stops on.
func interruptOn(ctx context.Context) <-chan any {
	ch := make(chan any)
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch
}

func migrateCommand(*globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations embedded in this binary to DATABASE_URL",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			url, err := databaseURL()
			if err != nil {
				return err
			}
			applied, err := store.Migrate(cmd.Context(), url)
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "the database is up to date")
			}
			for _, m := range applied {
				fmt.Fprintln(cmd.OutOrStdout(), "applied", m)
			}
			return nil
		},
	}
}

// apiConfig is the API's configuration in a running system: work orders are created through the
// intake service, mail goes out with the worker's SMTP settings (FIELDFLOW_SMTP_*).
func apiConfig(log *zap.Logger, keys *auth.Keys, wf *workflows.Client, st *store.Store, registry *api.Registry, publicURL string) api.Config {
	var mail worker.Dependencies
	worker.MailFromEnv(&mail)
	return api.Config{
		Logger: log.Named("api"), Keys: keys, Workflows: wf, Store: st, Registry: registry,
		Intake: &intake.Service{Catalog: registry, Store: st, Workflows: wf},
		Mailer: mail.Mailer, MailFrom: mail.MailFrom, PublicURL: publicURL,
	}
}

// trustIdentityProvider makes keys accept the tokens of the company identity provider configured
// by the FIELDFLOW_OIDC_* variables, if any. A provider that cannot be reached yet is logged, not
// fatal: its keys are fetched again on the first token and periodically.
func trustIdentityProvider(ctx context.Context, keys *auth.Keys, log *zap.Logger) error {
	idp, err := keys.TrustIssuerFromEnv(ctx, func(err error) {
		log.Warn("identity provider keys", zap.Error(err))
	})
	if err != nil {
		return err
	}
	if idp != nil {
		log.Info("trusting the tokens of an identity provider", zap.String("issuer", idp.Issuer), zap.String("jwks", idp.JWKSURL))
	}
	return nil
}
