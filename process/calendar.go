package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Calendar is a business calendar, a `kind: Calendar` definition: the opening hours of each weekday
// and the holidays, in one time zone. Business durations ("8bh") are counted on it.
//
// A Calendar travels to workflows as JSON, with its zone rules in ZoneData, so its computations
// read nothing from the machine and give the same answers on every worker. Its methods are safe
// for concurrent use; do not change its fields once one of them has been called.
//
// The methods may be called on a nil *Calendar, which is open around the clock in UTC, the way
// Deadline treats a missing calendar.
type Calendar struct {
	APIVersion string `yaml:"apiVersion,required" json:"apiVersion"`
	Kind       Kind   `yaml:"kind,required" json:"kind"`
	Key        string `yaml:"key,required" json:"key"`
	Title      string `yaml:"title" json:"title"`
	// TimeZone is an IANA zone name ("Europe/Nicosia"); hours and holidays are in its local time.
	TimeZone string `yaml:"timeZone,required" json:"timeZone"`
	// Hours are the opening hours of each weekday; a day without spans is closed.
	Hours WeeklyHours `yaml:"hours" json:"hours"`
	// Holidays are whole days closed.
	Holidays []Holiday `yaml:"holidays" json:"holidays,omitempty"`

	// ZoneData is the TZif rules of TimeZone, copied from the embedded zone database by compile.
	ZoneData []byte `yaml:"-" json:"zoneData"`
	// Version is the content hash of the definition, set when it is loaded.
	Version string `yaml:"-" json:"version"`

	mu    sync.Mutex
	sched *calendarSchedule // built on first use from the fields above
}

// WeeklyHours are the opening hours of each weekday, as spans of local time.
type WeeklyHours struct {
	Monday    []TimeSpan `yaml:"monday" json:"monday,omitempty"`
	Tuesday   []TimeSpan `yaml:"tuesday" json:"tuesday,omitempty"`
	Wednesday []TimeSpan `yaml:"wednesday" json:"wednesday,omitempty"`
	Thursday  []TimeSpan `yaml:"thursday" json:"thursday,omitempty"`
	Friday    []TimeSpan `yaml:"friday" json:"friday,omitempty"`
	Saturday  []TimeSpan `yaml:"saturday" json:"saturday,omitempty"`
	Sunday    []TimeSpan `yaml:"sunday" json:"sunday,omitempty"`
}

// calendarDays names the weekdays in the order they are validated and reported.
var calendarDays = []struct {
	name    string
	weekday time.Weekday
}{
	{"monday", time.Monday}, {"tuesday", time.Tuesday}, {"wednesday", time.Wednesday},
	{"thursday", time.Thursday}, {"friday", time.Friday}, {"saturday", time.Saturday}, {"sunday", time.Sunday},
}

// day returns the spans of a weekday.
func (w *WeeklyHours) day(d time.Weekday) []TimeSpan {
	switch d {
	case time.Monday:
		return w.Monday
	case time.Tuesday:
		return w.Tuesday
	case time.Wednesday:
		return w.Wednesday
	case time.Thursday:
		return w.Thursday
	case time.Friday:
		return w.Friday
	case time.Saturday:
		return w.Saturday
	default:
		return w.Sunday
	}
}

// TimeSpan is a span of local time within one day, written "09:00-17:00". It includes its start and
// excludes its end; the end may be 24:00, the midnight that ends the day.
type TimeSpan struct {
	// Start and End are minutes from midnight, 0 to 1440.
	Start, End int
}

// String writes the span as HH:MM-HH:MM.
func (s TimeSpan) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", s.Start/60, s.Start%60, s.End/60, s.End%60)
}

// MarshalJSON writes the span as a JSON string, "09:00-17:00".
func (s TimeSpan) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a span written by MarshalJSON.
func (s *TimeSpan) UnmarshalJSON(data []byte) error {
	var text string
	if err := json.Unmarshal(data, &text); err != nil {
		return fmt.Errorf("a span of opening hours must be a JSON string such as \"09:00-17:00\": %w", err)
	}
	parsed, err := parseTimeSpan(text)
	if err != nil {
		return err
	}
	*s = parsed
	return nil
}

func (s *TimeSpan) decodeNode(n *yaml.Node) error {
	if isNull(n) {
		return errors.New("expected opening hours like 09:00-17:00, got nothing")
	}
	parsed, err := parseTimeSpan(n.Value)
	if err != nil {
		return err
	}
	*s = parsed
	return nil
}

