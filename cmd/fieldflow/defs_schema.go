package main

import (
	"github.com/spf13/cobra"

	"github.com/fieldflow/fieldflow/process"
)

// defsSchemaCommand prints the JSON Schema of the definition language.
func defsSchemaCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the definition language, for editors",
		Long: `Prints the JSON Schema (draft 2020-12) of the definition files, generated from the Go types, so
editors complete and check definitions as they are typed: the YAML extension of VS Code and JetBrains
IDEs read it. A copy is kept in definitions/schema/fieldflow.schema.json; after changing the
definition types, refresh it with the example below.

The schema checks the shape of each file: field names, required fields, fixed words, durations,
opening hours, expressions. What needs the other files (references to calendars, templates and
nodes) or compiling expressions is left to 'fieldflow defs validate'.`,
		Example: "  fieldflow defs schema > definitions/schema/fieldflow.schema.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			schema, err := process.JSONSchema()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(schema)
			return err
		},
	}
}
