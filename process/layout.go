package process

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds a queue's layout: the form customers fill on the portal (signed in or as
// guests) to create one of its requests, which fields it shows, in which order, which are
// required; and the reading of a filled form into a new request. The HTTP side (api/portal) only
// renders CustomerForm and hands the posted values to ReadCustomerForm.

// LayoutField is one field of a queue's customer form.
type LayoutField struct {
	// Field names what the field fills: subject, description, category, phone, urgency, or
	// fields.ID (a custom field of the queue).
	Field string `yaml:"field,required" json:"field"`
	// Label is the question the form asks; a default per field when not given.
	Label string `yaml:"label" json:"label,omitempty"`
	// Hint is a line of help under the label.
	Hint string `yaml:"hint" json:"hint,omitempty"`
	// Required: the form is refused without a value. The subject is always required, and so is a
	// custom field declared required.
	Required bool `yaml:"required" json:"required,omitempty"`
	// Options narrows a category field to some of the queue's categories (all of them when not
	// given).
	Options []string `yaml:"options" json:"options,omitempty"`
}

// The fields a layout may name besides custom fields (fields.ID).
const (
	LayoutSubject     = "subject"
	LayoutDescription = "description"
	LayoutCategory    = "category"
	LayoutPhone       = "phone"
	LayoutUrgency     = "urgency"
)

var layoutFields = []string{LayoutSubject, LayoutDescription, LayoutCategory, LayoutPhone, LayoutUrgency}

// FormField is one field of a customer form as a page shows it.
type FormField struct {
	// Name is the form input's name: the layout's field.
	Name  string
	Label string
	Hint  string
	// Input is how it is entered: text, textarea, tel, number, date, checkbox or choice.
	Input    string
	Required bool
	// Options are the values of a choice.
	Options []FormOption
	// MaxLength bounds text, in characters (0 for inputs that are not text).
	MaxLength int
}

// FormOption is a value of a choice and how the form shows it.
type FormOption struct {
	Value, Label string
}

// The lengths a customer form accepts.
const (
	maxFormSubject     = 200
	maxFormDescription = 5000
	maxFormText        = 1000
	maxFormPhone       = 40
)

// CustomerForm is the form customers fill to create a request of the queue: the layout, or
// without one the subject, the description, the category (when the queue has categories), a
// phone and the custom fields, in that order.
func (q *Queue) CustomerForm() []FormField {
	layout := q.Layout
	if len(layout) == 0 {
		layout = []LayoutField{{Field: LayoutSubject}, {Field: LayoutDescription}}
		if len(q.Categories) > 0 {
			layout = append(layout, LayoutField{Field: LayoutCategory})
		}
		layout = append(layout, LayoutField{Field: LayoutPhone})
		for _, f := range q.Fields {
			layout = append(layout, LayoutField{Field: "fields." + f.ID})
		}
	}
	out := make([]FormField, 0, len(layout))
	for _, l := range layout {
		if f, ok := q.formField(l); ok {
			out = append(out, f)
		}
	}
	return out
}

// formField is how a layout field is shown; false for one the queue does not have.
func (q *Queue) formField(l LayoutField) (FormField, bool) {
	f := FormField{Name: l.Field, Label: l.Label, Hint: l.Hint, Required: l.Required}
	def := func(label string) {
		if f.Label == "" {
			f.Label = label
		}
	}
	switch l.Field {
	case LayoutSubject:
		def("Subject")
		f.Input, f.Required, f.MaxLength = "text", true, maxFormSubject
	case LayoutDescription:
		def("Description")
		f.Input, f.MaxLength = "textarea", maxFormDescription
	case LayoutCategory:
		def("Category")
		f.Input = "choice"
		cats := l.Options
		if len(cats) == 0 {
			cats = q.Categories
		}
		for _, c := range cats {
			f.Options = append(f.Options, FormOption{Value: c, Label: categoryLabel(c)})
		}
	case LayoutPhone:
		def("Phone")
		f.Input, f.MaxLength = "tel", maxFormPhone
	case LayoutUrgency:
		def("How urgent is it?")
		f.Input = "choice"
		for _, u := range q.urgencies() {
			f.Options = append(f.Options, FormOption{Value: u, Label: strings.ToUpper(u[:1]) + u[1:]})
		}
	default:
		id, ok := strings.CutPrefix(l.Field, "fields.")
		i := slices.IndexFunc(q.Fields, func(d FieldDef) bool { return d.ID == id })
		if !ok || i < 0 {
			return FormField{}, false
		}
		d := q.Fields[i]
		title := d.Title
		if title == "" {
			title = strings.ToUpper(d.ID[:1]) + strings.ReplaceAll(d.ID[1:], "-", " ")
		}
		def(title)
		f.Required = f.Required || d.Required
		switch d.Type {
		case FieldText:
			f.Input, f.MaxLength = "text", maxFormText
		case FieldNumber:
			f.Input = "number"
		case FieldDate:
			f.Input = "date"
		case FieldBoolean:
			f.Input = "checkbox"
		case FieldChoice:
			f.Input = "choice"
			for _, o := range d.Options {
				f.Options = append(f.Options, FormOption{Value: o, Label: o})
			}
		}
	}
	return f, true
}

