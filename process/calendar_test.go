package process

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// decodeCalendar decodes a calendar file through the definition decoder, returning the decoder's
// problems and the calendar's validation problems.
func decodeCalendar(t testing.TB, text string) (*Calendar, Problems, Problems) {
	t.Helper()
	var root yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(text), &root))
	d := newDecoder("cal.yaml")
	cal := &Calendar{}
	d.decode(&root, reflect.ValueOf(cal).Elem(), "")
	return cal, d.problems, cal.validate(d.source)
}

// compiledCalendar decodes, validates and compiles a calendar that must be valid.
func compiledCalendar(t testing.TB, text string) *Calendar {
	t.Helper()
	cal, decodeProblems, problems := decodeCalendar(t, text)
	require.Empty(t, decodeProblems)
	require.Empty(t, problems)
	require.NoError(t, cal.compile())
	return cal
}

const officeYAML = `apiVersion: fieldflow/v1
kind: Calendar
key: office
title: Office hours
timeZone: Europe/Nicosia
hours:
  monday: ["09:00-17:00"]
  tuesday: ["09:00-17:00"]
  wednesday: ["09:00-17:00"]
  thursday: ["09:00-17:00"]
  friday: ["09:00-17:00"]
  saturday: []
`

func officeCalendar(t testing.TB) *Calendar { return compiledCalendar(t, officeYAML) }

// lunchYAML is open 09:00-13:00 and 14:00-18:00 on weekdays, closed on Wednesday 2026-06-10.
const lunchYAML = `apiVersion: fieldflow/v1
kind: Calendar
key: lunch
timeZone: Europe/Nicosia
hours:
  monday: ["09:00-13:00", "14:00-18:00"]
  tuesday: ["14:00-18:00", "09:00-13:00"]
  wednesday: ["09:00-13:00", "14:00-18:00"]
  thursday: ["09:00-13:00", "14:00-18:00"]
  friday: ["09:00-13:00", "14:00-18:00"]
holidays:
  - {date: 2026-06-10, name: Kataklysmos}
  - {date: 2026-12-25, name: Christmas Day}
`

// nightYAML is open every night, 20:00 to 06:00, so its hours cross both daylight-saving changes
// (Nicosia: 2026-03-29 03:00 EET → 04:00 EEST, 2026-10-25 04:00 EEST → 03:00 EET).
const nightYAML = `apiVersion: fieldflow/v1
kind: Calendar
key: night
timeZone: Europe/Nicosia
hours:
  monday: ["00:00-06:00", "20:00-24:00"]
  tuesday: ["00:00-06:00", "20:00-24:00"]
  wednesday: ["00:00-06:00", "20:00-24:00"]
  thursday: ["00:00-06:00", "20:00-24:00"]
  friday: ["00:00-06:00", "20:00-24:00"]
  saturday: ["00:00-06:00", "20:00-24:00"]
  sunday: ["00:00-06:00", "20:00-24:00"]
`

// weekendYAML has short odd spans around the daylight-saving hours of Sunday night.
const weekendYAML = `apiVersion: fieldflow/v1
kind: Calendar
key: weekend
timeZone: Europe/Nicosia
hours:
  saturday: ["22:00-24:00"]
  sunday: ["02:00-05:00", "10:00-10:45"]
  monday: ["00:00-02:00", "08:30-09:15"]
holidays:
  - {date: 2026-04-13}
`

// at reads an instant written as local time with its offset, "2026-06-05 16:30 +03:00".
func at(t testing.TB, s string) time.Time {
	t.Helper()
	ts, err := time.ParseInLocation("2006-01-02 15:04 -07:00", s, time.UTC)
	require.NoError(t, err)
	return ts
}

func requireInstant(t testing.TB, want, got time.Time, msgAndArgs ...any) {
	t.Helper()
	require.True(t, want.Equal(got), "want %s, got %s %v", want.UTC(), got.UTC(), msgAndArgs)
}

func TestAddBusinessFridayToMonday(t *testing.T) {
	eightHours := mustParseDuration(t, "8bh")
	friday := at(t, "2026-06-05 16:30 +03:00")

	office := officeCalendar(t)
	requireInstant(t, at(t, "2026-06-08 16:30 +03:00"), Deadline(friday, eightHours, office))

	withHoliday := compiledCalendar(t, officeYAML+"holidays:\n  - {date: 2026-06-08, name: Whit Monday}\n")
	requireInstant(t, at(t, "2026-06-09 16:30 +03:00"), Deadline(friday, eightHours, withHoliday))
}

