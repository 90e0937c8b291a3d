package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/internal/dashboard"
)

// dashboardContext is a complete sign-in for the dashboard, as an operator passes it for a
// Google Workspace; the tests synthesize with it unless they set dashboard themselves.
var dashboardContext = map[string]any{
	"dashboardDomain":                    "dashboard.example.com",
	"dashboardCertificateArn":            "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
	"dashboardOidcIssuer":                "https://accounts.google.com",
	"dashboardOidcAuthorizationEndpoint": "https://accounts.google.com/o/oauth2/v2/auth",
	"dashboardOidcTokenEndpoint":         "https://oauth2.googleapis.com/token",
	"dashboardOidcUserInfoEndpoint":      "https://openidconnect.googleapis.com/v1/userinfo",
	"dashboardOidcClientId":              "1234567890-abc.apps.googleusercontent.com",
	"dashboardAllowedDomains":            "example.com, Example.org",
}

// withDashboard adds dashboardContext to context unless context says dashboard itself.
func withDashboard(context map[string]any) map[string]any {
	if _, ok := context["dashboard"]; ok {
		return context
	}
	out := maps.Clone(dashboardContext)
	maps.Copy(out, context)
	return out
}

// actions are the actions of a listener or listener rule, in the order the load balancer runs them.
func actions(r resource) []map[string]any {
	list, _ := r.Properties["DefaultActions"].([]any)
	if list == nil {
		list, _ = r.Properties["Actions"].([]any)
	}
	var out []map[string]any
	for _, a := range list {
		out = append(out, a.(map[string]any))
	}
	sort.SliceStable(out, func(i, j int) bool {
		oi, _ := out[i]["Order"].(float64)
		oj, _ := out[j]["Order"].(float64)
		return oi < oj
	})
	return out
}

// logicalID is the template's ID of the one resource of typ.
func (tpl *template) logicalID(typ string) string {
	tpl.t.Helper()
	var ids []string
	for id, r := range tpl.json.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	require.Len(tpl.t, ids, 1, typ)
	return ids[0]
}

