package wistiasim

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/marketing-data/wistia-pipeline/dates"
)

// BasePath is where the simulator serves the API, as https://api.wistia.com/v1 does.
const BasePath = "/v1"

// answer is what an endpoint replies before faults are applied.
type answer struct {
	status int
	body   []byte // nil: empty body
	text   bool   // text/plain rather than JSON
	header map[string]string
}

func jsonAnswer(status int, v any) answer {
	b, err := json.Marshal(v)
	if err != nil {
		return answer{status: http.StatusInternalServerError, body: []byte(`{"error":"Internal server error"}`)}
	}
	return answer{status: status, body: b}
}

func errorAnswer(status int, msg string) answer {
	return jsonAnswer(status, map[string]string{"error": msg})
}

// Handler serves the API under BasePath. Each path works with and without ".json".
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, e endpoint, h func(*http.Request) answer) {
		mux.Handle("GET "+BasePath+pattern, s.serve(e, h))
		mux.Handle("GET "+BasePath+pattern+".json", s.serve(e, h))
	}
	route("/medias", endpointMedias, s.listMedias)
	route("/stats/medias/{id}/by_date", endpointByDate, s.mediaByDate)
	route("/stats/events", endpointEvents, s.listEvents)
	mux.Handle("GET "+BasePath+"/stats/visitors/{key}", s.serve(endpointVisitors, s.showVisitor))
	return mux
}

// endpoint numbers the API's endpoints for Stats.ByEndpoint.
type endpoint int

const (
	endpointMedias endpoint = iota
	endpointByDate
	endpointEvents
	endpointVisitors
	numEndpoints
)

// EndpointNames name the endpoints in Stats.ByEndpoint.
var EndpointNames = [numEndpoints]string{"medias", "by_date", "events", "visitors"}

// serve wraps an endpoint with what every request goes through, in the live API's order:
// authentication, the rate limit, then the injected faults.
func (s *Sim) serve(e endpoint, endpoint func(*http.Request) answer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.byEndpoint[e].Add(1)
		faults, errorDraw, resetDraw, truncDraw, insertDraw, pick := s.roll()
		if faults.Latency > 0 {
			select {
			case <-time.After(faults.Latency):
			case <-r.Context().Done():
				return
			}
		}
		if r.Header.Get("Authorization") != "Bearer "+s.opts.Token {
			write(w, jsonAnswer(http.StatusUnauthorized, map[string]string{"code": "unauthorized", "error": "Invalid credentials."}))
			return
		}
		if faults.Storm > 0 {
			s.stormed.Add(1)
			write(w, rateLimited(time.Now().Add(faults.Storm).UTC().Format(http.TimeFormat)))
			return
		}
		if wait, ok := s.admit(time.Now()); !ok {
			s.overLimit.Add(1)
			write(w, rateLimited(strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))))
			return
		}
		if resetDraw < faults.ResetRate {
			s.resets.Add(1)
			reset(w)
			return
		}
		if errorDraw < faults.ErrorRate {
			s.errors.Add(1)
			switch pick % 3 {
			case 0:
				write(w, errorAnswer(http.StatusInternalServerError, "Internal server error"))
			case 1:
				write(w, answer{status: http.StatusBadGateway, text: true, body: []byte("<html><body>502 Bad Gateway</body></html>")})
			default:
				write(w, answer{status: http.StatusServiceUnavailable, text: true, body: []byte("Service Unavailable"),
					header: map[string]string{"Retry-After": "1"}})
			}
			return
		}
		if insertDraw < faults.InsertRate {
			r = r.WithContext(withInsert(r.Context()))
		}
		a := endpoint(r)
		if a.status == http.StatusOK && truncDraw < faults.TruncateRate && len(a.body) > 1 {
			s.truncated.Add(1)
			a.body = a.body[:len(a.body)/2]
			if pick%2 == 0 {
				// Promise the whole body, send half, drop the connection: the client reads an early EOF.
				w.Header().Set("Content-Length", strconv.Itoa(len(a.body)*2+1))
				write(w, a)
				panic(http.ErrAbortHandler)
			}
			// A well-framed answer whose JSON stops mid-way.
		}
		write(w, a)
	})
}

