package process

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Numbering is a parsed numbering scheme such as "SR-{yyyy}-{seq:6}".
//
// Tokens: {yyyy} and {yy} (year), {mm} (month), {dd} (day), {seq} or {seq:N} (the sequence, zero-padded
// to N digits). The sequence counts per scope: the scheme with its date tokens filled in, so
// "SR-{yyyy}-{seq:6}" starts again at 1 every year and two queues with the same scheme never hand
// out the same number.
type Numbering struct {
	parts []numberPart
}

type numberPart struct {
	literal string
	token   string // yyyy, yy, mm, dd, seq
	width   int    // for seq
}

// ParseNumbering checks a numbering scheme.
func ParseNumbering(scheme string) (Numbering, error) {
	var n Numbering
	rest := scheme
	seqs := 0
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			n.parts = append(n.parts, numberPart{literal: rest})
			break
		}
		if open > 0 {
			n.parts = append(n.parts, numberPart{literal: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return Numbering{}, fmt.Errorf("%q has a { without a closing }", scheme)
		}
		token := rest[open+1 : open+end]
		rest = rest[open+end+1:]
		name, arg, hasArg := strings.Cut(token, ":")
		part := numberPart{token: name}
		switch name {
		case "yyyy", "yy", "mm", "dd":
			if hasArg {
				return Numbering{}, fmt.Errorf("{%s} takes no width", name)
			}
		case "seq":
			seqs++
			if hasArg {
				w, err := strconv.Atoi(arg)
				if err != nil || w < 1 || w > 18 {
					return Numbering{}, fmt.Errorf("{seq:%s}: the width must be a number from 1 to 18", arg)
				}
				part.width = w
			}
		default:
			return Numbering{}, fmt.Errorf("unknown token {%s}; use {yyyy}, {yy}, {mm}, {dd} or {seq:N}%s", token,
				suggest(name, []string{"yyyy", "yy", "mm", "dd", "seq"}))
		}
		n.parts = append(n.parts, part)
	}
	if seqs != 1 {
		return Numbering{}, errors.New("a numbering scheme needs exactly one {seq} or {seq:N}")
	}
	return n, nil
}

// Scope is the sequence scope of a number created at t: the scheme with its dates filled in.
func (n Numbering) Scope(t time.Time) string {
	return n.render(t, func(numberPart) string { return "{seq}" })
}

// Format renders the number with sequence value seq for a record created at t.
func (n Numbering) Format(t time.Time, seq int64) string {
	return n.render(t, func(p numberPart) string {
		return fmt.Sprintf("%0*d", p.width, seq)
	})
}

func (n Numbering) render(t time.Time, seq func(numberPart) string) string {
	var b strings.Builder
	for _, p := range n.parts {
		switch p.token {
		case "":
			b.WriteString(p.literal)
		case "yyyy":
			fmt.Fprintf(&b, "%04d", t.Year())
		case "yy":
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case "mm":
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case "dd":
			fmt.Fprintf(&b, "%02d", t.Day())
		case "seq":
			b.WriteString(seq(p))
		}
	}
	return b.String()
}