// The dashboard is reachable only through its load balancer, over HTTPS, and only after the
// company's identity provider signed the person in: every listener and listener rule that
// forwards authenticates first, the HTTP listener only redirects, the task admits only the
// load balancer, and the task itself requires the load balancer's signature (so the one path
// served without sign-in is the target group's health check, dashboard.HealthPath).
func TestDashboardIsBehindSignIn(t *testing.T) {
	pipeline, _ := synth(t, nil)

	t.Run("every forward is preceded by authenticate-oidc", func(t *testing.T) {
		listeners := pipeline.ofType("AWS::ElasticLoadBalancingV2::Listener")
		require.Len(t, listeners, 2, "HTTPS and the HTTP redirect")
		routes := maps.Clone(listeners)
		maps.Copy(routes, pipeline.ofType("AWS::ElasticLoadBalancingV2::ListenerRule"))
		forwards := 0
		for id, r := range routes {
			signedIn := false
			for _, a := range actions(r) {
				switch a["Type"] {
				case "authenticate-oidc":
					signedIn = true
				case "forward":
					forwards++
					assert.True(t, signedIn, "%s forwards before signing in: %v", id, actions(r))
				case "redirect":
					cfg := a["RedirectConfig"].(map[string]any)
					assert.Equal(t, "HTTPS", cfg["Protocol"], id)
					assert.Equal(t, "443", cfg["Port"], id)
				default:
					t.Errorf("%s: action %v lets a request through unchecked", id, a["Type"])
				}
			}
		}
		assert.Equal(t, 1, forwards, "one forward, to the dashboard")

		var https, http resource
		for _, l := range listeners {
			switch l.Properties["Protocol"] {
			case "HTTPS":
				https = l
			case "HTTP":
				http = l
			}
		}
		assert.Equal(t, float64(443), https.Properties["Port"])
		assert.Equal(t, []any{map[string]any{"CertificateArn": dashboardContext["dashboardCertificateArn"]}}, https.Properties["Certificates"])
		assert.Equal(t, "ELBSecurityPolicy-TLS13-1-2-2021-06", https.Properties["SslPolicy"])
		assert.Equal(t, float64(80), http.Properties["Port"])
		assert.Equal(t, []string{"redirect"}, typesOf(actions(http)), "plain HTTP only redirects")

		oidc := actions(https)[0]["AuthenticateOidcConfig"].(map[string]any)
		assert.Equal(t, "https://accounts.google.com", oidc["Issuer"])
		assert.Equal(t, "authenticate", oidc["OnUnauthenticatedRequest"])
		assert.Equal(t, "openid email", oidc["Scope"], "the dashboard checks the email's domain")
		assert.Equal(t, "{{resolve:secretsmanager:wistia-pipeline/prod/dashboard-oidc-client-secret:SecretString:::}}", oidc["ClientSecret"],
			"the client secret is read from Secrets Manager at deploy time; the template holds only its name")
	})

	t.Run("the task admits only the load balancer and checks its signature", func(t *testing.T) {
		targets := only(t, pipeline.ofType("AWS::ElasticLoadBalancingV2::TargetGroup"))
		assert.Equal(t, dashboard.HealthPath, targets.Properties["HealthCheckPath"])
		assert.Equal(t, float64(dashboardPort), targets.Properties["Port"])

		albID := pipeline.logicalID("AWS::ElasticLoadBalancingV2::LoadBalancer")
		alb := pipeline.json.Resources[albID]
		assert.Equal(t, "internet-facing", alb.Properties["Scheme"])
		albSG := alb.Properties["SecurityGroups"].([]any)[0].(map[string]any)["Fn::GetAtt"].([]any)[0]
		var taskSG string
		for id, sg := range pipeline.ofType("AWS::EC2::SecurityGroup") {
			if strings.HasPrefix(id, "DashboardSecurityGroup") {
				taskSG = id
				assert.Nil(t, sg.Properties["SecurityGroupIngress"], "no inline ingress to the task")
			}
		}
		require.NotEmpty(t, taskSG)
		var into []string
		for _, in := range pipeline.ofType("AWS::EC2::SecurityGroupIngress") {
			if in.Properties["GroupId"].(map[string]any)["Fn::GetAtt"].([]any)[0] == taskSG {
				into = append(into, in.Properties["SourceSecurityGroupId"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string))
				assert.Equal(t, float64(dashboardPort), in.Properties["FromPort"])
				assert.Equal(t, float64(dashboardPort), in.Properties["ToPort"])
			}
		}
		assert.Equal(t, []string{albSG.(string)}, into, "the dashboard's only way in is from its load balancer")

		task := pipeline.taskDefinition("dashboard")
		container := task.Properties["ContainerDefinitions"].([]any)[0].(map[string]any)
		env := containerEnv(task)
		assert.Equal(t, map[string]any{"Ref": albID}, env["DASHBOARD_ALB_ARN"], "the task accepts this load balancer's signature only")
		assert.Equal(t, "example.com,example.org", env["DASHBOARD_ALLOWED_DOMAINS"])
		assert.Equal(t, "glue", env["ICEBERG_CATALOG"])
		assert.Equal(t, "wistia_gold_prod", env["ICEBERG_GOLD_NAMESPACE"])
		assert.Equal(t, []any{"/usr/local/bin/starter"}, container["EntryPoint"])
		assert.Equal(t, []any{"dashboard", "--addr", "0.0.0.0:8080"}, container["Command"])
		assert.Nil(t, container["Secrets"], "the dashboard holds no secret")
		assert.Equal(t, pipeline.taskDefinition("worker").Properties["ContainerDefinitions"].([]any)[0].(map[string]any)["Image"],
			container["Image"], "the worker's image")
	})

	t.Run("its roles read gold and nothing else", func(t *testing.T) {
		task := pipeline.taskDefinition("dashboard")
		got := map[string][]string{}
		for _, role := range []string{"TaskRoleArn", "ExecutionRoleArn"} {
			ref := task.Properties[role].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
			for _, p := range pipeline.ofType("AWS::IAM::Policy") {
				if fmt.Sprint(p.Properties["Roles"]) != fmt.Sprint([]any{map[string]any{"Ref": ref}}) {
					continue
				}
				for _, st := range p.Properties["PolicyDocument"].(map[string]any)["Statement"].([]any) {
					st := st.(map[string]any)
					require.Equal(t, "Allow", st["Effect"])
					got[role] = append(got[role], strs(st["Action"])...)
					raw, _ := json.Marshal(st["Resource"])
					for _, never := range []string{"Bronze", "Watermarks", "wistia_silver", "secretsmanager", "Alerts"} {
						assert.NotContains(t, string(raw), never, "%s: %v", role, st)
					}
				}
			}
			slices.Sort(got[role])
		}
		assert.Equal(t, []string{"glue:GetDatabase", "glue:GetTable", "glue:GetTables", "s3:GetObject", "s3:ListBucket"}, got["TaskRoleArn"])
		assert.Equal(t, []string{"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetAuthorizationToken",
			"ecr:GetDownloadUrlForLayer", "logs:CreateLogStream", "logs:PutLogEvents"}, got["ExecutionRoleArn"])
	})

	t.Run("with the lake's key it may decrypt, not encrypt", func(t *testing.T) {
		kms, _ := synth(t, map[string]any{"kms": "true"})
		var actions []string
		for _, st := range kms.statements() {
			if st["Sid"] == "LakeKeyDecrypt" {
				actions = append(actions, strs(st["Action"])...)
			}
		}
		assert.Equal(t, []string{"kms:Decrypt", "kms:DescribeKey"}, actions)
	})

	t.Run("the doctor after a deploy asks the load balancer", func(t *testing.T) {
		albID := pipeline.logicalID("AWS::ElasticLoadBalancingV2::LoadBalancer")
		for _, kind := range []string{"ops", "worker"} {
			env := containerEnv(pipeline.taskDefinition(kind))
			assert.Equal(t, "https://dashboard.example.com/", env["DASHBOARD_URL"], kind)
			assert.Equal(t, map[string]any{"Fn::GetAtt": []any{albID, "DNSName"}}, env["DASHBOARD_LOAD_BALANCER"], kind)
			assert.Equal(t, dashboardContext["dashboardOidcAuthorizationEndpoint"], env["DASHBOARD_OIDC_AUTHORIZATION_ENDPOINT"], kind)
		}
	})

	t.Run("the outputs say where to point DNS and the identity provider", func(t *testing.T) {
		assert.Equal(t, "https://dashboard.example.com/", pipeline.json.Outputs["DashboardUrl"].Value)
		assert.Equal(t, "https://dashboard.example.com/oauth2/idpresponse", pipeline.json.Outputs["DashboardOidcRedirectUri"].Value)
		assert.Contains(t, pipeline.json.Outputs, "DashboardLoadBalancerDnsName")
	})
}

