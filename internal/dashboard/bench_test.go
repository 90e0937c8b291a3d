package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/dashboard"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/lake/engine"
	"github.com/marketing-data/wistia-pipeline/lake/gold"
)

// The year of gold BenchmarkDashboardYear serves: 365 days × 2,000 medias, 200,000 visitors,
// and 0 to 5 visitors of each media on each day (1.8 million engagement rows).
const (
	yearDays       = 365
	yearMedias     = 2_000
	yearVisitors   = 200_000
	yearSeed       = 28
	maxDayVisitors = 5
)

// yearLast is the last day of the year of gold.
var yearLast = dates.DateOf(time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC))

var benchChannels = []string{"Facebook", "YouTube", "Instagram", "LinkedIn", "Website", "Email", gold.UnknownChannel}
var benchCountries = []string{"US", "GB", "DE", "FR", "CA", "IN", "BR", "AU", "JP", "NL", "ES", ""}

// yearGold is a year of gold rows made from a seed, written as the pipeline's merges write
// gold, and its own sums to check the dashboard against.
type yearGold struct {
	days       []dates.Date
	medias     []gold.DimMedia
	visitors   []gold.DimVisitor
	facts      []gold.FactMediaDaily
	engagement []gold.FactEngagement
	plays      int64            // over the year
	mediaPlays map[string]int64 // over the year, by media
}

func newYearGold() *yearGold {
	rng := rand.New(rand.NewPCG(yearSeed, 0x64617368))
	g := &yearGold{days: dates.Range(yearLast.AddDays(1-yearDays), yearLast), mediaPlays: map[string]int64{}}
	for m := range yearMedias {
		g.medias = append(g.medias, gold.DimMedia{MediaID: fmt.Sprintf("ym%05d", m), Title: fmt.Sprintf("Year media %d", m),
			URL: fmt.Sprintf("https://home.wistia.com/medias/ym%05d", m), Channel: benchChannels[m%len(benchChannels)],
			CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Project: "Bench", Duration: float64(30 + m%600)})
	}
	for v := range yearVisitors {
		g.visitors = append(g.visitors, gold.DimVisitor{VisitorID: fmt.Sprintf("yv%06d", v), IPAddress: "203.0.113.7",
			Country: benchCountries[rng.IntN(len(benchCountries))], LastSeenAt: yearLast.Time()})
	}
	for _, day := range g.days {
		for _, m := range g.medias {
			// Distinct visitors of the media that day: a stride coprime with their number.
			first, n := rng.IntN(yearVisitors), rng.IntN(maxDayVisitors+1)
			var plays int64
			for j := range n {
				p := int64(1 + rng.IntN(3))
				plays += p
				g.engagement = append(g.engagement, gold.FactEngagement{MediaID: m.MediaID,
					VisitorID: g.visitors[(first+j*7919)%yearVisitors].VisitorID, Date: day, PlayCount: p,
					TotalWatchTime: float64(p) * 20, WatchedPercent: 0.5})
			}
			loads := plays + int64(rng.IntN(20))
			f := gold.FactMediaDaily{MediaID: m.MediaID, Date: day, LoadCount: loads, PlayCount: plays, HoursWatched: float64(plays) / 180}
			if loads > 0 {
				f.PlayRate = float64(plays) / float64(loads)
			}
			g.facts = append(g.facts, f)
			g.plays += plays
			g.mediaPlays[m.MediaID] += plays
		}
	}
	return g
}

// top is the media with the most plays over the year (the least id of a tie).
func (g *yearGold) top() string {
	top := g.medias[0].MediaID
	for id, n := range g.mediaPlays {
		if n > g.mediaPlays[top] || n == g.mediaPlays[top] && id < top {
			top = id
		}
	}
	return top
}

