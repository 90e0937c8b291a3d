package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/deploy/observability"
	"github.com/marketing-data/wistia-pipeline/lake/state"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

func TestMain(m *testing.M) {
	// Node.js 20 runs jsii fine, but jsii prints a banner about its end of life on start.
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	for _, p := range params { // the defaults are what these tests describe
		os.Unsetenv(p.Env())
	}
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// synth builds both stacks with the given context and returns their templates. Tests read
// templates and never change them, so one synthesis per context serves them all: each takes
// seconds of jsii's node process.
func synth(t *testing.T, context map[string]any) (pipeline, ci *template) {
	t.Helper()
	context = withDashboard(context)
	key := fmt.Sprint(context) // maps print sorted by key
	synthMu.Lock()
	defer synthMu.Unlock()
	got, ok := synthesized[key]
	if !ok {
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: &context})
		require.NoError(t, build(app))
		n := names{"prod"}
		if env, ok := context["env"].(string); ok {
			n = names{env}
		}
		got = [2]*template{templateOf(t, app, n.pipelineStack()), templateOf(t, app, n.ciStack())}
		synthesized[key] = got
	}
	p, c := *got[0], *got[1]
	p.t, c.t = t, t
	return &p, &c
}

var (
	synthMu     sync.Mutex
	synthesized = map[string][2]*template{}
)

func templateOf(t *testing.T, app awscdk.App, stackName string) *template {
	t.Helper()
	child := app.Node().TryFindChild(jsii.String(stackName))
	require.NotNil(t, child, "stack %s", stackName)
	a := assertions.Template_FromStack(child.(awscdk.Stack), nil)
	raw, err := json.Marshal(a.ToJSON())
	require.NoError(t, err)
	tpl := &template{t: t, assert: a, stackName: stackName}
	require.NoError(t, json.Unmarshal(raw, &tpl.json))
	return tpl
}

type template struct {
	t         *testing.T
	assert    assertions.Template
	stackName string
	json      struct {
		Resources map[string]resource `json:"Resources"`
		Outputs   map[string]struct {
			Value any `json:"Value"`
		} `json:"Outputs"`
	}
}

type resource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
}

// has runs a CDK assertion, reporting its failure (a panic from jsii) as a test error.
func (tpl *template) has(typ string, props any) {
	tpl.t.Helper()
	defer func() {
		if r := recover(); r != nil {
			tpl.t.Errorf("%s: %v", typ, r)
		}
	}()
	tpl.assert.HasResourceProperties(jsii.String(typ), props)
}

// taskDefinition is the task definition of the family wistia-pipeline-<env>-<kind>.
func (tpl *template) taskDefinition(kind string) resource {
	tpl.t.Helper()
	for _, r := range tpl.ofType("AWS::ECS::TaskDefinition") {
		if f, _ := r.Properties["Family"].(string); strings.HasSuffix(f, "-"+kind) {
			return r
		}
	}
	tpl.t.Fatalf("no %s task definition", kind)
	return resource{}
}

// containerEnv is the environment of a task definition's first container.
func containerEnv(task resource) map[string]any {
	env := map[string]any{}
	container := task.Properties["ContainerDefinitions"].([]any)[0].(map[string]any)
	for _, e := range container["Environment"].([]any) {
		env[e.(map[string]any)["Name"].(string)] = e.(map[string]any)["Value"]
	}
	return env
}

func (tpl *template) ofType(typ string) map[string]resource {
	out := map[string]resource{}
	for id, r := range tpl.json.Resources {
		if r.Type == typ {
			out[id] = r
		}
	}
	return out
}

