package process

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSimulateGolden runs every scenario in testdata/simulate against its definitions and compares
// the timeline with the golden file next to it (go test -run Simulate -update rewrites them).
func TestSimulateGolden(t *testing.T) {
	scenarios := map[string]string{
		"friday-holiday-dst.yaml": "support",
		"pause-resume.yaml":       "support",
		"dst-wall-clock.yaml":     "support",
		"repair.yaml":             "repair",
	}
	testCat, err := LoadDir("testdata/simulate/definitions")
	require.NoError(t, err)
	shipped, err := LoadDir("../definitions")
	require.NoError(t, err)
	for _, file := range sortedKeys(scenarios) {
		t.Run(file, func(t *testing.T) {
			key := scenarios[file]
			cat := testCat
			if _, ok := testCat.Definition(key); !ok {
				cat = shipped
			}
			path := filepath.Join("testdata/simulate", file)
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			sc, err := ParseScenario(path, raw)
			require.NoError(t, err)
			var out bytes.Buffer
			require.NoError(t, Simulate(cat, key, sc, &out))
			golden := strings.TrimSuffix(path, ".yaml") + ".golden"
			if *update {
				require.NoError(t, os.WriteFile(golden, out.Bytes(), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			require.Equal(t, string(want), out.String())
		})
	}
}

func TestSimulateFridayHolidayDST(t *testing.T) {
	// The facts the golden file shows, asserted on their own so a regenerated golden cannot hide a
	// wrong answer: created Friday 16:30 EET, 8bh → Tuesday 16:30 EEST (Monday is a holiday, the
	// clocks went forward on Sunday), alert (1bh) → Tuesday 09:30 EEST.
	cat, err := LoadDir("testdata/simulate/definitions")
	require.NoError(t, err)
	sc, err := ParseScenario("s.yaml", []byte(`start: "2027-03-26 16:30"
record: {impact: high, urgency: medium}
until: "2027-04-01 00:00"
`))
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, Simulate(cat, "support", sc, &out))
	timeline := out.String()
	require.Contains(t, timeline, "Fri 2027-03-26 16:30 EET  created")
	require.Contains(t, timeline, "Tue 2027-03-30 09:30 EEST  sla_alert")
	require.Contains(t, timeline, "Tue 2027-03-30 16:30 EEST  sla_breached")
	require.Contains(t, timeline, "Mon 03-29 holiday (Test Monday holiday)")
	require.Contains(t, timeline, "clocks changed to EEST")
}

func TestParseScenarioReportsPositions(t *testing.T) {
	_, err := ParseScenario("s.yaml", []byte("start: now\nactions:\n  - {after: soon, do: progress}\n  - {do: progress, colour: red}\n"))
	require.Error(t, err)
	msg := err.Error()
	require.Contains(t, msg, "s.yaml:3:13: actions[0].after:")
	require.Contains(t, msg, `s.yaml:4:20: actions[1]: unknown field "colour"`)
}