// merge writes rows into the partitions they fall in through the lake's own merge: as their
// whole content (replace), or over the rows they hold by key.
func merge[R any](b *testing.B, lh *lake.Lakehouse, rows []R, replace bool, runID string) {
	b.Helper()
	t, err := lake.TableOf[R](lh)
	if err != nil {
		b.Fatal(err)
	}
	m := engine.Upsert
	if replace {
		m = engine.Replace
	}
	if _, err := engine.MergeGrouped(context.Background(), lh.Warehouse, t, m, engine.SnapshotProps(runID, nil), engine.ByPartition(t, rows)); err != nil {
		b.Fatal(err)
	}
}

// write commits the whole year, a table at a time.
func (g *yearGold) write(b *testing.B, lh *lake.Lakehouse) {
	merge(b, lh, g.medias, true, "year")
	merge(b, lh, g.visitors, true, "year")
	merge(b, lh, g.facts, true, "year")
	merge(b, lh, g.engagement, true, "year")
}

// rerun commits what a daily run commits: the last day's facts again, one more play of the
// first media's first visitor there, every media again, and that visitor seen again. The sums
// follow, so the first request after it must show the new play.
func (g *yearGold) rerun(b *testing.B, lh *lake.Lakehouse, run int) {
	b.Helper()
	var facts []gold.FactMediaDaily
	for _, f := range g.facts {
		if f.Date == yearLast {
			if f.MediaID == g.medias[0].MediaID {
				f.PlayCount++
				f.LoadCount++
			}
			facts = append(facts, f)
		}
	}
	var engagement []gold.FactEngagement
	visitor := ""
	for _, e := range g.engagement {
		if e.Date == yearLast {
			if e.MediaID == g.medias[0].MediaID && visitor == "" {
				e.PlayCount++
				visitor = e.VisitorID
			}
			engagement = append(engagement, e)
		}
	}
	if visitor == "" {
		b.Fatalf("the first media has no visitor on %s: pick another seed", yearLast)
	}
	g.setLastDay(facts, engagement)
	g.plays++
	g.mediaPlays[g.medias[0].MediaID]++
	runID := fmt.Sprintf("daily-%d", run)
	merge(b, lh, g.medias, true, runID)
	merge(b, lh, facts, true, runID)
	merge(b, lh, engagement, true, runID)
	seen := g.visitors[slices.IndexFunc(g.visitors, func(v gold.DimVisitor) bool { return v.VisitorID == visitor })]
	seen.LastSeenAt = seen.LastSeenAt.Add(time.Duration(run) * time.Second)
	merge(b, lh, []gold.DimVisitor{seen}, false, runID)
}

// setLastDay replaces the last day's rows of the kept facts with those a rerun wrote.
func (g *yearGold) setLastDay(facts []gold.FactMediaDaily, engagement []gold.FactEngagement) {
	g.facts = append(slices.DeleteFunc(g.facts, func(f gold.FactMediaDaily) bool { return f.Date == yearLast }), facts...)
	g.engagement = append(slices.DeleteFunc(g.engagement, func(e gold.FactEngagement) bool { return e.Date == yearLast }), engagement...)
}

// yearLakehouse is an empty file:// lakehouse with a sqlite catalog, as `starter dashboard`
// opens it on one machine.
func yearLakehouse(b *testing.B) *lake.Lakehouse {
	b.Helper()
	cfg := lake.Config{Account: "acct", DataDir: b.TempDir(),
		LakehouseConfig: lake.LakehouseConfig{Catalog: "sql", SilverNamespace: "wistia_silver", GoldNamespace: "wistia_gold", SnapshotRetention: 7}}
	lh, err := cfg.OpenLakehouse(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { lh.Close() })
	if err := lh.EnsureTables(context.Background()); err != nil {
		b.Fatal(err)
	}
	return lh
}

// endpoint is one API request the benchmark times.
type endpoint struct{ name, path string }

func yearEndpoints(media string) map[string][]endpoint {
	year := "from=" + yearLast.AddDays(1-yearDays).String() + "&to=" + yearLast.String()
	return map[string][]endpoint{
		"default": {{"freshness", "/api/freshness"}, {"channels", "/api/channels"}, {"top-media", "/api/top-media"},
			{"media", "/api/media/" + media}},
		"year": {{"channels", "/api/channels?" + year}, {"top-media", "/api/top-media?" + year},
			{"media", "/api/media/" + media + "?" + year}},
	}
}

