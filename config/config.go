// Package config is the project's one configuration loader: every binary fills its settings
// from the environment through Load, once, at start-up.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/kelseyhightower/envconfig"
)

// Validator is implemented by settings structs that check their values after parsing.
// Validate returns one error per bad value, built with Invalid.
type Validator interface {
	Validate() []error
}

// Load fills each spec (a pointer to a struct with `envconfig` tags holding the full variable
// name) from the environment and validates it. The returned error lists every bad value, one per
// line, so an operator can fix them all in one go.
func Load(specs ...any) error {
	var problems []error
	for _, spec := range specs {
		if err := envconfig.Process("", spec); err != nil {
			problems = append(problems, describe(err))
			continue
		}
		if v, ok := spec.(Validator); ok {
			problems = append(problems, v.Validate()...)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &Error{Problems: problems}
}

// Error lists every bad configuration value found by Load.
type Error struct {
	Problems []error
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = "  " + p.Error()
	}
	return "invalid configuration:\n" + strings.Join(lines, "\n")
}

// Unwrap exposes the individual problems to errors.Is and errors.As.
func (e *Error) Unwrap() []error { return e.Problems }

// Invalid describes one bad value: the variable, what it was set to and what is allowed.
// Secrets must be passed as their Secret type so that their value never prints.
func Invalid(name string, value any, allowed string) error {
	return fmt.Errorf("%s=%q: %s", name, fmt.Sprint(value), allowed)
}

// URL renders a URL setting for a message without what may hold a credential: user info,
// query and fragment are dropped, and an unreadable value is not echoed at all.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme == "" && u.Host == "") {
		return "(unreadable URL, not shown)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// describe turns envconfig's errors into the same "NAME=value: allowed" form as Invalid,
// without echoing values of variables that hold secrets.
func describe(err error) error {
	var pe *envconfig.ParseError
	if errors.As(err, &pe) {
		value := pe.Value
		if looksSecret(pe.KeyName) {
			value = redacted
		}
		return Invalid(pe.KeyName, value, "not a valid "+pe.TypeName)
	}
	return err
}

func looksSecret(name string) bool {
	name = strings.ToUpper(name)
	for _, word := range []string{"TOKEN", "SECRET", "PASSWORD", "API_KEY"} {
		if strings.Contains(name, word) {
			return true
		}
	}
	return false
}
