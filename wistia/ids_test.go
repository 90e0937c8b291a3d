package wistia

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheckID(t *testing.T) {
	for _, ok := range []string{"aj27v43dvb", "v20260411_3323aeb6-5c05-9a6a-7f84-40f965084ee3", strings.Repeat("x", 64)} {
		assert.NoError(t, CheckID("hashed_id", ok), ok)
	}
	for id, msg := range map[string]string{
		"":                      "hashed_id is empty",
		"../../etc":             `hashed_id "../../etc" holds '.'`,
		"a/b":                   `hashed_id "a/b" holds '/'`,
		"has space":             `hashed_id "has space" holds ' '`,
		"tab\there":             `hashed_id "tab\there" holds '\t'`,
		strings.Repeat("x", 65): "is 65 characters long, more than 64",
	} {
		assert.ErrorContains(t, CheckID("hashed_id", id), msg, "%q", id)
	}
}