// fetch times one request and decodes its answer into out (when not nil).
func fetch(b *testing.B, url string, out any) time.Duration {
	b.Helper()
	start := time.Now()
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("%s: %d %s %v", url, resp.StatusCode, body, err)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			b.Fatal(err)
		}
	}
	return took
}

// percentile is the p-th percentile of ds (nearest rank).
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[max(0, (len(s)*p+99)/100-1)]
}

// heapInUse is the heap in use after a collection, in bytes.
func heapInUse() float64 {
	runtime.GC()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	return float64(mem.HeapInuse)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkDashboardYear serves a year of gold (365 days × 2,000 medias) and times each API
// endpoint for the default range and for the year: warm (the snapshots read already), cold
// (the first request after a daily run's commit) and at start (the first request of a new
// server), and the first render of each page in headless Chromium. It checks the answers
// against the generator's own sums, and reports the heap in use once warm.
func BenchmarkDashboardYear(b *testing.B) {
	const warmRequests, coldRuns = 40, 5
	lh := yearLakehouse(b)
	g := newYearGold()
	began := time.Now()
	g.write(b, lh)
	b.Logf("a year of gold: %d daily rows, %d engagement rows, %d visitors written in %s",
		len(g.facts), len(g.engagement), len(g.visitors), time.Since(began).Round(time.Millisecond))
	top := g.top()
	endpoints := yearEndpoints(top)
	// The heap the dashboard keeps is what is in use once warm beyond what was before it
	// served (the generator's rows, the catalog).
	before := heapInUse()

	handler := func() http.Handler {
		return dashboard.Handler(dashboard.NewReports(lh), slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	// atStart times a request to a server just started, and stops the server.
	atStart := func(path string) time.Duration {
		srv := httptest.NewServer(handler())
		defer srv.Close()
		return fetch(b, srv.URL+path, nil)
	}
	srv := httptest.NewServer(handler())
	b.Cleanup(srv.Close)
	url := srv.URL
	type row struct {
		rng, name               string
		start, coldP50, coldP95 time.Duration
		warmP50, warmP95        time.Duration
	}
	// Every endpoint once, so that cold below is a commit's cost, not the first read's.
	for _, rng := range []string{"default", "year"} {
		for _, e := range endpoints[rng] {
			fetch(b, url+e.path, nil)
		}
	}
	var rows []row
	for b.Loop() {
		rows = rows[:0]
		for _, rng := range []string{"default", "year"} {
			for _, e := range endpoints[rng] {
				r := row{rng: rng, name: e.name, start: atStart(e.path)}
				var cold []time.Duration
				for i := range coldRuns {
					g.rerun(b, lh, len(rows)*coldRuns+i)
					cold = append(cold, fetch(b, url+e.path, nil))
				}
				var warm []time.Duration
				for range warmRequests {
					warm = append(warm, fetch(b, url+e.path, nil))
				}
				r.coldP50, r.coldP95, r.warmP50, r.warmP95 = percentile(cold, 50), percentile(cold, 95), percentile(warm, 50), percentile(warm, 95)
				rows = append(rows, r)
				b.ReportMetric(ms(r.warmP95), e.name+"-"+rng+"-warm-p95-ms")
				b.ReportMetric(ms(r.coldP95), e.name+"-"+rng+"-cold-p95-ms")
			}
		}
	}
	checkYear(b, url, g, endpoints, top)

	kept := heapInUse() - before
	b.ReportMetric(kept/(1<<20), "heap-kept-MiB")

	renders := renderPages(b, url, top, g)
	var out strings.Builder
	fmt.Fprintf(&out, "\n| range | endpoint | at start | cold p50 | cold p95 | warm p50 | warm p95 |\n|---|---|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&out, "| %s | %s | %.0f ms | %.0f ms | %.0f ms | %.1f ms | %.1f ms |\n", r.rng, r.name, ms(r.start), ms(r.coldP50), ms(r.coldP95), ms(r.warmP50), ms(r.warmP95))
	}
	fmt.Fprintf(&out, "\n| page | range | first render |\n|---|---|---:|\n")
	for _, r := range renders {
		fmt.Fprintf(&out, "| %s | %s | %.0f ms |\n", r.page, r.rng, ms(r.took))
		b.ReportMetric(ms(r.took), "render-"+r.page+"-"+r.rng+"-ms")
	}
	fmt.Fprintf(&out, "\nheap the dashboard keeps once warm: %.0f MiB\n", kept/(1<<20))
	// Printed rather than logged: a benchmark's log is cut at a few lines.
	fmt.Print(out.String())
}

// checkYear holds the dashboard's answers for the year against the generator's sums: the
// plays of the year, the top media, and media's plays by country.
func checkYear(b *testing.B, url string, g *yearGold, endpoints map[string][]endpoint, media string) {
	b.Helper()
	var channels dashboard.ChannelsReport
	fetch(b, url+endpoints["year"][0].path, &channels)
	if channels.Total.Plays != g.plays {
		b.Fatalf("the year's plays: the dashboard says %d, the generator %d", channels.Total.Plays, g.plays)
	}
	var topMedia dashboard.TopMediaReport
	fetch(b, url+endpoints["year"][1].path, &topMedia)
	if m, top := topMedia.Media[0], g.top(); m.MediaID != top || m.Plays != g.mediaPlays[top] {
		b.Fatalf("the year's top media: the dashboard says %s with %d plays, the generator %s with %d", m.MediaID, m.Plays, top, g.mediaPlays[top])
	}
	var page dashboard.MediaReport
	fetch(b, url+endpoints["year"][2].path, &page)
	want := map[string]int64{}
	country := map[string]string{}
	for _, v := range g.visitors {
		country[v.VisitorID] = v.Country
	}
	for _, e := range g.engagement {
		if e.MediaID == media {
			c := country[e.VisitorID]
			if c == "" {
				c = "unknown"
			}
			want[c] += e.PlayCount
		}
	}
	got := map[string]int64{}
	for _, c := range page.Countries {
		got[c.Country] = c.Plays
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || page.Total.Plays != g.mediaPlays[media] {
		b.Fatalf("media %s: the dashboard says %d plays, by country %v; the generator %d, %v", media, page.Total.Plays, got, g.mediaPlays[media], want)
	}
}

type render struct {
	page, rng string
	took      time.Duration
}

// renderPages times the first full render of each page (until the page marks itself ready)
// in a new headless Chromium, for the default range and the year, on a warm server; the
// year's pages must show the generator's plays.
func renderPages(b *testing.B, url, media string, g *yearGold) []render {
	b.Helper()
	ctx := browser(b)
	// The browser starts on its first page: not part of a render.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		b.Fatal(err)
	}
	year := "from=" + yearLast.AddDays(1-yearDays).String() + "&to=" + yearLast.String()
	var out []render
	for _, r := range []struct{ page, rng, path string }{
		{"overview", "default", "/"}, {"overview", "year", "/?" + year},
		{"media", "default", "/media/" + media}, {"media", "year", "/media/" + media + "?" + year},
	} {
		start := time.Now()
		if err := chromedp.Do(ctx, chromedp.Navigate(url+r.path), chromedp.WaitVisible(`body[data-ready]`)); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		ready, err := chromedp.Run(ctx, chromedp.AttributeValue(`body`, "data-ready"))
		if err != nil {
			b.Fatal(err)
		}
		plays, err := chromedp.Run(ctx, chromedp.Text(`#total-plays`))
		if err != nil {
			b.Fatal(err)
		}
		if ready.Value != "1" {
			b.Fatalf("%s did not load", r.path)
		}
		want := g.plays
		if r.page == "media" {
			want = g.mediaPlays[media]
		}
		if r.rng == "year" && number(b, plays) != float64(want) {
			b.Fatalf("%s shows %s plays, the generator has %d", r.path, plays, want)
		}
		out = append(out, render{page: r.page, rng: r.rng, took: took})
	}
	return out
}