func typesOf(actions []map[string]any) []string {
	var out []string
	for _, a := range actions {
		out = append(out, a["Type"].(string))
	}
	return out
}

// dashboard=false leaves out the load balancer and the service; without the sign-in's
// parameters the dashboard is refused, each missing one named.
func TestDashboardIsOptionalAndItsSignInRequired(t *testing.T) {
	off, _ := synth(t, map[string]any{"dashboard": "false"})
	for typ := range off.json.Resources {
		assert.NotContains(t, off.json.Resources[typ].Type, "ElasticLoadBalancing")
	}
	for _, td := range off.ofType("AWS::ECS::TaskDefinition") {
		assert.NotContains(t, td.Properties["Family"], "dashboard")
	}
	assert.NotContains(t, containerEnv(off.taskDefinition("ops")), "DASHBOARD_URL", "the doctor has no dashboard to check")

	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: &map[string]any{
		"dashboardOidcIssuer": "http://idp.example.com", "dashboardAllowedDomains": "example.com,not a domain",
	}})
	err := build(app)
	require.Error(t, err)
	for _, want := range []string{
		"dashboardDomain: required while dashboard=true", "dashboardCertificateArn: required while dashboard=true",
		`dashboardOidcIssuer="http://idp.example.com": want an https:// URL`,
		"dashboardOidcTokenEndpoint: required", "dashboardOidcAuthorizationEndpoint: required",
		"dashboardOidcUserInfoEndpoint: required", "dashboardOidcClientId: required",
		`dashboardAllowedDomains="example.com,notadomain"`,
	} {
		assert.Contains(t, err.Error(), want)
	}
}
