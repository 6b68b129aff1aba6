package process

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Expressions in definitions are expr-lang programs compiled against a typed environment: a
// service request's expressions see `request`, `event` and `now`, a work order's see `order`,
// `steps`, `rating`, `event` and `now`. Built-ins that read the clock or depend on map order are disabled, so an
// expression gives the same answer on every replay of a workflow.

// envKind says which environment an expression is compiled against.
type envKind int

const (
	envServiceRequest envKind = iota
	envWorkOrder
)

// SREnv is the environment of a service request's expressions.
type SREnv struct {
	Request RequestView `expr:"request"`
	Event   EventView   `expr:"event"`
	// Now is the run's time (the workflow's deterministic clock), in the calendar's time zone.
	Now time.Time `expr:"now"`
}

// WOEnv is the environment of a work order's expressions.
type WOEnv struct {
	Order  OrderView           `expr:"order"`
	Steps  map[string]StepView `expr:"steps"`
	Rating RatingView          `expr:"rating"`
	Event  EventView           `expr:"event"`
	// Now is the run's time (the workflow's deterministic clock), in the calendar's time zone.
	Now time.Time `expr:"now"`
}

// RequestView is a service request as expressions see it.
type RequestView struct {
	Number      string         `expr:"number"`
	Queue       string         `expr:"queue"`
	Stage       string         `expr:"stage"`
	State       string         `expr:"state"`
	Priority    string         `expr:"priority"`
	Impact      string         `expr:"impact"`
	Urgency     string         `expr:"urgency"`
	Subject     string         `expr:"subject"`
	Description string         `expr:"description"`
	Contact     ContactView    `expr:"contact"`
	Owner       string         `expr:"owner"`
	Team        string         `expr:"team"`
	Channel     string         `expr:"channel"`
	Categories  []string       `expr:"categories"`
	Tags        []string       `expr:"tags"`
	Charges     ChargesView    `expr:"charges"`
	Fields      map[string]any `expr:"fields"`
}

// OrderView is a work order as expressions see it.
type OrderView struct {
	Number      string         `expr:"number"`
	RecordType  string         `expr:"recordType"`
	Stage       string         `expr:"stage"`
	State       string         `expr:"state"`
	Priority    string         `expr:"priority"`
	Subject     string         `expr:"subject"`
	Description string         `expr:"description"`
	Channel     string         `expr:"channel"`
	Region      string         `expr:"region"`
	Account     string         `expr:"account"`
	Contact     ContactView    `expr:"contact"`
	Device      DeviceView     `expr:"device"`
	Engineer    string         `expr:"engineer"`
	Group       string         `expr:"group"`
	Fields      map[string]any `expr:"fields"`
}

// ContactView is a contact as expressions see it.
type ContactView struct {
	Name  string `expr:"name"`
	Email string `expr:"email"`
	Phone string `expr:"phone"`
}

func contactView(c Contact) ContactView {
	return ContactView{Name: c.Name, Email: c.Email, Phone: c.Phone}
}

// ChargesView sums up a request's charges.
type ChargesView struct {
	Total float64 `expr:"total"`
	Count int     `expr:"count"`
}

// DeviceView is the equipment a work order is about.
type DeviceView struct {
	Code     string `expr:"code"`
	Category string `expr:"category"`
	Model    string `expr:"model"`
	Serial   string `expr:"serial"`
}

// StepView is a checklist step's outcome.
type StepView struct {
	Done         bool   `expr:"done"`
	Result       string `expr:"result"`
	LaborMinutes int    `expr:"laborMinutes"`
	Note         string `expr:"note"`
}

// RatingView sums up the ratings a work order received; Lowest and Average are nil until one arrives.
type RatingView struct {
	Count   int      `expr:"count"`
	Lowest  *float64 `expr:"lowest"`
	Average *float64 `expr:"average"`
}

// EventView is the event an automation reacts to.
type EventView struct {
	Type   string `expr:"type"`
	Actor  string `expr:"actor"`
	From   string `expr:"from"`
	To     string `expr:"to"`
	Reason string `expr:"reason"`
}

// disabledBuiltins read the clock or return values in map order.
var disabledBuiltins = []string{"now", "date", "timezone", "keys", "values", "toPairs"}

// result types an expression may be required to return.
type resultKind int

const (
	resultBool resultKind = iota
	resultString
)

func (r resultKind) String() string {
	if r == resultBool {
		return "true or false"
	}
	return "text"
}

type programKey struct {
	env    envKind
	result resultKind
	code   string
}

// programs caches compiled expressions: compiling is pure, so the cache is safe in workflow code.
var programs sync.Map // programKey → *vm.Program

// compileExpr compiles code against the environment, requiring the result type. The error reads
// well in a problem message.
func compileExpr(env envKind, result resultKind, code string) (*vm.Program, error) {
	key := programKey{env, result, code}
	if p, ok := programs.Load(key); ok {
		return p.(*vm.Program), nil
	}
	opts := []expr.Option{expr.Optimize(true)}
	switch env {
	case envServiceRequest:
		opts = append(opts, expr.Env(SREnv{}))
	case envWorkOrder:
		opts = append(opts, expr.Env(WOEnv{}))
	}
	switch result {
	case resultBool:
		opts = append(opts, expr.AsBool())
	case resultString:
		opts = append(opts, expr.AsKind(reflect.String))
	}
	for _, b := range disabledBuiltins {
		opts = append(opts, expr.DisableBuiltin(b))
	}
	p, err := expr.Compile(code, opts...)
	if err != nil {
		msg := oneLine(err.Error())
		if strings.Contains(code, "now(") && strings.Contains(msg, "time.Time is not callable") {
			msg = "now is the time of the run, not a function: write now without (), as in now.Hour() >= 17"
		}
		return nil, fmt.Errorf("expression %q: %s", strings.TrimSpace(code), msg)
	}
	programs.Store(key, p)
	return p, nil
}

// evalExpr runs an expression. A failing expression (a runtime error, even a panic) returns an
// error: the caller takes its error path and the workflow task never panics.
func evalExpr(env envKind, result resultKind, code string, vars any) (out any, err error) {
	p, err := compileExpr(env, result, code)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("expression %q failed: %v", strings.TrimSpace(code), r)
		}
	}()
	out, err = expr.Run(p, vars)
	if err != nil {
		return nil, fmt.Errorf("expression %q failed: %s", strings.TrimSpace(code), oneLine(err.Error()))
	}
	return out, nil
}

// oneLine keeps the first line of expr's message (the rest draws the source with a caret).
func oneLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
