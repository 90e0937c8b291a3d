package gold

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChannelRules(t *testing.T) {
	rules := DefaultChannelRules()
	for _, c := range []struct {
		project, folder string
		tags            []string
		want            string
	}{
		{"Facebook Ads", "", nil, "Facebook"},
		{"FB Retargeting", "", nil, "Facebook"},
		{"YT Shorts", "", nil, "YouTube"},
		{"Spring launch", "", []string{"Instagram"}, "Instagram"},
		{"Misc", "LinkedIn posts", nil, "LinkedIn"},
		{"Website Embeds", "", nil, "Website"},
		{"Email Nurture", "", nil, "Email"},
		{"Product Tours", "Drafts", []string{"q4"}, UnknownChannel},
		{"Feedback", "", nil, UnknownChannel}, // "fb" only as a word
	} {
		assert.Equal(t, c.want, rules.Channel(c.project, c.folder, c.tags), "%+v", c)
	}
	custom, err := ParseChannelRules(`[{"channel": "Partners", "name": "(?i)partner"}]`)
	require.NoError(t, err)
	assert.Equal(t, "Partners", custom.Channel("Misc", "Partners", nil))
	for _, bad := range []string{`{}`, `[{"name": "x"}]`, `[{"channel": "X"}]`, `[{"channel": "X", "name": "("}]`} {
		_, err := ParseChannelRules(bad)
		assert.Error(t, err, bad)
	}
}
