package process

import "fmt"

// Code classifies why the interpreter refused an action.
type Code string

// The refusal codes. The API maps them to HTTP statuses (409 and 422).
const (
	// CodeNotAllowed: the action is well formed but not allowed in the current stage or step.
	CodeNotAllowed Code = "not_allowed"
	// CodeInvalid: a field of the action is missing or wrong.
	CodeInvalid Code = "invalid"
	// CodeNotFound: the action names something the record does not have (an approval, a step).
	CodeNotFound Code = "not_found"
	// CodeForbidden: the actor may not do this to this record (not its owner, say).
	CodeForbidden Code = "forbidden"
)

// FieldError names one invalid field of an action.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the interpreter's refusal of an action.
type Error struct {
	Code    Code         `json:"code"`
	Message string       `json:"message"`
	Fields  []FieldError `json:"fields,omitempty"`
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	msg := e.Message + ":"
	for _, f := range e.Fields {
		msg += fmt.Sprintf(" %s %s;", f.Field, f.Message)
	}
	return msg[:len(msg)-1]
}

func notAllowed(format string, args ...any) *Error {
	return &Error{Code: CodeNotAllowed, Message: fmt.Sprintf(format, args...)}
}

func invalid(fields ...FieldError) *Error {
	return &Error{Code: CodeInvalid, Message: "the action has invalid fields", Fields: fields}
}

func notFoundField(field, value string) *Error {
	return &Error{Code: CodeNotFound, Message: fmt.Sprintf("no %s %q on this record", field, value),
		Fields: []FieldError{{Field: field, Message: fmt.Sprintf("%q does not exist", value)}}}
}

func forbidden(format string, args ...any) *Error {
	return &Error{Code: CodeForbidden, Message: fmt.Sprintf(format, args...)}
}
