package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/aws/constructs-go/constructs/v10"
)

// param is one deployment setting: a CDK context key (`-c key=value`), else the environment
// variable DEPLOY_<KEY> (imageTag: DEPLOY_IMAGE_TAG), else the default. The prefix keeps a
// worker's own settings in a shell (TEMPORAL_ADDRESS, say) out of a deploy. deploy/README.md
// lists them all, and a test keeps that list complete.
type param struct {
	Key, Default, Doc string
}

// Env is the environment variable of the param.
func (p param) Env() string {
	var b strings.Builder
	b.WriteString("DEPLOY_")
	for i, r := range p.Key {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// A default may hold <env>, which becomes the environment's name: two environments in one
// account then get their own secrets, repository and namespace without a parameter each.
var params = []param{
	{"env", "prod", "environment name (lowercase letters, digits, hyphens; at most 16): names every resource, the stacks, the task queue and the schedule"},
	{"githubRepository", "marketing-data/wistia-pipeline", "owner/name of the repository whose GitHub environment <env> may deploy"},
	{"githubOidcProviderArn", "", "an existing token.actions.githubusercontent.com provider (an account has at most one); empty creates it"},
	{"repositoryName", "wistia-pipeline-<env>", "ECR repository the worker image is pushed to"},
	{"imageTag", "latest", "worker image tag to run (CI passes the commit SHA)"},
	{"desiredCount", "1", "worker tasks"},
	{"cpu", "1024", "task CPU units (1024 = 1 vCPU)"},
	{"memoryMib", "2048", "task memory; GOMEMLIMIT is 90% of it"},
	{"temporalAddress", "", "Temporal frontend; empty means Temporal Cloud's API-key endpoint in the stack's region"},
	{"temporalNamespace", "wistia-pipeline-<env>", "Temporal namespace (Temporal Cloud: <name>.<account-id>); one per environment, since workflow IDs carry no environment"},
	{"temporalUiUrl", "https://cloud.temporal.io", "Web UI base for links in alerts"},
	{"temporalApiKeySecret", "wistia-pipeline/<env>/temporal-api-key", "Secrets Manager secret holding the Temporal Cloud API key; empty for a cluster without API keys"},
	{"wistiaTokenSecret", "wistia-pipeline/<env>/wistia-api-token", "Secrets Manager secret holding the Wistia API token"},
	{"wistiaAccount", "default", "account label used in watermark keys and workflow IDs"},
	{"wistiaStatsTimezone", "UTC", "the zone the Wistia account counts its stats days in (IANA name): every date is a day there"},
	{"maxConcurrency", "20", "media ingests in flight per run (the schedule's input and MAX_CONCURRENCY)"},
	{"mergeSpread", "4", "days' merges a backfill or transform queues at once for all workers (the schedule's input and MERGE_SPREAD)"},
	{"scheduleCron", "0 3 * * *", "when the daily schedule fires, in the stats zone"},
	{"bronzeColdAfterDays", "90", "days before bronze objects move to S3 Standard-IA"},
	{"bronzeLockDays", "0", "S3 Object Lock (governance) retention of bronze objects; 0 leaves it off"},
	{"kms", "false", "encrypt buckets, table, topic with a customer-managed KMS key instead of AWS-managed keys"},
	{"athenaScanLimitGb", "10", "bytes-scanned cutoff per Athena query"},
	{"logRetentionDays", "90", "CloudWatch retention of worker logs"},
	{"alertEmail", "", "email subscribed to the alert topic; empty subscribes none"},
	{"dashboard", "true", "run the marketing dashboard (starter dashboard) as its own service behind an HTTPS load balancer that signs people in; the dashboard* parameters below are then required"},
	{"dashboardDomain", "", "the dashboard's host name (dashboard.example.com), which a DNS record of yours points at the load balancer"},
	{"dashboardCertificateArn", "", "ACM certificate of dashboardDomain, in the stack's region"},
	{"dashboardOidcIssuer", "", "the identity provider's issuer (its /.well-known/openid-configuration gives it and the three endpoints)"},
	{"dashboardOidcAuthorizationEndpoint", "", "the identity provider's authorization endpoint"},
	{"dashboardOidcTokenEndpoint", "", "the identity provider's token endpoint"},
	{"dashboardOidcUserInfoEndpoint", "", "the identity provider's user info endpoint"},
	{"dashboardOidcClientId", "", "the dashboard's client ID at the identity provider"},
	{"dashboardOidcClientSecret", "wistia-pipeline/<env>/dashboard-oidc-client-secret", "Secrets Manager secret holding the client's secret; CloudFormation hands it to the load balancer, and no task can read it"},
	{"dashboardAllowedDomains", "", "email domains the dashboard lets in, comma-separated (example.com,example.org)"},
	{"dashboardCpu", "512", "dashboard task CPU units"},
	{"dashboardMemoryMib", "1024", "dashboard task memory; GOMEMLIMIT is 90% of it"},
}

// settings are the resolved params, with typed accessors that report a bad value by name.
type settings struct {
	values map[string]string
	errs   []string
}

func resolveParams(scope constructs.Construct) *settings {
	s := &settings{values: map[string]string{}}
	fromDefault := map[string]bool{}
	for _, p := range params {
		v := p.Default
		if env, ok := os.LookupEnv(p.Env()); ok {
			v = env
		}
		if c := scope.Node().TryGetContext(&p.Key); c != nil {
			v = fmt.Sprint(c)
		}
		s.values[p.Key] = strings.TrimSpace(v)
		fromDefault[p.Key] = v == p.Default
	}
	// A bad name would stop the CDK itself (a stack's or a repository's name); the synth goes
	// on with a good one so that every bad parameter is named at once.
	if e := s.values["env"]; !envName.MatchString(e) || strings.HasSuffix(e, "-") {
		s.errs = append(s.errs, fmt.Sprintf("env=%q: want lowercase letters, digits and hyphens, starting with a letter, at most 16", e))
		s.values["env"] = "invalid"
	}
	for key, d := range fromDefault {
		if d {
			s.values[key] = strings.ReplaceAll(s.values[key], "<env>", s.values["env"])
		}
	}
	return s
}

// envName is what an environment's name may be: it goes into names that take only lowercase
// letters, digits and hyphens (repositories, alarms) and, with underscores, Glue databases.
var envName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,15}$`)

func (s *settings) str(key string) string {
	v, ok := s.values[key]
	if !ok {
		panic("unknown deploy parameter " + key)
	}
	return v
}

func (s *settings) num(key string, min int) float64 {
	n, err := strconv.Atoi(s.str(key))
	if err != nil || n < min {
		s.errs = append(s.errs, fmt.Sprintf("%s=%q: want a whole number >= %d", key, s.str(key), min))
	}
	return float64(n)
}

func (s *settings) flag(key string) bool {
	b, err := strconv.ParseBool(s.str(key))
	if err != nil {
		s.errs = append(s.errs, fmt.Sprintf("%s=%q: want true or false", key, s.str(key)))
	}
	return b
}

// err names every bad parameter at once.
func (s *settings) err() error {
	if len(s.errs) == 0 {
		return nil
	}
	return fmt.Errorf("deploy parameters: %s", strings.Join(s.errs, "; "))
}