func TestAddBusinessOutsideHours(t *testing.T) {
	cal := compiledCalendar(t, lunchYAML)
	tests := []struct {
		name, start, d, want string
	}{
		{"before opening", "2026-06-01 07:00 +03:00", "2bh", "2026-06-01 11:00 +03:00"},
		{"at opening", "2026-06-01 09:00 +03:00", "4bh", "2026-06-01 13:00 +03:00"},
		{"over lunch", "2026-06-01 12:00 +03:00", "2bh", "2026-06-01 15:00 +03:00"},
		{"during lunch", "2026-06-01 13:30 +03:00", "30bm", "2026-06-01 14:30 +03:00"},
		{"ends at closing", "2026-06-01 17:00 +03:00", "1bh", "2026-06-01 18:00 +03:00"},
		{"after closing", "2026-06-01 19:00 +03:00", "2bh", "2026-06-02 11:00 +03:00"},
		{"at closing", "2026-06-01 18:00 +03:00", "1bm", "2026-06-02 09:01 +03:00"},
		{"spans given out of order", "2026-06-02 12:30 +03:00", "1bh", "2026-06-02 14:30 +03:00"},
		{"eve of a holiday", "2026-06-09 17:00 +03:00", "2bh", "2026-06-11 10:00 +03:00"},
		{"on a holiday", "2026-06-10 10:00 +03:00", "1bh", "2026-06-11 10:00 +03:00"},
		{"on a Saturday", "2026-06-06 12:00 +03:00", "1bh", "2026-06-08 10:00 +03:00"},
		{"on a Sunday night", "2026-06-07 23:59 +03:00", "8bh", "2026-06-08 18:00 +03:00"},
		{"start given in UTC", "2026-06-01 06:00 +00:00", "1bh", "2026-06-01 10:00 +03:00"},
		{"two weeks with a holiday", "2026-06-01 09:00 +03:00", "80bh", "2026-06-15 18:00 +03:00"},
		{"over Christmas into winter time", "2026-12-24 17:00 +02:00", "2bh", "2026-12-28 10:00 +02:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := at(t, tt.start)
			d := mustParseDuration(t, tt.d)
			got := Deadline(start, d, cal)
			requireInstant(t, at(t, tt.want), got)
			require.Equal(t, start.Location(), got.Location(), "the result is in the start's location")
			require.Equal(t, d.D, cal.BusinessBetween(start, got))
		})
	}
	start := at(t, "2026-06-01 12:00 +03:00")
	require.Equal(t, start, cal.AddBusiness(start, 0))
	require.Equal(t, start, cal.AddBusiness(start, -time.Hour))
}

func TestAddBusinessAcrossDaylightSaving(t *testing.T) {
	night := compiledCalendar(t, nightYAML)
	weekend := compiledCalendar(t, weekendYAML)
	tests := []struct {
		name  string
		cal   *Calendar
		start string
		d     string
		want  string
	}{
		// Saturday 20:00-24:00 gives 4h; Sunday's 00:00-06:00 lasts only 5h, as 03:00 jumps to
		// 04:00, so the other 4h end at 05:00 summer time, not 04:00.
		{"spring forward", night, "2026-03-28 16:00 +02:00", "8bh", "2026-03-29 05:00 +03:00"},
		// In autumn 04:00 summer time falls back to 03:00, so 4h after midnight is 03:00 winter time.
		{"fall back", night, "2026-10-24 16:00 +03:00", "8bh", "2026-10-25 03:00 +02:00"},
		{"fall back, first 03:00", night, "2026-10-24 16:00 +03:00", "7bh", "2026-10-25 03:00 +03:00"},
		{"across the spring night", night, "2026-03-28 22:00 +02:00", "7bh", "2026-03-29 06:00 +03:00"},
		{"across the autumn night", night, "2026-10-24 22:00 +03:00", "9bh", "2026-10-25 06:00 +02:00"},
		// weekend's Sunday 02:00-05:00 is 2h long on 2026-03-29 and 4h long on 2026-10-25.
		{"inside the spring gap", weekend, "2026-03-29 02:00 +02:00", "90bm", "2026-03-29 04:30 +03:00"},
		{"spring Sunday night", weekend, "2026-03-28 12:00 +02:00", "4bh", "2026-03-29 05:00 +03:00"},
		{"spring Sunday morning", weekend, "2026-03-28 12:00 +02:00", "4bh30bm", "2026-03-29 10:30 +03:00"},
		{"autumn Sunday night", weekend, "2026-10-24 12:00 +03:00", "6bh", "2026-10-25 05:00 +02:00"},
		{"autumn into Monday", weekend, "2026-10-24 12:00 +03:00", "7bh", "2026-10-26 00:15 +02:00"},
		{"skips the Easter Monday holiday", weekend, "2026-04-12 11:00 +03:00", "3bh", "2026-04-19 03:00 +03:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := at(t, tt.start)
			d := mustParseDuration(t, tt.d)
			got := tt.cal.AddBusiness(start, d.D)
			requireInstant(t, at(t, tt.want), got)
			require.Equal(t, d.D, tt.cal.BusinessBetween(start, got))
		})
	}
}