// statements are every IAM policy statement in the template: role, managed and inline policies,
// bucket, topic and key policies, and assume-role policies.
func (tpl *template) statements() []map[string]any {
	var out []map[string]any
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if st, ok := v["Statement"].([]any); ok {
				for _, s := range st {
					out = append(out, s.(map[string]any))
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	for _, r := range tpl.json.Resources {
		walk(r.Properties)
	}
	return out
}

func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

// alarmPeriod is the period of an alarm on one metric, or of its math expression's metrics.
func alarmPeriod(a resource) float64 {
	if p, ok := a.Properties["Period"].(float64); ok {
		return p
	}
	for _, m := range a.Properties["Metrics"].([]any) {
		if stat, ok := m.(map[string]any)["MetricStat"].(map[string]any); ok {
			return stat["Period"].(float64)
		}
	}
	return 0
}

func only[T any](t *testing.T, m map[string]T) T {
	t.Helper()
	require.Len(t, m, 1)
	for _, v := range m {
		return v
	}
	panic("unreachable")
}

func TestPipelineStackHasEveryPart(t *testing.T) {
	pipeline, ci := synth(t, nil)

	t.Run("buckets are private, encrypted, TLS-only", func(t *testing.T) {
		buckets := pipeline.ofType("AWS::S3::Bucket")
		require.Len(t, buckets, 3, "bronze, warehouse, Athena results")
		for id, b := range buckets {
			assert.Equal(t, map[string]any{"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true,
				"RestrictPublicBuckets": true}, b.Properties["PublicAccessBlockConfiguration"], id)
			enc := b.Properties["BucketEncryption"].(map[string]any)["ServerSideEncryptionConfiguration"].([]any)[0].(map[string]any)
			assert.Equal(t, "AES256", enc["ServerSideEncryptionByDefault"].(map[string]any)["SSEAlgorithm"], id)
		}
		policies := pipeline.ofType("AWS::S3::BucketPolicy")
		require.Len(t, policies, 3)
		for id, p := range policies {
			raw, _ := json.Marshal(p.Properties)
			assert.Contains(t, string(raw), `"aws:SecureTransport":"false"`, "%s denies plain HTTP", id)
		}
		pipeline.has("AWS::S3::Bucket", map[string]any{
			"VersioningConfiguration": map[string]any{"Status": "Enabled"},
			"LifecycleConfiguration": map[string]any{"Rules": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"Status":      "Enabled",
				"Transitions": []any{map[string]any{"StorageClass": "STANDARD_IA", "TransitionInDays": 90}},
			})})},
		})
	})

	t.Run("Glue databases and the Athena workgroup", func(t *testing.T) {
		for _, db := range []string{"wistia_silver_prod", "wistia_gold_prod"} {
			pipeline.has("AWS::Glue::Database", map[string]any{"DatabaseInput": assertions.Match_ObjectLike(&map[string]any{"Name": db})})
		}
		pipeline.has("AWS::Athena::WorkGroup", map[string]any{
			"Name": "wistia-prod",
			"WorkGroupConfiguration": assertions.Match_ObjectLike(&map[string]any{
				"BytesScannedCutoffPerQuery":    10_000_000_000,
				"EnforceWorkGroupConfiguration": true,
				"ResultConfiguration":           assertions.Match_ObjectLike(&map[string]any{"OutputLocation": assertions.Match_AnyValue()}),
			}),
		})
	})

	t.Run("the watermark table expires what the worker marks to expire", func(t *testing.T) {
		pipeline.has("AWS::DynamoDB::Table", map[string]any{
			"KeySchema":                        []any{map[string]any{"AttributeName": state.TableKey, "KeyType": "HASH"}},
			"AttributeDefinitions":             []any{map[string]any{"AttributeName": state.TableKey, "AttributeType": "S"}},
			"BillingMode":                      "PAY_PER_REQUEST",
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			"TimeToLiveSpecification":          map[string]any{"AttributeName": state.TableTTLAttribute, "Enabled": true},
		})
	})

	t.Run("workers on Fargate with secrets from Secrets Manager", func(t *testing.T) {
		task := pipeline.taskDefinition("worker")
		assert.Equal(t, "1024", task.Properties["Cpu"])
		assert.Equal(t, "2048", task.Properties["Memory"])
		assert.Equal(t, []any{"FARGATE"}, task.Properties["RequiresCompatibilities"])
		container := task.Properties["ContainerDefinitions"].([]any)[0].(map[string]any)
		env := map[string]any{}
		for _, e := range container["Environment"].([]any) {
			env[e.(map[string]any)["Name"].(string)] = e.(map[string]any)["Value"]
		}
		assert.Equal(t, "1843MiB", env["GOMEMLIMIT"], "90% of 2048 MiB")
		assert.Equal(t, "glue", env["ICEBERG_CATALOG"])
		secrets := map[string]bool{}
		for _, s := range container["Secrets"].([]any) {
			secrets[s.(map[string]any)["Name"].(string)] = true
		}
		assert.Equal(t, map[string]bool{"WISTIA_API_TOKEN": true, "TEMPORAL_API_KEY": true}, secrets)
		assert.Equal(t, "awslogs", container["LogConfiguration"].(map[string]any)["LogDriver"])
		pipeline.has("AWS::ECS::Service", map[string]any{"DesiredCount": 1, "LaunchType": "FARGATE"})
		assert.Empty(t, pipeline.ofType("AWS::ECR::Repository"), "the CI stack owns the repository")
		ci.has("AWS::ECR::Repository", map[string]any{"RepositoryName": "wistia-pipeline-prod", "ImageScanningConfiguration": map[string]any{"ScanOnPush": true}})
	})

	t.Run("the worker may do only what it does", func(t *testing.T) {
		roles := pipeline.ofType("AWS::IAM::Role")
		var taskRole string
		for id, r := range roles {
			raw, _ := json.Marshal(r.Properties["AssumeRolePolicyDocument"])
			if strings.Contains(string(raw), "ecs-tasks.amazonaws.com") && strings.HasPrefix(id, "WorkerTaskRole") {
				taskRole = id
			}
		}
		require.NotEmpty(t, taskRole)
		var actions []string
		for _, p := range pipeline.ofType("AWS::IAM::Policy") {
			if fmt.Sprint(p.Properties["Roles"]) != fmt.Sprint([]any{map[string]any{"Ref": taskRole}}) {
				continue
			}
			for _, st := range p.Properties["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				actions = append(actions, strs(st.(map[string]any)["Action"])...)
			}
		}
		sort.Strings(actions)
		// The calls in lake/bronze/store_s3.go, iceberg-go's S3 IO and Glue catalog, lake's DynamoDB
		// stores and activities/alerts.go, read from the code.
		assert.Equal(t, []string{
			"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:UpdateItem",
			"glue:CreateDatabase", "glue:CreateTable", "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:UpdateTable",
			"s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:GetObject", "s3:ListBucket", "s3:ListBucket",
			"s3:PutObject", "s3:PutObject", "sns:ListSubscriptionsByTopic", "sns:Publish",
		}, actions)
	})

	t.Run("alert topic and alarms", func(t *testing.T) {
		only(t, pipeline.ofType("AWS::SNS::Topic"))
		pipeline.has("AWS::Logs::MetricFilter", map[string]any{
			"FilterPattern":         fmt.Sprintf(`{ $.msg = "%s" }`, activities.VerifiedMergeMessage),
			"MetricTransformations": []any{assertions.Match_ObjectLike(&map[string]any{"MetricNamespace": "WistiaPipeline/prod"})},
		})
		pipeline.has("AWS::Logs::MetricFilter", map[string]any{
			"FilterPattern": fmt.Sprintf(`{ $.msg = "%s" }`, workflows.MaintenanceFailedMessage),
		})
		windows, missing := map[string]float64{}, map[string]any{}
		for id, a := range pipeline.ofType("AWS::CloudWatch::Alarm") {
			rule := strings.TrimPrefix(a.Properties["AlarmName"].(string), "wistia-pipeline-prod-")
			windows[rule] = alarmPeriod(a) * a.Properties["EvaluationPeriods"].(float64)
			missing[rule] = a.Properties["TreatMissingData"]
			assert.NotEmpty(t, a.Properties["AlarmDescription"], id)
		}
		assert.Equal(t, map[string]float64{
			"WistiaNoVerifiedMergeIn26Hours": 26 * 3600, "WistiaWorkerDown": 15 * 60, "WistiaMaintenanceFailing": 2 * 86400,
			"WistiaRateLimitedRising": 2 * 15 * 60, "WistiaQuarantineOverOnePercent": 86400, "WistiaWatermarksBehind": 2 * 3600,
		}, windows)
		// Silence is what the first two watch for; the EMF metrics fall silent with the worker,
		// which WistiaWorkerDown reports.
		assert.Equal(t, map[string]any{
			"WistiaNoVerifiedMergeIn26Hours": "breaching", "WistiaWorkerDown": "breaching", "WistiaMaintenanceFailing": "notBreaching",
			"WistiaRateLimitedRising": "notBreaching", "WistiaQuarantineOverOnePercent": "notBreaching", "WistiaWatermarksBehind": "notBreaching",
		}, missing)
		pipeline.has("AWS::CloudWatch::Alarm", map[string]any{"MetricName": "MaintenanceFailedLogLines", "Threshold": 1,
			"ComparisonOperator": "GreaterThanOrEqualToThreshold", "DatapointsToAlarm": 2, "EvaluationPeriods": 2, "Period": 86400})
		pipeline.has("AWS::CloudWatch::Alarm", map[string]any{"MetricName": "RunningTaskCount", "Namespace": "ECS/ContainerInsights"})
		account := []any{map[string]any{"Name": "Account", "Value": "default"}}
		emf := func(id, metric, stat string, period int) any {
			return assertions.Match_ObjectLike(&map[string]any{"Id": id, "MetricStat": map[string]any{
				"Metric": map[string]any{"Namespace": "WistiaPipeline/prod", "MetricName": metric, "Dimensions": account},
				"Period": period, "Stat": stat,
			}, "ReturnData": false})
		}
		pipeline.has("AWS::CloudWatch::Alarm", map[string]any{"AlarmName": "wistia-pipeline-prod-WistiaRateLimitedRising",
			"Threshold": 0.05, "ComparisonOperator": "GreaterThanThreshold", "Metrics": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{"Expression": "IF(requests > 0, limited / requests, 0)"}),
				emf("limited", "RateLimited", "Sum", 900), emf("requests", "HttpRequests", "Sum", 900),
			})})
		pipeline.has("AWS::CloudWatch::Alarm", map[string]any{"AlarmName": "wistia-pipeline-prod-WistiaQuarantineOverOnePercent",
			"Threshold": 0.01, "ComparisonOperator": "GreaterThanThreshold", "Metrics": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{"Expression": "quarantined / IF(landed > 1, landed, 1)"}),
				emf("landed", "RecordsLanded", "Sum", 86400), emf("quarantined", "Quarantined", "Sum", 86400),
			})})
		pipeline.has("AWS::CloudWatch::Alarm", map[string]any{"AlarmName": "wistia-pipeline-prod-WistiaWatermarksBehind",
			"Namespace": "WistiaPipeline/prod", "MetricName": "WatermarkLagDays", "Dimensions": account, "Statistic": "Maximum",
			"Threshold": 3, "ComparisonOperator": "GreaterThanThreshold", "DatapointsToAlarm": 4})
	})

	t.Run("GitHub deploys only from this repository's GitHub environment prod", func(t *testing.T) {
		ci.has("AWS::IAM::OIDCProvider", map[string]any{"Url": "https://token.actions.githubusercontent.com", "ClientIdList": []any{"sts.amazonaws.com"}})
		ci.has("AWS::IAM::Role", map[string]any{"AssumeRolePolicyDocument": map[string]any{"Statement": []any{assertions.Match_ObjectLike(&map[string]any{
			"Action": "sts:AssumeRoleWithWebIdentity",
			"Condition": map[string]any{"StringEquals": map[string]any{
				"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
				"token.actions.githubusercontent.com:sub": "repo:marketing-data/wistia-pipeline:environment:prod",
			}},
		})}}})
	})

	for name, tpl := range map[string]*template{"pipeline": pipeline, "ci": ci} {
		t.Run(name+": no wildcard action is allowed", func(t *testing.T) { noWildcardAllows(t, tpl) })
		t.Run(name+": no secret value in a task environment", func(t *testing.T) { noSecretsInEnvironment(t, tpl) })
	}
}

