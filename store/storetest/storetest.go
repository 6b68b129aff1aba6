// Package storetest gives tests a real, private PostgreSQL: one cluster per test binary, started
// from the local server binaries, and a fresh migrated database per test, cloned from a template.
package storetest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/devstack/postgres"
	"github.com/fieldflow/fieldflow/store"
)

const template = "fieldflow_template"

var (
	cluster *postgres.Cluster
	counter atomic.Int64
)

// Main starts the cluster, runs the tests and stops it. Call it from TestMain.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "fieldflow-pg-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// When the tests run as root the server runs as the postgres user, which must reach the folder.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		return 1
	}
	cluster, err = postgres.Start(ctx, dir, postgres.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		return 1
	}
	defer func() { _ = cluster.Stop() }()
	if err := exec(ctx, "CREATE DATABASE "+template); err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		return 1
	}
	if _, err := store.Migrate(ctx, urlOf(template)); err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		return 1
	}
	return m.Run()
}

// URL creates a fresh, migrated database for the test and returns its connection string.
func URL(t testing.TB) string {
	t.Helper()
	if cluster == nil {
		t.Fatal("storetest: call storetest.Main from TestMain")
	}
	name := fmt.Sprintf("test_%d_%s", counter.Add(1), sanitize(t.Name()))
	require.NoError(t, exec(context.Background(), fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, template)))
	return urlOf(name)
}

// New opens a store on a fresh, migrated database, closed when the test ends.
func New(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), URL(t))
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func urlOf(db string) string {
	return strings.Replace(cluster.URL(), "/"+postgres.Database+"?", "/"+db+"?", 1)
}

func exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, cluster.URL())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func sanitize(name string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(name) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	return b.String()
}
