package process

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// checkFieldValues validates custom field values against the queue's declarations: unknown fields,
// wrong types and, when creating, missing required fields. It returns the values normalised
// (numbers as float64, dates as YYYY-MM-DD text).
func checkFieldValues(defs []FieldDef, values map[string]any, creating bool) (map[string]any, []FieldError) {
	var errs []FieldError
	out := map[string]any{}
	for _, k := range sortedKeys(values) {
		v := values[k]
		i := slices.IndexFunc(defs, func(d FieldDef) bool { return d.ID == k })
		if i < 0 {
			ids := make([]string, len(defs))
			for j, d := range defs {
				ids[j] = d.ID
			}
			errs = append(errs, FieldError{Field: "fields." + k, Message: "is not a field of this queue" + suggest(k, ids)})
			continue
		}
		if v == nil {
			out[k] = nil // removes the value
			continue
		}
		norm, err := fieldValue(defs[i], v)
		if err != "" {
			errs = append(errs, FieldError{Field: "fields." + k, Message: err})
			continue
		}
		out[k] = norm
	}
	if creating {
		for _, d := range defs {
			if d.Required && out[d.ID] == nil {
				errs = append(errs, FieldError{Field: "fields." + d.ID, Message: "is required"})
			}
		}
	}
	return out, errs
}

func fieldValue(d FieldDef, v any) (any, string) {
	switch d.Type {
	case FieldText:
		if s, ok := v.(string); ok {
			return s, ""
		}
		return nil, "must be text"
	case FieldNumber:
		switch n := v.(type) {
		case float64:
			if math.IsNaN(n) || math.IsInf(n, 0) {
				return nil, "must be a number"
			}
			return n, ""
		case int:
			return float64(n), ""
		case int64:
			return float64(n), ""
		}
		return nil, "must be a number"
	case FieldBoolean:
		if b, ok := v.(bool); ok {
			return b, ""
		}
		return nil, "must be true or false"
	case FieldDate:
		s, ok := v.(string)
		if !ok {
			return nil, "must be a date, YYYY-MM-DD"
		}
		if _, err := time.Parse("2006-01-02", s); err != nil {
			return nil, "must be a date, YYYY-MM-DD"
		}
		return s, ""
	case FieldChoice:
		s, ok := v.(string)
		if !ok || !slices.Contains(d.Options, s) {
			return nil, fmt.Sprintf("must be one of %v", d.Options)
		}
		return s, ""
	}
	return nil, "has an unknown type"
}

// mergeFields applies changes to a record's fields: a nil value removes the field.
func mergeFields(current, changes map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range sortedKeys(current) {
		out[k] = current[k]
	}
	for _, k := range sortedKeys(changes) {
		if changes[k] == nil {
			delete(out, k)
		} else {
			out[k] = changes[k]
		}
	}
	return out
}
