// Package dates holds the pipeline's one day type, Date, written YYYY-MM-DD wherever it leaves
// the code (the API's parameters, bronze keys, payloads, flags), and the account's stats zone,
// whose days every date the pipeline names are: an instant's day there (Zone.Day), the
// instant a day begins (Zone.Start), and the last day that has ended, "yesterday"
// (Zone.LastEnded).
package dates

import (
	"fmt"
	"time"

	// The zone database, for any binary on any image: LoadLocation uses the system's first.
	_ "time/tzdata"
)

// Layout is the one date format of the API, the bronze keys and the tables.
const Layout = time.DateOnly

// Date is a calendar day, counted from 1970-01-01 as Iceberg counts its dates: the one day type
// of the pipeline (watermarks, the ledger, bronze partitions, plans, tables). It is written
// YYYY-MM-DD wherever it leaves the code (flags, JSON payloads, object keys), so a workflow
// payload that once carried a string carries the same text. The zero Date is no day: it
// writes as "" and reads back from "", as no day the pipeline names is 1970-01-01.
type Date int32

// Parse reads a YYYY-MM-DD day.
func Parse(s string) (Date, error) {
	t, err := time.Parse(Layout, s)
	if err != nil {
		return 0, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// DateOf is the UTC day of the instant t.
func DateOf(t time.Time) Date { return Date(floorDiv(t.Unix(), 86400)) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// Time is the day's midnight UTC.
func (d Date) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String is the day as YYYY-MM-DD; "" for the zero Date.
func (d Date) String() string {
	if d == 0 {
		return ""
	}
	return d.Time().Format(Layout)
}

// IsZero reports the zero Date, no day.
func (d Date) IsZero() bool { return d == 0 }

// AddDays moves the day by n calendar days.
func (d Date) AddDays(n int) Date { return d + Date(n) }

// DaysSince is how many days d is after e (negative when before).
func (d Date) DaysSince(e Date) int { return int(d - e) }

// MarshalText writes the day as YYYY-MM-DD.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads YYYY-MM-DD, or "" as the zero Date.
func (d *Date) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = 0
		return nil
	}
	v, err := Parse(string(b))
	*d = v
	return err
}

// Range returns every day from first to last, both included; nil if last is before first.
func Range(first, last Date) []Date {
	if last < first {
		return nil
	}
	days := make([]Date, 0, last-first+1)
	for d := first; d <= last; d++ {
		days = append(days, d)
	}
	return days
}

// Strings writes each day as YYYY-MM-DD, for messages and string-typed payloads.
func Strings(days []Date) []string {
	out := make([]string, len(days))
	for i, d := range days {
		out[i] = d.String()
	}
	return out
}

// Zone is where an account's days begin and end: the zone Wistia counts its stats days in
// (WISTIA_STATS_TIMEZONE). Every date the pipeline names, in its tables, keys, watermarks and
// commands, is a day of this zone; timestamps stay instants. The zero Zone is UTC.
type Zone struct{ loc *time.Location }

// UTC is the zone of accounts that count their days in UTC, and the default.
var UTC = Zone{}

// LoadZone reads an IANA zone name, such as America/New_York; empty is UTC.
func LoadZone(name string) (Zone, error) {
	if name == "" || name == "UTC" {
		return UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return UTC, fmt.Errorf("time zone %q: want an IANA name such as UTC or America/New_York", name)
	}
	return Zone{loc: loc}, nil
}

// ZoneOf is the zone of a location; nil is UTC.
func ZoneOf(loc *time.Location) Zone {
	if loc == nil || loc == time.UTC {
		return UTC
	}
	return Zone{loc: loc}
}

// Location is the zone's location.
func (z Zone) Location() *time.Location {
	if z.loc == nil {
		return time.UTC
	}
	return z.loc
}

// String is the zone's IANA name.
func (z Zone) String() string { return z.Location().String() }

// Day is the day of the zone that the instant t falls on.
func (z Zone) Day(t time.Time) Date {
	y, m, d := t.In(z.Location()).Date()
	return DateOf(time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
}

// Start is the instant the day begins in the zone. Where a zone's clocks skip its midnight,
// the day begins at the first instant that exists.
func (z Zone) Start(day Date) time.Time {
	y, m, d := day.Time().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, z.Location())
}

// LastEnded is the last day of the zone that has ended at now: yesterday, there. It is the one
// "yesterday" of the pipeline.
func (z Zone) LastEnded(now time.Time) Date { return z.Day(now).AddDays(-1) }

// Offset names the zone's offset from UTC at the instant t, as UTC+05:30.
func (z Zone) Offset(t time.Time) string {
	_, secs := t.In(z.Location()).Zone()
	return FormatOffset(time.Duration(secs) * time.Second)
}

// FormatOffset writes an offset east of UTC as UTC+05:30, UTC-10:00 or UTC.
func FormatOffset(off time.Duration) string {
	if off == 0 {
		return "UTC"
	}
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	return fmt.Sprintf("UTC%s%02d:%02d", sign, int(off.Hours()), int(off.Minutes())%60)
}
