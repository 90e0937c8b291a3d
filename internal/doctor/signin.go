package doctor

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/marketing-data/wistia-pipeline/config"
	"github.com/marketing-data/wistia-pipeline/internal/dashboard"
)

// SignInConfig is the deployed dashboard as a person's browser reaches it. The stack gives it to
// the operations task, so the doctor after each deploy proves the load balancer signs people in
// before it forwards anything: a stack test reads the listener's actions in the template, and
// this reads what the deployed load balancer answers.
type SignInConfig struct {
	// URL is the dashboard's address, https://<its host name>/.
	URL string `envconfig:"DASHBOARD_URL"`
	// LoadBalancer is the load balancer's own DNS name, dialled instead of URL's host (whose
	// DNS record may not exist yet on a first deploy); TLS still checks URL's host name.
	LoadBalancer string `envconfig:"DASHBOARD_LOAD_BALANCER"`
	// AuthorizationEndpoint is the identity provider's, where an unsigned request is sent.
	AuthorizationEndpoint string `envconfig:"DASHBOARD_OIDC_AUTHORIZATION_ENDPOINT"`
}

// Validate checks the settings when the dashboard is to be checked.
func (c SignInConfig) Validate() []error {
	if c.URL == "" {
		return nil
	}
	var errs []error
	if u, err := url.Parse(c.URL); err != nil || u.Scheme != "https" || u.Host == "" {
		errs = append(errs, config.Invalid("DASHBOARD_URL", c.URL, "the dashboard's https:// address"))
	}
	if u, err := url.Parse(c.AuthorizationEndpoint); err != nil || u.Scheme != "https" || u.Host == "" {
		errs = append(errs, config.Invalid("DASHBOARD_OIDC_AUTHORIZATION_ENDPOINT", c.AuthorizationEndpoint, "the identity provider's https:// authorization endpoint"))
	}
	return errs
}

// signInProbes are the paths asked without signing in: a page, the API, and the health check,
// which the task serves unsigned but the load balancer must not.
var signInProbes = []string{"/", "/api/channels", dashboard.HealthPath}

// dashboardSignIn asks the deployed dashboard, through its load balancer and without a
// session, for each probe path, and passes only when every answer is a redirect to the
// identity provider's authorization endpoint, for this dashboard's redirect URI.
func (d *doctor) dashboardSignIn(ctx context.Context) (string, error) {
	var c SignInConfig
	if err := config.Load(&c); err != nil {
		return "", fail(err, "the stack sets these for the operations task")
	}
	if c.URL == "" {
		return "no dashboard to check (DASHBOARD_URL is not set)", nil
	}
	site, _ := url.Parse(c.URL)
	dialer := &net.Dialer{}
	client := &http.Client{
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{ServerName: site.Hostname(), RootCAs: d.opts.DashboardRoots, MinVersion: tls.VersionTLS12},
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if c.LoadBalancer != "" {
					_, port, _ := net.SplitHostPort(addr)
					addr = net.JoinHostPort(c.LoadBalancer, port)
				}
				return dialer.DialContext(ctx, network, addr)
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	redirectURI := "https://" + site.Host + "/oauth2/idpresponse"
	for _, path := range signInProbes {
		probe := site.JoinPath(path).String()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, probe, nil)
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", fail(err, "the load balancer (%s) must answer HTTPS for %s with the certificate of that name", cmp.Or(c.LoadBalancer, site.Host), site.Hostname())
		}
		resp.Body.Close()
		to, _ := resp.Location()
		switch {
		case resp.StatusCode != http.StatusFound || to == nil:
			return "", fail(fmt.Errorf("%s answered %s without signing in", probe, resp.Status),
				"the load balancer's HTTPS listener must authenticate (authenticate-oidc) before it forwards: redeploy the stack with the dashboard parameters")
		case !strings.HasPrefix(to.String(), c.AuthorizationEndpoint):
			return "", fail(fmt.Errorf("%s sends an unsigned request to %s, not to %s", probe, to.Scheme+"://"+to.Host+to.Path, c.AuthorizationEndpoint),
				"set dashboardOidcAuthorizationEndpoint to the identity provider's (its /.well-known/openid-configuration) and redeploy")
		case to.Query().Get("redirect_uri") != redirectURI:
			return "", fail(errors.New(probe+" asks the identity provider to return to "+to.Query().Get("redirect_uri")+", not "+redirectURI),
				"set dashboardDomain to %s and register %s at the identity provider", site.Hostname(), redirectURI)
		}
	}
	return fmt.Sprintf("%s: %d paths, the health check among them, send an unsigned request to %s", c.URL, len(signInProbes), c.AuthorizationEndpoint), nil
}
