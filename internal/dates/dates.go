// Package dates handles the calendar days the pipeline works in: UTC, formatted YYYY-MM-DD,
// as the Wistia API and the partition keys use them.
package dates

import (
	"fmt"
	"time"
	// The zone database, for any binary on any image: LoadLocation uses the system's first.
	_ "time/tzdata"
)

// Layout is the one date format of the API, the bronze keys and the tables.
const Layout = time.DateOnly

// Parse reads a YYYY-MM-DD day as UTC midnight.
func Parse(s string) (time.Time, error) {
	t, err := time.Parse(Layout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return t, nil
}

// Format writes t's UTC day as YYYY-MM-DD.
func Format(t time.Time) string { return t.UTC().Format(Layout) }

// Day truncates t to UTC midnight.
func Day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// AddDays moves a day by n calendar days.
func AddDays(day time.Time, n int) time.Time { return day.AddDate(0, 0, n) }

// Range returns every day from first to last, both included; nil if last is before first.
func Range(first, last time.Time) []time.Time {
	first, last = Day(first), Day(last)
	var days []time.Time
	for d := first; !d.After(last); d = AddDays(d, 1) {
		days = append(days, d)
	}
	return days
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

// Day is the day of the zone that the instant t falls on, as a date (UTC midnight, as Parse
// returns it).
func (z Zone) Day(t time.Time) time.Time {
	y, m, d := t.In(z.Location()).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Start is the instant the date day begins in the zone. Where a zone's clocks skip its
// midnight, the day begins at the first instant that exists.
func (z Zone) Start(day time.Time) time.Time {
	y, m, d := day.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, z.Location())
}

// LastEnded is the last day of the zone that has ended at now: yesterday, there.
func (z Zone) LastEnded(now time.Time) time.Time { return AddDays(z.Day(now), -1) }

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

// Date is a calendar day counted from 1970-01-01, Iceberg's date representation: the day type
// of the tables, their partitions and the transform.
type Date int32

// DateOf is the UTC day of t; for a date (UTC midnight), the date.
func DateOf(t time.Time) Date { return Date(t.UTC().Unix() / 86400) }

// DateIn is the day of zone that the instant t falls on.
func DateIn(zone Zone, t time.Time) Date { return DateOf(zone.Day(t)) }

// DatesOf is the UTC days of ts, in their order.
func DatesOf(ts []time.Time) []Date {
	out := make([]Date, len(ts))
	for i, t := range ts {
		out[i] = DateOf(t)
	}
	return out
}

// Time is the day's midnight UTC.
func (d Date) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

func (d Date) String() string { return d.Time().Format(time.DateOnly) }