// categoryLabel shows a category path as people read it: "connectivity/outage" as
// "Connectivity: outage".
func categoryLabel(c string) string {
	if c == "" {
		return c
	}
	s := strings.ReplaceAll(strings.ReplaceAll(c, "/", ": "), "-", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// urgencies are the urgency levels of the queue's priority matrix, most urgent first when the
// usual words are used.
func (q *Queue) urgencies() []string {
	seen := map[string]bool{}
	for _, row := range q.Priority.Matrix {
		for u := range row {
			seen[u] = true
		}
	}
	var out []string
	for _, u := range []string{"critical", "high", "medium", "low"} {
		if seen[u] {
			out = append(out, u)
			delete(seen, u)
		}
	}
	return append(out, sortedKeys(seen)...)
}

// CustomerInput is what a filled customer form gives a new request.
type CustomerInput struct {
	Subject     string
	Description string
	Phone       string
	Urgency     string
	Categories  []string
	Fields      map[string]any
}

// ReadCustomerForm reads the values posted with the queue's customer form (by field name) into
// a request's values, checking what the form requires: required values, lengths, choices, and the
// custom fields' types. Field errors name the form's fields.
func (q *Queue) ReadCustomerForm(values map[string]string) (CustomerInput, []FieldError) {
	var in CustomerInput
	var errs []FieldError
	for _, f := range q.CustomerForm() {
		v := strings.TrimSpace(values[f.Name])
		if f.Input == "checkbox" {
			if v != "" {
				in.setField(f.Name, v == "on" || v == "true" || v == "yes")
			} else if !f.Required {
				in.setField(f.Name, false)
			}
		}
		if v == "" {
			if f.Required {
				msg := "is required"
				if f.Input == "checkbox" {
					msg = "must be ticked"
				}
				errs = append(errs, FieldError{Field: f.Name, Message: msg})
			}
			continue
		}
		if f.MaxLength > 0 && utf8.RuneCountInString(v) > f.MaxLength {
			errs = append(errs, FieldError{Field: f.Name, Message: fmt.Sprintf("must be at most %d characters", f.MaxLength)})
			continue
		}
		if f.Input == "choice" && !slices.ContainsFunc(f.Options, func(o FormOption) bool { return o.Value == v }) {
			errs = append(errs, FieldError{Field: f.Name, Message: "is not one of the choices"})
			continue
		}
		switch f.Name {
		case LayoutSubject:
			in.Subject = v
		case LayoutDescription:
			in.Description = v
		case LayoutPhone:
			in.Phone = v
		case LayoutUrgency:
			in.Urgency = v
		case LayoutCategory:
			in.Categories = []string{v}
		default:
			switch f.Input {
			case "number":
				n, err := strconv.ParseFloat(v, 64)
				if err != nil {
					errs = append(errs, FieldError{Field: f.Name, Message: "must be a number"})
					continue
				}
				in.setField(f.Name, n)
			case "checkbox":
			default:
				in.setField(f.Name, v)
			}
		}
	}
	if len(errs) == 0 {
		// The custom fields' own checks (a date's format), as the run will apply them.
		_, ferrs := checkFieldValues(q.Fields, in.Fields, false)
		errs = append(errs, ferrs...)
	}
	return in, errs
}

func (in *CustomerInput) setField(name string, v any) {
	id, _ := strings.CutPrefix(name, "fields.")
	if in.Fields == nil {
		in.Fields = map[string]any{}
	}
	in.Fields[id] = v
}

// layout checks a queue's layout: known fields, each once, the subject and every required custom
// field on it, options only where they belong, and customers to fill it.
func (c *checker) layout(q *Queue) {
	if len(q.Layout) == 0 {
		return
	}
	customers := q.Intake != nil && (slices.Contains(q.Intake.Channels, ChannelPortal) || slices.Contains(q.Intake.Channels, ChannelGuest))
	if !customers {
		c.add("layout", "the layout is the form customers fill on the portal, and this queue takes no requests from it: add portal or guest to intake.channels")
	}
	known := slices.Clone(layoutFields)
	for _, f := range q.Fields {
		known = append(known, "fields."+f.ID)
	}
	seen := map[string]bool{}
	for i, l := range q.Layout {
		path := fmt.Sprintf("layout[%d]", i)
		if l.Field == "" {
			continue // the decoder reports the missing field
		}
		if !slices.Contains(known, l.Field) {
			if strings.HasPrefix(l.Field, "fields.") {
				c.add(path+".field", "%q is not a custom field of the queue (declare it under fields:)%s", l.Field, suggest(l.Field, known))
			} else {
				c.add(path+".field", "%q is not a field of the customer form (%s, or fields.ID)%s", l.Field, strings.Join(layoutFields, ", "), suggest(l.Field, known))
			}
			continue
		}
		if seen[l.Field] {
			c.add(path+".field", "field %q is on the layout twice", l.Field)
		}
		seen[l.Field] = true
		if l.Field == LayoutCategory && len(q.Categories) == 0 {
			c.add(path+".field", "the queue has no categories to choose from: declare them under categories:")
		}
		if len(l.Options) > 0 && l.Field != LayoutCategory {
			c.add(path+".options", "only the category field has options (a custom choice field lists them under fields:)")
			continue
		}
		for j, o := range l.Options {
			if !slices.Contains(q.Categories, o) {
				c.add(fmt.Sprintf("%s.options[%d]", path, j), "%q is not a category of the queue%s", o, suggest(o, q.Categories))
			}
		}
	}
	if !seen[LayoutSubject] {
		c.add("layout", "every request has a subject: add {field: subject} to the layout")
	}
	for _, f := range q.Fields {
		if f.Required && !seen["fields."+f.ID] {
			c.add("layout", "custom field %q is required on every request, so the customer form must ask for it: add {field: fields.%s} to the layout", f.ID, f.ID)
		}
	}
}

// layoutFieldPattern is the schema's pattern of a layout field.
var layoutFieldPattern = `^(` + strings.Join(layoutFields, "|") + `|fields\.[a-z][a-z0-9_-]*)$`
