package wistiasim

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/wistia/apispec"
)

// loadSpec reads Wistia's published spec from the file, not from the simulator's embedded copy.
func loadSpec(t *testing.T) *apispec.Spec {
	t.Helper()
	raw, err := os.ReadFile("testdata/openapi-v1.yml")
	require.NoError(t, err)
	spec, err := apispec.Load(raw)
	require.NoError(t, err)
	return spec
}

// check holds an answer against the spec and returns what it objects to.
func check(t *testing.T, spec *apispec.Spec, path string, resp *http.Response) []apispec.Problem {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return spec.CheckResponse(http.MethodGet, path, resp.StatusCode, resp.Header, body)
}

// TestContract checks every answer of every endpoint against Wistia's published OpenAPI 3.1
// spec (testdata/openapi-v1.yml, copied from shared/wistia). The simulator sends only documented
// forms when QuirkShare is zero; the quirks are what the spec does not describe.
func TestContract(t *testing.T) {
	spec := loadSpec(t)

	sim, err := New(Options{Seed: 7, Medias: 12, Now: time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC), LateShare: 0.1, DuplicateShare: 0.05, CorruptShare: 0.02})
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	media := sim.MediaIDs()[0]
	visitor := sim.visitors[0].key

	cases := []struct {
		path   string
		token  string
		status int
	}{
		{"/medias.json", sim.Token(), 200},
		{"/medias.json?page=2&per_page=5", sim.Token(), 200},
		{"/medias.json?page=9&per_page=100", sim.Token(), 200},
		{"/medias.json", "wrong", 401},
		{"/stats/medias/" + media + "/by_date.json?start_date=2026-11-01&end_date=2026-11-24", sim.Token(), 200},
		{"/stats/medias/" + media + "/by_date.json", sim.Token(), 200},
		{"/stats/medias/nosuchmedia/by_date.json?start_date=2026-11-01&end_date=2026-11-02", sim.Token(), 404},
		{"/stats/medias/" + media + "/by_date.json", "", 401},
		{"/stats/events.json?media_id=" + media + "&start_date=2026-11-20&end_date=2026-11-24&per_page=100", sim.Token(), 200},
		{"/stats/events.json?media_id=" + media + "&start_date=2026-11-20&end_date=2026-11-24&page=3", sim.Token(), 200},
		{"/stats/events.json?start_date=2026-11-24&end_date=2026-11-24&per_page=50", sim.Token(), 200},
		{"/stats/events.json?media_id=" + media + "&start_date=24-11-2026", sim.Token(), 422},
		{"/stats/events.json?media_id=" + media + "&start_date=2026-11-24&end_date=2026-11-01", sim.Token(), 422},
		{"/stats/events.json", "nope", 401},
		{"/stats/visitors/" + visitor + ".json", sim.Token(), 200},
		{"/stats/visitors/nosuchvisitor.json", sim.Token(), 404},
		{"/stats/visitors/" + visitor + ".json", "", 401},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d %s", c.status, c.path), func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+BasePath+c.path, nil)
			require.NoError(t, err)
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, c.status, resp.StatusCode)
			require.Empty(t, check(t, spec, c.path, resp))
		})
	}
}

// TestContractCatchesQuirks is the contract test's negative control: the API's undocumented
// forms, which the simulator sends when asked, must fail validation.
func TestContractCatchesQuirks(t *testing.T) {
	spec := loadSpec(t)

	sim, err := New(Options{Seed: 7, Medias: 3, Now: time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC), QuirkShare: 1})
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	for _, path := range []string{
		"/stats/events?media_id=" + sim.MediaIDs()[0] + "&start_date=2026-11-01&end_date=2026-11-24",
		"/medias",
	} {
		req, err := http.NewRequest(http.MethodGet, srv.URL+BasePath+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+sim.Token())
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "the quirky answer is a success, so only its body can fail")
		problems := check(t, spec, path, resp)
		resp.Body.Close()
		require.NotEmpty(t, problems, "quirky answer of %s passed validation", path)
		t.Logf("%s: %v", path, problems)
	}
}
