package process

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in       string
		want     time.Duration
		business bool
		text     string
	}{
		{"30s", 30 * time.Second, false, "30s"},
		{"15m", 15 * time.Minute, false, "15m"},
		{"4h", 4 * time.Hour, false, "4h"},
		{"3d", 72 * time.Hour, false, "3d"},
		{"2w", 14 * 24 * time.Hour, false, "2w"},
		{"1h30m", 90 * time.Minute, false, "1h30m"},
		{"1d12h", 36 * time.Hour, false, "1d12h"},
		{"1.5h", 90 * time.Minute, false, "1.5h"},
		{".5m", 30 * time.Second, false, ".5m"},
		{"500ms", 500 * time.Millisecond, false, "500ms"},
		{"1h30m0s", 90 * time.Minute, false, "1h30m0s"},
		{"1.5µs", 1500 * time.Nanosecond, false, "1.5µs"},
		{" 45m ", 45 * time.Minute, false, "45m"},
		{"8bh", 8 * time.Hour, true, "8bh"},
		{"90bm", 90 * time.Minute, true, "90bm"},
		{"1bh30bm", 90 * time.Minute, true, "1bh30bm"},
		{"1.5bh", 90 * time.Minute, true, "1.5bh"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := ParseDuration(tt.in)
			require.NoError(t, err)
			require.Equal(t, Duration{D: tt.want, Business: tt.business, Text: tt.text}, d)
			require.Equal(t, tt.text, d.String())
			require.False(t, d.IsZero())
		})
	}
}

func TestParseDurationRejects(t *testing.T) {
	const forms = "write a number and a unit: 30s, 15m, 4h, 3d (days of 24 hours), 2w, or a combination such as 1h30m; " +
		"for business time, counted on the calendar's opening hours, write 8bh (business hours) or 90bm (business minutes)"
	tests := []struct{ in, msg string }{
		{"", "the duration is empty; " + forms},
		{"   ", "the duration is empty; " + forms},
		{"0s", `"0s" is zero; a duration must be longer than zero`},
		{"0bh", `"0bh" is zero; a duration must be longer than zero`},
		{"-5m", `"-5m" is negative; a duration must be longer than zero`},
		{"30", `"30" has no unit after 30; ` + forms},
		{"soon", `"soon" is not a duration; ` + forms},
		{"h", `"h" is not a duration; ` + forms},
		{"5x", `"5x" has an unknown unit "x"; ` + forms},
		{"3days", `"3days" has an unknown unit "days"; ` + forms},
		{"1.2.3h", `"1.2.3h" is not a duration: "1.2.3" is not a number; ` + forms},
		{"1.h", `"1.h" is not a duration: "1." is not a number; ` + forms},
		{"1h 30m", `"1h 30m" has a space in it; write durations without spaces, like 1h30m`},
		{"8bh30m", `"8bh30m" mixes business time (bh, bm) with wall-clock time; write it in one kind only, such as 8bh30bm or 8h30m`},
		{"0.5bm", `"0.5bm" is not a whole number of minutes; business time counts in whole minutes`},
		{"300000w", `"300000w" is too long; a duration can be at most about 290 years`},
		{"99999999999999999999999999999999h", `"99999999999999999999999999999999h" is too long; a duration can be at most about 290 years`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseDuration(tt.in)
			require.EqualError(t, err, tt.msg)
		})
	}
}

func TestDurationStringWithoutText(t *testing.T) {
	tests := []struct {
		d    Duration
		want string
	}{
		{Duration{}, ""},
		{Duration{D: 90 * time.Minute}, "1h30m0s"},
		{Duration{D: 8 * time.Hour, Business: true}, "8bh"},
		{Duration{D: 90 * time.Minute, Business: true}, "90bm"},
		{Duration{D: 90*time.Minute + time.Second, Business: true}, "91bm"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.d.String())
		if tt.want == "" {
			continue
		}
		back, err := ParseDuration(tt.d.String())
		require.NoError(t, err)
		require.Equal(t, tt.d.Business, back.Business)
	}
}

