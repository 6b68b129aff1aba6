package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldflow/fieldflow/soak"
)

func soakCommand(*globals) *cobra.Command {
	var (
		duration    time.Duration
		minKills    int
		killMin     time.Duration
		killMax     time.Duration
		clients     int
		definitions string
		dataDir     string
		keep        bool
		seed        uint64
	)
	cmd := &cobra.Command{
		Use:   "soak",
		Short: "Crash test: a mixed load through the API while the worker, the API and the dev services are killed with SIGKILL",
		Long: `Runs the crash test: "fieldflow dev --services-only" (PostgreSQL and Temporal), "fieldflow
worker" and "fieldflow api" as separate processes of this binary, a mixed load of service requests
and work orders through the HTTP API (every POST with an Idempotency-Key, retried with the same key
after a failure), and SIGKILL of one of the three processes at random moments, each started again
at once. Afterwards every record is read back and compared with the log of acknowledged actions:
each one in the events exactly once, every run at the end of its script, one invoice per resolved
request with charges and one email per run (counted by Message-ID at an SMTP receiver of its own).
Exits non-zero when anything was lost, duplicated or stuck.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bin, err := os.Executable()
			if err != nil {
				return err
			}
			if dataDir == "" {
				if dataDir, err = tempDataDir("fieldflow-soak-"); err != nil {
					return err
				}
				defer func() {
					if !keep {
						_ = os.RemoveAll(dataDir)
					}
				}()
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "soak: %s of load, state and logs in %s\n", duration, dataDir)
			rep, err := soak.Run(cmd.Context(), soak.Config{
				Binary: bin, DataDir: dataDir, Definitions: definitions,
				Duration: duration, MinKills: minKills, KillEvery: [2]time.Duration{killMin, killMax},
				Clients: clients, Progress: out, Seed: seed,
			})
			if rep != nil {
				rep.Print(out)
			}
			if err != nil {
				keep = true // the logs say why
				return fmt.Errorf("%w (state and logs kept in %s)", err, dataDir)
			}
			if !rep.OK() {
				keep = true
				return errors.New("soak failed: see the problems above (logs in " + dataDir + "/logs)")
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&duration, "duration", 5*time.Minute, "how long the load runs")
	cmd.Flags().IntVar(&minKills, "min-kills", 3, "kills to make at least, even if the duration is over")
	cmd.Flags().DurationVar(&killMin, "kill-min", 5*time.Second, "shortest pause between a process being back and the next kill")
	cmd.Flags().DurationVar(&killMax, "kill-max", 20*time.Second, "longest pause between a process being back and the next kill")
	cmd.Flags().IntVar(&clients, "clients", 4, "concurrent clients")
	cmd.Flags().StringVar(&definitions, "definitions", "definitions", "folder of process definitions")
	cmd.Flags().StringVar(&dataDir, "soak-dir", "", "directory for the stack's state and logs (default: a new temporary one, removed after a passing run)")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary directory after a passing run")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "seed of the kill schedule (default: random; printed)")
	return cmd
}
