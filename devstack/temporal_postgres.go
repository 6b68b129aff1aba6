package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/persistence"
	pgplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	temporalschema "go.temporal.io/server/schema"
	pgschema "go.temporal.io/server/schema/postgresql/v12"
)

// The stores the embedded Temporal server can persist to.
const (
	// TemporalStoreSQLite keeps Temporal's state in one SQLite file, temporal.db in the data dir.
	TemporalStoreSQLite = "sqlite"
	// TemporalStorePostgres keeps it in two databases of the stack's PostgreSQL server, next to
	// Fieldflow's own: <db>_temporal and <db>_temporal_visibility.
	TemporalStorePostgres = "postgres"
	// DefaultTemporalStore is the store of a new data dir (see BENCHMARKS.md, "Temporal persistence
	// in dev"). A data dir keeps the store it was created with.
	DefaultTemporalStore = TemporalStorePostgres
)

// temporalChoice is what a data dir records about its Temporal persistence, in temporal.json. The
// store and the number of history shards cannot change once the server has written state.
type temporalChoice struct {
	Store         string `json:"store"`
	HistoryShards int32  `json:"history_shards"`
}

const temporalChoiceFile = "temporal.json"

// chooseTemporalStore returns the data dir's Temporal store: the recorded one; SQLite for a data
// dir from before the choice was recorded (it has temporal.db); otherwise the one asked for (the
// default when ""), which is recorded. Asking for another store than the recorded one is an error:
// starting on an empty store would silently lose every run.
func chooseTemporalStore(dataDir, want string, shards int) (temporalChoice, error) {
	if want != "" && want != TemporalStoreSQLite && want != TemporalStorePostgres {
		return temporalChoice{}, fmt.Errorf("temporal: unknown store %q (sqlite or postgres)", want)
	}
	file := filepath.Join(dataDir, temporalChoiceFile)
	var have temporalChoice
	raw, err := os.ReadFile(file)
	switch {
	case err == nil:
		if err := json.Unmarshal(raw, &have); err != nil {
			return temporalChoice{}, fmt.Errorf("temporal: read %s: %w", file, err)
		}
	case errors.Is(err, os.ErrNotExist):
		if _, err := os.Stat(filepath.Join(dataDir, "temporal.db")); err == nil {
			have = temporalChoice{Store: TemporalStoreSQLite, HistoryShards: 1}
		}
	default:
		return temporalChoice{}, fmt.Errorf("temporal: %w", err)
	}
	if have.Store != "" {
		if have.HistoryShards == 0 {
			have.HistoryShards = 1
		}
		if want != "" && want != have.Store {
			return temporalChoice{}, fmt.Errorf("temporal: the data dir %s keeps Temporal's state in %s, not %s: drop the store option (--temporal-store) or use a new data dir", dataDir, have.Store, want)
		}
		if shards != 0 && int32(shards) != have.HistoryShards {
			return temporalChoice{}, fmt.Errorf("temporal: the data dir %s has %d history shards, not %d: the number cannot change; use a new data dir", dataDir, have.HistoryShards, shards)
		}
	} else {
		have = temporalChoice{Store: want, HistoryShards: int32(shards)}
		if have.Store == "" {
			have.Store = DefaultTemporalStore
		}
		if have.HistoryShards == 0 {
			have.HistoryShards = 1
		}
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return temporalChoice{}, fmt.Errorf("temporal: %w", err)
	}
	out, _ := json.Marshal(have)
	if !bytes.Equal(bytes.TrimSpace(raw), out) {
		if err := os.WriteFile(file, append(out, '\n'), 0o644); err != nil {
			return temporalChoice{}, fmt.Errorf("temporal: record the store: %w", err)
		}
	}
	return have, nil
}

// postgresStores creates the Temporal databases on the server of databaseURL when they are missing,
// sets up or updates their schemas, forgets the cluster members of earlier runs and returns the
// persistence configuration of the default and the visibility store. The databases are named after
// the URL's database, so each Fieldflow database has its own Temporal state.
func postgresStores(ctx context.Context, databaseURL string) (defaultStore, visibility *config.SQL, _ error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("temporal: parse the database URL: %w", err)
	}
	base := strings.TrimPrefix(u.Path, "/")
	if base == "" {
		base = "postgres"
	}
	sqlCfg := func(db string) *config.SQL {
		password, _ := u.User.Password()
		attrs := map[string]string{}
		for k, v := range u.Query() {
			attrs[k] = v[0]
		}
		if attrs["sslmode"] == "" {
			attrs["sslmode"] = "prefer"
		}
		host := u.Host
		if u.Port() == "" {
			host += ":5432"
		}
		return &config.SQL{
			PluginName: pgplugin.PluginNamePGX, DatabaseName: db, ConnectAddr: host, ConnectProtocol: "tcp",
			User: u.User.Username(), Password: password, ConnectAttributes: attrs,
			MaxConns: 20, MaxIdleConns: 20, MaxConnLifetime: time.Hour,
		}
	}
	dbURL := func(db string) string {
		v := *u
		v.Path = "/" + db
		return v.String()
	}
	for _, s := range []struct{ db, schema, version string }{
		{base + "_temporal", "postgresql/v12/temporal", pgschema.Version},
		{base + "_temporal_visibility", "postgresql/v12/visibility", pgschema.VisibilityVersion},
	} {
		if err := createDatabase(ctx, databaseURL, s.db); err != nil {
			return nil, nil, err
		}
		if err := setupSchema(ctx, dbURL(s.db), s.db, s.schema, s.version); err != nil {
			return nil, nil, fmt.Errorf("temporal: schema of %s: %w", s.db, err)
		}
	}
	// The databases belong to this stack alone: every member left in them is a dead one of an
	// earlier run (see forgetMembers).
	conn, err := pgx.Connect(ctx, dbURL(base+"_temporal"))
	if err != nil {
		return nil, nil, fmt.Errorf("temporal: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DELETE FROM cluster_membership"); err != nil {
		return nil, nil, fmt.Errorf("temporal: clear stale cluster members: %w", err)
	}
	return sqlCfg(base + "_temporal"), sqlCfg(base + "_temporal_visibility"), nil
}

