package dashboard_test

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/dashboard"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/internal/truthcheck"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

var simNow = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)

// site is a lakehouse built from the simulator's last ten days, the dashboard serving it, and
// the simulator's ground truth for those days. Its warehouse is a folder ("file") or, as the
// deployed dashboard reads it, a bucket ("s3": versitygw, the sqlite catalog over s3:// paths).
type site struct {
	url     string
	truth   wistiasim.Truth
	from    string
	to      string
	sim     *truthcheck.SimLake
	lake    *lake.Lakehouse
	reports *dashboard.Reports
}

func newSite(t *testing.T, warehouse string) *site {
	t.Helper()
	last := dates.DateOf(simNow).AddDays(-1)
	s := emptySite(t, warehouse)
	s.run(t, "run-1", dates.Range(last.AddDays(-9), last))
	return s
}

// emptySite is the dashboard serving a lakehouse with empty tables.
func emptySite(t *testing.T, warehouse string) *site {
	t.Helper()
	cfg := lake.Config{Account: "acct", AWSRegion: "us-east-1", LookbackDays: 2,
		LakehouseConfig: lake.LakehouseConfig{Catalog: "sql", SilverNamespace: "wistia_silver", GoldNamespace: "wistia_gold", SnapshotRetention: 7}}
	if warehouse == "s3" {
		truthcheck.InBucket(t, &cfg)
	}
	sl := truthcheck.NewSimLake(t, wistiasim.Options{Seed: 31, Medias: 6, Visitors: 60, MeanEventsPerDay: 8, Now: simNow}, cfg)
	lh := sl.Lakehouse(t)
	reports := dashboard.NewReports(lh)
	srv := httptest.NewServer(dashboard.Handler(reports, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(srv.Close)
	return &site{url: srv.URL, sim: sl, lake: lh, reports: reports}
}

// run lands days and transforms them, as a pipeline run does, and makes the site's truth
// that of those days.
func (s *site) run(t *testing.T, runID string, days []dates.Date) {
	t.Helper()
	s.sim.Land(t, runID, days)
	_, err := s.lake.Transform(context.Background(), s.sim.Store, days, runID)
	require.NoError(t, err)
	last := days[len(days)-1]
	s.truth, s.from, s.to = s.sim.Sim.Truth(days[0].Time(), last.Time()), days[0].String(), last.String()
}

func (s *site) get(t *testing.T, path string, out any) int {
	t.Helper()
	resp, err := http.Get(s.url + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	return resp.StatusCode
}

// expected is the ground truth rolled up the way docs/metrics.md defines it, computed here
// from the simulator's by_date rows and media, not by the dashboard's code.
type expected struct {
	plays  int64
	loads  int64
	hours  float64
	byWeek map[string]int64 // channel/monday → plays
}

func (e expected) rate() float64 {
	if e.loads == 0 {
		return 0
	}
	return float64(e.plays) / float64(e.loads)
}

func channelsOf(truth wistiasim.Truth) map[string]string {
	out := map[string]string{}
	for _, m := range truth.Medias {
		out[m.HashedID] = m.Channel
	}
	return out
}

func monday(d time.Time) string {
	return dates.DateOf(d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))).String()
}

func TestAPIEqualsGroundTruth(t *testing.T) {
	for _, warehouse := range []string{"file", "s3"} {
		t.Run(warehouse, func(t *testing.T) { testAPIEqualsGroundTruth(t, newSite(t, warehouse)) })
	}
}

func testAPIEqualsGroundTruth(t *testing.T, s *site) {
	channel := channelsOf(s.truth)
	perChannel := map[string]*expected{}
	perMedia := map[string]*expected{}
	var all expected
	for _, f := range s.truth.MediaDaily {
		ch := channel[f.MediaID]
		if perChannel[ch] == nil {
			perChannel[ch] = &expected{byWeek: map[string]int64{}}
		}
		if perMedia[f.MediaID] == nil {
			perMedia[f.MediaID] = &expected{}
		}
		for _, e := range []*expected{perChannel[ch], perMedia[f.MediaID], &all} {
			e.plays += f.Plays
			e.loads += f.Loads
			e.hours += f.HoursWatched
		}
		perChannel[ch].byWeek[monday(f.Date)] += f.Plays
	}
	require.Positive(t, all.plays, "the data set has plays")

	t.Run("channels", func(t *testing.T) {
		var rep dashboard.ChannelsReport
		require.Equal(t, http.StatusOK, s.get(t, "/api/channels?from="+s.from+"&to="+s.to+"&grain=weekly", &rep))
		assert.Equal(t, all.plays, rep.Total.Plays)
		assert.Equal(t, all.loads, rep.Total.Loads)
		assert.InDelta(t, all.hours, rep.Total.HoursWatched, 1e-6)
		assert.InDelta(t, all.rate(), rep.Total.PlayRate, 1e-9)
		require.Len(t, rep.Channels, len(perChannel))
		for i, c := range rep.Channels {
			want := perChannel[c.Channel]
			require.NotNil(t, want, "channel %s is in the truth", c.Channel)
			assert.Equal(t, want.plays, c.Total.Plays, c.Channel)
			assert.InDelta(t, want.hours, c.Total.HoursWatched, 1e-6, c.Channel)
			assert.InDelta(t, want.rate(), c.Total.PlayRate, 1e-9, c.Channel)
			if i > 0 {
				assert.GreaterOrEqual(t, rep.Channels[i-1].Total.Plays, c.Total.Plays, "most plays first")
			}
			for _, p := range c.Periods {
				assert.Equal(t, want.byWeek[p.Start], p.Plays, "%s week of %s", c.Channel, p.Start)
			}
			assert.Len(t, c.Periods, 2, "ten days from a Wednesday span two Monday weeks") // 2026-11-10..19
		}
		var daily dashboard.ChannelsReport
		require.Equal(t, http.StatusOK, s.get(t, "/api/channels?from="+s.from+"&to="+s.to, &daily))
		assert.Equal(t, "daily", daily.Grain)
		assert.Len(t, daily.Channels[0].Periods, 10)
	})

	t.Run("top media", func(t *testing.T) {
		var rep dashboard.TopMediaReport
		require.Equal(t, http.StatusOK, s.get(t, "/api/top-media?from="+s.from+"&to="+s.to+"&limit=3", &rep))
		ids := make([]string, 0, len(perMedia))
		for id := range perMedia {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b string) int {
			return cmp.Or(cmp.Compare(perMedia[b].plays, perMedia[a].plays), cmp.Compare(a, b))
		})
		require.Len(t, rep.Media, 3)
		for i, m := range rep.Media {
			assert.Equal(t, ids[i], m.MediaID, "rank %d", i+1)
			assert.Equal(t, perMedia[ids[i]].plays, m.Plays)
			assert.Equal(t, channel[ids[i]], m.Channel)
		}
	})

	t.Run("media", func(t *testing.T) {
		id := s.truth.Medias[0].HashedID
		var rep dashboard.MediaReport
		require.Equal(t, http.StatusOK, s.get(t, "/api/media/"+id+"?from="+s.from+"&to="+s.to, &rep))
		assert.Equal(t, s.truth.Medias[0].Name, rep.Media.Title)
		assert.Equal(t, perMedia[id].plays, rep.Total.Plays)
		byDay := map[string]int64{}
		for _, f := range s.truth.MediaDaily {
			if f.MediaID == id {
				byDay[dates.DateOf(f.Date).String()] = f.Plays
			}
		}
		require.Len(t, rep.Days, 10)
		for _, d := range rep.Days {
			assert.Equal(t, byDay[d.Start], d.Plays, d.Start)
		}
		assert.Equal(t, countries(s.truth, id), rep.Countries)
	})

	t.Run("freshness and the default range", func(t *testing.T) {
		var f dashboard.Freshness
		require.Equal(t, http.StatusOK, s.get(t, "/api/freshness", &f))
		assert.Equal(t, s.to, f.DataThrough)
		assert.WithinDuration(t, time.Now(), f.LastRun, time.Hour, "the last commit to gold is this test's transform")
		var rep dashboard.ChannelsReport
		require.Equal(t, http.StatusOK, s.get(t, "/api/channels", &rep))
		assert.Equal(t, s.to, rep.To, "by default the range ends on the last day gold holds")
		assert.Equal(t, dayOf(t, s.to).AddDays(-27).String(), rep.From)
	})

	t.Run("bad requests name the parameter", func(t *testing.T) {
		for path, msg := range map[string]string{
			"/api/channels?from=2026-11-32&to=" + s.to:                                `from "2026-11-32": want YYYY-MM-DD`,
			"/api/channels?from=" + s.to + "&to=" + s.from:                            "is after to",
			"/api/channels?grain=monthly":                                             `grain "monthly": want daily or weekly`,
			"/api/top-media?limit=0":                                                  `limit "0": want 1 to 100`,
			"/api/channels?from=" + s.from:                                            `to "": want YYYY-MM-DD`,
			"/api/channels?format=xml":                                                `format "xml": want json or csv`,
			"/api/freshness?format=csv":                                               "this report has no table to download",
			"/api/media/" + s.truth.Medias[0].HashedID + "?format=csv&table=visitors": `table "visitors": want days or countries`,
		} {
			var e struct{ Error string }
			assert.Equal(t, http.StatusBadRequest, s.get(t, path, &e), path)
			assert.Contains(t, e.Error, msg, path)
		}
		var e struct{ Error string }
		assert.Equal(t, http.StatusNotFound, s.get(t, "/api/media/nope", &e))
		assert.Contains(t, e.Error, `unknown media "nope"`)
	})
}

