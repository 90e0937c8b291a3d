package wistia

import (
	"context"
	"maps"
	"slices"
	"time"
)

// maxPasses bounds how often a window is re-read while events keep arriving in it.
const maxPasses = 3

// CrawlState is where a crawl of one events window stands. It is small, so a Temporal activity
// can keep it in its heartbeat details and resume from it after a retry.
type CrawlState struct {
	Pass     int       // 1-based pass over the window
	NextPage int       // next page to read in this pass
	Shifted  bool      // this pass saw the list shift under it
	Repeats  []string  // event keys seen again across a page boundary in this pass
	Previous []string  // the previous pass's Repeats
	LastKeys []string  // event keys of the last page read, to spot a shift on the next page
	Oldest   time.Time // the oldest received_at of the pass so far
	Complete bool      // the window was read completely
}

// CrawlEvents reads every page of one media's events window and hands each to visit as it
// arrives. Offset paging of a newest-first list shifts when events arrive mid-crawl: records seen
// at the end of one page reappear at the start of the next, or, after many arrivals, a page holds
// records newer than ones already read; the arrivals themselves sit on pages already read. A pass
// that sees either sign of a shift is followed by another pass. The window is
// Complete when a pass sees no shift, or sees exactly the repeats of the pass before (the API
// listing a record twice, which is stable, rather than new arrivals). Records repeat across
// passes; callers dedupe on event_key.
//
// Start with a zero state, or pass back a state that visit was given (from a heartbeat) to
// resume after that page.
func (c *Client) CrawlEvents(ctx context.Context, q EventsQuery, state CrawlState,
	visit func(*Page[Event], CrawlState) error) (CrawlState, error) {
	if state.Pass == 0 {
		state = CrawlState{Pass: 1, NextPage: 1}
	}
	for !state.Complete {
		q.FirstPage = state.NextPage
		for page, err := range c.Events(ctx, q) {
			if err != nil {
				return state, err
			}
			keys := pageKeys(page)
			for _, k := range keys {
				if slices.Contains(state.LastKeys, k) {
					state.Shifted = true
					state.Repeats = append(state.Repeats, k)
				}
			}
			for _, e := range page.Items {
				if !state.Oldest.IsZero() && e.ReceivedAt.After(state.Oldest) {
					state.Shifted = true // newer than what an earlier page already reached
				}
			}
			for _, e := range page.Items {
				if state.Oldest.IsZero() || e.ReceivedAt.Before(state.Oldest) {
					state.Oldest = e.ReceivedAt.Time
				}
			}
			state.LastKeys = keys
			state.NextPage = page.Number + 1
			if err := visit(page, state); err != nil {
				return state, err
			}
		}
		slices.Sort(state.Repeats)
		state.Repeats = slices.Compact(state.Repeats)
		stable := state.Pass > 1 && slices.Equal(state.Repeats, state.Previous)
		if !state.Shifted || stable {
			state.Complete = true
			break
		}
		if state.Pass >= maxPasses {
			return state, nil // not complete: the caller must not advance its watermark
		}
		state = CrawlState{Pass: state.Pass + 1, NextPage: 1, Previous: state.Repeats}
	}
	return state, nil
}

// pageKeys lists the event keys of a page's typed records (a reject may have none).
func pageKeys(p *Page[Event]) []string {
	seen := make(map[string]struct{}, len(p.Items))
	for _, e := range p.Items {
		seen[string(e.EventKey)] = struct{}{}
	}
	return slices.Sorted(maps.Keys(seen))
}