func TestBusinessBetween(t *testing.T) {
	office := officeCalendar(t)
	weekend := compiledCalendar(t, weekendYAML)
	allDay := compiledCalendar(t, `apiVersion: fieldflow/v1
kind: Calendar
key: all-day
timeZone: Europe/Nicosia
hours: {sunday: ["00:00-24:00"]}
`)
	tests := []struct {
		name string
		cal  *Calendar
		a, b string
		want time.Duration
	}{
		{"a working week", office, "2026-06-01 00:00 +03:00", "2026-06-08 00:00 +03:00", 40 * time.Hour},
		{"within a day", office, "2026-06-01 10:15 +03:00", "2026-06-01 12:45 +03:00", 150 * time.Minute},
		{"a weekend", office, "2026-06-05 17:00 +03:00", "2026-06-08 09:00 +03:00", 0},
		{"backwards", office, "2026-06-08 09:00 +03:00", "2026-06-05 09:00 +03:00", 0},
		{"same instant", office, "2026-06-08 10:00 +03:00", "2026-06-08 10:00 +03:00", 0},
		{"spring Sunday is 23h", allDay, "2026-03-29 00:00 +02:00", "2026-03-30 00:00 +03:00", 23 * time.Hour},
		{"autumn Sunday is 25h", allDay, "2026-10-25 00:00 +03:00", "2026-10-26 00:00 +02:00", 25 * time.Hour},
		{"spring night span is 2h", weekend, "2026-03-29 00:00 +02:00", "2026-03-29 09:00 +03:00", 2 * time.Hour},
		{"autumn night span is 4h", weekend, "2026-10-25 00:00 +03:00", "2026-10-25 09:00 +02:00", 4 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.cal.BusinessBetween(at(t, tt.a), at(t, tt.b)))
		})
	}
}

func TestIsOpen(t *testing.T) {
	lunch := compiledCalendar(t, lunchYAML)
	weekend := compiledCalendar(t, weekendYAML)
	tests := []struct {
		cal  *Calendar
		at   string
		want bool
	}{
		{lunch, "2026-06-01 08:59 +03:00", false},
		{lunch, "2026-06-01 09:00 +03:00", true},
		{lunch, "2026-06-01 12:59 +03:00", true},
		{lunch, "2026-06-01 13:00 +03:00", false},
		{lunch, "2026-06-01 14:00 +03:00", true},
		{lunch, "2026-06-01 18:00 +03:00", false},
		{lunch, "2026-06-01 07:00 +00:00", true},
		{lunch, "2026-06-06 10:00 +03:00", false}, // Saturday
		{lunch, "2026-06-10 10:00 +03:00", false}, // holiday
		{lunch, "2026-06-11 10:00 +03:00", true},
		{weekend, "2026-03-28 23:59 +02:00", true},
		{weekend, "2026-03-29 01:59 +02:00", false},
		{weekend, "2026-03-29 02:00 +02:00", true},
		{weekend, "2026-03-29 04:30 +03:00", true},
		{weekend, "2026-03-29 05:00 +03:00", false},
		{weekend, "2026-10-25 03:30 +03:00", true},
		{weekend, "2026-10-25 03:30 +02:00", true},
		{weekend, "2026-10-25 05:00 +02:00", false},
		{weekend, "2026-04-13 01:00 +03:00", false}, // holiday Monday
		{weekend, "2026-04-20 01:00 +03:00", true},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.cal.IsOpen(at(t, tt.at)), "%s at %s", tt.cal.Key, tt.at)
	}
}

