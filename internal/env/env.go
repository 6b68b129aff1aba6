// Package env reads settings from the environment. A secret may come from a file instead (the way
// Docker and Kubernetes hand secrets to a container): when NAME is unset, NAME_FILE names the file
// that holds the value.
package env

import (
	"fmt"
	"os"
	"strings"
)

// Get returns the value of name, or the contents of the file $name_FILE (without the trailing
// newline) when name is unset; "" when neither is set. A _FILE that cannot be read is an error:
// a secret that was meant to be there must not silently be empty.
func Get(name string) (string, error) {
	if v := os.Getenv(name); v != "" {
		return v, nil
	}
	path := os.Getenv(name + "_FILE")
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", name, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// Or returns Get(name), or fallback when it is empty. An unreadable _FILE is reported on stderr
// and treated as unset, so the command fails later with the setting's own message.
func Or(name, fallback string) string {
	v, err := Get(name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fieldflow:", err)
	}
	if v == "" {
		return fallback
	}
	return v
}
