package wistiasim

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/require"
)

// specValidator validates answers against Wistia's published spec.
func specValidator(t *testing.T) validator.Validator {
	t.Helper()
	spec, err := os.ReadFile("testdata/openapi-v1.yml")
	require.NoError(t, err)
	doc, err := libopenapi.NewDocument(spec)
	require.NoError(t, err)
	v, errs := validator.NewValidator(doc)
	require.Empty(t, errs)
	return v
}

// TestContract checks every answer of every endpoint against Wistia's published OpenAPI 3.1
// spec (testdata/openapi-v1.yml, copied from shared/wistia). The simulator sends only documented
// forms when QuirkShare is zero; the quirks are what the spec does not describe.
func TestContract(t *testing.T) {
	v := specValidator(t)

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

			// The spec names paths without ".json" under https://api.wistia.com/v1.
			specReq, err := http.NewRequest(http.MethodGet, "https://api.wistia.com/v1"+strings.Replace(c.path, ".json", "", 1), nil)
			require.NoError(t, err)
			specReq.Header = req.Header
			ok, verrs := v.ValidateHttpResponse(specReq, resp)
			for _, e := range verrs {
				t.Errorf("%s: %s", e.Message, e.Reason)
				for _, se := range e.SchemaValidationErrors {
					t.Errorf("  at %s: %s", se.FieldPath, se.Reason)
				}
			}
			require.True(t, ok)
		})
	}
}

// TestContractCatchesQuirks is the contract test's negative control: the API's undocumented
// forms, which the simulator sends when asked, must fail validation.
func TestContractCatchesQuirks(t *testing.T) {
	v := specValidator(t)

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
		specReq, err := http.NewRequest(http.MethodGet, "https://api.wistia.com/v1"+path, nil)
		require.NoError(t, err)
		ok, _ := v.ValidateHttpResponse(specReq, resp)
		resp.Body.Close()
		require.False(t, ok, "quirky answer of %s passed validation", path)
	}
}
