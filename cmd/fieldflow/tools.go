package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/process"
)

func tokenCommand(g *globals) *cobra.Command {
	var (
		sub, roles, groups string
		ttl                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a signed staff token (JWT, HS256)",
		Long: `Prints a staff token signed with FIELDFLOW_JWT_SECRET, or, when it is unset, with the secret
kept under --data-dir (the one 'fieldflow dev' uses).`,
		Example: "  fieldflow token --sub alice --roles agent --groups billing-desk",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sub == "" {
				return errors.New("--sub is required")
			}
			rs, err := auth.ParseRoles(roles)
			if err != nil {
				return fmt.Errorf("--roles: %w", err)
			}
			secret, err := auth.LoadSecret(g.dataDir, true)
			if err != nil {
				return err
			}
			keys, err := auth.NewKeys(secret)
			if err != nil {
				return err
			}
			var gs []string
			for _, gr := range strings.Split(groups, ",") {
				if gr = strings.TrimSpace(gr); gr != "" {
					gs = append(gs, gr)
				}
			}
			token, err := keys.Issue(auth.Principal{Subject: sub, Roles: rs, Groups: gs}, ttl, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), token)
			return nil
		},
	}
	cmd.Flags().StringVar(&sub, "sub", "", "the user the token is for")
	cmd.Flags().StringVar(&roles, "roles", "", "comma-separated roles: admin, designer, supervisor, agent, dispatcher, engineer, followup")
	cmd.Flags().StringVar(&groups, "groups", "", "comma-separated groups (teams)")
	cmd.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token is valid")
	return cmd
}

func defsCommand(*globals) *cobra.Command {
	defs := &cobra.Command{Use: "defs", Short: "Tools for process designers"}
	defs.AddCommand(&cobra.Command{
		Use:   "validate [DIR]",
		Short: "Check every definition under DIR (default: definitions) and report each mistake as file:line:column",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "definitions"
			if len(args) == 1 {
				dir = args[0]
			}
			catalog, err := process.LoadDir(dir)
			var problems process.Problems
			if errors.As(err, &problems) {
				fmt.Fprintln(cmd.OutOrStdout(), problems.Error())
				return fmt.Errorf("%d problem(s) in %s", len(problems), dir)
			}
			if err != nil {
				return err
			}
			for _, src := range catalog.Sources() {
				fmt.Fprintf(cmd.OutOrStdout(), "ok  %-19s %-20s version %s  %s\n", src.Kind, src.Key, src.Version, src.File)
			}
			return nil
		},
	})
	defs.AddCommand(defsSimulateCommand())
	defs.AddCommand(defsGraphCommand())
	defs.AddCommand(defsSchemaCommand())
	return defs
}

func defsSimulateCommand() *cobra.Command {
	var script, dir string
	cmd := &cobra.Command{
		Use:   "simulate KEY --script FILE",
		Short: "Run a queue or work-order type on a virtual clock and print the timeline",
		Long: `Runs the pure interpreter on a virtual clock: the record is created at the script's start,
the script's actions happen at their times, and timers (SLA alerts and breaches, timeouts,
auto-complete) fire as time passes, counted on the definition's business calendar. Every change is
printed with its time in the calendar's time zone; business-time targets are explained day by day.
See definitions/README.md for the script format.`,
		Example: "  fieldflow defs simulate billing --script definitions/scenarios/billing-friday.yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if script == "" {
				return errors.New("--script is required")
			}
			catalog, err := loadCatalog(cmd, dir)
			if err != nil {
				return err
			}
			raw, err := os.ReadFile(script)
			if err != nil {
				return err
			}
			sc, err := process.ParseScenario(script, raw)
			if err != nil {
				return err
			}
			return process.Simulate(catalog, args[0], sc, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&script, "script", "", "the scenario file (YAML)")
	cmd.Flags().StringVar(&dir, "definitions", "definitions", "folder of process definitions")
	return cmd
}

// loadCatalog loads a definitions folder, printing its problems the way defs validate does.
func loadCatalog(cmd *cobra.Command, dir string) (*process.Catalog, error) {
	catalog, err := process.LoadDir(dir)
	var problems process.Problems
	if errors.As(err, &problems) {
		fmt.Fprintln(cmd.ErrOrStderr(), problems.Error())
		return nil, fmt.Errorf("%d problem(s) in %s", len(problems), dir)
	}
	return catalog, err
}