// An Allow naming "*" or a pattern ("s3:Get*") grants actions nobody listed. Deny statements
// may: the TLS-only bucket and topic policies deny every action over plain HTTP.
func noWildcardAllows(t *testing.T, tpl *template) {
	statements := tpl.statements()
	require.NotEmpty(t, statements)
	for _, st := range statements {
		if st["Effect"] != "Allow" {
			continue
		}
		for _, a := range strs(st["Action"]) {
			assert.NotContains(t, a, "*", "statement %v allows a wildcard action", st)
		}
		assert.Nil(t, st["NotAction"], "statement %v", st)
	}
}

var secretName = regexp.MustCompile(`(?i)(TOKEN|SECRET|PASSWORD|API_KEY|SALT|WEBHOOK)`)

func noSecretsInEnvironment(t *testing.T, tpl *template) {
	for id, task := range tpl.ofType("AWS::ECS::TaskDefinition") {
		for _, c := range task.Properties["ContainerDefinitions"].([]any) {
			envs, _ := c.(map[string]any)["Environment"].([]any)
			for _, e := range envs {
				name := e.(map[string]any)["Name"].(string)
				assert.False(t, secretName.MatchString(name), "%s: %s is a secret; pass it through Secrets", id, name)
			}
			raw, _ := json.Marshal(envs)
			for _, credential := range []string{"sim-token", "AKIA", "minioadmin"} {
				assert.NotContains(t, string(raw), credential, id)
			}
		}
	}
}

