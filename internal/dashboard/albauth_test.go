package dashboard

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/config"
)

const (
	testALB   = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/wistia-dashboard/50dc6c495c0c9188"
	otherALB  = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/someone-else/0123456789abcdef"
	testKeyID = "8f2a5c1e-4b7d-4e0a-9c3f-1a2b3c4d5e6f"
	served    = "the dashboard's page"
)

// signer makes tokens the way an Application Load Balancer does: base64url parts with their
// padding, an ES256 signature of r and s, the load balancer's ARN and the key ID in the header.
type signer struct {
	key *ecdsa.PrivateKey
	kid string
	alb string
	alg string
	raw bool // the JWT standard's unpadded base64url, where the load balancer pads
}

func newSigner(t *testing.T) signer {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return signer{key: key, kid: testKeyID, alb: testALB, alg: "ES256"}
}

func (s signer) token(t *testing.T, email string, exp time.Time) string {
	head, err := json.Marshal(map[string]any{"alg": s.alg, "kid": s.kid, "signer": s.alb, "iss": "https://idp.example.com",
		"client": "dashboard", "exp": exp.Unix(), "typ": "JWT"})
	require.NoError(t, err)
	claims, err := json.Marshal(map[string]any{"sub": "0123", "email": email, "exp": exp.Unix(), "iss": "https://idp.example.com"})
	require.NoError(t, err)
	enc := base64.URLEncoding
	if s.raw {
		enc = base64.RawURLEncoding
	}
	signed := enc.EncodeToString(head) + "." + enc.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signed))
	r, sg, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	require.NoError(t, err)
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	sg.FillBytes(sig[32:])
	return signed + "." + enc.EncodeToString(sig)
}

// keyServer serves the load balancer's public key at /<kid>, as the region's endpoint does,
// and counts the fetches.
func keyServer(t *testing.T, s signer) (string, *atomic.Int32) {
	der, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	require.NoError(t, err)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/"+s.kid {
			http.NotFound(w, r)
			return
		}
		fetches.Add(1)
		_, _ = w.Write(pemKey)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &fetches
}

func TestALBAuthLetsInOnlyWhatTheLoadBalancerSigned(t *testing.T) {
	alb := newSigner(t)
	keys, fetches := keyServer(t, alb)
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	auth := NewALBAuth(AuthConfig{ALBARN: testALB, AllowedDomains: []string{"example.com"}, KeysURL: keys}, func() time.Time { return now })
	var refusals []string
	h := auth.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(served)) }),
		func(_ string, args ...any) { refusals = append(refusals, args[len(args)-1].(string)) })
	get := func(path, token string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if token != "" {
			req.Header.Set(OIDCDataHeader, token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	later := now.Add(time.Minute)

	code, body := get("/", alb.token(t, "Ana@Example.com", later))
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, served, body)
	code, _ = get("/api/channels", alb.token(t, "bo@example.com", later))
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, int32(1), fetches.Load(), "the key is fetched once")

	standard := alb
	standard.raw = true
	code, _ = get("/", standard.token(t, "ana@example.com", later))
	assert.Equal(t, http.StatusOK, code, "a token signed without padding verifies too")
	padded := alb.token(t, "ana@example.com", later)
	require.Contains(t, padded, "=", "the load balancer's tokens carry padding")
	code, _ = get("/", strings.ReplaceAll(padded, "=", ""))
	assert.Equal(t, http.StatusUnauthorized, code, "the signature covers the parts as signed, padding included")

	code, _ = get(HealthPath, "")
	assert.Equal(t, http.StatusOK, code, "the health check needs no sign-in")

	attacker := newSigner(t) // same key ID and load balancer, another key
	foreign := alb
	foreign.alb = otherALB
	none := alb
	none.alg = "none"
	tampered := alb.token(t, "ana@example.com", later)
	parts := strings.Split(tampered, ".")
	claims, _ := json.Marshal(map[string]any{"sub": "0123", "email": "mallory@example.com", "exp": later.Unix()})
	tampered = parts[0] + "." + base64.URLEncoding.EncodeToString(claims) + "." + parts[2]
	unknownKey := alb
	unknownKey.kid = "0000"

	for _, c := range []struct {
		name, token string
		status      int
		reason      error
	}{
		{"no header", "", http.StatusUnauthorized, ErrNoToken},
		{"forged: signed with another key", attacker.token(t, "ana@example.com", later), http.StatusUnauthorized, ErrSignature},
		{"claims changed after signing", tampered, http.StatusUnauthorized, ErrSignature},
		{"expired", alb.token(t, "ana@example.com", now.Add(-time.Second)), http.StatusUnauthorized, ErrExpired},
		{"expiring this instant", alb.token(t, "ana@example.com", now), http.StatusUnauthorized, ErrExpired},
		{"another load balancer's", foreign.token(t, "ana@example.com", later), http.StatusUnauthorized, ErrSigner},
		{"no algorithm", none.token(t, "ana@example.com", later), http.StatusUnauthorized, ErrBadToken},
		{"a key ID the region never issued", unknownKey.token(t, "ana@example.com", later), http.StatusUnauthorized, ErrSignature},
		{"not a token", "eyJhbGciOiJFUzI1NiJ9", http.StatusUnauthorized, ErrBadToken},
		{"an email of another domain", alb.token(t, "eve@example.org", later), http.StatusForbidden, ErrDomain},
		{"a subdomain is another domain", alb.token(t, "eve@mail.example.com", later), http.StatusForbidden, ErrDomain},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := get("/api/top-media", c.token)
			assert.Equal(t, c.status, code)
			assert.NotContains(t, body, served, "nothing of the dashboard is served")
			_, err := auth.Verify(t.Context(), c.token)
			assert.True(t, errors.Is(err, c.reason), "%v, want %v", err, c.reason)
		})
	}
	assert.NotEmpty(t, refusals, "each refusal is logged with its reason")
}

func TestAuthConfigValidates(t *testing.T) {
	assert.Empty(t, AuthConfig{}.Validate(), "no load balancer: no sign-in, nothing to check")
	assert.Empty(t, AuthConfig{ALBARN: testALB, AllowedDomains: []string{"example.com"}, Region: "us-east-1"}.Validate())
	errs := AuthConfig{ALBARN: "arn:aws:iam::123456789012:role/x", AllowedDomains: []string{"Example.COM"}, Region: "Virginia"}.Validate()
	text := (&config.Error{Problems: errs}).Error()
	for _, want := range []string{"DASHBOARD_ALB_ARN", "DASHBOARD_ALLOWED_DOMAINS", "AWS_REGION"} {
		assert.Contains(t, text, want)
	}
	assert.Len(t, AuthConfig{ALBARN: testALB, Region: "us-east-1"}.Validate(), 1, "sign-in without allowed domains lets no one in")
}