func dayOf(t *testing.T, s string) dates.Date {
	d, err := dates.Parse(s)
	require.NoError(t, err)
	return d
}

// countries rolls the truth's engagement of a media up by its visitors' countries.
func countries(truth wistiasim.Truth, media string) []dashboard.CountryPlays {
	country := map[string]string{}
	for _, v := range truth.Visitors {
		country[v.VisitorKey] = v.Country
	}
	by := map[string]*dashboard.CountryPlays{}
	visitors := map[string]map[string]bool{}
	for _, e := range truth.Engagement {
		if e.MediaID != media {
			continue
		}
		c := cmp.Or(country[e.VisitorKey], "unknown")
		if by[c] == nil {
			by[c], visitors[c] = &dashboard.CountryPlays{Country: c}, map[string]bool{}
		}
		by[c].Plays += e.Plays
		visitors[c][e.VisitorKey] = true
	}
	out := []dashboard.CountryPlays{}
	for c, p := range by {
		p.Visitors = len(visitors[c])
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b dashboard.CountryPlays) int {
		return cmp.Or(cmp.Compare(b.Plays, a.Plays), cmp.Compare(a.Country, b.Country))
	})
	return out
}

// browser starts headless Chromium from Debian's packages, installing it the way `make tools`
// does when it is missing.
func browser(t testing.TB) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		install := exec.Command("make", "--no-print-directory", "chromium")
		install.Dir = "../.."
		out, ierr := install.CombinedOutput()
		require.NoError(t, ierr, "make chromium:\n%s", out)
		path, err = exec.LookPath("chromium")
		require.NoError(t, err, "chromium after make chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1000, 800), chromedp.Flag("disable-gpu", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel3)
	return ctx
}

