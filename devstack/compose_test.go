package devstack

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/require"
)

// composeFile is the production docker-compose.yml at the repository root.
const composeFile = "../docker-compose.yml"

const testJWTSecret = "0123456789abcdef0123456789abcdef-compose-test"

// loadCompose loads docker-compose.yml as `docker compose` would, with env as the only
// environment: nothing leaks in from the OS or a .env file.
func loadCompose(t *testing.T, env ...string) (*types.Project, error) {
	t.Helper()
	path, err := filepath.Abs(composeFile)
	require.NoError(t, err)
	opts, err := cli.NewProjectOptions([]string{path},
		cli.WithWorkingDirectory(filepath.Dir(path)),
		cli.WithName("fieldflow"),
		cli.WithEnv(env),
	)
	require.NoError(t, err)
	return opts.LoadProject(context.Background())
}

func TestComposeProductionShape(t *testing.T) {
	project, err := loadCompose(t, "FIELDFLOW_JWT_SECRET="+testJWTSecret)
	require.NoError(t, err)

	for _, name := range []string{"postgres", "temporal", "temporal-ui", "migrate", "api", "worker"} {
		require.Contains(t, project.Services, name, "service %s", name)
	}
	svc := func(name string) types.ServiceConfig { return project.Services[name] }
	env := func(s types.ServiceConfig, key string) string {
		t.Helper()
		v, ok := s.Environment[key]
		require.True(t, ok && v != nil, "%s: %s is not set", s.Name, key)
		return *v
	}
	// hostIsService asserts that addr (host:port) points at a compose service on its port.
	hostIsService := func(addr, service, port string) {
		t.Helper()
		host, p, err := net.SplitHostPort(addr)
		require.NoError(t, err, addr)
		require.Equal(t, service, host, addr)
		require.Equal(t, port, p, addr)
		require.Contains(t, project.Services, host, "%s does not name a compose service", addr)
	}
	checkDatabaseURL := func(s types.ServiceConfig) {
		t.Helper()
		u, err := url.Parse(env(s, "DATABASE_URL"))
		require.NoError(t, err)
		require.Equal(t, "postgres", u.Scheme)
		hostIsService(u.Host, "postgres", "5432")
		require.Equal(t, "/fieldflow", u.Path)
		require.Equal(t, "/"+env(svc("postgres"), "POSTGRES_DB"), u.Path)
		require.Equal(t, env(svc("postgres"), "POSTGRES_USER"), u.User.Username())
		pass, _ := u.User.Password()
		require.Equal(t, env(svc("postgres"), "POSTGRES_PASSWORD"), pass)
	}

	// The fieldflow services run the image built from this repository.
	for _, name := range []string{"migrate", "api", "worker"} {
		s := svc(name)
		require.NotNil(t, s.Build, "%s: build", name)
		require.Equal(t, project.WorkingDir, s.Build.Context, "%s: build context", name)
		require.Equal(t, "fieldflow:latest", s.Image, "%s: image", name)
		require.Equal(t, types.ShellCommand{name}, s.Command, "%s: command", name)
		checkDatabaseURL(s)
	}

	for _, name := range []string{"api", "worker"} {
		s := svc(name)
		hostIsService(env(s, "TEMPORAL_ADDRESS"), "temporal", "7233")
		require.Equal(t, "default", env(s, "TEMPORAL_NAMESPACE"), name)
		require.Equal(t, "json", env(s, "FIELDFLOW_LOG_FORMAT"), name)

		migrate, ok := s.DependsOn["migrate"]
		require.True(t, ok, "%s must wait for migrate", name)
		require.Equal(t, types.ServiceConditionCompletedSuccessfully, migrate.Condition, name)
		temporal, ok := s.DependsOn["temporal"]
		require.True(t, ok, "%s must wait for temporal", name)
		require.Contains(t, []string{types.ServiceConditionStarted, types.ServiceConditionHealthy}, temporal.Condition, name)
	}

	api := svc("api")
	require.Equal(t, testJWTSecret, env(api, "FIELDFLOW_JWT_SECRET"))
	require.Equal(t, ":8080", env(api, "FIELDFLOW_HTTP"))
	require.True(t, publishes(api, 8080, 8080), "api publishes 8080:8080")
	require.Equal(t, "http://localhost:8080", env(api, "FIELDFLOW_PUBLIC_URL"), "QR codes and portal links point at the published api")
	require.Equal(t, "", env(api, "FIELDFLOW_SMTP_ADDR"), "the portal mails its sign-in codes with the worker's settings")
	worker := svc("worker")
	require.Equal(t, testJWTSecret, env(worker, "FIELDFLOW_JWT_SECRET"), "the worker signs the approval links it mails")
	require.Equal(t, "http://localhost:8080", env(worker, "FIELDFLOW_PUBLIC_URL"), "links in messages point at the published api")
	require.Equal(t, "", env(worker, "FIELDFLOW_SMTP_ADDR"), "no SMTP server unless one is configured")
	require.Equal(t, "", env(worker, "FIELDFLOW_SMS_URL"), "no SMS provider unless one is configured")

	migrate := svc("migrate")
	require.Equal(t, "no", migrate.Restart)
	require.Equal(t, types.ServiceConditionHealthy, migrate.DependsOn["postgres"].Condition)

	postgres := svc("postgres")
	require.True(t, strings.HasPrefix(postgres.Image, "postgres:15"), postgres.Image)
	require.NotNil(t, postgres.HealthCheck)
	require.Contains(t, strings.Join(postgres.HealthCheck.Test, " "), "pg_isready")

	// The Temporal server in compose is the version go.mod builds and tests Fieldflow against.
	temporal := svc("temporal")
	require.Equal(t, "postgres12", env(temporal, "DB"))
	require.Equal(t, "postgres", env(temporal, "POSTGRES_SEEDS"))
	require.Equal(t, "temporalio/server:"+strings.TrimPrefix(moduleVersion(t, "go.temporal.io/server"), "v"), temporal.Image)

	ui := svc("temporal-ui")
	hostIsService(env(ui, "TEMPORAL_ADDRESS"), "temporal", "7233")
	require.True(t, publishes(ui, 8233, 8080), "temporal-ui publishes 8233:8080")
}

func TestComposeRequiresJWTSecret(t *testing.T) {
	_, err := loadCompose(t)
	require.Error(t, err)
	require.ErrorContains(t, err, "FIELDFLOW_JWT_SECRET")
	require.ErrorContains(t, err, "32+ characters")
}

// publishes reports whether s publishes container port target on host port published.
func publishes(s types.ServiceConfig, published, target uint32) bool {
	for _, p := range s.Ports {
		if p.Target == target && p.Published == strconv.FormatUint(uint64(published), 10) {
			return true
		}
	}
	return false
}

// moduleVersion is the version of module path that ../go.mod requires.
func moduleVersion(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile("../go.mod")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && f[0] == path {
			return f[1]
		}
	}
	t.Fatalf("go.mod does not require %s", path)
	return ""
}