// parseTimeSpan reads "HH:MM-HH:MM". It does not check that the end comes after the start:
// Calendar.validate reports that, at the span's place.
func parseTimeSpan(text string) (TimeSpan, error) {
	from, to, ok := strings.Cut(text, "-")
	if !ok || strings.Contains(to, "-") {
		return TimeSpan{}, fmt.Errorf("%q is not a span of opening hours; write it as HH:MM-HH:MM, like 09:00-17:00", text)
	}
	start, err := parseSpanClock(strings.TrimSpace(from), text)
	if err != nil {
		return TimeSpan{}, err
	}
	if start == 24*60 {
		return TimeSpan{}, fmt.Errorf("%q starts at 24:00; 24:00 can only end a span (use 00:00 for the start of a day)", text)
	}
	end, err := parseSpanClock(strings.TrimSpace(to), text)
	if err != nil {
		return TimeSpan{}, err
	}
	return TimeSpan{Start: start, End: end}, nil
}

// parseSpanClock reads "HH:MM" (or "H:MM") as minutes from midnight; 24:00 is the end of the day.
func parseSpanClock(clock, span string) (int, error) {
	hh, mm, ok := strings.Cut(clock, ":")
	bad := fmt.Errorf("%q is not a span of opening hours: %q is not a time of day; write it as HH:MM-HH:MM, like 09:00-17:00", span, clock)
	if !ok || len(hh) < 1 || len(hh) > 2 || len(mm) != 2 {
		return 0, bad
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || hh[0] == '+' || hh[0] == '-' || mm[0] == '+' || mm[0] == '-' {
		return 0, bad
	}
	if h > 24 || m > 59 || h == 24 && m != 0 {
		return 0, fmt.Errorf("%q is not a span of opening hours: %q is not a time of day; use 00:00 to 23:59, or 24:00 for the end of the day", span, clock)
	}
	return h*60 + m, nil
}

// Holiday is a whole day on which a calendar is closed.
type Holiday struct {
	// Date is the day, YYYY-MM-DD, in the calendar's time zone.
	Date string `yaml:"date,required" json:"date"`
	Name string `yaml:"name" json:"name,omitempty"`
}

// calendarDate is a day of the civil calendar, y*10000 + m*100 + d, for holiday lookups.
type calendarDate int

func calDateOf(y int, m time.Month, d int) calendarDate {
	return calendarDate(y*10000 + int(m)*100 + d)
}

// parseHolidayDate reads YYYY-MM-DD.
func parseHolidayDate(s string) (calendarDate, bool) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, false
	}
	return calDateOf(t.Date()), true
}

// validate reports every rule the calendar breaks, at the place it is broken.
func (c *Calendar) validate(src sourceMap) Problems {
	var ps Problems
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Position: src.at(path), Message: fmt.Sprintf(format, args...)})
	}
	if c.APIVersion != "" && c.APIVersion != APIVersion {
		add("apiVersion", "apiVersion %q is not supported; use %q", c.APIVersion, APIVersion)
	}
	if c.Kind != "" && c.Kind != KindCalendar {
		add("kind", "kind %q is not %s", c.Kind, KindCalendar)
	}
	if c.Key != "" && !idPattern.MatchString(c.Key) {
		add("key", "key %q must start with a lower-case letter and use only a-z, 0-9, - and _", c.Key)
	}
	switch {
	case c.TimeZone == "":
		add("timeZone", "the calendar needs a time zone: an IANA name like Europe/Nicosia or UTC")
	case !tzKnown(c.TimeZone):
		add("timeZone", "unknown time zone %q%s; use a name from the IANA time zone database, like Europe/Nicosia or UTC",
			c.TimeZone, suggest(c.TimeZone, tzNames()))
	}

	open := false
	for _, day := range calendarDays {
		spans := c.Hours.day(day.weekday)
		for i, s := range spans {
			path := fmt.Sprintf("hours.%s[%d]", day.name, i)
			if s.End <= s.Start {
				add(path, "opening hours %s must end after they start "+
					"(for hours past midnight, close this day at 24:00 and open the next day at 00:00)", s)
				continue
			}
			open = true
			for j, earlier := range spans[:i] {
				if earlier.End > earlier.Start && s.Start < earlier.End && earlier.Start < s.End {
					add(path, "opening hours %s overlap %s (hours.%s[%d]) on %s", s, earlier, day.name, j, day.name)
					break
				}
			}
		}
	}
	if !open {
		add("hours", "the calendar is never open: give opening hours for at least one weekday, like monday: [\"09:00-17:00\"]")
	}

	seen := map[calendarDate]int{}
	for i, h := range c.Holidays {
		path := fmt.Sprintf("holidays[%d].date", i)
		if h.Date == "" {
			add(path, "a holiday needs a date, like 2026-12-25")
			continue
		}
		date, ok := parseHolidayDate(h.Date)
		if !ok {
			add(path, "holiday date %q is not a date; write it as YYYY-MM-DD, like 2026-12-25", h.Date)
			continue
		}
		if j, dup := seen[date]; dup {
			add(path, "holiday date %s is already listed as holidays[%d]", h.Date, j)
			continue
		}
		seen[date] = i
	}
	return ps
}