// TestBusinessTimeIsConsistent checks AddBusiness, BusinessBetween and IsOpen against each other,
// and against counting open minutes one by one, over many fixed pseudo-random inputs.
func TestBusinessTimeIsConsistent(t *testing.T) {
	cals := []*Calendar{
		compiledCalendar(t, lunchYAML), compiledCalendar(t, nightYAML),
		compiledCalendar(t, weekendYAML), officeCalendar(t),
	}
	bases := []string{ // around both daylight-saving changes, a holiday, and Christmas
		"2026-03-26 00:00 +02:00", "2026-10-22 00:00 +03:00",
		"2026-06-07 00:00 +03:00", "2026-12-22 00:00 +02:00", "2026-04-10 00:00 +03:00",
	}
	rng := rand.New(rand.NewPCG(20260329, 20261025))
	for i := range 200 {
		cal := cals[i%len(cals)]
		start := at(t, bases[rng.IntN(len(bases))]).Add(time.Duration(rng.IntN(6*24*60)) * time.Minute)
		d := time.Duration(1+rng.IntN(60*60)) * time.Minute
		end := cal.AddBusiness(start, d)
		require.Equal(t, d, cal.BusinessBetween(start, end), "%s from %s + %s", cal.Key, start, d)
		require.True(t, end.After(start))
		// The end is the earliest instant at which d has elapsed: one minute less is not enough.
		require.Equal(t, d-time.Minute, cal.BusinessBetween(start, cal.AddBusiness(start, d-time.Minute)))
		require.True(t, cal.AddBusiness(start, d-time.Minute).Before(end))

		b := start.Add(time.Duration(rng.IntN(5*24*60)) * time.Minute)
		between := cal.BusinessBetween(start, b)
		require.Equal(t, countOpenMinutes(cal, start, b), between, "%s from %s to %s", cal.Key, start, b)
		if between > 0 {
			back := cal.AddBusiness(start, between)
			require.False(t, back.After(b))
			require.Equal(t, between, cal.BusinessBetween(start, back))
			if cal.IsOpen(b.Add(-time.Minute)) {
				requireInstant(t, b, back, "open just before b, so AddBusiness lands on b")
			}
		}
	}
}

// countOpenMinutes is the slow, obvious BusinessBetween for minute-aligned instants.
func countOpenMinutes(cal *Calendar, a, b time.Time) time.Duration {
	var n time.Duration
	for t := a; t.Before(b); t = t.Add(time.Minute) {
		if cal.IsOpen(t) {
			n += time.Minute
		}
	}
	return n
}

func TestAddBusinessLongDurations(t *testing.T) {
	cal := compiledCalendar(t, lunchYAML)
	start := at(t, "2026-01-05 09:00 +02:00")
	// 2000 business hours are 250 working days of 8 hours, less the holidays: a year and more.
	end := cal.AddBusiness(start, 2000*time.Hour)
	require.Equal(t, 2000*time.Hour, cal.BusinessBetween(start, end))
	requireInstant(t, at(t, "2026-12-21 18:00 +02:00"), end)
}

func TestCalendarNeverOpen(t *testing.T) {
	// validate rejects such a calendar; the computations still give an answer, counting every hour.
	cal := &Calendar{APIVersion: APIVersion, Kind: KindCalendar, Key: "closed", TimeZone: "Europe/Nicosia"}
	start := at(t, "2026-06-05 16:30 +03:00")
	requireInstant(t, start.Add(8*time.Hour), cal.AddBusiness(start, 8*time.Hour))
	require.Equal(t, 5*time.Hour, cal.BusinessBetween(start, start.Add(5*time.Hour)))
	require.True(t, cal.IsOpen(start))
	var none *Calendar // a missing calendar behaves the same
	requireInstant(t, start.Add(8*time.Hour), none.AddBusiness(start, 8*time.Hour))
	require.Equal(t, 5*time.Hour, none.BusinessBetween(start, start.Add(5*time.Hour)))
	require.True(t, none.IsOpen(start))
	require.Equal(t, time.UTC, none.Location())
	require.Equal(t, Problems{{Message: `the calendar is never open: give opening hours for at least one weekday, like monday: ["09:00-17:00"]`}},
		cal.validate(sourceMap{}))
}