func createDatabase(ctx context.Context, serverURL, name string) error {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return fmt.Errorf("temporal: connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("temporal: look for database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("temporal: create database %s (the role needs CREATEDB, or create it beforehand): %w", name, err)
	}
	return nil
}

// setupSchema does what Temporal's temporal-sql-tool does for PostgreSQL, with the server's own
// embedded schema files (that tool's Go package needs a module this one does not require): a new
// database gets schema.sql and the current version in one transaction (setup-schema); an existing
// one gets the versioned updates newer than its version (update-schema). The version tables are the
// tool's, so it can take over later.
func setupSchema(ctx context.Context, dbURL, dbName, schemaName, version string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS schema_version(version_partition INT not null, db_name VARCHAR(255) not null, creation_time TIMESTAMP, curr_version VARCHAR(64), min_compatible_version VARCHAR(64), PRIMARY KEY (version_partition, db_name))`,
		`CREATE TABLE IF NOT EXISTS schema_update_history(version_partition INT not null, year int not null, month int not null, update_time TIMESTAMP not null, description VARCHAR(255), manifest_md5 VARCHAR(64), new_version VARCHAR(64), old_version VARCHAR(64), PRIMARY KEY (version_partition, year, month, update_time))`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return err
		}
	}
	var current string
	err = conn.QueryRow(ctx, `SELECT curr_version FROM schema_version WHERE version_partition = 0 AND db_name = $1`, dbName).Scan(&current)
	if errors.Is(err, pgx.ErrNoRows) {
		stmts, err := schemaStatements(path.Join(schemaName, "schema.sql"))
		if err != nil {
			return err
		}
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			for _, stmt := range stmts {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("%q: %w", stmt, err)
				}
			}
			return recordVersion(ctx, tx, dbName, "0", version, version, "initial version")
		})
	}
	if err != nil {
		return err
	}
	if compareVersions(current, version) >= 0 {
		return nil
	}
	// update-schema: each newer version directory in order, as the tool runs them (not in a
	// transaction: some create indexes concurrently).
	dir := path.Join(schemaName, "versioned")
	entries, err := fs.ReadDir(temporalschema.Assets(), dir)
	if err != nil {
		return err
	}
	var versions []string
	for _, e := range entries {
		v := strings.TrimPrefix(e.Name(), "v")
		if e.IsDir() && compareVersions(v, current) > 0 && compareVersions(v, version) <= 0 {
			versions = append(versions, v)
		}
	}
	sort.Slice(versions, func(i, j int) bool { return compareVersions(versions[i], versions[j]) < 0 })
	for _, v := range versions {
		raw, err := fs.ReadFile(temporalschema.Assets(), path.Join(dir, "v"+v, "manifest.json"))
		if err != nil {
			return err
		}
		var m struct {
			MinCompatibleVersion string
			Description          string
			SchemaUpdateCqlFiles []string
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("manifest of %s: %w", v, err)
		}
		for _, f := range m.SchemaUpdateCqlFiles {
			stmts, err := schemaStatements(path.Join(dir, "v"+v, f))
			if err != nil {
				return err
			}
			for _, stmt := range stmts {
				if _, err := conn.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("update to %s: %q: %w", v, stmt, err)
				}
			}
		}
		if err := recordVersion(ctx, conn, dbName, current, v, m.MinCompatibleVersion, m.Description); err != nil {
			return err
		}
		current = v
	}
	return nil
}

func schemaStatements(file string) ([]string, error) {
	raw, err := fs.ReadFile(temporalschema.Assets(), file)
	if err != nil {
		return nil, err
	}
	return persistence.LoadAndSplitQueryFromReaders([]io.Reader{bytes.NewReader(raw)})
}

func recordVersion(ctx context.Context, db interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, dbName, from, to, minCompatible, desc string) error {
	now := time.Now().UTC()
	if _, err := db.Exec(ctx, `INSERT INTO schema_version(version_partition, db_name, creation_time, curr_version, min_compatible_version) VALUES (0, $1, $2, $3, $4)
		ON CONFLICT (version_partition, db_name) DO UPDATE SET creation_time = excluded.creation_time, curr_version = excluded.curr_version, min_compatible_version = excluded.min_compatible_version`,
		dbName, now, to, minCompatible); err != nil {
		return err
	}
	_, err := db.Exec(ctx, `INSERT INTO schema_update_history(version_partition, year, month, update_time, old_version, new_version, manifest_md5, description) VALUES (0, $1, $2, $3, $4, $5, '', $6)`,
		now.Year(), int(now.Month()), now, from, to, desc)
	return err
}

// compareVersions compares dotted version numbers ("1.9" < "1.19").
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}
