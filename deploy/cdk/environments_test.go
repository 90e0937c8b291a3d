package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nameProperties are the properties that give a resource its name in the account (or, for a
// namespace, name the place its metrics and tables live). Glue's and Athena's Name is read
// where it names the database or the workgroup (namedBy).
var nameProperties = map[string]bool{
	"BucketName": true, "TableName": true, "LogGroupName": true, "RoleName": true, "AlarmName": true, "TopicName": true,
	"RepositoryName": true, "ClusterName": true, "ServiceName": true, "Family": true, "ManagedPolicyName": true,
	"MetricNamespace": true, "Namespace": true, "Url": true, "SecretName": true,
}

// namedBy are the resource types whose top-level Name is their name, and the Glue database's input.
var namedBy = map[string]bool{"AWS::Athena::WorkGroup": true, "DatabaseInput": true}

// nameEnvironment are the worker's settings that name a place in Temporal, Glue or CloudWatch.
var nameEnvironment = []string{"TEMPORAL_NAMESPACE", "TEMPORAL_TASK_QUEUE", "TEMPORAL_SCHEDULE_ID",
	"METRICS_CLOUDWATCH_NAMESPACE", "ICEBERG_SILVER_NAMESPACE", "ICEBERG_GOLD_NAMESPACE"}

// awsNamespaces are metric namespaces AWS publishes in, which no stack names.
var awsNamespaces = map[string]bool{"ECS/ContainerInsights": true}

// physicalNames maps each name the template gives a resource (or a worker setting) to where.
func (tpl *template) physicalNames() map[string]string {
	out := map[string]string{tpl.stackName: "stack name"}
	var walk func(id, parent string, v any)
	walk = func(id, parent string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for key, c := range v {
				if s, ok := c.(string); ok && (nameProperties[key] || key == "Name" && namedBy[parent]) && !awsNamespaces[s] {
					out[s] = id + "." + key
				}
				walk(id, key, c)
			}
		case []any:
			for _, c := range v {
				walk(id, parent, c)
			}
		}
	}
	for id, r := range tpl.json.Resources {
		walk(id, r.Type, r.Properties)
		if r.Type != "AWS::ECS::TaskDefinition" {
			continue
		}
		for _, c := range r.Properties["ContainerDefinitions"].([]any) {
			container := c.(map[string]any)
			for _, e := range container["Environment"].([]any) {
				e := e.(map[string]any)
				if name := e["Name"].(string); slices.Contains(nameEnvironment, name) {
					out[fmt.Sprint(e["Value"])] = id + " " + name
				}
			}
			// A secret's ARN holds its name among references to the partition, region, account.
			secrets, _ := container["Secrets"].([]any) // the dashboard has none
			for _, s := range secrets {
				s := s.(map[string]any)
				out[joined(s["ValueFrom"])] = id + " secret " + s["Name"].(string)
			}
		}
	}
	return out
}

// joined renders an Fn::Join of strings and references with the references left out.
func joined(v any) string {
	join, ok := v.(map[string]any)["Fn::Join"].([]any)
	if !ok {
		return fmt.Sprint(v)
	}
	var parts []string
	for _, p := range join[1].([]any) {
		if s, ok := p.(string); ok {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, join[0].(string))
}

// staging and prod live side by side in one account and one Temporal namespace's neighbour:
// no resource, stack, Glue database, metric namespace, task queue or schedule has a name both
// use, and each environment's deploy role trusts only jobs in its own GitHub environment. The
// second environment in an account uses the first one's GitHub OIDC provider (an account has
// one per URL), as deploy/README.md says.
func TestEnvironmentsShareNoName(t *testing.T) {
	stagingPipeline, stagingCI := synth(t, map[string]any{"env": "staging",
		"githubOidcProviderArn": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"})
	prodPipeline, prodCI := synth(t, map[string]any{"env": "prod"})

	staging, prod := map[string]string{}, map[string]string{}
	for _, tpl := range []*template{stagingPipeline, stagingCI} {
		for name, where := range tpl.physicalNames() {
			staging[name] = tpl.stackName + " " + where
		}
	}
	for _, tpl := range []*template{prodPipeline, prodCI} {
		for name, where := range tpl.physicalNames() {
			prod[name] = tpl.stackName + " " + where
		}
	}
	for name, where := range staging {
		if other, ok := prod[name]; ok {
			t.Errorf("%q names both %s and %s", name, where, other)
		}
	}
	// The names the brief lists are among those compared, so the test cannot pass by reading none.
	for _, want := range []string{"WistiaPipeline-staging", "WistiaPipelineCI-staging", "wistia-staging", "wistia_silver_staging",
		"wistia_gold_staging", "/wistia-pipeline/staging/worker", "wistia-pipeline-staging", "wistia-daily-staging",
		"WistiaPipeline/staging", "wistia-pipeline-staging-WistiaWorkerDown", "wistia-pipeline-staging-deploy",
		"wistia-pipeline-staging-ops", "arn::secretsmanager:::secret:wistia-pipeline/staging/wistia-api-token",
		"wistia-pipeline-staging-dashboard", "/wistia-pipeline/staging/dashboard", "wistia-pipeline-staging-dashboard-task"} {
		assert.Contains(t, staging, want)
	}

	for env, ci := range map[string]*template{"staging": stagingCI, "prod": prodCI} {
		var subjects []string
		for _, st := range ci.statements() {
			cond, _ := st["Condition"].(map[string]any)
			if eq, ok := cond["StringEquals"].(map[string]any); ok && st["Action"] == "sts:AssumeRoleWithWebIdentity" {
				subjects = append(subjects, strs(eq[githubOIDC+":sub"])...)
			}
		}
		require.Equal(t, []string{"repo:marketing-data/wistia-pipeline:environment:" + env}, subjects, "%s's deploy role trusts its own GitHub environment only", env)
	}
}