func TestCalendarJSONRoundTrip(t *testing.T) {
	cal := compiledCalendar(t, lunchYAML)
	cal.Version = "abc123"
	require.Equal(t, "Europe/Nicosia", cal.Location().String())
	data, err := json.Marshal(cal)
	require.NoError(t, err)
	require.Contains(t, string(data), `"monday":["09:00-13:00","14:00-18:00"]`)
	require.Contains(t, string(data), `"holidays":[{"date":"2026-06-10","name":"Kataklysmos"}`)
	require.Contains(t, string(data), `"zoneData":"VFppZ`) // base64 of "TZif"

	var back Calendar
	require.NoError(t, json.Unmarshal(data, &back))
	again, err := json.Marshal(&back)
	require.NoError(t, err)
	require.Equal(t, string(data), string(again))
	require.Equal(t, cal.Hours, back.Hours)
	require.Equal(t, cal.Holidays, back.Holidays)
	require.Equal(t, cal.ZoneData, back.ZoneData)
	require.Equal(t, "abc123", back.Version)
	require.Equal(t, "Europe/Nicosia", back.Location().String())

	start := at(t, "2026-03-27 17:30 +02:00")
	for _, d := range []time.Duration{time.Minute, 3 * time.Hour, 30 * time.Hour, 200 * time.Hour} {
		requireInstant(t, cal.AddBusiness(start, d), back.AddBusiness(start, d))
	}
	requireInstant(t, at(t, "2026-03-30 10:00 +03:00"), back.AddBusiness(start, 90*time.Minute))

	var span TimeSpan
	require.NoError(t, json.Unmarshal([]byte(`"08:30-24:00"`), &span))
	require.Equal(t, TimeSpan{Start: 510, End: 1440}, span)
	require.ErrorContains(t, json.Unmarshal([]byte(`"8-17"`), &span), `"8-17" is not a span of opening hours`)
}

func TestCalendarZoneDataIsPinned(t *testing.T) {
	// The calendar uses the rules it carries, whatever its name says: here Nicosia's name with UTC's
	// rules, so nothing is read from the machine or the embedded database once compiled.
	utc, err := tzData("UTC")
	require.NoError(t, err)
	cal := &Calendar{TimeZone: "Europe/Nicosia", ZoneData: utc, Hours: WeeklyHours{Monday: []TimeSpan{{Start: 9 * 60, End: 17 * 60}}}}
	requireInstant(t, at(t, "2026-06-01 10:00 +00:00"), cal.AddBusiness(at(t, "2026-06-01 08:00 +00:00"), time.Hour))

	// A calendar that was never compiled takes its zone from the embedded database.
	raw := &Calendar{TimeZone: "Europe/Nicosia", Hours: WeeklyHours{Monday: []TimeSpan{{Start: 9 * 60, End: 17 * 60}}}}
	requireInstant(t, at(t, "2026-06-01 10:00 +03:00"), raw.AddBusiness(at(t, "2026-06-01 08:00 +03:00"), time.Hour))

	// compile replaces the rules and forgets what was built from the old ones.
	require.NoError(t, cal.compile())
	requireInstant(t, at(t, "2026-06-01 10:00 +03:00"), cal.AddBusiness(at(t, "2026-06-01 08:00 +03:00"), time.Hour))
}

func TestCalendarCompile(t *testing.T) {
	cal := officeCalendar(t)
	require.True(t, bytes.HasPrefix(cal.ZoneData, []byte("TZif")))

	bad := &Calendar{TimeZone: "Europe/Nicosa"}
	require.EqualError(t, bad.compile(), `unknown time zone "Europe/Nicosa" (did you mean "Europe/Nicosia"?); use a name from the IANA time zone database, like Europe/Nicosia or UTC`)
	require.Nil(t, bad.ZoneData)

	require.Contains(t, tzNames(), "Europe/Nicosia")
	require.Contains(t, tzNames(), "UTC")
	require.True(t, tzKnown("America/New_York"))
	require.False(t, tzKnown("Local"))
	require.False(t, tzKnown("Europe/"))
}