func TestDurationJSON(t *testing.T) {
	type holder struct {
		Timeout Duration  `json:"timeout"`
		Target  Duration  `json:"target"`
		Empty   Duration  `json:"empty"`
		Ptr     *Duration `json:"ptr"`
	}
	eight, err := ParseDuration("8bh")
	require.NoError(t, err)
	in := holder{Timeout: mustParseDuration(t, "1h30m"), Target: eight, Ptr: &eight}
	data, err := json.Marshal(in)
	require.NoError(t, err)
	require.JSONEq(t, `{"timeout":"1h30m","target":"8bh","empty":"","ptr":"8bh"}`, string(data))

	var out holder
	require.NoError(t, json.Unmarshal(data, &out))
	require.Equal(t, in, out)
	require.True(t, out.Empty.IsZero())

	require.NoError(t, json.Unmarshal([]byte(`{"timeout":null}`), &out))
	require.True(t, out.Timeout.IsZero())

	var d Duration
	require.EqualError(t, json.Unmarshal([]byte(`"5x"`), &d),
		`"5x" has an unknown unit "x"; write a number and a unit: 30s, 15m, 4h, 3d (days of 24 hours), 2w, or a combination such as 1h30m; `+
			`for business time, counted on the calendar's opening hours, write 8bh (business hours) or 90bm (business minutes)`)
	require.ErrorContains(t, json.Unmarshal([]byte(`30`), &d), `a duration must be a JSON string such as "30m" or "8bh"`)
}

func TestDurationDecodeYAML(t *testing.T) {
	type step struct {
		Timeout Duration `yaml:"timeout,required"`
		Target  Duration `yaml:"target"`
	}
	decode := func(text string) (step, *decoder) {
		var root yaml.Node
		require.NoError(t, yaml.Unmarshal([]byte(text), &root))
		d := newDecoder("step.yaml")
		var s step
		d.decode(&root, reflect.ValueOf(&s).Elem(), "")
		return s, d
	}
	s, d := decode("timeout: 30m\ntarget: 8bh\n")
	require.Empty(t, d.problems)
	require.Equal(t, mustParseDuration(t, "30m"), s.Timeout)
	require.Equal(t, Duration{D: 8 * time.Hour, Business: true, Text: "8bh"}, s.Target)

	_, d = decode("timeout: 30\ntarget: [8bh]\n")
	require.Equal(t, []string{
		`step.yaml:1:10: timeout: "30" has no unit after 30; write a number and a unit: 30s, 15m, 4h, 3d (days of 24 hours), 2w, ` +
			`or a combination such as 1h30m; for business time, counted on the calendar's opening hours, write 8bh (business hours) or 90bm (business minutes)`,
		`step.yaml:2:9: target: expected a single value, got a list`,
	}, calProblemLines(d.problems))

	_, d = decode("timeout:\n")
	require.Len(t, d.problems, 1)
	require.Equal(t, "step.yaml:1:9: timeout: expected a duration, got nothing; write a number and a unit: 30s, 15m, 4h, 3d (days of 24 hours), 2w, "+
		"or a combination such as 1h30m; for business time, counted on the calendar's opening hours, write 8bh (business hours) or 90bm (business minutes)",
		d.problems[0].Error())
}

func TestDeadline(t *testing.T) {
	cal := officeCalendar(t)
	loc := cal.Location()
	friday := time.Date(2026, 6, 5, 16, 30, 0, 0, loc)
	tests := []struct {
		d    string
		cal  *Calendar
		want time.Time
	}{
		{"30m", cal, friday.Add(30 * time.Minute)},
		{"3d", cal, friday.Add(72 * time.Hour)},
		{"8bh", cal, time.Date(2026, 6, 8, 16, 30, 0, 0, loc)},
		{"8bh", nil, friday.Add(8 * time.Hour)},
		{"90bm", cal, time.Date(2026, 6, 8, 10, 0, 0, 0, loc)},
	}
	for _, tt := range tests {
		got := Deadline(friday, mustParseDuration(t, tt.d), tt.cal)
		require.True(t, tt.want.Equal(got), "%s: want %s, got %s", tt.d, tt.want, got)
	}
	require.Equal(t, friday, Deadline(friday, Duration{}, cal))
}

func mustParseDuration(t testing.TB, s string) Duration {
	t.Helper()
	d, err := ParseDuration(s)
	require.NoError(t, err)
	return d
}

func calProblemLines(ps Problems) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Error()
	}
	return out
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"30s", "15m", "4h", "3d", "2w", "1h30m", "8bh", "90bm", "1.5bh", "0s", "-5m", "", "5x",
		"1h30m0s", "1.5µs", "8bh30m", "99999999999h", ".5m", "1..2h", " 3d "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		require.Positive(t, d.D)
		again, err := ParseDuration(d.String())
		require.NoError(t, err, "accepted %q but not its text %q", s, d.String())
		require.Equal(t, d, again)
		data, err := json.Marshal(d)
		require.NoError(t, err)
		var back Duration
		require.NoError(t, json.Unmarshal(data, &back))
		require.Equal(t, d, back)
	})
}
