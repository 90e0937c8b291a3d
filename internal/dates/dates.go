// Package dates handles the calendar days the pipeline works in: UTC, formatted YYYY-MM-DD,
// as the Wistia API and the partition keys use them.
package dates

import (
	"fmt"
	"time"
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
