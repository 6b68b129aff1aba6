package api

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/fieldflow/fieldflow/store"
)

// Rate limits. The public pages are limited per client address (portal.go, rating.go, the
// approval page); /v1 is limited per caller once authenticated: a token bucket per subject and
// kind of credential (a staff JWT or an integration's API token), so one busy integration cannot
// starve the others and a second token is not slowed by the first one's exhaustion.

const (
	// defaultTokenRate and defaultTokenBurst apply when neither Config nor the environment
	// (FIELDFLOW_TOKEN_RATE, FIELDFLOW_TOKEN_BURST) says otherwise.
	defaultTokenRate  = 20.0
	defaultTokenBurst = 40
	// maxBuckets bounds a limiter's memory: past it, idle buckets are swept at once, then the
	// least recently seen are dropped (those clients start again with a full bucket).
	maxBuckets = 100_000
)

// tokenRateSettings completes Config.TokenRate and TokenBurst: zero reads FIELDFLOW_TOKEN_RATE
// (requests per second, a negative number disables the limit) and FIELDFLOW_TOKEN_BURST, then
// the defaults (20/s, a burst of 40).
func tokenRateSettings(r float64, burst int) (float64, int) {
	if r == 0 {
		r = defaultTokenRate
		if v := strings.TrimSpace(os.Getenv("FIELDFLOW_TOKEN_RATE")); v != "" {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f != 0 && !math.IsNaN(f) && !math.IsInf(f, 0) {
				r = f
			}
		}
	}
	if burst <= 0 {
		burst = defaultTokenBurst
		if v := strings.TrimSpace(os.Getenv("FIELDFLOW_TOKEN_BURST")); v != "" {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				burst = n
			}
		}
	}
	return r, burst
}

// limitPerToken is the /v1 middleware (after authenticate) that limits each caller to
// Config.TokenRate requests a second with bursts of Config.TokenBurst. Every answer carries
// RateLimit-Limit and RateLimit-Remaining; a refusal is a 429 problem with Retry-After.
func (s *Server) limitPerToken() gin.HandlerFunc {
	if s.cfg.TokenRate < 0 {
		return func(c *gin.Context) { c.Next() }
	}
	l := newLimiter(rate.Limit(s.cfg.TokenRate), s.cfg.TokenBurst)
	limit := strconv.Itoa(s.cfg.TokenBurst)
	return func(c *gin.Context) {
		p, ok := principalOf(c)
		if !ok {
			c.Next()
			return
		}
		kind := "jwt"
		if _, tok, _ := strings.Cut(c.GetHeader("Authorization"), " "); strings.HasPrefix(strings.TrimSpace(tok), store.APITokenPrefix) {
			kind = "api-token"
		}
		wait, remaining := l.take(kind+"\x00"+p.Subject, time.Now())
		c.Header("RateLimit-Limit", limit)
		c.Header("RateLimit-Remaining", strconv.Itoa(remaining))
		if wait > 0 {
			c.Header("RateLimit-Reset", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			_ = c.Error(tooManyRequests(wait, "too many requests with this token"))
			c.Abort()
			return
		}
		c.Next()
	}
}

// tooManyRequests is the 429 problem of a rate limit, with the seconds to wait.
func tooManyRequests(wait time.Duration, detail string) error {
	secs := retrySeconds(wait)
	pe := newProblem(http.StatusTooManyRequests, "rate-limited", "Too many requests", fmt.Sprintf("%s; try again in %d seconds", detail, secs))
	pe.retryAfter = strconv.Itoa(secs)
	return pe
}

// retrySeconds is a wait as the whole seconds of a Retry-After header.
func retrySeconds(wait time.Duration) int { return int(math.Ceil(wait.Seconds())) }

// admit lets a client that is within its rate on to the next handler; a client over it is
// answered by refuse (told how long to wait) and the chain stops. The public pages' limits.
func (l *limiter) admit(c *gin.Context, refuse func(wait time.Duration)) {
	if wait := l.reserve(clientKey(c), time.Now()); wait > 0 {
		refuse(wait)
		c.Abort()
		return
	}
	c.Next()
}

// waitPage is what an HTML page tells a client over its rate: Retry-After, and a page asking it to
// wait, rendered by render.
func waitPage(c *gin.Context, wait time.Duration, render func(title, message string)) {
	c.Header("Retry-After", strconv.Itoa(retrySeconds(wait)))
	render("Please wait a moment", "There were too many requests from your address. Try again in a minute.")
}

// clientKey is the address a client is limited by: the peer's, or, behind a proxy on a private
// or loopback address, the one the proxy forwards. IPv6 clients are limited per /64, what one
// subscriber usually has.
func clientKey(c *gin.Context) string {
	ip := net.ParseIP(c.RemoteIP())
	if ip != nil && (ip.IsLoopback() || ip.IsPrivate()) {
		if fwd := net.ParseIP(c.ClientIP()); fwd != nil {
			ip = fwd
		}
	}
	if ip == nil {
		return c.RemoteIP()
	}
	if ip.To4() == nil {
		ip = ip.Mask(net.CIDRMask(64, 128))
	}
	return ip.String()
}

// limiter is a token bucket per key (golang.org/x/time/rate). Buckets idle long enough to be full
// again are dropped, so memory follows the clients active lately; at most max buckets are kept.
type limiter struct {
	limit rate.Limit
	burst int
	idle  time.Duration
	max   int

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(limit rate.Limit, burst int) *limiter {
	idle := time.Minute
	if limit > 0 {
		idle = time.Duration(float64(burst) / float64(limit) * float64(time.Second))
	}
	return &limiter{limit: limit, burst: burst, idle: idle, max: maxBuckets, buckets: map[string]*bucket{}}
}

// reserve takes a token for key: zero when there was one, else how long until there is.
func (l *limiter) reserve(key string, now time.Time) time.Duration {
	wait, _ := l.take(key, now)
	return wait
}

// take takes a token for key; it returns how long until there is one (zero: taken) and how many
// are left.
func (l *limiter) take(key string, now time.Time) (time.Duration, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		l.sweep(now)
	}
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.max {
			l.sweep(now)
			l.evict()
		}
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return wait, 0
	}
	return 0, max(0, int(b.lim.TokensAt(now)))
}

