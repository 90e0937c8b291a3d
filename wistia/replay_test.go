package wistia

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

// gateOverHTTP is a shared budget that, like the DynamoDB one, makes an HTTP request of its
// own with the context it is given.
type gateOverHTTP struct {
	url    string
	client *http.Client
	calls  atomic.Int64
	traced atomic.Int64 // calls whose context carried an HTTP trace
}

func (g *gateOverHTTP) Take(ctx context.Context) error {
	g.calls.Add(1)
	if httptrace.ContextClientTrace(ctx) != nil {
		g.traced.Add(1)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.url, nil)
	if err != nil {
		return err
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// Regression (found by the soak): net/http replays a GET whose reused connection is reset, and
// the replay takes the shared budget. The budget's own request inherited the Wistia request's
// trace, ran the replay hook again, and every replay stalled until WISTIA_REQUEST_TIMEOUT.
func TestReplayedRequestsTakeTheBudgetOnceWithoutStalling(t *testing.T) {
	sim, base := startSim(t, wistiasim.Options{Seed: 3, Medias: 2, Visitors: 80, RateLimit: -1})
	sim.SetFaults(wistiasim.Faults{ResetRate: 0.3})
	budget := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(budget.Close)
	gate := &gateOverHTTP{url: budget.URL, client: budget.Client()}
	cfg := testConfig(base, sim.Token())
	cfg.RequestTimeout, cfg.MaxAttempts = 2*time.Second, 20
	c, err := New(cfg, WithGate(gate))
	require.NoError(t, err)

	truth := sim.Truth(dayBefore(simNow, 5), dayBefore(simNow, 1))
	require.GreaterOrEqual(t, len(truth.Visitors), 20)
	for _, v := range truth.Visitors[:20] {
		_, err := c.Visitor(context.Background(), v.VisitorKey)
		require.NoError(t, err, "visitor %s", v.VisitorKey)
	}
	st := sim.Stats()
	require.Positive(t, st.Resets)
	assert.Zero(t, gate.traced.Load(), "the budget's requests do not carry the Wistia request's trace")
	assert.Equal(t, st.Requests, gate.calls.Load(), "every request the API saw, replays included, took the budget once")
}

func dayBefore(t time.Time, n int) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day()-n, 0, 0, 0, 0, time.UTC)
}