func TestCalendarConcurrentUse(t *testing.T) {
	data, err := json.Marshal(officeCalendar(t))
	require.NoError(t, err)
	var cal Calendar
	require.NoError(t, json.Unmarshal(data, &cal))
	start := at(t, "2026-06-05 16:30 +03:00")
	want := at(t, "2026-06-08 16:30 +03:00")
	var wg sync.WaitGroup
	results := make([]time.Time, 8)
	for i := range results {
		wg.Go(func() {
			_ = cal.Location()
			results[i] = cal.AddBusiness(start, 8*time.Hour)
		})
	}
	wg.Wait()
	for _, got := range results {
		requireInstant(t, want, got)
	}
}

func TestCalendarValid(t *testing.T) {
	cal, decodeProblems, problems := decodeCalendar(t, officeYAML+`  sunday: []
holidays:
  - {date: 2026-12-25, name: Christmas Day}
  - date: 2027-01-01
`)
	require.Empty(t, decodeProblems)
	require.Empty(t, problems)
	require.Equal(t, KindCalendar, cal.Kind)
	require.Equal(t, "Office hours", cal.Title)
	require.Equal(t, []TimeSpan{{Start: 540, End: 1020}}, cal.Hours.Friday)
	require.Empty(t, cal.Hours.Saturday)
	require.Equal(t, []Holiday{{Date: "2026-12-25", Name: "Christmas Day"}, {Date: "2027-01-01"}}, cal.Holidays)
}

func TestCalendarValidate(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"everything wrong", `apiVersion: fieldflow/v2
kind: Calendar
key: Office
timeZone: Europe/Nicosa
hours:
  monday: ["09:00-17:00", "12:00-18:00"]
  tuesday: ["17:00-09:00"]
  wednesday: ["09:00-12:00", "12:00-13:00"]
  thursday: ["09:00-10:00", "11:00-12:00", "08:00-11:30"]
holidays:
  - {date: 2026-12-25, name: Christmas Day}
  - {date: 2026-02-30}
  - {date: 2026-12-25, name: Again}
  - {date: "25/12/2026"}
`, []string{
			`cal.yaml:1:13: apiVersion "fieldflow/v2" is not supported; use "fieldflow/v1"`,
			`cal.yaml:3:6: key "Office" must start with a lower-case letter and use only a-z, 0-9, - and _`,
			`cal.yaml:4:11: unknown time zone "Europe/Nicosa" (did you mean "Europe/Nicosia"?); use a name from the IANA time zone database, like Europe/Nicosia or UTC`,
			`cal.yaml:6:27: opening hours 12:00-18:00 overlap 09:00-17:00 (hours.monday[0]) on monday`,
			`cal.yaml:7:13: opening hours 17:00-09:00 must end after they start (for hours past midnight, close this day at 24:00 and open the next day at 00:00)`,
			`cal.yaml:9:44: opening hours 08:00-11:30 overlap 09:00-10:00 (hours.thursday[0]) on thursday`,
			`cal.yaml:12:12: holiday date "2026-02-30" is not a date; write it as YYYY-MM-DD, like 2026-12-25`,
			`cal.yaml:13:12: holiday date 2026-12-25 is already listed as holidays[0]`,
			`cal.yaml:14:12: holiday date "25/12/2026" is not a date; write it as YYYY-MM-DD, like 2026-12-25`,
		}},
		{"never open", `apiVersion: fieldflow/v1
kind: Calendar
key: closed
timeZone: UTC
hours: {sunday: [], monday: ["10:00-10:00"]}
`, []string{
			`cal.yaml:5:8: the calendar is never open: give opening hours for at least one weekday, like monday: ["09:00-17:00"]`,
			`cal.yaml:5:30: opening hours 10:00-10:00 must end after they start (for hours past midnight, close this day at 24:00 and open the next day at 00:00)`,
		}},
		{"no hours at all", `apiVersion: fieldflow/v1
kind: Calendar
key: closed
timeZone: europe/nicosia
`, []string{
			`cal.yaml:1:1: the calendar is never open: give opening hours for at least one weekday, like monday: ["09:00-17:00"]`,
			`cal.yaml:4:11: unknown time zone "europe/nicosia" (did you mean "Europe/Nicosia"?); use a name from the IANA time zone database, like Europe/Nicosia or UTC`,
		}},
		{"empty time zone and wrong kind", `apiVersion: fieldflow/v1
kind: Calender
key: office
timeZone: ""
hours: {monday: ["09:00-17:00"]}
`, []string{
			`cal.yaml:2:7: kind "Calender" is not Calendar`,
			`cal.yaml:4:11: the calendar needs a time zone: an IANA name like Europe/Nicosia or UTC`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, decodeProblems, problems := decodeCalendar(t, tt.yaml)
			require.Empty(t, decodeProblems)
			require.Error(t, problems.Err())
			require.Equal(t, tt.want, calProblemLines(problems))
		})
	}
}

