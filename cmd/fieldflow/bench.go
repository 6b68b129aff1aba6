package main

import (
	"os"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/bench"
	"github.com/fieldflow/fieldflow/devstack"
	"github.com/fieldflow/fieldflow/worker"
)

func benchCommand(g *globals) *cobra.Command {
	o := bench.Options{Kind: bench.KindServiceRequest, Baseline: true}
	var (
		definitions string
		keep        bool
		scale       int
		stickyCache int
		heapProfile string
		scaleRate   float64
		timerGrace  time.Duration
		cpuProfile  string
		tstore      string
		tshards     int
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load-test Fieldflow against hand-written Temporal code, in one process",
		Long: `Starts the whole stack in this process (a fresh data directory unless --data-dir is given),
runs -n lifecycles with -c concurrent agents through the HTTP API and, in the same run, the same
service-request lifecycle as hand-written Temporal code through the Temporal client, then prints a
table and one JSON line: lifecycles per second, action latencies, history events per lifecycle and
the process's memory. See BENCHMARKS.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			dataDir := g.dataDir
			if !cmd.Flag("data-dir").Changed {
				dir, err := tempDataDir("fieldflow-bench-")
				if err != nil {
					return err
				}
				if !keep {
					defer os.RemoveAll(dir)
				}
				dataDir = dir
			}
			log := g.log
			if _, set := os.LookupEnv("FIELDFLOW_TOKEN_RATE"); !set {
				// One agent sends its actions back to back, faster than the API's per-caller limit
				// allows a person (20 a second): the benchmark measures the engine, not the limiter.
				_ = os.Setenv("FIELDFLOW_TOKEN_RATE", "-1")
			}
			if stickyCache > 0 {
				_ = os.Setenv("FIELDFLOW_STICKY_CACHE", strconv.Itoa(stickyCache))
			}
			stack, err := devstack.Start(ctx, devstack.Config{
				DataDir: dataDir, DefinitionsDir: definitions, HTTPAddr: "127.0.0.1:0", Logger: log,
				TemporalStore: tstore, TemporalHistoryShards: tshards,
			})
			if err != nil {
				return err
			}
			defer stack.Stop()
			token := func(sub string, groups []string, roles ...auth.Role) (string, error) {
				return stack.Keys.Issue(auth.Principal{Subject: sub, Roles: roles, Groups: groups}, 2*time.Hour, time.Now())
			}
			if scale > 0 {
				pool, err := pgxpool.New(ctx, stack.DatabaseURL)
				if err != nil {
					return err
				}
				defer pool.Close()
				cache := worker.StickyCacheSize()
				_, err = bench.RunScale(ctx, bench.ScaleOptions{
					N: scale, C: o.C, Queue: "bench-seconds", Grace: timerGrace, Wait: 10 * time.Minute, StickyCacheSize: cache, HeapProfile: heapProfile, Rate: scaleRate,
					APIURL: stack.APIURL, Token: token, DB: pool, Out: cmd.OutOrStdout(),
				})
				return err
			}
			if o.Baseline {
				stop, err := bench.StartBaseline(ctx, stack.Client(), stack.DatabaseURL)
				if err != nil {
					return err
				}
				log.Info("baseline worker started")
				defer stop()
			}
			if cpuProfile != "" {
				// The whole process: API, worker, Temporal server and the driver itself.
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			o.APIURL, o.Temporal, o.Out = stack.APIURL, stack.Client(), cmd.OutOrStdout()
			o.Token = token
			if o.Definition == "" {
				o.Definition = map[string]string{bench.KindServiceRequest: "bench", bench.KindWorkOrder: "bench-repair"}[o.Kind]
			}
			if o.Kind == bench.KindWorkOrder {
				o.Baseline = false // the hand-written baseline is the service-request lifecycle
			}
			_, err = bench.Run(ctx, o)
			return err
		},
	}
	f := cmd.Flags()
	f.IntVarP(&o.N, "n", "n", 400, "lifecycles to run on each side")
	f.IntVarP(&o.C, "c", "c", 8, "concurrent agents (and baseline clients)")
	f.StringVar(&o.Kind, "kind", o.Kind, "service-request or work-order")
	f.StringVar(&o.Definition, "definition", "", "the queue or work-order type key (default bench or bench-repair)")
	f.StringVar(&definitions, "definitions", "bench/definitions", "the definitions folder the stack serves")
	f.BoolVar(&o.Baseline, "baseline", o.Baseline, "also run the hand-written Temporal baseline")
	f.BoolVar(&o.BaselineLocal, "baseline-local", false, "the baseline writes with local activities instead of regular ones")
	f.IntVar(&o.Warmup, "warmup", 40, "unmeasured lifecycles run first on each side")
	f.IntVar(&o.HistorySample, "history-sample", 20, "runs per side whose history events are counted")
	f.BoolVar(&o.PrintHistory, "print-history", false, "print the history event types of one run of each side")
	f.BoolVar(&keep, "keep", false, "keep the temporary data directory")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole process (stack and driver) during the runs to this file (go tool pprof)")
	f.IntVar(&scale, "scale", 0, "instead: open this many service requests with second-scale SLA timers (queue bench-seconds) and check every timer fires on time")
	f.Float64Var(&scaleRate, "rate", 0, "with --scale: open at most this many requests a second (their timers come due at twice the rate); 0: as fast as the agents go")
	f.StringVar(&heapProfile, "heapprofile", "", "with --scale: write a heap profile to this file once every request is open")
	f.IntVar(&stickyCache, "sticky-cache", 0, "the worker's sticky workflow cache size (default: FIELDFLOW_STICKY_CACHE, or 1000)")
	f.DurationVar(&timerGrace, "timer-grace", 5*time.Second, "with --scale: how late a timer may fire and count as on time")
	f.StringVar(&tstore, "temporal-store", "", "where the embedded Temporal server persists: postgres or sqlite (default: the data dir's store, postgres for a new one)")
	f.IntVar(&tshards, "temporal-history-shards", 0, "history shards of a new Temporal store (default 1)")
	return cmd
}