// sweep drops the buckets idle long enough to be full again: forgetting them changes nothing.
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.seen) > l.idle {
			delete(l.buckets, k)
		}
	}
	l.swept = now
}

// evict drops the least recently seen tenth of the buckets when they are still too many after a
// sweep (a flood from many addresses): those clients get a full bucket again, and the limiter's
// memory stays bounded.
func (l *limiter) evict() {
	if len(l.buckets) < l.max {
		return
	}
	seen := make([]time.Time, 0, len(l.buckets))
	for _, b := range l.buckets {
		seen = append(seen, b.seen)
	}
	slices.SortFunc(seen, time.Time.Compare)
	cut := seen[len(seen)/10]
	for k, b := range l.buckets {
		if !b.seen.After(cut) {
			delete(l.buckets, k)
		}
	}
}

// The approval page's rate limit per client address, as the rating page's: a burst of 20, then
// one every two seconds.
var (
	approvalIPRate  = rate.Every(2 * time.Second)
	approvalIPBurst = 20
)

// approvalPages serves the contact's approval page (desk.go) and holds its rate limit and the
// decisions it sent lately.
type approvalPages struct {
	s    *Server
	byIP *limiter
	sent *recentAnswers
}

func newApprovalPages(s *Server) *approvalPages {
	return &approvalPages{s: s, byIP: newLimiter(approvalIPRate, approvalIPBurst), sent: newRecentAnswers(10*time.Minute, 10_000)}
}

// limit answers a client over its rate with a page asking it to wait.
func (a *approvalPages) limit(c *gin.Context) {
	a.byIP.admit(c, func(wait time.Duration) {
		waitPage(c, wait, func(title, message string) {
			renderApproval(c, http.StatusTooManyRequests, approvalView{Title: title, Message: message})
		})
	})
}

// recentAnswers remembers, for a while, the answer sent for a key (a decision signalled to a run
// that may not have applied it yet), so a second post of the form is answered without sending
// it again. Bounded: entries expire after ttl, and at most max are kept.
type recentAnswers struct {
	ttl time.Duration
	max int

	mu      sync.Mutex
	answers map[string]recentAnswer
}

type recentAnswer struct {
	value string
	at    time.Time
}

func newRecentAnswers(ttl time.Duration, max int) *recentAnswers {
	return &recentAnswers{ttl: ttl, max: max, answers: map[string]recentAnswer{}}
}

// claim records value for key unless an unexpired answer is there; it returns that answer and
// whether there was one (then nothing changed).
func (r *recentAnswers) claim(key, value string, now time.Time) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.answers[key]; ok && now.Sub(prev.at) < r.ttl {
		return prev.value, true
	}
	if len(r.answers) >= r.max {
		for k, a := range r.answers {
			if now.Sub(a.at) >= r.ttl {
				delete(r.answers, k)
			}
		}
		// Still full: forget arbitrary entries; the run's own record decides from then on.
		for k := range r.answers {
			if len(r.answers) < r.max {
				break
			}
			delete(r.answers, k)
		}
	}
	r.answers[key] = recentAnswer{value: value, at: now}
	return "", false
}

// set records value for key.
func (r *recentAnswers) set(key, value string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers[key] = recentAnswer{value: value, at: now}
}

// release forgets key's answer (it could not be sent).
func (r *recentAnswers) release(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.answers, key)
}
