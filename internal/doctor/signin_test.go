package doctor

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/internal/dashboard"
)

const authorize = "https://idp.example.com/oauth2/v2/authorize"

// signingIn answers as an Application Load Balancer whose listener authenticates before it
// forwards: every request without a session goes to the identity provider, with the redirect
// URI the load balancer builds from the request's host.
func signingIn(endpoint string) http.HandlerFunc { return signingInAs(endpoint, "") }

// signingInAs is signingIn with the host of the redirect URI fixed (empty: the request's).
func signingInAs(endpoint, host string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := url.Values{"client_id": {"dashboard"}, "response_type": {"code"}, "scope": {"openid email"},
			"redirect_uri": {"https://" + cmp.Or(host, r.Host) + "/oauth2/idpresponse"}, "state": {"opaque"}}
		http.Redirect(w, r, endpoint+"?"+q.Encode(), http.StatusFound)
	}
}

// The doctor passes a load balancer that sends every unsigned request to the identity
// provider, and fails, naming the path, one that lets any of them through, or sends them
// elsewhere, or presents a certificate not of the dashboard's name.
func TestDoctorProvesTheDashboardSignsPeopleIn(t *testing.T) {
	healthOpen := http.NewServeMux()
	healthOpen.HandleFunc(dashboard.HealthPath, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	healthOpen.Handle("/", signingIn(authorize))

	for name, tc := range map[string]struct {
		handler   http.Handler
		untrusted bool
		want      string // in the failure; empty: passes
	}{
		"signs in":                      {handler: signingIn(authorize)},
		"health check open at the edge": {handler: healthOpen, want: dashboard.HealthPath + " answered 200 OK without signing in"},
		"forwards everything":           {handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), want: "/ answered 200 OK without signing in"},
		"another identity provider":     {handler: signingIn("https://elsewhere.example.net/authorize"), want: "not to " + authorize},
		"returns to another address":    {handler: signingInAs(authorize, "old.example.com"), want: "return to https://old.example.com/oauth2/idpresponse"},
		"a certificate not trusted":     {handler: signingIn(authorize), untrusted: true, want: "certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			lb := httptest.NewTLSServer(tc.handler)
			t.Cleanup(lb.Close)
			_, port, _ := net.SplitHostPort(lb.Listener.Addr().String())
			// The test certificate names example.com; the load balancer is dialled by address.
			t.Setenv("DASHBOARD_URL", "https://example.com:"+port+"/")
			t.Setenv("DASHBOARD_LOAD_BALANCER", "127.0.0.1")
			t.Setenv("DASHBOARD_OIDC_AUTHORIZATION_ENDPOINT", authorize)
			roots := x509.NewCertPool()
			if !tc.untrusted {
				roots.AddCert(lb.Certificate())
			}
			d := &doctor{opts: Options{DashboardRoots: roots}}
			detail, err := d.dashboardSignIn(context.Background())
			if tc.want == "" {
				require.NoError(t, err)
				assert.Contains(t, detail, "3 paths, the health check among them, send an unsigned request to "+authorize)
				return
			}
			var p problem
			require.True(t, errors.As(err, &p), "a failed check with its fix: %v", err)
			assert.Contains(t, p.err.Error(), tc.want)
			assert.NotEmpty(t, p.fix)
		})
	}

	t.Run("no dashboard deployed", func(t *testing.T) {
		t.Setenv("DASHBOARD_URL", "")
		detail, err := (&doctor{}).dashboardSignIn(context.Background())
		require.NoError(t, err)
		assert.Contains(t, detail, "DASHBOARD_URL is not set")
	})
}
