// Package postgres runs a private PostgreSQL cluster from the server binaries installed on the
// machine (initdb, pg_ctl): the database of `fieldflow dev` and of the tests. It has no Temporal
// dependency, so store tests can use it without linking the Temporal server.
package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options tune a cluster.
type Options struct {
	// Port to listen on (127.0.0.1 only); 0 picks a free one.
	Port int
	// Durable false turns fsync off: for tests, where speed matters more than surviving a power cut.
	// A killed process never loses committed data either way.
	Durable bool
}

// Cluster is a running private cluster. Its database "fieldflow" is owned by the superuser
// "fieldflow" and accepts connections from 127.0.0.1 without a password.
type Cluster struct {
	dir      string
	binDir   string
	port     int
	cred     *syscall.Credential
	watchdog *exec.Cmd
}

// Database is the name of the database the cluster creates.
const Database = "fieldflow"

// superuser is the cluster's superuser and the owner of Database.
const superuser = "fieldflow"

// Start creates the cluster under dir when it does not exist yet (initdb), then starts it (pg_ctl).
// A server left running by a killed process is stopped first, so a restart always works.
func Start(ctx context.Context, dir string, opts Options) (*Cluster, error) {
	binDir, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, binDir: binDir}
	if err := c.prepareDir(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(c.dataDir(), "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := c.run(ctx, "initdb", "-D", c.dataDir(), "-U", superuser, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-instructions"); err != nil {
			return nil, fmt.Errorf("postgres: initdb: %w", err)
		}
	}
	// A server from an earlier process that was killed: stop it, start afresh on a free port.
	if err := c.stopIfRunning(ctx); err != nil {
		return nil, err
	}
	c.port = opts.Port
	if c.port == 0 {
		if c.port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	settings := []string{
		"-p", strconv.Itoa(c.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "max_connections=200",
	}
	if !opts.Durable {
		settings = append(settings, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	if err := c.run(ctx, "pg_ctl", "start", "-D", c.dataDir(), "-l", c.logFile(), "-w", "-t", "60", "-s",
		"-o", strings.Join(settings, " ")); err != nil {
		return nil, fmt.Errorf("postgres: start (log in %s): %w", c.logFile(), err)
	}
	if err := c.startWatchdog(); err != nil {
		_ = c.Stop()
		return nil, err
	}
	if err := c.ensureDatabase(ctx); err != nil {
		_ = c.Stop()
		return nil, err
	}
	return c, nil
}

// startWatchdog starts a small shell process that shuts the server down when this process dies
// without stopping it (kill -9, a panicking test), so no server outlives its owner. It runs in its
// own session, so a Ctrl-C to our process group does not kill it, and it stops only the postmaster
// it was started for: a newer server in the same directory is left alone.
func (c *Cluster) startWatchdog() error {
	raw, err := os.ReadFile(filepath.Join(c.dataDir(), "postmaster.pid"))
	if err != nil {
		return fmt.Errorf("postgres: read postmaster.pid: %w", err)
	}
	postmaster, _, _ := strings.Cut(string(raw), "\n")
	script := fmt.Sprintf(`while [ -d /proc/%d ]; do sleep 1; done
[ "$(head -n 1 %s/postmaster.pid 2>/dev/null)" = "%s" ] && kill -INT %s
exit 0`, os.Getpid(), c.dataDir(), postmaster, postmaster)
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: c.cred}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("postgres: start the watchdog: %w", err)
	}
	c.watchdog = cmd
	go func() { _ = cmd.Wait() }()
	return nil
}

// URL is the connection string of the cluster's database.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", superuser, c.port, Database)
}

// Port is the TCP port the server listens on.
func (c *Cluster) Port() int { return c.port }

