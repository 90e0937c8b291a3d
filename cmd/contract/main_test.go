package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/wistia"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

var simNow = time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)

// token is the simulator's token in these tests: no output may show it.
const token = "contract-test-token-4f9a"

// startSim serves a simulator on loopback, through wrap when it is not nil, and returns it with
// its API root and the count of requests the server received.
func startSim(t *testing.T, opts wistiasim.Options, wrap func(next http.Handler) http.Handler) (*wistiasim.Sim, string, *atomic.Int64) {
	t.Helper()
	opts.Now, opts.Token = simNow, token
	sim, err := wistiasim.New(opts)
	require.NoError(t, err)
	h := sim.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return sim, srv.URL + wistiasim.BasePath, &received
}

// runContract runs the command against baseURL with token, on a fast retry policy.
func runContract(t *testing.T, baseURL, token string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv("WISTIA_BASE_URL", baseURL)
	t.Setenv("WISTIA_API_TOKEN", token)
	t.Setenv("WISTIA_BACKOFF_BASE", "5ms")
	t.Setenv("WISTIA_BACKOFF_MAX", "50ms")
	var out, errs bytes.Buffer
	code = run(context.Background(), args, simNow, &out, &errs)
	if token != "" {
		assert.NotContains(t, out.String()+errs.String(), token, "the token must never print")
	}
	return code, out.String(), errs.String()
}

func TestContractPassesOnTheSimulator(t *testing.T) {
	sim, url, received := startSim(t, wistiasim.Options{Seed: 7, Medias: 8}, nil)
	code, out, errs := runContract(t, url, token)
	t.Log("\n" + out + errs)
	require.Equal(t, 0, code)

	media := sim.MediaIDs()[0]
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 5, "a line per request and the requests spent")
	for i, want := range []string{
		"ok   200  media list GET /medias.json?page=1&per_page=5: 5 records as documented",
		"ok   200  media stats by date GET /stats/medias/" + media + "/by_date.json?end_date=2026-11-24&start_date=2026-11-18: 7 records as documented",
		"ok   200  events GET /stats/events.json?end_date=2026-11-24&media_id=" + media + "&page=1&per_page=5&start_date=2026-11-18: ",
		"ok   200  visitor GET /stats/visitors/",
	} {
		assert.True(t, strings.HasPrefix(lines[i], want), "line %d: want %q, got %q", i+1, want, lines[i])
	}
	hourly := wistia.AccountRateLimit * int(time.Hour/wistia.AccountRatePeriod)
	assert.Equal(t, fmt.Sprintf("ok   requests spent: 4, want under %d (1%% of Wistia's %d an hour per account)", hourly/100, hourly), lines[4])
	assert.EqualValues(t, 4, received.Load(), "one request per endpoint")
}

func TestContractFailsNamingTheEndpointAndTheViolation(t *testing.T) {
	offSpec := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/by_date.json") {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `[{"date": "2026-11-24", "load_count": 3, "play_count": "lots", "hours_watched": 0.5}]`)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	for _, c := range []struct {
		name   string
		opts   wistiasim.Options
		wrap   func(http.Handler) http.Handler
		token  string
		want   []string // regular expressions, each matching a line of the output
		spends int64
	}{
		{
			name: "the simulator in the live API's undocumented forms",
			opts: wistiasim.Options{Seed: 7, Medias: 3, QuirkShare: 1},
			want: []string{
				`^FAIL 200  media list GET /medias\.json\?page=1&per_page=5: \d+ problems$`,
				`^ +spec: \$\[\d+\]\.\w+: got string, want (integer|number|object)$`,
				`^FAIL 200  events GET /stats/events\.json\?\S+: \d+ problems$`,
			},
			spends: 4,
		},
		{
			name: "an answer the spec and the decoder both refuse",
			opts: wistiasim.Options{Seed: 7, Medias: 3},
			wrap: offSpec,
			want: []string{
				`^ok   200  media list `,
				`^FAIL 200  media stats by date GET /stats/medias/\w+/by_date\.json\?end_date=2026-11-24&start_date=2026-11-18: 2 problems$`,
				`^ +spec: \$\[0\]\.play_count: got string, want integer$`,
				`^ +decode: record 0: .*lots.* not a whole number$`,
				`^ok   200  events `,
			},
			spends: 4,
		},
		{
			name:  "a token the API refuses",
			opts:  wistiasim.Options{Seed: 7, Medias: 3},
			token: "not-" + token,
			want: []string{
				`^FAIL 401  media list GET /medias\.json\?page=1&per_page=5: 1 problem$`,
				`^ +request: wistia GET /medias\.json\?page=1&per_page=5: 401 Unauthorized`,
				`^SKIP ---  visitor: no media listed`,
			},
			spends: 1, // 401 is not retried
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, url, received := startSim(t, c.opts, c.wrap)
			tok := c.token
			if tok == "" {
				tok = token
			}
			code, out, errs := runContract(t, url, tok)
			t.Log("\n" + out + errs)
			assert.Equal(t, 1, code)
			for _, want := range c.want {
				assert.Regexp(t, regexp.MustCompile(`(?m)`+want), out)
			}
			assert.EqualValues(t, c.spends, received.Load())
		})
	}
}

func TestContractRefusesToRun(t *testing.T) {
	for _, c := range []struct {
		name, token string
		args        []string
		want        string
	}{
		{"without a token", "", nil, "WISTIA_API_TOKEN is not set"},
		{"with a bad page size", token, []string{"--per-page", "500"}, "--per-page 500: want 1 to 100"},
		{"with a bad day count", token, []string{"--days", "0"}, "--days 0: want 1 to 31"},
		{"with an argument", token, []string{"medias"}, `unexpected argument "medias"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, url, received := startSim(t, wistiasim.Options{Seed: 7, Medias: 3}, nil)
			code, out, errs := runContract(t, url, c.token, c.args...)
			assert.Equal(t, 2, code)
			assert.Contains(t, errs, c.want)
			assert.Empty(t, out)
			assert.Zero(t, received.Load(), "nothing is asked")
		})
	}
}
