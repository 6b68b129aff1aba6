// Command fieldflow runs Fieldflow: the whole stack for development (dev), or its parts for
// production (api, worker, migrate), and the tools around it (token, defs).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fieldflow:", err)
		os.Exit(1)
	}
}

// globals are the flags every command shares.
type globals struct {
	dataDir   string
	logLevel  string
	logFormat string
	// log is built from the flags before any command runs.
	log *zap.Logger
}

// run builds the command tree and executes it with args.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	g := &globals{}
	root := &cobra.Command{
		Use:           "fieldflow",
		Short:         "Fieldflow runs service requests and work orders as durable Temporal workflows",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) (err error) {
			g.log, err = g.logger(stderr)
			return err
		},
		PersistentPostRun: func(*cobra.Command, []string) { _ = g.log.Sync() },
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&g.dataDir, "data-dir", envOr("FIELDFLOW_DATA_DIR", ".fieldflow"), "directory for local state: the dev database, Temporal's SQLite file and the dev JWT secret (env FIELDFLOW_DATA_DIR)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", envOr("FIELDFLOW_LOG_LEVEL", "info"), "debug, info, warn or error (env FIELDFLOW_LOG_LEVEL)")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", envOr("FIELDFLOW_LOG_FORMAT", "console"), "console or json (env FIELDFLOW_LOG_FORMAT)")
	root.AddCommand(devCommand(g), apiCommand(g), workerCommand(g), migrateCommand(g), tokenCommand(g), defsCommand(g), benchCommand(g), soakCommand(g))
	return root.ExecuteContext(ctx)
}

// logger builds the zap logger the flags ask for.
func (g *globals) logger(stderr io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(g.logLevel)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	switch g.logFormat {
	case "json":
		enc = zapcore.NewJSONEncoder(encCfg)
	case "console":
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(encCfg)
	default:
		return nil, fmt.Errorf("--log-format must be console or json, not %q", g.logFormat)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(stderr), level)), nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// tempDataDir makes a new temporary data directory that PostgreSQL can reach: when this runs as
// root, the stack's PostgreSQL runs as another user, and MkdirTemp makes directories only their
// owner may enter.
func tempDataDir(prefix string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}
