package wistia

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// The live API does not always send what its spec documents: numbers arrive as strings,
// timestamps in several ISO-8601 forms, documented objects as strings or empty. These types
// accept every such form. A value that is missing, null or "" decodes to the zero value; a value
// that cannot mean anything of the type is an error, which sends the record to quarantine.

// Text is a string field that also accepts numbers and booleans.
type Text string

// Number is a float field that also accepts numeric strings.
type Number float64

// Count is an integer field that also accepts numeric strings and integral floats.
type Count int64

// Flag is a boolean field that also accepts "true"/"false", "1"/"0" and 1/0.
type Flag bool

// Timestamp is a time field that accepts the ISO-8601 forms the API uses, and Unix seconds.
type Timestamp struct{ time.Time }

var null = []byte("null")

// isEmpty reports JSON null, "" and whitespace.
func isEmpty(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || bytes.Equal(b, null) || bytes.Equal(b, []byte(`""`))
}

// unquote returns the content of a JSON string, or the literal itself for other scalars.
func unquote(b []byte) (string, bool, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		s, err := jsonString(b)
		return strings.TrimSpace(s), true, err
	}
	return string(b), false, nil
}

// jsonString decodes a JSON string literal. Most values are plain ASCII without escapes and
// are copied directly: this runs for every field of every record.
func jsonString(b []byte) (string, error) {
	if v, ok := PlainString(b); ok {
		return string(v), nil
	}
	var s string
	err := json.Unmarshal(b, &s)
	return s, err
}

// PlainString returns the content of a JSON string literal made only of printable ASCII
// without escapes, which means itself; ok is false for any other value. Hot decoding paths
// use it to skip encoding/json.
func PlainString(b []byte) (content []byte, ok bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return nil, false
	}
	for _, c := range b[1 : len(b)-1] {
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return nil, false
		}
	}
	return b[1 : len(b)-1], true
}

func (t *Text) UnmarshalJSON(b []byte) error {
	if isEmpty(b) {
		*t = ""
		return nil
	}
	b = bytes.TrimSpace(b)
	switch b[0] {
	case '"':
		s, err := jsonString(b)
		if err != nil {
			return err
		}
		*t = Text(s)
	case '{', '[':
		// Keep structure we did not expect as its compact JSON rather than lose it.
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			return err
		}
		*t = Text(buf.String())
	default:
		*t = Text(b)
	}
	return nil
}

func (n *Number) UnmarshalJSON(b []byte) error {
	if isEmpty(b) {
		*n = 0
		return nil
	}
	s, _, err := unquote(b)
	if err != nil {
		return err
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("%s is not a number", truncate(b))
	}
	*n = Number(f)
	return nil
}

func (c *Count) UnmarshalJSON(b []byte) error {
	if isEmpty(b) {
		*c = 0
		return nil
	}
	s, _, err := unquote(b)
	if err != nil {
		return err
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		*c = Count(i)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return fmt.Errorf("%s is not a whole number", truncate(b))
	}
	*c = Count(f)
	return nil
}

func (f *Flag) UnmarshalJSON(b []byte) error {
	if isEmpty(b) {
		*f = false
		return nil
	}
	s, _, err := unquote(b)
	if err != nil {
		return err
	}
	switch strings.ToLower(s) {
	case "true", "1", "yes":
		*f = true
	case "false", "0", "no":
		*f = false
	default:
		return fmt.Errorf("%s is not a boolean", truncate(b))
	}
	return nil
}

// timeLayouts are tried in order; all are read as UTC unless they carry an offset.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 -07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// ParseTimestamp reads the timestamp forms the API sends.
func ParseTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO-8601 timestamp", truncate([]byte(s)))
}

func (t *Timestamp) UnmarshalJSON(b []byte) error {
	if isEmpty(b) {
		t.Time = time.Time{}
		return nil
	}
	if v, ok := PlainString(bytes.TrimSpace(b)); ok {
		// The usual case, read from the literal's own bytes: this runs for every event line,
		// and ParseTimestamp keeps no reference to its argument.
		parsed, err := ParseTimestamp(unsafe.String(unsafe.SliceData(v), len(v)))
		t.Time = parsed
		return err
	}
	s, quoted, err := unquote(b)
	if err != nil {
		return err
	}
	if !quoted {
		secs, err := strconv.ParseFloat(s, 64)
		if err != nil || secs < 0 || secs > 1e11 {
			return fmt.Errorf("%s is not a timestamp", truncate(b))
		}
		whole, frac := math.Modf(secs)
		t.Time = time.Unix(int64(whole), int64(frac*1e9)).UTC()
		return nil
	}
	parsed, err := ParseTimestamp(s)
	if err != nil {
		return err
	}
	t.Time = parsed
	return nil
}

// MarshalJSON writes RFC 3339, or null for the zero time.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return null, nil
	}
	return []byte(`"` + t.Format(time.RFC3339Nano) + `"`), nil
}

// lenientObject decodes an object-typed field that may also arrive as a bare string (read into
// the field named by asString), empty, or an empty array.
func lenientObject(b []byte, into any, asString func(string)) error {
	if isEmpty(b) {
		return nil
	}
	b = bytes.TrimSpace(b)
	switch b[0] {
	case '{':
		return json.Unmarshal(b, into)
	case '"':
		s, _, err := unquote(b)
		if err != nil {
			return err
		}
		if asString != nil {
			asString(s)
		}
		return nil
	case '[':
		if bytes.Equal(bytes.Join(bytes.Fields(b), nil), []byte("[]")) {
			return nil
		}
	}
	return fmt.Errorf("%s is not an object", truncate(b))
}

func truncate(b []byte) string {
	const max = 40
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}