// compile copies the rules of the calendar's time zone from the embedded zone database into
// ZoneData, so the calendar carries them wherever it goes.
func (c *Calendar) compile() error {
	data, err := tzData(c.TimeZone)
	if err != nil {
		return err
	}
	if _, err := time.LoadLocationFromTZData(c.TimeZone, data); err != nil {
		return fmt.Errorf("time zone %q: %w", c.TimeZone, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ZoneData = data
	c.sched = nil
	return nil
}

// calendarSchedule is what the computations need, prepared once per calendar.
type calendarSchedule struct {
	loc *time.Location
	// days holds the opening spans of each weekday (indexed by time.Weekday), sorted, with
	// overlapping and touching spans merged and invalid ones dropped.
	days     [7][]TimeSpan
	holidays map[calendarDate]bool // only looked up, never iterated
	// open is false when no weekday has opening hours: the calendar then counts as always open.
	open bool
	// maxIdle bounds the run of days without opening time a walk may meet before giving up.
	maxIdle int
}

// aroundTheClock is the schedule of a nil calendar: in UTC, with no opening hours, so it counts as
// always open.
var aroundTheClock = &calendarSchedule{loc: time.UTC}

// schedule returns the prepared calendar, building it on first use.
func (c *Calendar) schedule() *calendarSchedule {
	if c == nil {
		return aroundTheClock
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sched != nil {
		return c.sched
	}
	s := &calendarSchedule{loc: c.location(), holidays: map[calendarDate]bool{}}
	for _, day := range calendarDays {
		var spans []TimeSpan
		for _, sp := range c.Hours.day(day.weekday) {
			if sp.Start >= 0 && sp.End <= 24*60 && sp.End > sp.Start {
				spans = append(spans, sp)
			}
		}
		sort.Slice(spans, func(i, j int) bool { return spans[i].Start < spans[j].Start })
		var merged []TimeSpan
		for _, sp := range spans {
			if n := len(merged); n > 0 && sp.Start <= merged[n-1].End {
				merged[n-1].End = max(merged[n-1].End, sp.End)
				continue
			}
			merged = append(merged, sp)
		}
		s.days[day.weekday] = merged
		s.open = s.open || len(merged) > 0
	}
	for _, h := range c.Holidays {
		if date, ok := parseHolidayDate(h.Date); ok {
			s.holidays[date] = true
		}
	}
	// Every week has opening time unless its open weekdays are all holidays, so a walk meets
	// opening time within len(holidays)+7 days; anything longer means something is broken.
	s.maxIdle = len(s.holidays) + 14
	c.sched = s
	return s
}

// location builds the calendar's time zone from ZoneData, or, when the calendar was not compiled,
// from the embedded zone database. It falls back to UTC when neither works (validate and compile
// rule that out). The caller holds c.mu.
func (c *Calendar) location() *time.Location {
	if c.TimeZone == "" {
		return time.UTC
	}
	data := c.ZoneData
	if len(data) == 0 {
		var err error
		if data, err = tzData(c.TimeZone); err != nil {
			return time.UTC
		}
	}
	loc, err := time.LoadLocationFromTZData(c.TimeZone, data)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Location returns the calendar's time zone, built from ZoneData (so it needs no zone files on
// the machine). A calendar that was not compiled takes its zone from the zone database embedded in
// the program; one with an empty TimeZone, or whose zone cannot be read at all (validate and
// compile rule both out), is in UTC.
func (c *Calendar) Location() *time.Location { return c.schedule().loc }

// spanInstants returns when a span of the given day starts and ends. Built with time.Date in the
// calendar's location, they follow daylight-saving changes: a span across a spring-forward night
// is an hour shorter, one across a fall-back night an hour longer.
func (s *calendarSchedule) spanInstants(y int, m time.Month, d int, sp TimeSpan) (start, end time.Time) {
	start = time.Date(y, m, d, sp.Start/60, sp.Start%60, 0, 0, s.loc)
	if sp.End == 24*60 {
		end = time.Date(y, m, d+1, 0, 0, 0, 0, s.loc)
	} else {
		end = time.Date(y, m, d, sp.End/60, sp.End%60, 0, 0, s.loc)
	}
	if end.Before(start) { // a span inside a daylight-saving gap
		end = start
	}
	return start, end
}

// spansOn returns the opening spans of a day: none on a holiday.
func (s *calendarSchedule) spansOn(y int, m time.Month, d int) []TimeSpan {
	if s.holidays[calDateOf(y, m, d)] {
		return nil
	}
	return s.days[time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Weekday()]
}

// calNextDay returns the civil day after y-m-d.
func calNextDay(y int, m time.Month, d int) (int, time.Month, int) {
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC).Date()
}

// IsOpen reports whether the calendar is open at t: t is within a span of opening hours of its
// local day, and that day is not a holiday. A span includes its start and excludes its end.
// A calendar with no opening hours at all (validate rejects it) counts as always open.
func (c *Calendar) IsOpen(t time.Time) bool {
	s := c.schedule()
	if !s.open {
		return true
	}
	y, m, d := t.In(s.loc).Date()
	for _, sp := range s.spansOn(y, m, d) {
		start, end := s.spanInstants(y, m, d, sp)
		if !t.Before(start) && t.Before(end) {
			return true
		}
	}
	return false
}

// AddBusiness returns the instant at which d of opening time has elapsed after t. When t is outside
// opening hours, counting starts at the next opening; when d runs out exactly at a closing time,
// the result is that closing time. d <= 0 returns t. The result is in t's location.
//
// A calendar with no opening hours at all (validate rejects it) counts as always open, so the
// result is t.Add(d): a deadline on a broken calendar still arrives.
func (c *Calendar) AddBusiness(t time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return t
	}
	s := c.schedule()
	if !s.open {
		return t.Add(d)
	}
	remaining := d
	y, m, day := t.In(s.loc).Date()
	for idle := 0; idle <= s.maxIdle; idle++ {
		for _, sp := range s.spansOn(y, m, day) {
			start, end := s.spanInstants(y, m, day, sp)
			if !end.After(t) {
				continue
			}
			if start.Before(t) {
				start = t
			}
			if avail := end.Sub(start); avail > 0 {
				idle = -1 // this day had opening time
				if remaining <= avail {
					return start.Add(remaining).In(t.Location())
				}
				remaining -= avail
			}
		}
		y, m, day = calNextDay(y, m, day)
	}
	return t.Add(d) // unreachable for a calendar with opening hours; see the doc comment
}

// BusinessBetween returns the opening time elapsed between a and b; 0 when b is not after a. It is
// the inverse of AddBusiness: BusinessBetween(t, AddBusiness(t, d)) == d for any d > 0.
// A calendar with no opening hours at all counts as always open, so the result is b - a.
func (c *Calendar) BusinessBetween(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	s := c.schedule()
	if !s.open {
		return b.Sub(a)
	}
	var total time.Duration
	y, m, d := a.In(s.loc).Date()
	for time.Date(y, m, d, 0, 0, 0, 0, s.loc).Before(b) {
		for _, sp := range s.spansOn(y, m, d) {
			start, end := s.spanInstants(y, m, d, sp)
			if start.Before(a) {
				start = a
			}
			if end.After(b) {
				end = b
			}
			if end.After(start) {
				total += end.Sub(start)
			}
		}
		y, m, d = calNextDay(y, m, d)
	}
	return total
}

// Deadline returns when a duration that starts at start runs out. A wall-clock duration is added
// to start. A business duration counts the opening hours of cal (see Calendar.AddBusiness); with a
// nil calendar every hour counts, as if the calendar were open around the clock.
// A zero duration returns start.
func Deadline(start time.Time, d Duration, cal *Calendar) time.Time {
	switch {
	case d.D <= 0:
		return start
	case !d.Business || cal == nil:
		return start.Add(d.D)
	default:
		return cal.AddBusiness(start, d.D)
	}
}
