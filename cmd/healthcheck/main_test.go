package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestHealthcheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
		case "/locked":
			w.WriteHeader(http.StatusUnauthorized)
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()

	assert.NoError(t, run([]string{srv.URL + "/ok"}, io.Discard))
	assert.NoError(t, run([]string{"-status", "401", srv.URL + "/locked"}, io.Discard), "an expected status other than 200")
	assert.Error(t, run([]string{srv.URL + "/locked"}, io.Discard), "401 when 200 is expected")
	assert.Error(t, run([]string{srv.URL + "/broken"}, io.Discard))
	assert.Error(t, run([]string{"-timeout", "50ms", srv.URL + "/slow"}, io.Discard))
	assert.Error(t, run([]string{"http://127.0.0.1:1/"}, io.Discard), "nothing listening")
	assert.Error(t, run(nil, io.Discard), "no URL")
	assert.Error(t, run([]string{"-bogus", srv.URL}, io.Discard), "unknown flag")
}
