package process

import (
	"fmt"
	"sort"
	"strings"
)

// Position is a place in a definition file, 1-based like an editor shows it.
type Position struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

// String renders the position as file:line:column.
func (p Position) String() string {
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Problem is one mistake found in a definition, with the place it was found.
type Problem struct {
	Position
	Message string `json:"message"`
}

// Error renders the problem as file:line:column: message.
func (p Problem) Error() string { return p.Position.String() + ": " + p.Message }

// Problems is every mistake found while loading definitions. It is an error when it is not empty.
type Problems []Problem

// Error lists every problem on its own line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns ps as an error, or nil when there are no problems. Problems are sorted by place.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return ps
}

// sourceMap remembers where each value of one file was written, by path ("stages[2].id").
type sourceMap map[string]Position

// at returns the position of path, or of its closest recorded parent.
func (s sourceMap) at(path string) Position {
	for {
		if p, ok := s[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return s[""]
		}
		path = path[:i]
	}
}

// suggest returns ` (did you mean "x"?)` when one of the candidates is close to word.
func suggest(word string, candidates []string) string {
	limit := min(max(2, len(word)/3), 3)
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(word), strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
