package devstack

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	tlog "go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/fieldflow/fieldflow/devstack/postgres"
)

// Namespace is the Temporal namespace the dev stack creates and uses.
const Namespace = "default"

// temporalServer is an embedded Temporal server persisting to one SQLite file or to PostgreSQL.
type temporalServer struct {
	server   temporal.Server
	hostPort string
}

// temporalStorage is where the embedded server keeps its state.
type temporalStorage struct {
	temporalChoice
	// SQLiteFile is the database file of the SQLite store.
	SQLiteFile string
	// DatabaseURL is a database on the PostgreSQL server of the Postgres store; the server's
	// databases are named after it.
	DatabaseURL string
}

// persistence creates the schema and the namespace when the store is new and returns the server's
// persistence configuration.
func (s temporalStorage) persistence(ctx context.Context) (config.Persistence, error) {
	var defaultStore, visibility *config.SQL
	switch s.Store {
	case TemporalStoreSQLite:
		defaultStore = &config.SQL{
			PluginName:   sqliteplugin.PluginName,
			DatabaseName: s.SQLiteFile,
			ConnectAttributes: map[string]string{
				"mode":          "rwc",
				"_journal_mode": "wal",
				"_synchronous":  "2", // FULL: an acknowledged write survives a kill -9
			},
		}
		visibility = defaultStore
		if _, err := os.Stat(s.SQLiteFile); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(filepath.Dir(s.SQLiteFile), 0o755); err != nil {
				return config.Persistence{}, fmt.Errorf("temporal: %w", err)
			}
			if err := sqlite.SetupSchema(defaultStore); err != nil {
				return config.Persistence{}, fmt.Errorf("temporal: set up the SQLite schema in %s: %w", s.SQLiteFile, err)
			}
		}
		if err := forgetMembers(s.SQLiteFile); err != nil {
			return config.Persistence{}, err
		}
	case TemporalStorePostgres:
		var err error
		if defaultStore, visibility, err = postgresStores(ctx, s.DatabaseURL); err != nil {
			return config.Persistence{}, err
		}
	default:
		return config.Persistence{}, fmt.Errorf("temporal: unknown store %q", s.Store)
	}
	ns, err := sqlite.NewNamespaceConfig("active", Namespace, false, nil)
	if err != nil {
		return config.Persistence{}, fmt.Errorf("temporal: namespace config: %w", err)
	}
	// Despite its package, CreateNamespaces writes through the SQL plugin the configuration names.
	if err := sqlite.CreateNamespaces(defaultStore, ns); err != nil {
		return config.Persistence{}, fmt.Errorf("temporal: create namespace %s: %w", Namespace, err)
	}
	p := config.Persistence{
		DefaultStore:     "default",
		VisibilityStore:  "default",
		NumHistoryShards: s.HistoryShards,
		DataStores:       map[string]config.DataStore{"default": {SQL: defaultStore}},
	}
	if visibility != defaultStore {
		p.VisibilityStore = "visibility"
		p.DataStores["visibility"] = config.DataStore{SQL: visibility}
	}
	return p, nil
}

// startTemporal starts a Temporal server on 127.0.0.1:port with its state in storage, creating the
// schema and the namespace when the store is new. The history, matching and worker services and the
// membership protocol listen on free ports.
func startTemporal(ctx context.Context, storage temporalStorage, port int, logger *zap.Logger) (*temporalServer, error) {
	persistenceCfg, err := storage.persistence(ctx)
	if err != nil {
		return nil, err
	}

	hostPort := "127.0.0.1:" + strconv.Itoa(port)
	services := map[string]config.Service{}
	for i, name := range []string{"frontend", "history", "matching", "worker"} {
		grpcPort := port
		if i > 0 {
			if grpcPort, err = postgres.FreePort(); err != nil {
				return nil, err
			}
		}
		membershipPort, err := postgres.FreePort()
		if err != nil {
			return nil, err
		}
		services[name] = config.Service{RPC: config.RPC{GRPCPort: grpcPort, MembershipPort: membershipPort, BindOnIP: "127.0.0.1"}}
	}
	metricsPort, err := postgres.FreePort()
	if err != nil {
		return nil, err
	}
	cfg := &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: "127.0.0.1"},
			Metrics: &metrics.Config{Prometheus: &metrics.PrometheusConfig{
				ListenAddress: "127.0.0.1:" + strconv.Itoa(metricsPort), HandlerPath: "/metrics",
			}},
		},
		Persistence: persistenceCfg,
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        "active",
			CurrentClusterName:       "active",
			ClusterInformation: map[string]cluster.ClusterInformation{
				"active": {Enabled: true, InitialFailoverVersion: 1, RPCAddress: hostPort},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services:            services,
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		PublicClient: config.PublicClient{HostPort: hostPort},
	}
	server, err := temporal.NewServer(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithLogger(tlog.NewZapLogger(logger)),
		temporal.WithDynamicConfigClient(dynamicConfig()),
	)
	if err != nil {
		return nil, fmt.Errorf("temporal: %w", err)
	}
	if err := server.Start(); err != nil {
		return nil, fmt.Errorf("temporal: start: %w", err)
	}
	return &temporalServer{server: server, hostPort: hostPort}, nil
}

// forgetMembers empties the cluster membership table. The file belongs to this process alone, so
// every member in it is a dead one left by an earlier run; after a kill -9 the server would
// otherwise try to reach them and answer "not enough hosts" for about forty seconds.
func forgetMembers(dbFile string) error {
	db, err := sql.Open("sqlite", "file:"+dbFile)
	if err != nil {
		return fmt.Errorf("temporal: open %s: %w", dbFile, err)
	}
	defer db.Close()
	if _, err := db.Exec("DELETE FROM cluster_membership"); err != nil {
		return fmt.Errorf("temporal: clear stale cluster members in %s: %w", dbFile, err)
	}
	return nil
}

// dynamicConfig tunes the embedded server for one machine.
func dynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// Search attributes added at start-up are usable at once.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
		// The default (20) delays every workflow task that is not an update by about 50 ms.
		dynamicconfig.TransferProcessorMaxPollRPS.Key(): 10000,
		dynamicconfig.TimerProcessorMaxPollRPS.Key():    10000,
		// Visibility (search attributes, list filters) catches up without delay.
		dynamicconfig.VisibilityProcessorMaxPollRPS.Key():         10000,
		dynamicconfig.FrontendEnableUpdateWorkflowExecution.Key(): true,
		// The history service keeps up to 128,000 open runs' mutable state in memory by default;
		// on one machine that is most of the memory 10,000 open requests cost. Runs outside the
		// cache are read from the database on their next task.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): 4096,
	}
}

func (t *temporalServer) stop() error {
	return t.server.Stop()
}

// newServerLogger is the logger the Temporal server writes to: warnings and errors only, the
// server is chatty. The returned level silences it while it shuts down, when it reports its own
// services going away as errors.
func newServerLogger(base *zap.Logger) (*zap.Logger, zap.AtomicLevel) {
	level := zap.NewAtomicLevelAt(zap.WarnLevel)
	if !base.Core().Enabled(zap.WarnLevel) {
		// The base logs errors only (--log-level error): raising it to warn is not possible.
		level = zap.NewAtomicLevelAt(zap.ErrorLevel)
	}
	// A fatal error inside the server (a port taken meanwhile, say) panics instead of calling
	// os.Exit, so the reason and the stack reach the output instead of vanishing with the process.
	return base.Named("temporal").WithOptions(zap.IncreaseLevel(level), zap.WithFatalHook(zapcore.WriteThenPanic)), level
}