func TestKMSAndObjectLockVariant(t *testing.T) {
	pipeline, _ := synth(t, map[string]any{"kms": "true", "bronzeLockDays": "30", "temporalApiKeySecret": ""})
	key := only(t, pipeline.ofType("AWS::KMS::Key"))
	assert.Equal(t, true, key.Properties["EnableKeyRotation"])
	for id, b := range pipeline.ofType("AWS::S3::Bucket") {
		enc := b.Properties["BucketEncryption"].(map[string]any)["ServerSideEncryptionConfiguration"].([]any)[0].(map[string]any)
		assert.Equal(t, "aws:kms", enc["ServerSideEncryptionByDefault"].(map[string]any)["SSEAlgorithm"], id)
	}
	pipeline.has("AWS::S3::Bucket", map[string]any{
		"ObjectLockEnabled":       true,
		"ObjectLockConfiguration": map[string]any{"ObjectLockEnabled": "Enabled", "Rule": map[string]any{"DefaultRetention": map[string]any{"Mode": "GOVERNANCE", "Days": 30}}},
	})
	pipeline.has("AWS::DynamoDB::Table", map[string]any{"SSESpecification": assertions.Match_ObjectLike(&map[string]any{"SSEEnabled": true, "SSEType": "KMS"})})
	pipeline.has("AWS::SNS::Topic", map[string]any{"KmsMasterKeyId": assertions.Match_AnyValue()})
	noWildcardAllows(t, pipeline)

	for _, kind := range []string{"worker", "ops"} {
		secrets := pipeline.taskDefinition(kind).Properties["ContainerDefinitions"].([]any)[0].(map[string]any)["Secrets"].([]any)
		require.Len(t, secrets, 1, "a cluster without API keys gets only the Wistia token")
	}
}