// screenshot saves the page under the test's folder, and under DASHBOARD_SCREENSHOTS when set
// (how docs/dashboard-*.png were made).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	dirs := []string{t.TempDir()}
	if d := os.Getenv("DASHBOARD_SCREENSHOTS"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		p := filepath.Join(d, "dashboard-"+name+".png")
		require.NoError(t, os.WriteFile(p, png, 0o644))
		t.Logf("screenshot %s (%d KiB)", p, len(png)/1024)
	}
}

func number(t testing.TB, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.ReplaceAll(s, ",", ""), "%"), 64)
	require.NoError(t, err, "%q is a number", s)
	return v
}

// The pages render from the warehouse as it lives in AWS: a bucket, through the catalog.
func TestPagesRenderGroundTruth(t *testing.T) {
	s := newSite(t, "s3")
	channel := channelsOf(s.truth)
	var plays, loads int64
	var hours float64
	perMedia := map[string]int64{}
	for _, f := range s.truth.MediaDaily {
		plays += f.Plays
		loads += f.Loads
		hours += f.HoursWatched
		perMedia[f.MediaID] += f.Plays
	}
	top := ""
	for id, n := range perMedia {
		if top == "" || n > perMedia[top] || n == perMedia[top] && id < top {
			top = id
		}
	}
	ctx := browser(t)
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(sel))
		require.NoError(t, err, sel)
		return v
	}
	load := func(url string) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(`body[data-ready]`)))
		ready, err := chromedp.Run(ctx, chromedp.AttributeValue(`body`, "data-ready"))
		require.NoError(t, err)
		require.Equal(t, "1", ready.Value, "%s loaded without error: %s", url, text(`#error`))
	}

	load(s.url + "/?from=" + s.from + "&to=" + s.to)
	assert.Equal(t, float64(plays), number(t, text(`#total-plays`)))
	assert.InDelta(t, hours, number(t, text(`#total-hours`)), 0.05)
	assert.InDelta(t, 100*float64(plays)/float64(loads), number(t, text(`#total-rate`)), 0.05)
	assert.Equal(t, nameOf(s.truth, top), text(`#top-media tbody tr:first-child td:nth-child(2)`))
	assert.Equal(t, float64(perMedia[top]), number(t, text(`#top-media tbody tr:first-child td:nth-child(4)`)))
	assert.Contains(t, text(`#freshness`), "Data through "+s.to+" (final; days of UTC), last run ")
	lines, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#chart-plays polyline').length`))
	require.NoError(t, err)
	assert.Equal(t, len(distinct(channel)), lines, "one line per channel")
	screenshot(t, ctx, "overview")
	accessible(t, ctx, "overview")
	series, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#chart-plays polyline')].map((l) => l.getAttribute('stroke-dasharray'))`))
	require.NoError(t, err)
	patterns := map[string]bool{}
	for _, p := range series {
		patterns[p] = true
	}
	assert.Len(t, patterns, len(series), "each channel's line has its own dash pattern: told apart without colour")
	names, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#chart-plays .series-label')].map((t) => t.textContent)`))
	require.NoError(t, err)
	assert.ElementsMatch(t, slices.Collect(maps.Keys(distinct(channel))), names, "each line is named at its end")

	// The date-range picker: weekly grain over the same days, through the form.
	require.NoError(t, chromedp.Do(ctx, chromedp.SetValue(`#grain`, "weekly"), chromedp.Submit(`#range`),
		chromedp.WaitVisible(`body[data-ready]`)))
	points, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelector('#chart-plays polyline').getAttribute('points').split(' ').length`))
	require.NoError(t, err)
	assert.Equal(t, 2, points, "two weeks")
	assert.Equal(t, float64(plays), number(t, text(`#total-plays`)), "the same total by week")

	// The channels table downloads as CSV over the range on screen, grain included.
	rows := s.download(t, ctx, `#csv-channels`, "from="+s.from, "to="+s.to, "grain=weekly")
	assert.Equal(t, []string{"channel", "plays", "loads", "hours_watched", "play_rate"}, rows[0])
	perChannel := map[string]int64{}
	for id, n := range perMedia {
		perChannel[channel[id]] += n
	}
	require.Len(t, rows, 1+len(perChannel))
	for _, r := range rows[1:] {
		assert.Equal(t, float64(perChannel[r[0]]), number(t, r[1]), "plays of %s", r[0])
	}
	rows = s.download(t, ctx, `#csv-top-media`, "from="+s.from, "to="+s.to)
	assert.Equal(t, []string{"1", top, nameOf(s.truth, top)}, rows[1][:3])

	load(s.url + "/media/" + top + "?from=" + s.from + "&to=" + s.to)
	assert.Equal(t, float64(perMedia[top]), number(t, text(`#total-plays`)))
	assert.Equal(t, nameOf(s.truth, top), text(`#media-title`))
	assert.Equal(t, countries(s.truth, top)[0].Country, text(`#countries tbody tr:first-child td:first-child`))
	screenshot(t, ctx, "media")
	accessible(t, ctx, "media")

	rows = s.download(t, ctx, `#csv-days`, "from="+s.from, "to="+s.to, "table=days")
	require.Len(t, rows, 1+10, "a header and the ten days")
	for _, f := range s.truth.MediaDaily {
		if f.MediaID == top {
			day := dates.DateOf(f.Date).String()
			i := slices.IndexFunc(rows, func(r []string) bool { return r[0] == day })
			require.Positive(t, i, "day %s is in the download", day)
			assert.Equal(t, float64(f.Plays), number(t, rows[i][1]), "plays on %s", day)
		}
	}
	rows = s.download(t, ctx, `#csv-countries`, "from="+s.from, "to="+s.to, "table=countries")
	assert.Equal(t, countries(s.truth, top)[0].Country, rows[1][0])
}

