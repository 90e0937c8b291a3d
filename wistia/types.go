package wistia

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Media is one entry of /medias.json.
type Media struct {
	ID          Count     `json:"id"`
	HashedID    Text      `json:"hashed_id"`
	Name        Text      `json:"name"`
	Type        Text      `json:"type"`
	Archived    Flag      `json:"archived"`
	Created     Timestamp `json:"created"`
	Updated     Timestamp `json:"updated"`
	Duration    Number    `json:"duration"`
	Description Text      `json:"description"`
	Status      Text      `json:"status"`
	Section     Text      `json:"section"`
	Project     Project   `json:"project"`
	Subfolder   Subfolder `json:"subfolder"`
	Tags        Tags      `json:"tags"`
	Thumbnail   Thumbnail `json:"thumbnail"`
}

// Project is the project a media belongs to.
type Project struct {
	ID       Count `json:"id"`
	Name     Text  `json:"name"`
	HashedID Text  `json:"hashedId"`
}

// UnmarshalJSON accepts an object, a bare project name, or nothing.
func (p *Project) UnmarshalJSON(b []byte) error {
	type plain Project
	return lenientObject(b, (*plain)(p), func(s string) { p.Name = Text(s) })
}

// Subfolder is the folder inside a project that holds a media, if any.
type Subfolder struct {
	HashedID Text `json:"hashed_id"`
	Name     Text `json:"name"`
}

// UnmarshalJSON accepts an object, a bare folder name, or nothing.
func (f *Subfolder) UnmarshalJSON(b []byte) error {
	type plain Subfolder
	return lenientObject(b, (*plain)(f), func(s string) { f.Name = Text(s) })
}

// Thumbnail is a media's or event's preview image.
type Thumbnail struct {
	URL Text `json:"url"`
}

// UnmarshalJSON accepts an object, a bare URL, or nothing.
func (t *Thumbnail) UnmarshalJSON(b []byte) error {
	type plain Thumbnail
	return lenientObject(b, (*plain)(t), func(s string) { t.URL = Text(s) })
}

// Tags are a media's tag names. The API sends [{"name": ...}]; plain strings and a
// comma-separated string are accepted too.
type Tags []string

func (t *Tags) UnmarshalJSON(b []byte) error {
	*t = nil
	if isEmpty(b) {
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		var joined Text
		if json.Unmarshal(b, &joined) != nil {
			return fmt.Errorf("tags %s: not a list", truncate(b))
		}
		for name := range strings.SplitSeq(string(joined), ",") {
			if name = strings.TrimSpace(name); name != "" {
				*t = append(*t, name)
			}
		}
		return nil
	}
	for _, item := range items {
		var tag struct {
			Name Text `json:"name"`
		}
		if err := lenientObject(item, &tag, func(s string) { tag.Name = Text(s) }); err != nil {
			return fmt.Errorf("tag %s: %w", truncate(item), err)
		}
		if tag.Name != "" {
			*t = append(*t, string(tag.Name))
		}
	}
	return nil
}

// UserAgent describes the viewer's browser.
type UserAgent struct {
	Browser        Text `json:"browser"`
	BrowserVersion Text `json:"browser_version"`
	Platform       Text `json:"platform"`
	Mobile         Flag `json:"mobile"`
}

// UnmarshalJSON accepts an object, a bare user-agent string (kept as Browser), or nothing.
func (u *UserAgent) UnmarshalJSON(b []byte) error {
	type plain UserAgent
	return lenientObject(b, (*plain)(u), func(s string) { u.Browser = Text(s) })
}

// Event is one entry of /stats/events.json: one viewing session of a media by a visitor.
type Event struct {
	EventKey         Text      `json:"event_key"`
	ReceivedAt       Timestamp `json:"received_at"`
	VisitorKey       Text      `json:"visitor_key"`
	MediaID          Text      `json:"media_id"`
	MediaName        Text      `json:"media_name"`
	MediaURL         Text      `json:"media_url"`
	EmbedURL         Text      `json:"embed_url"`
	PercentViewed    Number    `json:"percent_viewed"`
	IP               Text      `json:"ip"`
	Org              Text      `json:"org"`
	Country          Text      `json:"country"`
	Region           Text      `json:"region"`
	City             Text      `json:"city"`
	Lat              Number    `json:"lat"`
	Lon              Number    `json:"lon"`
	Email            Text      `json:"email"`
	ConversionType   Text      `json:"conversion_type"`
	UserAgentDetails UserAgent `json:"user_agent_details"`
}

// DailyStat is one row of /stats/medias/{id}/by_date.json.
type DailyStat struct {
	Date         Timestamp `json:"date"`
	LoadCount    Count     `json:"load_count"`
	PlayCount    Count     `json:"play_count"`
	HoursWatched Number    `json:"hours_watched"`
}

// Visitor is the answer of /stats/visitors/{key}.json.
type Visitor struct {
	VisitorKey       Text      `json:"visitor_key"`
	CreatedAt        Timestamp `json:"created_at"`
	LastActiveAt     Timestamp `json:"last_active_at"`
	LastEventKey     Text      `json:"last_event_key"`
	LoadCount        Count     `json:"load_count"`
	PlayCount        Count     `json:"play_count"`
	Identity         Identity  `json:"visitor_identity"`
	UserAgentDetails UserAgent `json:"user_agent_details"`
}

// Identity is what a visitor told a form about themselves.
type Identity struct {
	Name  Text `json:"name"`
	Email Text `json:"email"`
	Org   struct {
		Name  Text `json:"name"`
		Title Text `json:"title"`
	} `json:"org"`
}

// UnmarshalJSON accepts an object, a bare name, or nothing.
func (i *Identity) UnmarshalJSON(b []byte) error {
	type plain Identity
	return lenientObject(b, (*plain)(i), func(s string) { i.Name = Text(s) })
}

// errMissing marks a record without a field it cannot be identified without.
var errMissing = errors.New("missing required field")

// decodeRecord unmarshals one raw object and checks that the fields named by required are set.
func decodeRecord[T any](raw []byte, required func(*T) string) (T, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, err
	}
	if field := required(&v); field != "" {
		return v, fmt.Errorf("%w %q", errMissing, field)
	}
	return v, nil
}

// DecodeMedia types one raw media object; it needs a hashed_id.
func DecodeMedia(raw []byte) (Media, error) {
	return decodeRecord(raw, func(m *Media) string {
		if strings.TrimSpace(string(m.HashedID)) == "" {
			return "hashed_id"
		}
		return ""
	})
}

// DecodeEvent types one raw event object; it needs an event_key and a received_at.
func DecodeEvent(raw []byte) (Event, error) {
	return decodeRecord(raw, func(e *Event) string {
		switch {
		case strings.TrimSpace(string(e.EventKey)) == "":
			return "event_key"
		case e.ReceivedAt.IsZero():
			return "received_at"
		}
		return ""
	})
}

// DecodeDailyStat types one raw by_date row; it needs a date.
func DecodeDailyStat(raw []byte) (DailyStat, error) {
	return decodeRecord(raw, func(s *DailyStat) string {
		if s.Date.IsZero() {
			return "date"
		}
		return ""
	})
}

// DecodeVisitor types one raw visitor object; it needs a visitor_key.
func DecodeVisitor(raw []byte) (Visitor, error) {
	return decodeRecord(raw, func(v *Visitor) string {
		if strings.TrimSpace(string(v.VisitorKey)) == "" {
			return "visitor_key"
		}
		return ""
	})
}
