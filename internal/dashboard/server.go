package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/marketing-data/wistia-pipeline/dates"
)

// DefaultAddr is where `starter dashboard` listens unless told otherwise: this machine only.
const DefaultAddr = "127.0.0.1:8090"

//go:embed assets
var assets embed.FS

// Handler serves the pages, their assets (embedded: nothing is fetched from elsewhere) and
// the JSON API:
//
//	GET /api/freshness                              data through, last run
//	GET /api/channels?from=D&to=D&grain=daily|weekly  per channel and period
//	GET /api/top-media?from=D&to=D&limit=N          the N media with most plays
//	GET /api/media/{id}?from=D&to=D                 one media's days and countries
//	GET /healthz                                    the load balancer's health check
//
// With format=csv, each report's table downloads as CSV (see downloads.go).
func Handler(r *Reports, logger *slog.Logger) http.Handler {
	static, _ := fs.Sub(assets, "assets")
	mux := http.NewServeMux()
	page := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			b, _ := fs.ReadFile(static, name)
			_, _ = w.Write(b)
		}
	}
	mux.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /{$}", page("index.html"))
	mux.HandleFunc("GET /media/{id}", page("media.html"))
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))

	api := func(serve func(ctx context.Context, q query) (any, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, req *http.Request) {
			v, err := serve(req.Context(), query{req: req})
			switch format := req.URL.Query().Get("format"); {
			case format == "csv" && err == nil:
				if err = writeDownload(w, req, v); err == nil {
					return
				}
			case format != "" && format != "csv" && format != "json":
				err = badRequest{"format " + strconv.Quote(format) + ": want json or csv"}
			}
			status := http.StatusOK
			var bad badRequest
			switch {
			case errors.As(err, &bad):
				status, v = http.StatusBadRequest, apiError{err.Error()}
			case errors.Is(err, ErrUnknownMedia):
				status, v = http.StatusNotFound, apiError{err.Error()}
			case err != nil:
				logger.Error("dashboard request failed", "path", req.URL.Path, "error", err)
				status, v = http.StatusInternalServerError, apiError{"the lakehouse could not be read; the dashboard's log says why"}
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(v)
		}
	}
	mux.HandleFunc("GET /api/freshness", api(func(ctx context.Context, q query) (any, error) {
		return r.Freshness(ctx)
	}))
	mux.HandleFunc("GET /api/channels", api(func(ctx context.Context, q query) (any, error) {
		from, to, err := q.dayRange()
		if err != nil {
			return nil, err
		}
		grain := q.req.URL.Query().Get("grain")
		switch grain {
		case "":
			grain = Daily
		case Daily, Weekly:
		default:
			return nil, badRequest{"grain " + strconv.Quote(grain) + ": want daily or weekly"}
		}
		return r.Channels(ctx, from, to, grain)
	}))
	mux.HandleFunc("GET /api/top-media", api(func(ctx context.Context, q query) (any, error) {
		from, to, err := q.dayRange()
		if err != nil {
			return nil, err
		}
		limit := 10
		if s := q.req.URL.Query().Get("limit"); s != "" {
			if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 100 {
				return nil, badRequest{"limit " + strconv.Quote(s) + ": want 1 to 100"}
			}
		}
		return r.TopMedia(ctx, from, to, limit)
	}))
	mux.HandleFunc("GET /api/media/{id}", api(func(ctx context.Context, q query) (any, error) {
		from, to, err := q.dayRange()
		if err != nil {
			return nil, err
		}
		return r.Media(ctx, q.req.PathValue("id"), from, to)
	}))
	return securityHeaders(mux)
}

// securityHeaders keeps the pages to their own assets: no script, style or image from
// anywhere else, no framing.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, req)
	})
}

type apiError struct {
	Error string `json:"error"`
}

// badRequest is a query parameter the API cannot use.
type badRequest struct{ msg string }

func (b badRequest) Error() string { return b.msg }

type query struct {
	req *http.Request
}

// dayRange reads from and to (both or neither); neither is two zero days, which the reports
// take as the four weeks up to the last day gold holds, read with the rest of the report.
func (q query) dayRange() (dates.Date, dates.Date, error) {
	v := q.req.URL.Query()
	fromS, toS := v.Get("from"), v.Get("to")
	if fromS == "" && toS == "" {
		return 0, 0, nil
	}
	from, err := dates.Parse(fromS)
	if err != nil {
		return 0, 0, badRequest{"from " + strconv.Quote(fromS) + ": want YYYY-MM-DD"}
	}
	to, err := dates.Parse(toS)
	if err != nil {
		return 0, 0, badRequest{"to " + strconv.Quote(toS) + ": want YYYY-MM-DD"}
	}
	if to < from {
		return 0, 0, badRequest{"from " + fromS + " is after to " + toS}
	}
	if to.DaysSince(from) > 3*366 {
		return 0, 0, badRequest{"from " + fromS + " to " + toS + " is more than three years"}
	}
	return from, to, nil
}
