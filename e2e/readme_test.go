package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// walkthrough returns the shell commands of the README's Walkthrough section.
func walkthrough(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(raw), "\n## Walkthrough\n")
	require.True(t, ok, "README.md has a Walkthrough section")
	section, _, _ = strings.Cut(section, "\n## ")
	_, block, ok := strings.Cut(section, "```bash\n")
	require.True(t, ok, "the Walkthrough has a bash block")
	block, _, ok = strings.Cut(block, "```")
	require.True(t, ok)
	return block
}

// TestREADMEWalkthrough runs the README's walkthrough verbatim against `fieldflow dev`, from a
// directory laid out like the repository (bin/fieldflow, .fieldflow/), changing only the API port.
func TestREADMEWalkthrough(t *testing.T) {
	script := walkthrough(t)
	require.Contains(t, script, "http://localhost:8080")

	bin := buildBinary(t)
	work := dataDir(t)
	require.NoError(t, os.Mkdir(filepath.Join(work, "bin"), 0o755))
	require.NoError(t, os.Symlink(bin, filepath.Join(work, "bin", "fieldflow")))
	dev := newDevProcess(t, bin, filepath.Join(work, ".fieldflow"))
	dev.start()

	script = strings.ReplaceAll(script, "http://localhost:8080", dev.apiURL())
	sh := exec.Command("bash", "-euo", "pipefail", "-c", script)
	sh.Dir = work
	out, err := sh.CombinedOutput()
	require.NoError(t, err, string(out))
	output := string(out)

	require.Contains(t, output, `"status":"ready"`)
	require.Contains(t, output, `"number":"SR-`)
	require.Contains(t, output, `"stage":"proposal"`)
	require.Contains(t, output, `"field":"reason"`, "the regress without a reason is refused with the field in error")
	require.Contains(t, output, `"stage":"response"`)
	require.Contains(t, output, `"state":"closed"`)
	require.Contains(t, output, `"status":409`, "progress after close is refused")
	require.Contains(t, output, `"type":"regressed"`)
	require.Contains(t, output, `"resolution":"refunded the second charge"`)
	require.Contains(t, output, `"number":"IN-`)
	require.Contains(t, output, `"kind":"offer"`, "the offer is in eve's to-do list")
	require.Contains(t, output, `"laborMinutes":90`)
	require.Contains(t, output, `"stage":"feedback"`, "the checklist is done: on to the rating")
	require.NotContains(t, output, `"status":401`)
	require.NotContains(t, output, `"status":500`)
}
