package operate

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/marketing-data/wistia-pipeline/workflows"
)

// Snapshot is a run's, backfill's or transform's progress query answer, read as any of them.
type Snapshot struct {
	workflows.Progress
	DaysTotal int `json:"days_total"`
	DaysDone  int `json:"days_done"`
}

// Count is what a progress line shows of a snapshot: done of total, and the phase.
type Count func(Snapshot) (done, total int, phase string)

// Follower reports a workflow's progress while the caller waits for it. On a terminal it
// redraws one bar in place every Poll; elsewhere (a log, a pipe, CI) it writes a plain line
// at each phase change and at most every Every otherwise, so logs stay readable.
type Follower struct {
	W        io.Writer
	Terminal bool
	Poll     time.Duration // how often the progress is queried; default 1s
	Every    time.Duration // a plain line at least this often off a terminal; default 10s
}

// Follow queries the workflow's progress until stop is called; stop writes the last state.
func (f Follower) Follow(ctx context.Context, tc client.Client, id string, count Count) (stop func()) {
	return f.FollowQuery(ctx, func(ctx context.Context) (Snapshot, error) {
		var s Snapshot
		v, err := tc.QueryWorkflow(ctx, id, "", workflows.ProgressQuery)
		if err == nil {
			err = v.Get(&s)
		}
		return s, err
	}, count)
}

// FollowQuery is Follow with the query given: what Follow runs against Temporal.
func (f Follower) FollowQuery(ctx context.Context, query func(context.Context) (Snapshot, error), count Count) (stop func()) {
	poll, every := f.Poll, f.Every
	if poll <= 0 {
		poll = time.Second
	}
	if every <= 0 {
		every = 10 * time.Second
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(poll)
		defer t.Stop()
		var (
			lastPhase string
			lastLine  time.Time
			drawn     bool
		)
		show := func(final bool) {
			s, err := query(ctx)
			if err != nil {
				return // the run may not answer yet; the next poll asks again
			}
			n, total, phase := count(s)
			if f.Terminal {
				fmt.Fprintf(f.W, "\r%s %d/%d %-14s", bar(n, total, 30), n, total, phase)
				drawn = true
				return
			}
			if final || phase != lastPhase || time.Since(lastLine) >= every {
				fmt.Fprintf(f.W, "%s %d/%d %s\n", time.Now().UTC().Format(time.TimeOnly), n, total, phase)
				lastPhase, lastLine = phase, time.Now()
			}
		}
		for {
			select {
			case <-done:
				show(true)
				if f.Terminal && drawn {
					fmt.Fprintln(f.W)
				}
				return
			case <-ctx.Done():
				return
			default:
			}
			show(false)
			select {
			case <-done:
			case <-ctx.Done():
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

func bar(n, total, width int) string {
	filled := 0
	if total > 0 {
		filled = min(width, n*width/total)
	}
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "]"
}