// rateLimited is the live API's 429: plain text, with Retry-After in seconds or, as its edge
// sends under load, an HTTP date.
func rateLimited(retryAfter string) answer {
	return answer{status: http.StatusTooManyRequests, text: true, body: []byte("Rate limit exceeded. Try again later.\n"),
		header: map[string]string{"Retry-After": retryAfter}}
}

func write(w http.ResponseWriter, a answer) {
	if a.text {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else if a.body != nil {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// reset drops the connection with an RST, as a load balancer does under strain.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// paging reads page (1-based, default 1) and per_page (default 10, silently capped at 100).
func paging(r *http.Request) (page, perPage int) {
	page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	perPage, err := strconv.Atoi(r.URL.Query().Get("per_page"))
	if err != nil || perPage < 1 {
		perPage = 10
	}
	return page, min(perPage, 100)
}

func slicePage[T any](items []T, page, perPage int) []T {
	from := (page - 1) * perPage
	if from >= len(items) {
		return []T{}
	}
	return items[from:min(from+perPage, len(items))]
}

// dateRange reads start_date and end_date (inclusive). Missing values take the defaults given.
func dateRange(r *http.Request, defStart, defEnd time.Time) (time.Time, time.Time, *answer) {
	q := r.URL.Query()
	parse := func(name string, def time.Time) (time.Time, *answer) {
		v := q.Get(name)
		if v == "" {
			return def, nil
		}
		d, err := dates.Parse(v)
		if err != nil {
			a := errorAnswer(http.StatusUnprocessableEntity, fmt.Sprintf("Invalid %s %q: expected YYYY-MM-DD", name, v))
			return def, &a
		}
		return d.Time(), nil
	}
	start, bad := parse("start_date", defStart)
	if bad != nil {
		return start, start, bad
	}
	end, bad := parse("end_date", defEnd)
	if bad != nil {
		return start, end, bad
	}
	if start.After(end) {
		a := errorAnswer(http.StatusUnprocessableEntity, "start_date must be on or before end_date")
		return start, end, &a
	}
	return start, end, nil
}

func (s *Sim) listMedias(r *http.Request) answer {
	page, perPage := paging(r)
	now := s.Now()
	all := make([]map[string]any, 0, len(s.medias))
	for i, m := range s.medias {
		if s.exists(i, now) {
			all = append(all, s.renderMedia(m))
		}
	}
	if s.opts.HostileIDs && len(s.medias) > 0 {
		for _, id := range HostileIDs {
			m := s.renderMedia(s.medias[0])
			m["hashed_id"] = id
			all = append(all, m)
		}
		all = append(all, s.renderMedia(s.medias[0])) // listed twice
	}
	out := make([]any, 0, perPage)
	for _, m := range slicePage(all, page, perPage) {
		out = append(out, m)
	}
	return jsonAnswer(http.StatusOK, out)
}

// HostileVisitorKey is the visitor_key of a PlantHostileVisitor event.
const HostileVisitorKey = "../../../tmp/visitor"

// HostileIDs are the hashed_ids Options.HostileIDs serves: none may name a folder or a workflow.
var HostileIDs = []string{"../../etc", "a/b", "has space", "", strings.Repeat("x", 65)}

func (s *Sim) mediaByDate(r *http.Request) answer {
	now := s.Now()
	m, ok := s.mediaByID[r.PathValue("id")]
	if !ok || !s.exists(m, now) {
		return answer{status: http.StatusNotFound}
	}
	today := utcDay(now)
	start, end, bad := dateRange(r, today.AddDate(0, 0, -1), today)
	if bad != nil {
		return *bad
	}
	var rows []any
	for _, day := range utcDays(start, end) {
		rows = append(rows, s.renderDailyStat(s.dailyStat(m, day, now)))
	}
	if rows == nil {
		rows = []any{}
	}
	return jsonAnswer(http.StatusOK, rows)
}

func (s *Sim) listEvents(r *http.Request) answer {
	now := s.Now()
	today := utcDay(now)
	start, end, bad := dateRange(r, now.AddDate(-2, 0, 0), today)
	if bad != nil {
		return *bad
	}
	page, perPage := paging(r)
	q := r.URL.Query()
	mediaIDs := []int{}
	if id := q.Get("media_id"); id != "" {
		if m, ok := s.mediaByID[id]; ok {
			mediaIDs = append(mediaIDs, m)
			if page > 1 && insertRequested(r.Context()) {
				s.insertNewest(m, start, end, now)
			}
		}
	} else {
		for i := range s.medias {
			mediaIDs = append(mediaIDs, i)
		}
	}
	// Stats days are in the API's zone: one day either side of UTC's can hold events.
	first, last := utcDay(start), end
	if oldest := s.firstDay().AddDate(0, 0, -1); first.Before(oldest) {
		first = oldest
	}
	if newest := today.AddDate(0, 0, 1); last.After(newest) {
		last = newest
	}
	var listed []event
	for _, m := range mediaIDs {
		for _, day := range utcDays(first, last) {
			for _, e := range s.statsEvents(m, day, now) {
				if vk := q.Get("visitor_key"); vk != "" && s.visitors[e.visitor].key != vk {
					continue
				}
				listed = append(listed, e)
				if e.duplicate {
					listed = append(listed, e)
				}
			}
		}
	}
	sortNewestFirst(listed)
	out := make([]any, 0, perPage)
	for _, e := range slicePage(listed, page, perPage) {
		out = append(out, s.renderEvent(e))
	}
	return jsonAnswer(http.StatusOK, out)
}

func (s *Sim) showVisitor(r *http.Request) answer {
	key := strings.TrimSuffix(r.PathValue("key"), ".json")
	v, ok := s.visitorByKey[key]
	if !ok {
		return answer{status: http.StatusNotFound}
	}
	return jsonAnswer(http.StatusOK, s.renderVisitor(v))
}

// dailyStat is what by_date reports for media m on day at now: every visible play counted once.
func (s *Sim) dailyStat(m int, day, now time.Time) DailyStat {
	st := DailyStat{MediaID: s.medias[m].hashedID, Date: day}
	var seconds float64
	for _, e := range s.statsEvents(m, day, now) {
		st.Plays++
		seconds += e.percent * s.medias[m].duration
	}
	st.HoursWatched = math.Round(seconds/3600*1e6) / 1e6
	st.Loads = int64(math.Round(float64(st.Plays) / s.medias[m].playRate))
	return st
}

// --- rendering: the JSON the live API sends, with its undocumented forms when quirky ---

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func quirkyTS(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

func (s *Sim) quirk(kind uint64, a, b uint64) bool {
	return s.opts.QuirkShare > 0 && s.rng(kind^0xabc, a, b).Float64() < s.opts.QuirkShare
}

func (s *Sim) renderMedia(m media) map[string]any {
	p := projects[m.project]
	tags := make([]map[string]string, len(m.tags))
	for i, t := range m.tags {
		tags[i] = map[string]string{"name": t}
	}
	out := map[string]any{
		"id": m.id, "name": m.name, "type": "Video", "archived": false,
		"created": ts(m.created), "updated": ts(m.updated), "duration": m.duration,
		"hashed_id": m.hashedID, "description": m.description, "progress": 1.0, "status": "ready",
		"thumbnail": map[string]any{"url": "https://embed-ssl.wistia.com/deliveries/" + m.hashedID + ".jpg", "width": 200, "height": 120},
		"project":   map[string]any{"id": 5000 + m.project, "name": p.name, "hashedId": hashedID(splitmix64(uint64(m.project) ^ 0x77))},
		"assets": []map[string]any{{
			"url": "https://embed-ssl.wistia.com/deliveries/" + m.hashedID + ".bin", "width": 1920, "height": 1080,
			"fileSize": int64(m.duration * 250_000), "contentType": "video/mp4", "type": "OriginalFile"}},
		"tags": tags,
	}
	if m.folder != "" {
		out["subfolder"] = map[string]any{
			"hashed_id": m.folderID, "name": m.folder, "description": nil,
			"position": slices.Index(folders, m.folder), "created": ts(m.created), "updated": ts(m.created)}
	}
	if s.quirk(kindMedia, uint64(m.index), 0) {
		out["id"] = strconv.FormatInt(m.id, 10)
		out["duration"] = strconv.FormatFloat(m.duration, 'f', -1, 64)
		out["created"] = quirkyTS(m.created)
		out["thumbnail"] = ""
		out["tags"] = m.tags
	}
	return out
}

func (s *Sim) renderEvent(e event) map[string]any {
	m := s.medias[e.media]
	v := s.visitors[e.visitor]
	pl := places[v.place]
	b := browsers[v.browser]
	out := map[string]any{
		"received_at": ts(e.at), "event_key": e.key, "visitor_key": v.key,
		"embed_url": e.embedURL, "percent_viewed": e.percent,
		"ip": v.ip, "org": v.org, "country": pl.country, "region": pl.region, "city": pl.city,
		"lat": pl.lat, "lon": pl.lon, "email": nil,
		"media_id": m.hashedID, "media_name": m.name,
		"media_url":          "https://home.wistia.com/medias/" + m.hashedID,
		"iframe_heatmap_url": "https://home.wistia.com/stats/event/" + e.key + "/heatmap",
		"thumbnail":          map[string]any{"url": "https://embed-ssl.wistia.com/deliveries/" + m.hashedID + ".jpg", "width": 200, "height": 120},
		"conversion_type":    0,
		"conversion_data":    map[string]any{},
		"user_agent_details": map[string]any{"browser": b.name, "browser_version": b.version, "platform": b.platform, "mobile": v.mobile},
	}
	if v.email != "" {
		out["email"] = v.email
	}
	if e.quirky {
		out["received_at"] = quirkyTS(e.at)
		out["percent_viewed"] = strconv.FormatFloat(e.percent, 'f', -1, 64)
		out["lat"] = strconv.FormatFloat(pl.lat, 'f', -1, 64)
		out["thumbnail"] = ""
		out["conversion_type"] = "none"
	}
	if e.corrupt {
		delete(out, "event_key")
	}
	if e.hostile {
		out["visitor_key"] = HostileVisitorKey
	}
	return out
}

func (s *Sim) renderDailyStat(st DailyStat) map[string]any {
	out := map[string]any{"date": dates.DateOf(st.Date).String(), "load_count": st.Loads, "play_count": st.Plays, "hours_watched": st.HoursWatched}
	if s.quirk(kindDay, uint64(s.mediaByID[st.MediaID]), dayIndex(st.Date)) {
		out["load_count"] = strconv.FormatInt(st.Loads, 10)
		out["hours_watched"] = strconv.FormatFloat(st.HoursWatched, 'f', -1, 64)
	}
	return out
}

func (s *Sim) renderVisitor(i int) map[string]any {
	v := s.visitors[i]
	b := browsers[v.browser]
	identity := map[string]any{"name": v.name, "email": nil, "org": map[string]any{"name": v.org, "title": nil}}
	if v.email != "" {
		identity["email"] = v.email
	}
	return map[string]any{
		"visitor_key": v.key, "created_at": ts(v.created), "last_active_at": ts(v.lastActive),
		"last_event_key": fmt.Sprintf("%016x", v.lastEventKeyID), "load_count": v.lifetimeLoads, "play_count": v.lifetimePlays,
		"visitor_identity":   identity,
		"user_agent_details": map[string]any{"browser": b.name, "browser_version": b.version, "platform": b.platform, "mobile": v.mobile},
	}
}