// Stop shuts the server down, waiting for it to finish.
func (c *Cluster) Stop() error {
	if c.watchdog != nil {
		_ = c.watchdog.Process.Kill()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.run(ctx, "pg_ctl", "stop", "-D", c.dataDir(), "-m", "fast", "-w", "-t", "60", "-s"); err != nil {
		return fmt.Errorf("postgres: stop: %w", err)
	}
	return nil
}

// StopLeftover stops a server that a killed process left running on the cluster in dir, if any.
func StopLeftover(ctx context.Context, dir string) error {
	binDir, err := FindBinDir()
	if err != nil {
		return err
	}
	c := &Cluster{dir: dir, binDir: binDir}
	if err := c.prepareDir(); err != nil {
		return err
	}
	return c.stopIfRunning(ctx)
}

func (c *Cluster) stopIfRunning(ctx context.Context) error {
	if c.run(ctx, "pg_ctl", "status", "-D", c.dataDir()) != nil {
		return nil
	}
	if err := c.run(ctx, "pg_ctl", "stop", "-D", c.dataDir(), "-m", "fast", "-w", "-t", "60", "-s"); err != nil {
		return fmt.Errorf("postgres: stop the server left running in %s: %w", c.dataDir(), err)
	}
	return nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }
func (c *Cluster) logFile() string { return filepath.Join(c.dir, "postgres.log") }

// prepareDir creates the cluster directory. initdb and postgres refuse to run as root, so when we
// are root the server runs as the "postgres" system user, which must own the directory.
func (c *Cluster) prepareDir() error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("postgres: running as root needs the \"postgres\" system user (install the postgresql package): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if err := filepath.WalkDir(c.dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	}); err != nil {
		return fmt.Errorf("postgres: give %s to the postgres user: %w", c.dir, err)
	}
	// The postgres user must be able to reach the directory.
	for p := c.dir; p != "/" && p != "."; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != uint32(uid) && fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("postgres: the postgres user cannot reach %s: %s is not searchable by others (chmod o+x it, or choose another --data-dir)", c.dir, p)
		}
	}
	return nil
}

// run runs one of the server programs, as the postgres user when we are root.
func (c *Cluster) run(ctx context.Context, program string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, program), args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
		cmd.Env = append(cmd.Env, "HOME="+c.dir)
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", program, err, strings.TrimSpace(out.String()))
	}
	return nil
}

func (c *Cluster) ensureDatabase(ctx context.Context) error {
	url := fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable", superuser, c.port)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", Database).Scan(&exists); err != nil {
		return fmt.Errorf("postgres: look for database %s: %w", Database, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+Database); err != nil {
			return fmt.Errorf("postgres: create database %s: %w", Database, err)
		}
	}
	return nil
}

// FindBinDir finds the PostgreSQL server programs: on PATH, or the newest /usr/lib/postgresql/*/bin.
func FindBinDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "initdb")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("postgres: no PostgreSQL server programs (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin; install the postgresql package, or set DATABASE_URL")
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// FreePort finds a free TCP port on 127.0.0.1 for a server that binds it a moment later. It picks
// below the kernel's ephemeral range (32768 and up on Linux): a port the kernel handed out for ":0"
// is also one it hands to the next outgoing connection, which may take it before the server binds
// (the embedded Temporal server then dies with "Failed to start gRPC listener"). When no port in
// the low range is free it asks the kernel. It never hands out the same low port twice in one
// process: stacks started side by side (parallel tests) would otherwise both get a port neither
// has bound yet, and the second server to bind it dies.
func FreePort() (int, error) {
	for range 50 {
		port := lowPortMin + rand.IntN(lowPortMax-lowPortMin)
		if _, taken := handedOut.LoadOrStore(port, true); taken {
			continue
		}
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			_ = l.Close()
			return port, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// handedOut are the low ports FreePort has given out (or found taken) in this process.
var handedOut sync.Map

// The range FreePort picks from: above the well-known and registered ports most services use,
// below the ephemeral range.
const (
	lowPortMin = 20000
	lowPortMax = 32000
)
