package activities

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/config"
)

func TestAlertReachesTheWebhookWithDateStepAndLink(t *testing.T) {
	var got []map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var msg map[string]string
		require.NoError(t, json.Unmarshal(body, &msg))
		got = append(got, msg)
	}))
	defer srv.Close()
	secretPath := "/services/T000/B000/very-secret-token"
	a := NewAlerter(AlertConfig{WebhookURL: config.Secret(srv.URL + secretPath), UIURL: "http://ui.example:8233"}, "default", nil)
	al := Alert{Workflow: "DailyRunWorkflow", Date: "2026-11-24", Step: "transforming", Error: "merge into silver.events: boom",
		WorkflowID: "daily-run/acct/2026-11-24", RunID: "r-1"}
	require.NoError(t, a.Send(context.Background(), al))
	require.Len(t, got, 1)
	text := got[0]["text"]
	for _, want := range []string{"2026-11-24", `"transforming"`, "merge into silver.events: boom",
		"http://ui.example:8233/namespaces/default/workflows/daily-run%2Facct%2F2026-11-24/r-1/history"} {
		assert.Contains(t, text, want)
	}

	// A failing webhook is reported without its URL, which is a credential.
	srv.Close()
	err := a.Send(context.Background(), al)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "very-secret-token")
	assert.True(t, strings.HasPrefix(err.Error(), "alert webhook:"), err.Error())
}