// accessible runs axe-core on the page in the browser and fails on any serious or critical
// violation; the counts by impact go to the log.
func accessible(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	found := axeViolations(t, ctx)
	byImpact := map[string]int{"minor": 0, "moderate": 0, "serious": 0, "critical": 0}
	for _, v := range found {
		byImpact[v.Impact]++
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Errorf("%s page: %s violation %s (%s) on %d elements", page, v.Impact, v.ID, v.Help, v.Nodes)
		} else {
			t.Logf("%s page: %s violation %s (%s) on %d elements", page, v.Impact, v.ID, v.Help, v.Nodes)
		}
	}
	t.Logf("axe-core on the %s page: violations by impact %v", page, byImpact)
}

type violation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  int    `json:"nodes"`
}

// axeViolations is what axe-core (installed by make tools) finds on the page in the browser.
func axeViolations(t *testing.T, ctx context.Context) []violation {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), ".tools", "node_modules", "axe-core", "axe.min.js"))
	require.NoError(t, err, "axe-core is installed by make tools")
	found, err := chromedp.Run(ctx, chromedp.Evaluate[[]violation](string(src)+
		`; axe.run(document).then((r) => r.violations.map((v) => ({id: v.id, impact: v.impact || "", help: v.help, nodes: v.nodes.length})))`,
		chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	return found
}

// The check can fail: an image without a text alternative and an unlabelled field are found.
func TestAccessibilityCheckFindsViolations(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `<!doctype html><html lang="en"><head><title>t</title></head><body><main><img src="/x.png"><input type="text"></main></body></html>`)
	}))
	t.Cleanup(srv.Close)
	ctx := browser(t)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL)))
	ids := map[string]string{}
	for _, v := range axeViolations(t, ctx) {
		ids[v.ID] = v.Impact
	}
	assert.Equal(t, "critical", ids["image-alt"], "%v", ids)
	assert.Equal(t, "critical", ids["label"], "%v", ids)
}

// download follows the page's download link sel: its address carries each of want, and what
// it serves is a CSV attachment, returned as rows.
func (s *site) download(t *testing.T, ctx context.Context, sel string, want ...string) [][]string {
	t.Helper()
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(sel, "href"))
	require.NoError(t, err, sel)
	for _, w := range append(want, "format=csv") {
		assert.Contains(t, href.Value, w, "%s keeps the page's %s", sel, w)
	}
	resp, err := http.Get(s.url + href.Value)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, href.Value)
	assert.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, resp.Header.Get("Content-Disposition"), `attachment; filename="`)
	rows, err := csv.NewReader(resp.Body).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, rows)
	return rows
}

func nameOf(truth wistiasim.Truth, id string) string {
	for _, m := range truth.Medias {
		if m.HashedID == id {
			return m.Name
		}
	}
	return ""
}

func distinct(m map[string]string) map[string]bool {
	out := map[string]bool{}
	for _, v := range m {
		out[v] = true
	}
	return out
}
