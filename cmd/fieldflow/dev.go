package main

import (
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/fieldflow/fieldflow/devstack"
	"github.com/fieldflow/fieldflow/internal/env"
	"github.com/fieldflow/fieldflow/worker"
)

func devCommand(g *globals) *cobra.Command {
	var (
		httpAddr     string
		temporalPort int
		uiPort       int
		definitions  string
		smtpIntake   string
		metricsAddr  string
		tstore       string
		tshards      int
		pgPort       int
		noAPI        bool
		noWorker     bool
		noUI         bool
		servicesOnly bool
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything in one process: PostgreSQL, Temporal, the Temporal UI, the worker, the API and the SMTP intake",
		Long: `Runs the whole stack in one process, with all state under --data-dir:
a private PostgreSQL cluster (unless DATABASE_URL is set), an embedded Temporal server persisting
to that PostgreSQL server (or to a SQLite file: --temporal-store), the Temporal UI, the worker,
the HTTP API and the SMTP intake of the service mailboxes (mail to a Mailbox definition's address
becomes a work order). Stop it with Ctrl-C; start it again
and everything is where it was.

--services-only (or --no-api, --no-worker, --no-ui one by one) leaves parts out: with it the
process runs only PostgreSQL and Temporal, and separate "fieldflow api" and "fieldflow worker"
processes connect to them (DATABASE_URL and --temporal-address from the banner, --data-dir for the
token secret). Give --postgres-port so that DATABASE_URL stays the same across restarts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := g.log
			started := time.Now()
			if servicesOnly {
				noAPI, noWorker, noUI = true, true, true
			}
			if !cmd.Flags().Changed("metrics") && env.Or("FIELDFLOW_METRICS_ADDR", "") == "" {
				metricsAddr = devMetricsAddr(metricsAddr)
			}
			stack, err := devstack.Start(cmd.Context(), devstack.Config{
				DataDir:        g.dataDir,
				DefinitionsDir: definitions,
				DatabaseURL:    env.Or("DATABASE_URL", ""),
				HTTPAddr:       httpAddr,
				TemporalPort:   temporalPort,
				UIPort:         uiPort,
				Logger:         log,
				Mail:           worker.MailFromEnv,
				MailIntakeAddr: smtpIntake,
				MetricsAddr:    metricsAddr,
				TemporalStore:  tstore,
				// A new data dir's history shards; an existing one keeps its number.
				TemporalHistoryShards: tshards,
				PostgresPort:          pgPort,
				NoAPI:                 noAPI,
				NoWorker:              noWorker,
				NoUI:                  noUI,
			})
			if err != nil {
				return err
			}
			defer stack.Stop()
			token, err := stack.AdminToken(24 * time.Hour)
			if err != nil {
				return err
			}
			dataDir, _ := filepath.Abs(g.dataDir)
			mailIntake := "off (--smtp-intake)"
			if stack.MailIntakeAddr != "" {
				mailIntake = "smtp://" + stack.MailIntakeAddr + " (mail to a service mailbox becomes a work order)"
			}
			metrics := "off (--metrics)"
			if stack.MetricsURL != "" {
				metrics = stack.MetricsURL + " (Prometheus, the API's and the worker's)"
			}
			apiURL, uiURL := stack.APIURL, stack.UIURL
			if noAPI {
				apiURL, mailIntake = "off (--no-api)", "off (--no-api)"
			}
			if noUI {
				uiURL = "off (--no-ui)"
			}
			workerState := "running"
			if noWorker {
				workerState = "off (--no-worker)"
			}
			fmt.Fprintf(cmd.OutOrStdout(), `
Fieldflow is ready (%s).

  API          %s
  Worker       %s
  Temporal UI  %s
  Temporal     %s (namespace %s, persisting to %s)
  PostgreSQL   %s
  SMTP intake  %s
  Metrics      %s
  Data         %s

Admin token (24 hours):
  export TOKEN=%s

`, time.Since(started).Round(time.Millisecond), apiURL, workerState, uiURL, stack.TemporalAddress, devstack.Namespace, stack.TemporalStore, stack.DatabaseURL, mailIntake, metrics, dataDir, token)
			log.Info("fieldflow dev started", zap.String("api", stack.APIURL), zap.String("ui", stack.UIURL), zap.String("smtp_intake", stack.MailIntakeAddr), zap.String("metrics", stack.MetricsURL))
			if !noAPI {
				go reloadOnHangup(cmd.Context(), stack.Registry, log)
			}
			select {
			case <-cmd.Context().Done():
				log.Info("stopping")
				return nil
			case err := <-stack.Err():
				return err
			}
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http", "127.0.0.1:8080", "address of the HTTP API")
	cmd.Flags().IntVar(&temporalPort, "temporal-port", 7233, "port of the embedded Temporal frontend (0 picks a free one)")
	cmd.Flags().IntVar(&uiPort, "ui-port", 8233, "port of the Temporal UI (0 picks a free one)")
	cmd.Flags().StringVar(&definitions, "definitions", "definitions", "folder of process definitions")
	cmd.Flags().StringVar(&smtpIntake, "smtp-intake", envOr("FIELDFLOW_SMTP_INTAKE", "127.0.0.1:2525"), "address of the SMTP intake of the service mailboxes; \"\" for none (env FIELDFLOW_SMTP_INTAKE)")
	cmd.Flags().StringVar(&metricsAddr, "metrics", envOr("FIELDFLOW_METRICS_ADDR", defaultDevMetricsAddr), "address of the Prometheus /metrics listener of the API and the worker; \"\" for none (env FIELDFLOW_METRICS_ADDR)")
	cmd.Flags().StringVar(&tstore, "temporal-store", "", "where the embedded Temporal server persists in a new data dir: postgres (databases next to Fieldflow's) or sqlite (temporal.db); default: the data dir's store, postgres for a new one")
	cmd.Flags().IntVar(&tshards, "temporal-history-shards", 0, "history shards of a new data dir's Temporal store (default 1; cannot change later)")
	cmd.Flags().IntVar(&pgPort, "postgres-port", 0, "port of the private PostgreSQL cluster (default: a free one at every start)")
	cmd.Flags().BoolVar(&noAPI, "no-api", false, "run no HTTP API (and no SMTP intake)")
	cmd.Flags().BoolVar(&noWorker, "no-worker", false, "run no worker")
	cmd.Flags().BoolVar(&noUI, "no-ui", false, "run no Temporal UI")
	cmd.Flags().BoolVar(&servicesOnly, "services-only", false, "run only PostgreSQL and Temporal, for separate api and worker processes (--no-api --no-worker --no-ui)")
	return cmd
}

// defaultDevMetricsAddr is where `fieldflow dev` serves /metrics unless told otherwise.
const defaultDevMetricsAddr = "127.0.0.1:9464"

// devMetricsAddr is the default metrics address, or a free port when something else holds it (a
// second dev stack): metrics that were not asked for must not stop the stack from starting.
func devMetricsAddr(addr string) string {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "127.0.0.1:0"
	}
	_ = l.Close()
	return addr
}