func TestBadParametersAreNamed(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()),
		Context: &map[string]any{"desiredCount": "two", "kms": "maybe", "logRetentionDays": "10", "env": "Prod_1", "scheduleCron": "daily"}})
	err := build(app)
	require.Error(t, err)
	for _, want := range []string{`desiredCount="two"`, `kms="maybe"`, "logRetentionDays=10", `env="Prod_1"`, `scheduleCron="daily"`} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestEnvironmentSetsParameters(t *testing.T) {
	t.Setenv("DEPLOY_IMAGE_TAG", "abc123")
	t.Setenv("DEPLOY_MEMORY_MIB", "4096")
	pipeline, _ := synth(t, map[string]any{"desiredCount": "3"})
	pipeline.has("AWS::ECS::Service", map[string]any{"DesiredCount": 3})
	task := pipeline.taskDefinition("worker")
	assert.Equal(t, "4096", task.Properties["Memory"])
	raw, _ := json.Marshal(task.Properties["ContainerDefinitions"])
	assert.Contains(t, string(raw), ":abc123")
	assert.Contains(t, string(raw), "3686MiB")
}

// deploy/README.md documents every parameter by its context key and environment variable.
func TestReadmeListsEveryParameter(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	for _, p := range params {
		assert.Contains(t, string(readme), "`"+p.Key+"`", "deploy/README.md documents %s", p.Key)
		assert.Contains(t, string(readme), "`"+p.Env()+"`", "deploy/README.md documents %s", p.Env())
	}
}

