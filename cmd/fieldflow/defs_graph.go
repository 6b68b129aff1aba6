package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fieldflow/fieldflow/process"
)

// defsGraphCommand prints a queue or work-order type as a Mermaid flowchart or a Graphviz graph.
func defsGraphCommand() *cobra.Command {
	var dir, format string
	cmd := &cobra.Command{
		Use:   "graph KEY",
		Short: "Print a queue or work-order type as a Mermaid flowchart (renders on GitHub) or Graphviz DOT",
		Long: `Loads the definitions under --definitions (default: definitions) and prints the process KEY,
a service-request queue or a work-order type, as a diagram: Mermaid (paste it in a mermaid code
block in Markdown) or DOT (render it with "dot -Tsvg").`,
		Example: "  fieldflow defs graph repair\n  fieldflow defs graph billing --format dot | dot -Tsvg > billing.svg",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "mermaid" && format != "dot" {
				return fmt.Errorf("--format must be mermaid or dot, not %q", format)
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
			key := args[0]
			var def any
			if q, ok := catalog.Queue(key); ok {
				def = q
			} else if w, ok := catalog.WorkOrderType(key); ok {
				def = w
			} else {
				return fmt.Errorf("no queue or work-order type %q in %s; the keys are: %s", key, dir, processKeys(catalog))
			}
			out, err := process.Graph(def, format)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), out)
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "mermaid", "mermaid or dot")
	cmd.Flags().StringVar(&dir, "definitions", "definitions", "the folder of definitions to load")
	return cmd
}

// processKeys lists the keys of the catalog's queues and work-order types.
func processKeys(c *process.Catalog) string {
	var keys []string
	for _, q := range c.Queues() {
		keys = append(keys, q.Key+" (queue)")
	}
	for _, w := range c.WorkOrderTypes() {
		keys = append(keys, w.Key+" (work-order type)")
	}
	if len(keys) == 0 {
		return "none"
	}
	return strings.Join(keys, ", ")
}
