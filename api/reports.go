package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/fieldflow/fieldflow/store"
)

// reportFilter reads ?from=&to=&queue= (dates as YYYY-MM-DD or RFC 3339; default: the last 30
// days up to now).
func (s *Server) reportFilter(c *gin.Context) (store.ReportFilter, error) {
	now := s.cfg.Now()
	f := store.ReportFilter{Since: now.AddDate(0, 0, -30), Until: now.Add(time.Second), Queue: c.Query("queue")}
	parse := func(name string, into *time.Time, endOfDay bool) error {
		v := c.Query(name)
		if v == "" {
			return nil
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			*into = t
			return nil
		}
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			return badRequest(name + " must be a date (2026-11-01) or a time (2026-11-01T09:00:00Z)")
		}
		if endOfDay {
			t = t.AddDate(0, 0, 1) // "to" includes its whole day
		}
		*into = t
		return nil
	}
	if err := parse("from", &f.Since, false); err != nil {
		return f, err
	}
	if err := parse("to", &f.Until, true); err != nil {
		return f, err
	}
	if !f.Until.After(f.Since) {
		return f, badRequest("to must be after from")
	}
	return f, nil
}

func (s *Server) reportSummary(c *gin.Context) {
	f, err := s.reportFilter(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	rows, err := s.cfg.Store.ReportSummary(c.Request.Context(), f)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"from": f.Since.UTC(), "to": f.Until.UTC(), "queues": rows})
}

func (s *Server) reportAnalysis(c *gin.Context) {
	f, err := s.reportFilter(c)
	if err != nil {
		_ = c.Error(err)
		return
	}
	rows, err := s.cfg.Store.ReportAnalysis(c.Request.Context(), f)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"from": f.Since.UTC(), "to": f.Until.UTC(), "rows": rows})
}