// Every alarm's action is a topic whose policy lets CloudWatch publish, for this account's
// alarms only; with kms=true, the topic's key lets CloudWatch encrypt to it, with the same
// condition. A topic or key that would refuse CloudWatch fails here: the alarms would go into
// ALARM and tell no one.
func TestAlarmsCanNotify(t *testing.T) {
	for _, kms := range []string{"false", "true"} {
		t.Run("kms="+kms, func(t *testing.T) {
			pipeline, _ := synth(t, map[string]any{"kms": kms})
			alarms := pipeline.ofType("AWS::CloudWatch::Alarm")
			require.NotEmpty(t, alarms)
			topics := pipeline.ofType("AWS::SNS::Topic")
			for id, alarm := range alarms {
				actions, _ := alarm.Properties["AlarmActions"].([]any)
				require.NotEmpty(t, actions, "%s has an action", id)
				for _, action := range actions {
					ref, _ := action.(map[string]any)["Ref"].(string)
					topic, ok := topics[ref]
					require.True(t, ok, "%s's action %v is a topic of the stack", id, action)
					assert.True(t, admitsCloudWatch(pipeline.topicPolicyOf(ref), "sns:Publish"), "%s: topic %s lets this account's alarms publish", id, ref)
					if kms == "true" {
						keyRef := fmt.Sprint(topic.Properties["KmsMasterKeyId"].(map[string]any)["Fn::GetAtt"].([]any)[0])
						key := pipeline.json.Resources[keyRef]
						assert.True(t, admitsCloudWatch(key.Properties["KeyPolicy"].(map[string]any)["Statement"].([]any), "kms:GenerateDataKey"),
							"%s: key %s lets this account's alarms encrypt to the topic", id, keyRef)
					}
				}
			}
		})
	}
}

// topicPolicyOf is the statements of the topic policy that names the topic ref.
func (tpl *template) topicPolicyOf(ref string) []any {
	for _, p := range tpl.ofType("AWS::SNS::TopicPolicy") {
		for _, t := range p.Properties["Topics"].([]any) {
			if r, _ := t.(map[string]any)["Ref"].(string); r == ref {
				return p.Properties["PolicyDocument"].(map[string]any)["Statement"].([]any)
			}
		}
	}
	return nil
}

// admitsCloudWatch reports whether a statement allows cloudwatch.amazonaws.com the action,
// on the condition that the alarm is this account's, and no statement denies it outright
// (the TLS deny applies only to requests without TLS).
func admitsCloudWatch(statements []any, action string) bool {
	allowed := false
	for _, s := range statements {
		st := s.(map[string]any)
		principal, _ := st["Principal"].(map[string]any)
		if !slices.Contains(strs(principal["Service"]), "cloudwatch.amazonaws.com") || !slices.Contains(strs(st["Action"]), action) {
			continue
		}
		if st["Effect"] == "Deny" {
			return false
		}
		eq, _ := st["Condition"].(map[string]any)["StringEquals"].(map[string]any)
		if _, ok := eq["aws:SourceAccount"]; ok {
			allowed = true
		}
	}
	return allowed
}

// The worker may list its buckets without a prefix condition: S3 answers 404 for a missing key
// only to a caller allowed s3:ListBucket for that request, and a HEAD has no prefix. With a
// condition the answer is 403, and maintenance that deletes files already gone fails.
func TestMissingKeysStayNotFound(t *testing.T) {
	pipeline, _ := synth(t, map[string]any{})
	lists := 0
	for _, st := range pipeline.statements() {
		if !slices.Contains(strs(st["Action"]), "s3:ListBucket") || st["Effect"] != "Allow" {
			continue
		}
		lists++
		cond, _ := st["Condition"].(map[string]any)
		for op, c := range cond {
			_, prefix := c.(map[string]any)["s3:prefix"]
			assert.False(t, prefix, "%s: s3:ListBucket under a %s s3:prefix condition turns a missing key's 404 into 403", st["Sid"], op)
		}
	}
	assert.Equal(t, 3, lists, "the worker's bronze and warehouse listing grants, the dashboard's warehouse one")
}

