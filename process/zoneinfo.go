package process

import (
	"archive/zip"
	"bytes"
	_ "embed" // for the zone database
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

// zoneinfoZip is the IANA time zone database, copied from $(go env GOROOT)/lib/time/zoneinfo.zip.
// Calendars take their zone rules from it, never from the machine, so a definition computes the
// same deadlines on every worker; compile copies the rules into the calendar, pinning them with
// the definition's version. To update the rules, copy a newer zoneinfo.zip over this one.
//
//go:embed zoneinfo.zip
var zoneinfoZip []byte

// tzDatabase is the embedded zone database, opened once.
type tzDatabase struct {
	files map[string]*zip.File // by zone name; only looked up, never iterated
	names []string             // every zone name, sorted
}

var openTZDatabase = sync.OnceValues(func() (*tzDatabase, error) {
	r, err := zip.NewReader(bytes.NewReader(zoneinfoZip), int64(len(zoneinfoZip)))
	if err != nil {
		return nil, fmt.Errorf("the embedded time zone database is unreadable: %w", err)
	}
	db := &tzDatabase{files: make(map[string]*zip.File, len(r.File))}
	for _, f := range r.File {
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		db.files[f.Name] = f
		db.names = append(db.names, f.Name)
	}
	sort.Strings(db.names)
	return db, nil
})

// tzNames lists every time zone name of the embedded database, sorted.
func tzNames() []string {
	db, err := openTZDatabase()
	if err != nil {
		return nil
	}
	return db.names
}

// tzKnown reports whether the embedded database has the zone.
func tzKnown(name string) bool {
	db, err := openTZDatabase()
	return err == nil && db.files[name] != nil
}

// tzData returns the TZif rules of a zone from the embedded database, as
// time.LoadLocationFromTZData reads them.
func tzData(name string) ([]byte, error) {
	db, err := openTZDatabase()
	if err != nil {
		return nil, err
	}
	f := db.files[name]
	if f == nil {
		return nil, fmt.Errorf("unknown time zone %q%s; use a name from the IANA time zone database, like Europe/Nicosia or UTC",
			name, suggest(name, db.names))
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	return data, nil
}
