package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a span of time written in a definition ("30m", "3d", "8bh").
//
// Wall-clock durations (Business false) are plain elapsed time: a day is 24 hours and a week is
// 7 days, whatever the calendar or daylight saving time does. Business durations (Business true,
// written with bh or bm) count only the opening hours of a calendar; see Deadline.
type Duration struct {
	// D is the length: elapsed time for a wall-clock duration, opening time for a business one.
	D time.Duration
	// Business is true for durations written in business hours (bh) or business minutes (bm).
	Business bool
	// Text is the duration as the designer wrote it, kept so messages and JSON show it unchanged.
	Text string
}

// durationForms lists what a designer may write, for error messages.
const durationForms = "write a number and a unit: 30s, 15m, 4h, 3d (days of 24 hours), 2w, " +
	"or a combination such as 1h30m; for business time, counted on the calendar's opening hours, " +
	"write 8bh (business hours) or 90bm (business minutes)"

// durationUnits maps each unit a duration may use to its length, and says whether it is business time.
var durationUnits = map[string]struct {
	size     time.Duration
	business bool
}{
	"ns": {time.Nanosecond, false},
	"us": {time.Microsecond, false},
	"µs": {time.Microsecond, false}, // U+00B5, as time.Duration.String writes it
	"μs": {time.Microsecond, false}, // U+03BC
	"ms": {time.Millisecond, false},
	"s":  {time.Second, false},
	"m":  {time.Minute, false},
	"h":  {time.Hour, false},
	"d":  {24 * time.Hour, false},
	"w":  {7 * 24 * time.Hour, false},
	"bm": {time.Minute, true},
	"bh": {time.Hour, true},
}

// ParseDuration reads a duration as written in a definition.
//
// The longest durations a definition may give.
const (
	MaxDuration         = 3650 * 24 * time.Hour
	MaxBusinessDuration = 20000 * time.Hour
)

// Wall-clock forms are a number and a unit, or several of them in a row as Go writes durations:
// 30s, 15m, 4h, 3d (24-hour days), 2w, 1h30m, 1.5h (ns, us, ms are accepted too). Business forms
// count opening time on a calendar: 8bh (business hours), 90bm (business minutes), 1bh30bm; they
// must come to a whole number of minutes, and cannot be mixed with wall-clock units. A duration
// must be longer than zero. Surrounding spaces are ignored; Text holds the rest.
func ParseDuration(s string) (Duration, error) {
	text := strings.TrimSpace(s)
	switch {
	case text == "":
		return Duration{}, errors.New("the duration is empty; " + durationForms)
	case strings.HasPrefix(text, "-"):
		return Duration{}, fmt.Errorf("%q is negative; a duration must be longer than zero", text)
	case strings.ContainsAny(text, " \t\r\n"):
		return Duration{}, fmt.Errorf("%q has a space in it; write durations without spaces, like 1h30m", text)
	}
	total := new(big.Int)
	business, wall := false, false
	rest := text
	for rest != "" {
		// The number: digits, with an optional decimal part.
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		number := rest[:i]
		rest = rest[i:]
		// The unit: everything up to the next digit.
		j := 0
		for j < len(rest) && !(rest[j] >= '0' && rest[j] <= '9' || rest[j] == '.') {
			j++
		}
		unitName := rest[:j]
		rest = rest[j:]

		whole, frac, ok := strings.Cut(number, ".")
		if number == "" || strings.Count(number, ".") > 1 || whole == "" && frac == "" || ok && frac == "" {
			if number == "" {
				return Duration{}, fmt.Errorf("%q is not a duration; %s", text, durationForms)
			}
			return Duration{}, fmt.Errorf("%q is not a duration: %q is not a number; %s", text, number, durationForms)
		}
		if unitName == "" {
			return Duration{}, fmt.Errorf("%q has no unit after %s; %s", text, number, durationForms)
		}
		unit, known := durationUnits[unitName]
		if !known {
			return Duration{}, fmt.Errorf("%q has an unknown unit %q; %s", text, unitName, durationForms)
		}
		if unit.business {
			business = true
		} else {
			wall = true
		}
		if business && wall {
			return Duration{}, fmt.Errorf("%q mixes business time (bh, bm) with wall-clock time; "+
				"write it in one kind only, such as 8bh30bm or 8h30m", text)
		}
		if len(whole)+len(frac) > 30 {
			return Duration{}, fmt.Errorf("%q is too long; a duration can be at most about 290 years", text)
		}
		// The value of this part in nanoseconds, exactly: (whole.frac × unit), rounded down.
		digits, _ := new(big.Int).SetString(whole+frac, 10)
		digits.Mul(digits, big.NewInt(int64(unit.size)))
		digits.Quo(digits, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil))
		total.Add(total, digits)
		if total.Cmp(big.NewInt(math.MaxInt64)) > 0 {
			return Duration{}, fmt.Errorf("%q is too long; a duration can be at most about 290 years", text)
		}
	}
	d := time.Duration(total.Int64())
	if d == 0 {
		return Duration{}, fmt.Errorf("%q is zero; a duration must be longer than zero", text)
	}
	if business && d%time.Minute != 0 {
		return Duration{}, fmt.Errorf("%q is not a whole number of minutes; business time counts in whole minutes", text)
	}
	// Targets and timeouts of a service process are measured in hours, days or months; the bounds
	// also keep a calendar walk short.
	if business && d > MaxBusinessDuration {
		return Duration{}, fmt.Errorf("%q is too long; business time can be at most %dbh", text, int(MaxBusinessDuration.Hours()))
	}
	if !business && d > MaxDuration {
		return Duration{}, fmt.Errorf("%q is too long; a duration can be at most %dd (ten years)", text, int(MaxDuration.Hours()/24))
	}
	return Duration{D: d, Business: business, Text: text}, nil
}

// String returns the duration as it was written. A Duration built in code without Text is
// written in a form ParseDuration reads back: a business one in whole business hours or minutes
// (rounded up to the minute), a wall-clock one as Go writes durations ("1h30m0s").
// The zero Duration is "".
func (d Duration) String() string {
	switch {
	case d.Text != "":
		return d.Text
	case d.D == 0:
		return ""
	case !d.Business:
		return d.D.String()
	case d.D%time.Hour == 0:
		return fmt.Sprintf("%dbh", d.D/time.Hour)
	default:
		return fmt.Sprintf("%dbm", (d.D+time.Minute-1)/time.Minute)
	}
}

// IsZero reports whether no duration was given.
func (d Duration) IsZero() bool { return d.D == 0 }

// MarshalJSON writes the duration as a JSON string of its text ("8bh"); the zero Duration is "".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration written by MarshalJSON. "" and null give the zero Duration.
func (d *Duration) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*d = Duration{}
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("a duration must be a JSON string such as \"30m\" or \"8bh\": %w", err)
	}
	if s == "" {
		*d = Duration{}
		return nil
	}
	parsed, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = parsed
	return nil
}

// decodeNode reads the duration from a YAML scalar ("timeout: 30m").
func (d *Duration) decodeNode(n *yaml.Node) error {
	if isNull(n) {
		return errors.New("expected a duration, got nothing; " + durationForms)
	}
	parsed, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = parsed
	return nil
}