// bucket is the stack's bucket whose logical ID starts with id.
func (tpl *template) bucket(id string) resource {
	tpl.t.Helper()
	for logical, r := range tpl.ofType("AWS::S3::Bucket") {
		if strings.HasPrefix(logical, id) {
			return r
		}
	}
	tpl.t.Fatalf("no bucket %s", id)
	return resource{}
}

// lifecycleRule is the bucket's lifecycle rule of that ID.
func lifecycleRule(t *testing.T, bucket resource, id string) map[string]any {
	t.Helper()
	rules, _ := bucket.Properties["LifecycleConfiguration"].(map[string]any)["Rules"].([]any)
	for _, r := range rules {
		if r.(map[string]any)["Id"] == id {
			return r.(map[string]any)
		}
	}
	t.Fatalf("no lifecycle rule %s in %v", id, rules)
	return nil
}

// The warehouse keeps what a bad commit or a person deleted for 30 days, and no longer: Iceberg's
// own expiry deletes files daily, each a noncurrent version. The doctor's probes in bronze,
// which the worker may not delete, expire after a day.
func TestWarehouseRecoversAndDoctorProbesExpire(t *testing.T) {
	pipeline, _ := synth(t, nil)
	warehouse := pipeline.bucket("Warehouse")
	assert.Equal(t, map[string]any{"Status": "Enabled"}, warehouse.Properties["VersioningConfiguration"])
	rule := lifecycleRule(t, warehouse, "expire-noncurrent-versions")
	assert.Equal(t, map[string]any{"NoncurrentDays": float64(30)}, rule["NoncurrentVersionExpiration"])
	assert.Nil(t, rule["ExpirationInDays"], "current versions are Iceberg's to expire")

	bronze := pipeline.bucket("Bronze")
	probes := lifecycleRule(t, bronze, "expire-doctor-probes")
	assert.Equal(t, "bronze/doctor/", probes["Prefix"])
	assert.Equal(t, float64(1), probes["ExpirationInDays"])
	assert.Equal(t, map[string]any{"NoncurrentDays": float64(1)}, probes["NoncurrentVersionExpiration"])
	for _, r := range bronze.Properties["LifecycleConfiguration"].(map[string]any)["Rules"].([]any) {
		if _, expires := r.(map[string]any)["ExpirationInDays"]; expires {
			assert.Equal(t, "bronze/doctor/", r.(map[string]any)["Prefix"], "only the doctor's probes expire in bronze: %v", r)
		}
	}
}

