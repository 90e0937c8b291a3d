package dashboard

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/marketing-data/wistia-pipeline/config"
)

// HealthPath is the dashboard's health check: the load balancer's target group asks it
// without signing in, so it is the one path ALBAuth lets through unauthenticated.
const HealthPath = "/healthz"

// OIDCDataHeader is where an Application Load Balancer's authenticate-oidc action puts the
// signed-in user's claims, as a JWT the load balancer signs (ES256).
const OIDCDataHeader = "X-Amzn-Oidc-Data"

// AuthConfig is the sign-in the dashboard requires when it runs behind the stack's load
// balancer. Without DASHBOARD_ALB_ARN it requires none (`starter dashboard` on a laptop serves
// 127.0.0.1 only).
type AuthConfig struct {
	// ALBARN is the load balancer whose signature the dashboard accepts; a token another
	// load balancer signed is refused.
	ALBARN string `envconfig:"DASHBOARD_ALB_ARN"`
	// AllowedDomains are the email domains let in (example.com,example.org).
	AllowedDomains []string `envconfig:"DASHBOARD_ALLOWED_DOMAINS"`
	// Region is the load balancer's region, whose endpoint serves its public keys.
	Region string `envconfig:"AWS_REGION"`
	// KeysURL is the public-key endpoint, for tests; empty is the region's own,
	// https://public-keys.auth.elb.<region>.amazonaws.com.
	KeysURL string `envconfig:"DASHBOARD_ALB_KEYS_URL"`
}

var (
	albARN      = regexp.MustCompile(`^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:loadbalancer/app/[A-Za-z0-9-]+/[0-9a-f]+$`)
	regionName  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	domainName  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)
	keyIDFormat = regexp.MustCompile(`^[A-Za-z0-9-]{1,128}$`)
)

// Enabled reports whether sign-in is required.
func (c AuthConfig) Enabled() bool { return c.ALBARN != "" }

// Validate checks the sign-in settings when sign-in is required.
func (c AuthConfig) Validate() []error {
	if !c.Enabled() {
		return nil
	}
	var errs []error
	if !albARN.MatchString(c.ALBARN) {
		errs = append(errs, config.Invalid("DASHBOARD_ALB_ARN", c.ALBARN, "an Application Load Balancer's ARN (arn:aws:elasticloadbalancing:<region>:<account>:loadbalancer/app/<name>/<id>)"))
	}
	if len(c.AllowedDomains) == 0 {
		errs = append(errs, config.Invalid("DASHBOARD_ALLOWED_DOMAINS", "", "the email domains let in, comma-separated (example.com)"))
	}
	for _, d := range c.AllowedDomains {
		if !domainName.MatchString(d) {
			errs = append(errs, config.Invalid("DASHBOARD_ALLOWED_DOMAINS", d, "a domain name in lower case, such as example.com"))
		}
	}
	if c.KeysURL == "" && !regionName.MatchString(c.Region) {
		errs = append(errs, config.Invalid("AWS_REGION", c.Region, "the load balancer's region, such as us-east-1"))
	}
	return errs
}

// ALBAuth lets a request through only with a valid X-Amzn-Oidc-Data header. The header must be
// signed by the configured load balancer with a key its region publishes, must not have
// expired, and must carry an email of an allowed domain. The load balancer signs people in
// with the company's identity provider; ALBAuth makes sure a request that reaches the task
// any other way, without the load balancer, gets nothing.
type ALBAuth struct {
	cfg    AuthConfig
	client *http.Client
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*ecdsa.PublicKey // by key ID; a key ID names one key for good
}

// NewALBAuth verifies tokens as cfg says; now is the clock that expiry is read against.
func NewALBAuth(cfg AuthConfig, now func() time.Time) *ALBAuth {
	if cfg.KeysURL == "" {
		cfg.KeysURL = "https://public-keys.auth.elb." + cfg.Region + ".amazonaws.com"
	}
	cfg.KeysURL = strings.TrimSuffix(cfg.KeysURL, "/")
	return &ALBAuth{cfg: cfg, client: &http.Client{Timeout: 5 * time.Second}, now: now, keys: map[string]*ecdsa.PublicKey{}}
}

// Identity is the signed-in person.
type Identity struct {
	Email   string
	Subject string
}

// Errors of Verify. Each refusal names the reason in the log; the person gets only the status.
var (
	ErrNoToken   = errors.New("no " + OIDCDataHeader + " header: the request did not come through the load balancer's sign-in")
	ErrBadToken  = errors.New("malformed token")
	ErrSignature = errors.New("signature does not verify")
	ErrSigner    = errors.New("signed by another load balancer")
	ErrExpired   = errors.New("token expired")
	ErrDomain    = errors.New("email domain not allowed")
)

