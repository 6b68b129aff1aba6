package process

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// KindMailbox marks a service mailbox: the addresses customers write to and the rules that turn
// each message into a work order.
const KindMailbox Kind = "Mailbox"

// Mailbox is a service mailbox. A message to one of its addresses becomes a work order (channel
// email) of the record type its first matching rule names, or of Default when no rule matches;
// with no Default, a message no rule takes is refused.
type Mailbox struct {
	Header `yaml:",inline"`
	// Addresses are the recipients the mailbox accepts, compared without regard to case.
	Addresses []string `yaml:"addresses,required" json:"addresses"`
	// Rules are tried in order; the first whose condition holds decides.
	Rules []MailRule `yaml:"rules" json:"rules,omitempty"`
	// Default is the record type of a message no rule takes ("": refuse it).
	Default string `yaml:"default" json:"default,omitempty"`

	// Version is the content hash of the mailbox.
	Version string `yaml:"-" json:"version"`
}

// MailRule sends the messages its condition holds for to a record type, or refuses them.
type MailRule struct {
	When       Expr   `yaml:"when,required" json:"when"`
	RecordType string `yaml:"recordType" json:"recordType,omitempty"`
	// Reject refuses the message (auto-replies, say) instead of making a work order.
	Reject bool `yaml:"reject" json:"reject,omitempty"`
}

// MailEnv is a message as mailbox rules see it.
type MailEnv struct {
	// From is the sender's address, lower-case; FromName the sender's display name.
	From     string `expr:"from"`
	FromName string `expr:"fromName"`
	// To is the mailbox address the message arrived at, lower-case.
	To      string `expr:"to"`
	Subject string `expr:"subject"`
	// Body is the message's text (its HTML turned into text when it has no plain part).
	Body string `expr:"body"`
	// Attachments counts the files attached to the message.
	Attachments int `expr:"attachments"`
}

// MailRoute is what a mailbox decided for a message.
type MailRoute struct {
	// RecordType is the work-order type to create; "" when the message is refused.
	RecordType string
	// Rule is the index of the rule that decided, -1 when the default did.
	Rule int
}

// Refused reports whether the mailbox makes no work order of the message.
func (r MailRoute) Refused() bool { return r.RecordType == "" }

// NormalizeAddress is how mailbox addresses are compared: trimmed and lower-case.
func NormalizeAddress(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Accepts reports whether address is one of the mailbox's addresses.
func (m *Mailbox) Accepts(address string) bool {
	a := NormalizeAddress(address)
	return slices.ContainsFunc(m.Addresses, func(x string) bool { return NormalizeAddress(x) == a })
}

// Route chooses the record type of a message: the first rule whose condition holds, else the
// default. A rule whose condition fails to run is an error (the mailbox cannot decide), never a
// silent miss.
func (m *Mailbox) Route(msg MailEnv) (MailRoute, error) {
	for i, r := range m.Rules {
		ok, err := evalMailRule(r.When, msg)
		if err != nil {
			return MailRoute{}, fmt.Errorf("mailbox %s: rules[%d]: %w", m.Key, i, err)
		}
		if !ok {
			continue
		}
		if r.Reject {
			return MailRoute{Rule: i}, nil
		}
		return MailRoute{RecordType: r.RecordType, Rule: i}, nil
	}
	return MailRoute{RecordType: m.Default, Rule: -1}, nil
}

// Mailbox returns the mailbox with the given key.
func (c *Catalog) Mailbox(key string) (*Mailbox, bool) {
	m, ok := c.mailboxes[key]
	return m, ok
}

// Mailboxes returns every mailbox, sorted by key.
func (c *Catalog) Mailboxes() []*Mailbox {
	out := make([]*Mailbox, 0, len(c.mailboxes))
	for _, k := range sortedKeys(c.mailboxes) {
		out = append(out, c.mailboxes[k])
	}
	return out
}

// MailboxFor returns the mailbox that accepts address (validation keeps addresses unique).
func (c *Catalog) MailboxFor(address string) (*Mailbox, bool) {
	for _, k := range sortedKeys(c.mailboxes) {
		if c.mailboxes[k].Accepts(address) {
			return c.mailboxes[k], true
		}
	}
	return nil, false
}

// mailPrograms caches compiled rule conditions, like programs does for process expressions.
var mailPrograms sync.Map // code → *vm.Program

// compileMailExpr compiles a rule's condition against MailEnv; it must give true or false.
func compileMailExpr(code string) (*vm.Program, error) {
	if p, ok := mailPrograms.Load(code); ok {
		return p.(*vm.Program), nil
	}
	opts := []expr.Option{expr.Env(MailEnv{}), expr.AsBool(), expr.Optimize(true)}
	for _, b := range disabledBuiltins {
		opts = append(opts, expr.DisableBuiltin(b))
	}
	p, err := expr.Compile(code, opts...)
	if err != nil {
		return nil, fmt.Errorf("expression %q: %s", code, oneLine(err.Error()))
	}
	mailPrograms.Store(code, p)
	return p, nil
}

// evalMailRule runs a rule's condition; a runtime failure (even a panic) is an error.
func evalMailRule(e Expr, msg MailEnv) (ok bool, err error) {
	p, err := compileMailExpr(e.Code())
	if err != nil {
		return false, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("expression %q failed: %v", e.Code(), r)
		}
	}()
	out, err := expr.Run(p, msg)
	if err != nil {
		return false, fmt.Errorf("expression %q failed: %s", e.Code(), oneLine(err.Error()))
	}
	b, _ := out.(bool)
	return b, nil
}