// Every rule of deploy/observability/alerts.yml has its CloudWatch alarm, under the rule's
// name (the alarm's construct ID and the end of its AlarmName), telling the alert topic when
// it fires and when it clears, and saying what to check; and no alarm is without its rule.
func TestEveryAlertRuleHasAnAlarm(t *testing.T) {
	rules, err := observability.Rules()
	require.NoError(t, err)
	var want []string
	for _, r := range rules {
		want = append(want, r.Alert)
	}
	pipeline, _ := synth(t, nil)
	topic := only(t, pipeline.ofType("AWS::SNS::Topic"))
	var topicRef string
	for id, r := range pipeline.json.Resources {
		if r.Type == topic.Type {
			topicRef = id
		}
	}
	constructID := regexp.MustCompile(`^(.+)[0-9A-F]{8}$`) // a logical ID is the construct's ID and a hash
	var got []string
	for id, a := range pipeline.ofType("AWS::CloudWatch::Alarm") {
		m := constructID.FindStringSubmatch(id)
		require.NotNil(t, m, id)
		rule := m[1]
		got = append(got, rule)
		assert.Equal(t, "wistia-pipeline-prod-"+rule, a.Properties["AlarmName"], id)
		assert.NotEmpty(t, a.Properties["AlarmDescription"], id)
		for _, actions := range []string{"AlarmActions", "OKActions"} {
			assert.Equal(t, []any{map[string]any{"Ref": topicRef}}, a.Properties[actions], "%s %s", id, actions)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	assert.Equal(t, want, got, "alerts.yml's rules and the stack's alarms")
}

// The operations task runs the CLI with everything the worker has (image, roles, environment,
// secrets), so `starter doctor` proves what the worker may do; the stack's outputs say how to
// run it and the schedule it applies, taken from the deploy parameters alone; and the deploy
// role may run exactly it, passing exactly its roles.
func TestOpsTaskRunsTheCLIAsTheWorker(t *testing.T) {
	pipeline, ci := synth(t, map[string]any{"wistiaAccount": "acme", "wistiaStatsTimezone": "America/New_York",
		"maxConcurrency": "7", "mergeSpread": "2", "scheduleCron": "30 4 * * *"})
	worker, ops := pipeline.taskDefinition("worker"), pipeline.taskDefinition("ops")
	for _, p := range []string{"TaskRoleArn", "ExecutionRoleArn", "Cpu", "Memory", "NetworkMode"} {
		assert.Equal(t, worker.Properties[p], ops.Properties[p], p)
	}
	wc := worker.Properties["ContainerDefinitions"].([]any)[0].(map[string]any)
	oc := ops.Properties["ContainerDefinitions"].([]any)[0].(map[string]any)
	for _, p := range []string{"Image", "Environment", "Secrets"} {
		assert.Equal(t, wc[p], oc[p], p)
	}
	assert.Nil(t, wc["EntryPoint"], "the worker runs the image's entry point")
	assert.Equal(t, []any{"/usr/local/bin/starter"}, oc["EntryPoint"])
	assert.Equal(t, []any{"doctor"}, oc["Command"])
	assert.Equal(t, opsContainer, oc["Name"])

	env := containerEnv(worker)
	for k, v := range map[string]string{"TEMPORAL_TASK_QUEUE": "wistia-pipeline-prod", "TEMPORAL_SCHEDULE_ID": "wistia-daily-prod",
		"WISTIA_ACCOUNT": "acme", "WISTIA_STATS_TIMEZONE": "America/New_York", "MAX_CONCURRENCY": "7", "MERGE_SPREAD": "2",
		"SCHEDULE_CRON": "30 4 * * *", "METRICS_CLOUDWATCH_NAMESPACE": "WistiaPipeline/prod",
		"ICEBERG_SILVER_NAMESPACE": "wistia_silver_prod", "ICEBERG_GOLD_NAMESPACE": "wistia_gold_prod"} {
		assert.Equal(t, v, env[k], k)
	}

	for _, o := range []string{"OpsTaskDefinitionArn", "OpsSubnets", "OpsSecurityGroup", "ClusterName", "WorkerServiceName"} {
		assert.Contains(t, pipeline.json.Outputs, o)
	}
	var command []string
	require.NoError(t, json.Unmarshal([]byte(pipeline.json.Outputs["ScheduleApplyCommand"].Value.(string)), &command))
	assert.Equal(t, []string{"schedule", "apply", "--schedule-id", "wistia-daily-prod", "--task-queue", "wistia-pipeline-prod",
		"--account", "acme", "--stats-timezone", "America/New_York", "--max-concurrency", "7", "--merge-spread", "2",
		"--cron", "30 4 * * *"}, command)

	roleNames := map[string]bool{}
	for _, r := range pipeline.ofType("AWS::IAM::Role") {
		if name, ok := r.Properties["RoleName"].(string); ok {
			roleNames[name] = true
		}
	}
	var runs, passes []string
	for _, st := range ci.statements() {
		switch st["Sid"] {
		case "RunOpsTask":
			runs = append(runs, joined(st["Resource"]))
		case "PassOpsTaskRoles":
			for _, r := range st["Resource"].([]any) {
				passes = append(passes, joined(r))
			}
		}
	}
	assert.Equal(t, []string{"arn::ecs:::task-definition/" + ops.Properties["Family"].(string) + ":*"}, runs)
	require.Len(t, passes, 2)
	for _, p := range passes {
		role := p[strings.LastIndex(p, "/")+1:]
		assert.True(t, roleNames[role], "the deploy role passes %s, a role of the pipeline stack", role)
	}
}

// `go run ./deploy/cdk -c env=staging` takes the cdk CLI's context arguments.
func TestContextArguments(t *testing.T) {
	got, err := contextArgs([]string{"-c", "env=staging", "--context", "scheduleCron=0 4 * * *"})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"env": "staging", "scheduleCron": "0 4 * * *"}, got)
	for _, bad := range [][]string{{"env=staging"}, {"-c"}, {"-c", "env"}} {
		_, err := contextArgs(bad)
		assert.Error(t, err, "%q", bad)
	}
}