type albHeader struct {
	Alg    string `json:"alg"`
	Kid    string `json:"kid"`
	Signer string `json:"signer"`
	Exp    int64  `json:"exp"`
}

type albClaims struct {
	Sub   string `json:"sub"`
	Email string `json:"email"`
	Exp   int64  `json:"exp"`
}

// Verify checks a token as the load balancer signed it and returns who it names.
func (a *ALBAuth) Verify(ctx context.Context, token string) (Identity, error) {
	if token == "" {
		return Identity{}, ErrNoToken
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Identity{}, fmt.Errorf("%w: want three dot-separated parts", ErrBadToken)
	}
	var head albHeader
	if err := decodePart(parts[0], &head); err != nil {
		return Identity{}, fmt.Errorf("%w: header: %v", ErrBadToken, err)
	}
	if head.Alg != "ES256" {
		return Identity{}, fmt.Errorf("%w: algorithm %q, want ES256", ErrBadToken, head.Alg)
	}
	if head.Signer != a.cfg.ALBARN {
		return Identity{}, fmt.Errorf("%w: %q", ErrSigner, head.Signer)
	}
	if !keyIDFormat.MatchString(head.Kid) {
		return Identity{}, fmt.Errorf("%w: key ID %q", ErrBadToken, head.Kid)
	}
	sig, err := decodeSegment(parts[2])
	if err != nil || len(sig) != 64 {
		return Identity{}, fmt.Errorf("%w: signature: want 64 bytes of r and s", ErrBadToken)
	}
	key, err := a.key(ctx, head.Kid)
	if err != nil {
		return Identity{}, err
	}
	// The signature covers the two parts as sent, padding included.
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(key, digest[:], r, s) {
		return Identity{}, ErrSignature
	}
	var claims albClaims
	if err := decodePart(parts[1], &claims); err != nil {
		return Identity{}, fmt.Errorf("%w: claims: %v", ErrBadToken, err)
	}
	exp := claims.Exp // the load balancer sets it in the header and the claims alike
	if head.Exp != 0 && (exp == 0 || head.Exp < exp) {
		exp = head.Exp
	}
	if exp == 0 || !a.now().Before(time.Unix(exp, 0)) {
		return Identity{}, ErrExpired
	}
	email := strings.ToLower(claims.Email)
	at := strings.LastIndexByte(email, '@')
	if at < 1 || !slices.Contains(a.cfg.AllowedDomains, email[at+1:]) {
		return Identity{}, fmt.Errorf("%w: %q", ErrDomain, claims.Email)
	}
	return Identity{Email: email, Subject: claims.Sub}, nil
}

// key returns the public key of kid, fetched once from the region's endpoint.
func (a *ALBAuth) key(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	a.mu.Lock()
	k, ok := a.keys[kid]
	a.mu.Unlock()
	if ok {
		return k, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.cfg.KeysURL+"/"+kid, nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", kid, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// An unknown key ID is a token no load balancer of the region signed.
		return nil, fmt.Errorf("%w: public key %s: %s", ErrSignature, kid, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", kid, err)
	}
	block, _ := pem.Decode(body)
	if block == nil {
		return nil, fmt.Errorf("public key %s: not PEM", kid)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", kid, err)
	}
	k, ok = pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key %s: %T, want an ECDSA key", kid, pub)
	}
	a.mu.Lock()
	a.keys[kid] = k
	a.mu.Unlock()
	return k, nil
}

// decodeSegment reads base64url with or without the padding the load balancer adds (which
// the JWT standard leaves out, so most JWT libraries refuse its tokens).
func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

func decodePart(s string, v any) error {
	b, err := decodeSegment(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Wrap requires sign-in for every path but HealthPath. A request without a valid token gets
// 401, and a signed-in person whose email domain is not allowed gets 403; the reason goes to
// log, never to the client.
func (a *ALBAuth) Wrap(h http.Handler, log func(msg string, args ...any)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == HealthPath {
			h.ServeHTTP(w, req)
			return
		}
		_, err := a.Verify(req.Context(), req.Header.Get(OIDCDataHeader))
		switch {
		case err == nil:
			h.ServeHTTP(w, req)
			return
		case errors.Is(err, ErrDomain):
			log("dashboard sign-in refused", "path", req.URL.Path, "reason", err.Error())
			http.Error(w, "your account is not allowed to see this dashboard", http.StatusForbidden)
		default:
			log("dashboard sign-in refused", "path", req.URL.Path, "reason", err.Error())
			http.Error(w, "sign in through the dashboard's address", http.StatusUnauthorized)
		}
	})
}