// mailboxAddresses remembers, across the mailboxes of a catalog, which mailbox took an address
// first, so a second one is reported.
type mailboxAddresses map[string]string // normalized address → "key (file)"

// mailbox checks a mailbox: its addresses (well formed, not taken by another mailbox), its rules'
// conditions and the record types it creates, which must be work-order types that take email.
// types are every work-order type of the catalog, even broken ones.
func (c *checker) mailbox(m *Mailbox, file string, types map[string]*WorkOrderType, taken mailboxAddresses) {
	c.header(m.Header)
	if len(m.Addresses) == 0 {
		c.add("addresses", "a mailbox needs at least one address, like service@example.com")
	}
	own := map[string]int{}
	for i, a := range m.Addresses {
		path := fmt.Sprintf("addresses[%d]", i)
		norm := NormalizeAddress(a)
		parsed, err := mail.ParseAddress(a)
		if err != nil || NormalizeAddress(parsed.Address) != norm || parsed.Name != "" {
			c.add(path, "%q is not a bare email address; write it like service@example.com", a)
			continue
		}
		if j, dup := own[norm]; dup {
			c.add(path, "address %q is listed twice (addresses[%d])", a, j)
			continue
		}
		own[norm] = i
		if holder, dup := taken[norm]; dup {
			c.add(path, "address %q already belongs to mailbox %s; an address belongs to one mailbox", a, holder)
			continue
		}
		taken[norm] = fmt.Sprintf("%s (%s)", m.Key, file)
	}
	for i, r := range m.Rules {
		path := fmt.Sprintf("rules[%d]", i)
		if r.When != "" {
			if _, err := compileMailExpr(r.When.Code()); err != nil {
				c.add(path+".when", "%v (a condition must give true or false; it may use from, fromName, to, subject, body, attachments)", err)
			}
		}
		switch {
		case r.Reject && r.RecordType != "":
			c.add(path, "a rule either creates a work order (recordType) or refuses the message (reject: true), not both")
		case !r.Reject && r.RecordType == "":
			c.add(path, "a rule needs recordType: KEY (a work-order type) or reject: true")
		case r.RecordType != "":
			c.mailRecordType(path+".recordType", r.RecordType, types)
		}
	}
	if m.Default != "" {
		c.mailRecordType("default", m.Default, types)
	} else if !slices.ContainsFunc(m.Rules, func(r MailRule) bool { return r.RecordType != "" }) {
		c.add("default", "this mailbox refuses every message: give a default record type, or a rule with a recordType")
	}
}

// mailRecordType checks that a mailbox may create work orders of a record type.
func (c *checker) mailRecordType(path, key string, types map[string]*WorkOrderType) {
	t, ok := types[key]
	if !ok {
		c.add(path, "work-order type %q is not defined in definitions/work-orders%s", key, suggest(key, sortedKeys(types)))
		return
	}
	if len(t.Intake) > 0 && !slices.Contains(t.Intake, ChannelEmail) {
		c.add(path, "work-order type %q does not take email (its intake is %s); add email to its intake or choose another type",
			key, strings.Join(t.Intake, ", "))
	}
}
