package testenv

import (
	"os"
	"testing"
	"time"

	"github.com/marketing-data/wistia-pipeline/dates"
)

// DateEnv is the variable that runs the calendar-sensitive tests as if on another day
// (`make test-dates` sets it to each day of a range).
const DateEnv = "TEST_DATE"

// Today is the day, as a UTC midnight, that a test whose clocks are all its own (the
// simulator's, the activities' and Temporal's test environment's) takes as today: TEST_DATE
// when set (YYYY-MM-DD), else the real one. Tests on the Temporal dev server cannot move its
// clock and run on the real day.
func Today(t testing.TB) time.Time {
	t.Helper()
	v := os.Getenv(DateEnv)
	if v == "" {
		return dates.DateOf(time.Now()).Time()
	}
	d, err := dates.Parse(v)
	if err != nil {
		t.Fatalf("%s=%q: want YYYY-MM-DD", DateEnv, v)
	}
	return d.Time()
}

// Day reads a day a test writes by hand, YYYY-MM-DD; a typo fails loudly.
func Day(s string) dates.Date {
	d, err := dates.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// Days reads days a test writes by hand.
func Days(list ...string) []dates.Date {
	out := make([]dates.Date, len(list))
	for i, s := range list {
		out[i] = Day(s)
	}
	return out
}
