package wistia

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

// crawlDay crawls one media-day from state, collecting event keys, and stops with errStop
// after stopAfter pages when stopAfter > 0.
func crawlDay(t *testing.T, client *Client, media string, state CrawlState, got map[string]bool, stopAfter int) (CrawlState, error) {
	t.Helper()
	day := dates.DateOf(simNow).AddDays(-1)
	pages := 0
	var last CrawlState
	state, err := client.CrawlEvents(context.Background(), EventsQuery{MediaID: media, Start: day, End: day}, state,
		func(p *Page[Event], s CrawlState) error {
			for _, e := range p.Items {
				got[string(e.EventKey)] = true
			}
			last = s
			if pages++; stopAfter > 0 && pages == stopAfter {
				return errStop
			}
			return nil
		})
	if errors.Is(err, errStop) {
		return last, err
	}
	return state, err
}

var errStop = errors.New("stopped, as a crashed activity would")

func busyMedia(t *testing.T, opts wistiasim.Options) (*wistiasim.Sim, *Client, string) {
	t.Helper()
	opts.Seed, opts.Medias, opts.MeanEventsPerDay = 8, 1, 600 // several pages a day
	sim, url := startSim(t, opts)
	return sim, newClient(t, testConfig(url, sim.Token())), sim.MediaIDs()[0]
}

func truthKeys(sim *wistiasim.Sim) map[string]bool {
	day := dates.DateOf(simNow).AddDays(-1)
	keys := map[string]bool{}
	for _, e := range sim.Truth(day.Time(), day.Time()).Events {
		keys[e.EventKey] = true
	}
	return keys
}

func TestCrawlQuietWindowIsOnePass(t *testing.T) {
	sim, client, media := busyMedia(t, wistiasim.Options{})
	got := map[string]bool{}
	state, err := crawlDay(t, client, media, CrawlState{}, got, 0)
	require.NoError(t, err)
	assert.True(t, state.Complete)
	assert.Equal(t, 1, state.Pass)
	assert.Equal(t, truthKeys(sim), got)
}

func TestCrawlRereadsAShiftedWindow(t *testing.T) {
	sim, client, media := busyMedia(t, wistiasim.Options{})
	sim.SetFaults(wistiasim.Faults{InsertRate: 1}) // an arrival before every page after the first
	got := map[string]bool{}
	state, err := crawlDay(t, client, media, CrawlState{}, got, 0)
	require.NoError(t, err)
	assert.False(t, state.Complete, "arrivals during every pass: the window is never read completely")
	assert.Equal(t, maxPasses, state.Pass)

	sim.SetFaults(wistiasim.Faults{})
	state, err = crawlDay(t, client, media, CrawlState{}, got, 0)
	require.NoError(t, err)
	assert.True(t, state.Complete, "once arrivals stop, a pass reads it completely")
	assert.Equal(t, truthKeys(sim), got, "no arrival was lost")
	assert.Positive(t, sim.Stats().Inserted)
}

func TestCrawlResumesFromItsState(t *testing.T) {
	sim, client, media := busyMedia(t, wistiasim.Options{})
	got := map[string]bool{}
	state, err := crawlDay(t, client, media, CrawlState{}, got, 2)
	require.ErrorIs(t, err, errStop)
	assert.Equal(t, 3, state.NextPage, "the state handed to visit resumes after that page")
	before := sim.Stats().Requests
	state, err = crawlDay(t, client, media, state, got, 0)
	require.NoError(t, err)
	assert.True(t, state.Complete)
	assert.Equal(t, truthKeys(sim), got)
	assert.Less(t, sim.Stats().Requests-before, int64(len(got)/100+1), "pages already read are not fetched again")
}