func TestCalendarDecodeProblems(t *testing.T) {
	_, decodeProblems, _ := decodeCalendar(t, `apiVersion: fieldflow/v1
kind: Calendar
key: office
timeZone: UTC
hours:
  monday: ["9-17", "09:00-25:00", "24:00-24:00", ~, "9:00-17:00"]
  funday: ["09:00-17:00"]
  tuesday: "09:00-17:00"
holidays:
  - {name: No date}
`)
	require.Equal(t, []string{
		`cal.yaml:6:12: hours.monday[0]: "9-17" is not a span of opening hours: "9" is not a time of day; write it as HH:MM-HH:MM, like 09:00-17:00`,
		`cal.yaml:6:20: hours.monday[1]: "09:00-25:00" is not a span of opening hours: "25:00" is not a time of day; use 00:00 to 23:59, or 24:00 for the end of the day`,
		`cal.yaml:6:35: hours.monday[2]: "24:00-24:00" starts at 24:00; 24:00 can only end a span (use 00:00 for the start of a day)`,
		`cal.yaml:6:50: hours.monday[3]: expected opening hours like 09:00-17:00, got nothing`,
		`cal.yaml:7:3: hours: unknown field "funday" (did you mean "sunday"?)`,
		`cal.yaml:8:12: hours.tuesday: expected a list, got "09:00-17:00"`,
		`cal.yaml:10:5: holidays[0]: missing required field "date"`,
	}, calProblemLines(decodeProblems))
}

func TestParseTimeSpan(t *testing.T) {
	good := map[string]TimeSpan{
		"09:00-17:00":   {540, 1020},
		"9:30-12:00":    {570, 720},
		"00:00-24:00":   {0, 1440},
		"08:00 - 12:15": {480, 735},
	}
	for text, want := range good {
		got, err := parseTimeSpan(text)
		require.NoError(t, err, text)
		require.Equal(t, want, got, text)
	}
	for _, text := range []string{"", "09:00", "09:00-", "-17:00", "09:00-17:00-18:00", "09:0-17:00", "+9:00-17:00",
		"09:60-17:00", "24:01-24:00", "25:00-26:00", "ab:cd-ef:gh", "09:00-24:30", "009:00-17:00"} {
		_, err := parseTimeSpan(text)
		require.Error(t, err, text)
	}
	require.Equal(t, "09:05-24:00", TimeSpan{Start: 545, End: 1440}.String())
}

// BenchmarkAddBusiness measures business-time arithmetic on short and long spans, across a
// weekend, a daylight-saving change and holidays.
func BenchmarkAddBusiness(b *testing.B) {
	lunch := compiledCalendar(b, lunchYAML)
	office := compiledCalendar(b, officeYAML+`holidays:
  - {date: 2026-12-24, name: Christmas Eve}
  - {date: 2026-12-25, name: Christmas Day}
  - {date: 2026-12-26, name: Boxing Day}
  - {date: 2027-01-01, name: New Year's Day}
  - {date: 2027-01-06, name: Epiphany}
`)
	for _, tc := range []struct {
		name  string
		cal   *Calendar
		start string
		d     time.Duration
	}{
		{"2h_same_day", office, "2026-11-23 10:00 +02:00", 2 * time.Hour},
		{"8h_over_weekend", office, "2026-11-27 16:30 +02:00", 8 * time.Hour},
		{"40h_over_holidays", office, "2026-12-22 09:00 +02:00", 40 * time.Hour},
		{"160h_four_weeks", lunch, "2026-03-27 16:30 +02:00", 160 * time.Hour}, // over the change to summer time
		{"2000h_a_year", lunch, "2026-01-05 09:00 +02:00", 2000 * time.Hour},
	} {
		start := at(b, tc.start)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = tc.cal.AddBusiness(start, tc.d)
			}
		})
	}
	b.Run("between_four_weeks", func(b *testing.B) {
		start := at(b, "2026-03-27 16:30 +02:00")
		end := lunch.AddBusiness(start, 160*time.Hour)
		b.ReportAllocs()
		for b.Loop() {
			_ = lunch.BusinessBetween(start, end)
		}
	})
}
