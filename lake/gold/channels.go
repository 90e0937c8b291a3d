package gold

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// UnknownChannel is the channel of a media no rule matches.
const UnknownChannel = "unknown"

// ChannelRule maps media to a channel: a media matches when its project or folder name matches
// Name, or when it carries one of Tags (compared case-insensitively).
type ChannelRule struct {
	Channel string   `json:"channel"`
	Name    string   `json:"name,omitempty"` // regular expression over project and folder names
	Tags    []string `json:"tags,omitempty"`
	name    *regexp.Regexp
}

// ChannelRules are tried in order; the first match wins.
type ChannelRules []ChannelRule

// DefaultChannelRules covers the usual marketing channels by their common names and tags.
func DefaultChannelRules() ChannelRules {
	rules, err := ParseChannelRules(`[
		{"channel": "Facebook",  "name": "(?i)\\b(facebook|fb|meta ads)\\b", "tags": ["facebook", "fb"]},
		{"channel": "YouTube",   "name": "(?i)\\b(youtube|yt)\\b",           "tags": ["youtube", "yt"]},
		{"channel": "Instagram", "name": "(?i)\\b(instagram|ig)\\b",         "tags": ["instagram", "ig"]},
		{"channel": "LinkedIn",  "name": "(?i)\\blinkedin\\b",               "tags": ["linkedin"]},
		{"channel": "Website",   "name": "(?i)\\b(website|web embeds?|site)\\b", "tags": ["website", "web"]},
		{"channel": "Email",     "name": "(?i)\\b(email|newsletter)\\b",     "tags": ["email", "newsletter"]}
	]`)
	if err != nil {
		panic(err) // the literal above is part of the program
	}
	return rules
}

// ParseChannelRules reads rules from JSON: [{"channel": "...", "name": "regexp", "tags": [...]}].
func ParseChannelRules(s string) (ChannelRules, error) {
	var rules ChannelRules
	if err := json.Unmarshal([]byte(s), &rules); err != nil {
		return nil, fmt.Errorf("channel rules are not a JSON list of {channel, name, tags}: %w", err)
	}
	for i := range rules {
		r := &rules[i]
		if strings.TrimSpace(r.Channel) == "" {
			return nil, fmt.Errorf("channel rule %d has no channel", i+1)
		}
		if r.Name == "" && len(r.Tags) == 0 {
			return nil, fmt.Errorf("channel rule %d (%s) has neither a name pattern nor tags", i+1, r.Channel)
		}
		if r.Name != "" {
			re, err := regexp.Compile(r.Name)
			if err != nil {
				return nil, fmt.Errorf("channel rule %d (%s): name pattern: %w", i+1, r.Channel, err)
			}
			r.name = re
		}
		for j, tag := range r.Tags {
			r.Tags[j] = strings.ToLower(strings.TrimSpace(tag))
		}
	}
	return rules, nil
}

// Channel is the channel of a media with the given project and folder names and tags.
func (rules ChannelRules) Channel(project, folder string, tags []string) string {
	for _, r := range rules {
		if r.name != nil && (r.name.MatchString(project) || (folder != "" && r.name.MatchString(folder))) {
			return r.Channel
		}
		for _, tag := range tags {
			if slices.Contains(r.Tags, strings.ToLower(strings.TrimSpace(tag))) {
				return r.Channel
			}
		}
	}
	return UnknownChannel
}
