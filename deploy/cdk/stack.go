package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsathena"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsglue"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/lake"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// Names the worker and Athena share with the stack. The Glue databases are the lake's default
// namespaces; prefixes keep bronze and the warehouse apart from anything else in their buckets.
const (
	silverDatabase  = "wistia_silver"
	goldDatabase    = "wistia_gold"
	bronzePrefix    = "bronze"
	warehousePrefix = "warehouse"
	taskQueue       = "wistia-pipeline"
	workgroupName   = "wistia"
	metricNamespace = "WistiaPipeline"
)

// NewPipelineStack is everything the worker runs on: buckets, Glue databases, the Athena
// workgroup, the watermark table, the alert topic and alarms, and the workers on Fargate.
func NewPipelineStack(scope constructs.Construct, id string, props *awscdk.StackProps, s *settings) awscdk.Stack {
	stack := awscdk.NewStack(scope, &id, props)
	partition, region, account := *stack.Partition(), *stack.Region(), *stack.Account()

	var key awskms.Key
	if s.flag("kms") {
		key = newLakeKey(stack)
	}

	// Bronze is written once per key (conditional puts, never overwritten or deleted by the
	// worker, whose role cannot delete here). Versioning keeps any overwrite or deletion by a
	// person recoverable; Object Lock, when asked for, makes it impossible for the period.
	lockDays := s.num("bronzeLockDays", 0)
	bronzeProps := secureBucket(key)
	bronzeProps.Versioned = jsii.Bool(true)
	bronzeProps.LifecycleRules = &[]*awss3.LifecycleRule{{
		Id: jsii.String("colder-after-a-while"),
		Transitions: &[]*awss3.Transition{{
			StorageClass:    awss3.StorageClass_INFREQUENT_ACCESS(),
			TransitionAfter: awscdk.Duration_Days(jsii.Number(s.num("bronzeColdAfterDays", 30))),
		}},
		NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(30)),
	}}
	if lockDays > 0 {
		bronzeProps.ObjectLockEnabled = jsii.Bool(true)
		bronzeProps.ObjectLockDefaultRetention = awss3.ObjectLockRetention_Governance(awscdk.Duration_Days(jsii.Number(lockDays)))
	}
	bronze := awss3.NewBucket(stack, jsii.String("Bronze"), bronzeProps)

	// Iceberg expires its own snapshots and deletes their files, so the warehouse is unversioned.
	warehouse := awss3.NewBucket(stack, jsii.String("Warehouse"), secureBucket(key))
	resultsProps := secureBucket(key)
	resultsProps.LifecycleRules = &[]*awss3.LifecycleRule{{Id: jsii.String("expire-query-results"), Expiration: awscdk.Duration_Days(jsii.Number(30))}}
	results := awss3.NewBucket(stack, jsii.String("AthenaResults"), resultsProps)

	warehouseURL := fmt.Sprintf("s3://%s/%s", *warehouse.BucketName(), warehousePrefix)
	for _, db := range []string{silverDatabase, goldDatabase} {
		awsglue.NewCfnDatabase(stack, jsii.String("Glue_"+db), &awsglue.CfnDatabaseProps{
			CatalogId: stack.Account(),
			DatabaseInput: &awsglue.CfnDatabase_DatabaseInputProperty{
				Name:        jsii.String(db),
				Description: jsii.String("Wistia analytics, Iceberg tables written by the wistia-pipeline worker"),
				LocationUri: jsii.String(warehouseURL + "/" + db),
			},
		})
	}
	resultEncryption := &awsathena.CfnWorkGroup_EncryptionConfigurationProperty{EncryptionOption: jsii.String("SSE_S3")}
	if key != nil {
		resultEncryption = &awsathena.CfnWorkGroup_EncryptionConfigurationProperty{EncryptionOption: jsii.String("SSE_KMS"), KmsKey: key.KeyArn()}
	}
	awsathena.NewCfnWorkGroup(stack, jsii.String("Workgroup"), &awsathena.CfnWorkGroupProps{
		Name:        jsii.String(workgroupName),
		Description: jsii.String("Queries on the Wistia silver and gold tables"),
		State:       jsii.String("ENABLED"),
		WorkGroupConfiguration: &awsathena.CfnWorkGroup_WorkGroupConfigurationProperty{
			BytesScannedCutoffPerQuery:      jsii.Number(s.num("athenaScanLimitGb", 1) * 1e9),
			EnforceWorkGroupConfiguration:   jsii.Bool(true),
			PublishCloudWatchMetricsEnabled: jsii.Bool(true),
			EngineVersion:                   &awsathena.CfnWorkGroup_EngineVersionProperty{SelectedEngineVersion: jsii.String("Athena engine version 3")},
			ResultConfiguration: &awsathena.CfnWorkGroup_ResultConfigurationProperty{
				OutputLocation:          jsii.String(fmt.Sprintf("s3://%s/results/", *results.BucketName())),
				EncryptionConfiguration: resultEncryption,
			},
		},
	})

	tableProps := &awsdynamodb.TableProps{
		PartitionKey:                     &awsdynamodb.Attribute{Name: jsii.String(lake.WatermarkTableKey), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:                      awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: jsii.Bool(true)},
		// The rate budget's per-window counters and the merge leases carry this attribute; the
		// watermarks and the ledger of pending days never do.
		TimeToLiveAttribute: jsii.String(lake.WatermarkTableTTLAttribute),
		DeletionProtection:  jsii.Bool(true),
		RemovalPolicy:       awscdk.RemovalPolicy_RETAIN,
	}
	if key != nil {
		tableProps.Encryption, tableProps.EncryptionKey = awsdynamodb.TableEncryption_CUSTOMER_MANAGED, key
	}
	table := awsdynamodb.NewTable(stack, jsii.String("Watermarks"), tableProps)

	topicProps := &awssns.TopicProps{DisplayName: jsii.String("Wistia pipeline alerts"), EnforceSSL: jsii.Bool(true)}
	if key != nil {
		topicProps.MasterKey = key
	}
	topic := awssns.NewTopic(stack, jsii.String("Alerts"), topicProps)
	// EnforceSSL gives the topic a policy of its own, which replaces SNS's default one: without
	// this statement the alarms would go into ALARM and publish nothing. Only this account's
	// alarms may publish.
	topic.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("AlarmsOfThisAccountPublish"), Effect: awsiam.Effect_ALLOW,
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"),
		Resources:  &[]*string{topic.TopicArn()},
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()}},
	}))
	if email := s.str("alertEmail"); email != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(email), nil))
	}

	taskRole := awsiam.NewRole(stack, jsii.String("WorkerTaskRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
		Description: jsii.String("wistia-pipeline worker: only the calls the worker makes, on only its resources"),
	})
	for _, st := range workerStatements(partition, region, account, bronze, warehouse, table, topic, key) {
		taskRole.AddToPolicy(st)
	}

	logs := awslogs.NewLogGroup(stack, jsii.String("WorkerLogs"), &awslogs.LogGroupProps{RemovalPolicy: awscdk.RemovalPolicy_RETAIN})
	retention := s.num("logRetentionDays", 1)
	if !validRetention[int(retention)] {
		s.errs = append(s.errs, fmt.Sprintf("logRetentionDays=%v: CloudWatch accepts only 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653", retention))
	}
	logs.Node().DefaultChild().(awslogs.CfnLogGroup).SetRetentionInDays(jsii.Number(retention))

	service := newWorkers(stack, s, workerEnv{
		bronzeURL:    fmt.Sprintf("s3://%s/%s", *bronze.BucketName(), bronzePrefix),
		warehouseURL: warehouseURL,
		table:        *table.TableName(),
		topicARN:     *topic.TopicArn(),
		region:       region,
	}, taskRole, logs)

	newAlarms(stack, logs, service, topic)

	for name, value := range map[string]*string{
		"BronzeBucketName": bronze.BucketName(), "WarehouseBucketName": warehouse.BucketName(),
		"AthenaResultsBucketName": results.BucketName(), "WatermarkTableName": table.TableName(), "AlertTopicArn": topic.TopicArn(),
		"WorkerLogGroupName": logs.LogGroupName(), "ClusterName": service.Cluster().ClusterName(),
		"WorkerServiceName": service.ServiceName(), "AthenaWorkgroupName": jsii.String(workgroupName),
	} {
		awscdk.NewCfnOutput(stack, jsii.String(name), &awscdk.CfnOutputProps{Value: value})
	}
	return stack
}

// secureBucket is what every bucket of the stack has: no public access, encryption at rest,
// TLS-only access, and kept when the stack is deleted.
func secureBucket(key awskms.Key) *awss3.BucketProps {
	props := &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		MinimumTLSVersion: jsii.Number(1.2),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	}
	if key != nil {
		props.Encryption, props.EncryptionKey, props.BucketKeyEnabled = awss3.BucketEncryption_KMS, key, jsii.Bool(true)
	}
	return props
}

var validRetention = map[int]bool{1: true, 3: true, 5: true, 7: true, 14: true, 30: true, 60: true, 90: true, 120: true,
	150: true, 180: true, 365: true, 400: true, 545: true, 731: true, 1096: true, 1827: true, 2192: true, 2557: true,
	2922: true, 3288: true, 3653: true}

// workerStatements grants the worker exactly the API calls it makes (lake/store_s3.go,
// iceberg-go's S3 IO and Glue catalog, lake's DynamoDB watermarks, budget, ledger and leases,
// the SNS alerter), each on only the resources it makes them on. The buckets are the stack's
// own, so listing is granted on the whole bucket: S3 answers a HEAD or GET of a missing key 404
// only to a caller that may list the bucket, and a listing grant with an s3:prefix condition
// does not cover a request without a prefix, so the answer would be 403, which iceberg-go's
// deletes of files already gone (snapshot expiry, orphan removal) take for a failure.
func workerStatements(partition, region, account string, bronze, warehouse awss3.Bucket, table awsdynamodb.Table,
	topic awssns.Topic, key awskms.Key) []awsiam.PolicyStatement {
	glue := func(resource string) string {
		return fmt.Sprintf("arn:%s:glue:%s:%s:%s", partition, region, account, resource)
	}
	statements := []awsiam.PolicyStatement{
		allow("BronzeObjects", []string{"s3:GetObject", "s3:PutObject"}, *bronze.ArnForObjects(jsii.String(bronzePrefix + "/*"))),
		allow("BronzeList", []string{"s3:ListBucket"}, *bronze.BucketArn()),
		allow("WarehouseObjects", []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"},
			*warehouse.ArnForObjects(jsii.String(warehousePrefix + "/*"))),
		allow("WarehouseList", []string{"s3:ListBucket"}, *warehouse.BucketArn()),
		allow("Watermarks", []string{"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}, *table.TableArn()),
		allow("GlueCatalog", []string{"glue:GetDatabase", "glue:CreateDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable"},
			glue("catalog"), glue("database/"+silverDatabase), glue("database/"+goldDatabase),
			glue("table/"+silverDatabase+"/*"), glue("table/"+goldDatabase+"/*")),
		allow("Alerts", []string{"sns:Publish"}, *topic.TopicArn()),
	}
	if key != nil {
		statements = append(statements, allow("LakeKey", []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"}, *key.KeyArn()))
	}
	return statements
}

func allow(sid string, actions []string, resources ...string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String(sid), Effect: awsiam.Effect_ALLOW, Actions: jsii.Strings(actions...), Resources: jsii.Strings(resources...),
	})
}

// newLakeKey is the customer-managed key of the buckets, the table and the topic. Its policy
// lists the administrative actions instead of granting the account kms:*, and lets CloudWatch
// alarms publish to the encrypted topic.
func newLakeKey(stack awscdk.Stack) awskms.Key {
	policy := awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("AccountAdministers"), Effect: awsiam.Effect_ALLOW,
			Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
			Actions: jsii.Strings("kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus",
				"kms:EnableKeyRotation", "kms:DisableKeyRotation", "kms:EnableKey", "kms:DisableKey", "kms:ScheduleKeyDeletion",
				"kms:CancelKeyDeletion", "kms:TagResource", "kms:UntagResource", "kms:ListResourceTags", "kms:UpdateKeyDescription",
				"kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey",
				"kms:ReEncryptFrom", "kms:ReEncryptTo"),
			Resources: jsii.Strings("*"),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("AlarmsPublishToTheTopic"), Effect: awsiam.Effect_ALLOW,
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
			Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
			Resources:  jsii.Strings("*"),
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()}},
		}),
	}})
	return awskms.NewKey(stack, jsii.String("LakeKey"), &awskms.KeyProps{
		Description:       jsii.String("wistia-pipeline lake, watermarks and alerts"),
		EnableKeyRotation: jsii.Bool(true),
		Policy:            policy,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
}

type workerEnv struct {
	bronzeURL, warehouseURL, table, topicARN, region string
}

// newWorkers runs the worker image on Fargate in public subnets without inbound access: it only
// calls out (Wistia, Temporal Cloud; S3 and DynamoDB through gateway endpoints).
func newWorkers(stack awscdk.Stack, s *settings, env workerEnv, taskRole awsiam.Role, logs awslogs.LogGroup) awsecs.FargateService {
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs:              jsii.Number(2),
		NatGateways:         jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)}},
		GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
			"S3":       {Service: awsec2.GatewayVpcEndpointAwsService_S3()},
			"DynamoDB": {Service: awsec2.GatewayVpcEndpointAwsService_DYNAMODB()},
		},
	})
	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc:                 vpc,
		ContainerInsightsV2: awsecs.ContainerInsights_ENABLED, // RunningTaskCount, for the alarm
	})

	memory := s.num("memoryMib", 512)
	task := awsecs.NewFargateTaskDefinition(stack, jsii.String("Worker"), &awsecs.FargateTaskDefinitionProps{
		Cpu:            jsii.Number(s.num("cpu", 256)),
		MemoryLimitMiB: jsii.Number(memory),
		TaskRole:       taskRole,
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       awsecs.CpuArchitecture_X86_64(),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
	})

	namespace := s.str("temporalNamespace")
	address := s.str("temporalAddress")
	if address == "" {
		address = env.region + ".aws.api.temporal.io:7233"
	}
	secrets := map[string]awsecs.Secret{
		"WISTIA_API_TOKEN": awsecs.Secret_FromSecretsManager(
			awssecretsmanager.Secret_FromSecretNameV2(stack, jsii.String("WistiaToken"), jsii.String(s.str("wistiaTokenSecret"))), nil),
	}
	if name := s.str("temporalApiKeySecret"); name != "" {
		secrets["TEMPORAL_API_KEY"] = awsecs.Secret_FromSecretsManager(
			awssecretsmanager.Secret_FromSecretNameV2(stack, jsii.String("TemporalApiKey"), jsii.String(name)), nil)
	}
	repo := awsecr.Repository_FromRepositoryName(stack, jsii.String("Repository"), jsii.String(s.str("repositoryName")))
	task.AddContainer(jsii.String("worker"), &awsecs.ContainerDefinitionOptions{
		Image:   awsecs.ContainerImage_FromEcrRepository(repo, jsii.String(s.str("imageTag"))),
		Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{LogGroup: logs, StreamPrefix: jsii.String("worker")}),
		// The worker finishes its activities' current step on SIGTERM; Fargate allows 120 s.
		StopTimeout: awscdk.Duration_Seconds(jsii.Number(120)),
		Environment: &map[string]*string{
			"TEMPORAL_ADDRESS":      jsii.String(address),
			"TEMPORAL_NAMESPACE":    jsii.String(namespace),
			"TEMPORAL_TASK_QUEUE":   jsii.String(taskQueue),
			"TEMPORAL_UI_URL":       jsii.String(s.str("temporalUiUrl")),
			"WISTIA_ACCOUNT":        jsii.String(s.str("wistiaAccount")),
			"WISTIA_STATS_TIMEZONE": jsii.String(s.str("wistiaStatsTimezone")),
			"AWS_REGION":            jsii.String(env.region),
			"BRONZE_URL":            jsii.String(env.bronzeURL),
			"ICEBERG_CATALOG":       jsii.String("glue"),
			"ICEBERG_WAREHOUSE":     jsii.String(env.warehouseURL),
			"WATERMARKS_URL":        jsii.String("dynamodb://" + env.table),
			"ALERT_SNS_TOPIC_ARN":   jsii.String(env.topicARN),
			"DATA_DIR":              jsii.String("/tmp/wistia"),
			"LOG_LEVEL":             jsii.String("info"),
			// Leave the runtime a tenth of the task for stacks, buffers and the kernel.
			"GOMEMLIMIT": jsii.String(fmt.Sprintf("%dMiB", int(memory)*9/10)),
		},
		Secrets: &secrets,
	})

	sg := awsec2.NewSecurityGroup(stack, jsii.String("WorkerSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc: vpc, AllowAllOutbound: jsii.Bool(true), Description: jsii.String("wistia-pipeline workers: outbound only"),
	})
	return awsecs.NewFargateService(stack, jsii.String("Workers"), &awsecs.FargateServiceProps{
		Cluster:           cluster,
		TaskDefinition:    task,
		DesiredCount:      jsii.Number(s.num("desiredCount", 0)),
		AssignPublicIp:    jsii.Bool(true),
		VpcSubnets:        &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC},
		SecurityGroups:    &[]awsec2.ISecurityGroup{sg},
		MinHealthyPercent: jsii.Number(100),
		MaxHealthyPercent: jsii.Number(200),
		CircuitBreaker:    &awsecs.DeploymentCircuitBreaker{Rollback: jsii.Bool(true)},
	})
}

// logLineCount is a metric of the worker's log lines whose message is msg, one per line.
func logLineCount(stack awscdk.Stack, logs awslogs.LogGroup, name, msg string) awslogs.MetricFilter {
	return awslogs.NewMetricFilter(stack, jsii.String(name), &awslogs.MetricFilterProps{
		LogGroup:        logs,
		FilterPattern:   awslogs.FilterPattern_StringValue(jsii.String("$.msg"), jsii.String("="), jsii.String(msg)),
		MetricNamespace: jsii.String(metricNamespace),
		MetricName:      jsii.String(name),
		MetricValue:     jsii.String("1"),
	})
}

// newAlarms watches for silence (no run verified its days in 26 hours, no worker running) and
// for table maintenance failing on two days running. Failures inside runs alert from the
// workflows themselves (the Notify activity).
func newAlarms(stack awscdk.Stack, logs awslogs.LogGroup, service awsecs.FargateService, topic awssns.Topic) {
	verified := logLineCount(stack, logs, "VerifiedMerges", activities.VerifiedMergeMessage)
	// 13 periods of 2 hours: the alarm fires when none of the last 26 hours saw a verified merge.
	noRun := awscloudwatch.NewAlarm(stack, jsii.String("NoVerifiedRunIn26Hours"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String("No wistia-pipeline run merged and checked its days in 26 hours: is the schedule paused, " +
			"the worker down, or are runs failing? See the worker logs and the Temporal Web UI."),
		Metric:             verified.Metric(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: awscdk.Duration_Hours(jsii.Number(2))}),
		Threshold:          jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(13),
		DatapointsToAlarm:  jsii.Number(13),
		TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING,
	})
	tasks := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace:     jsii.String("ECS/ContainerInsights"),
		MetricName:    jsii.String("RunningTaskCount"),
		DimensionsMap: &map[string]*string{"ClusterName": service.Cluster().ClusterName(), "ServiceName": service.ServiceName()},
		Statistic:     jsii.String("Minimum"),
		Period:        awscdk.Duration_Minutes(jsii.Number(5)),
	})
	noWorker := awscloudwatch.NewAlarm(stack, jsii.String("NoWorkerRunning"), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String("No wistia-pipeline worker task has been running for 15 minutes."),
		Metric:             tasks,
		Threshold:          jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(3),
		TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING,
	})
	// Maintenance failures do not fail a run (its data is in and checked), so they are counted
	// from the log and alarm when they happen on two days running: one is a blip the next run
	// retries, two mean files pile up.
	maintenance := logLineCount(stack, logs, "MaintenanceFailures", workflows.MaintenanceFailedMessage)
	maintenanceFailing := awscloudwatch.NewAlarm(stack, jsii.String("MaintenanceFailingTwoDaysRunning"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String("wistia-pipeline's snapshot expiry failed on two days running: old snapshots and orphan files " +
			"are piling up in the warehouse. See the worker logs (\"" + workflows.MaintenanceFailedMessage + "\")."),
		Metric:             maintenance.Metric(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: awscdk.Duration_Days(jsii.Number(1))}),
		Threshold:          jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		EvaluationPeriods:  jsii.Number(2),
		DatapointsToAlarm:  jsii.Number(2),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	for _, alarm := range []awscloudwatch.Alarm{noRun, noWorker, maintenanceFailing} {
		alarm.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
		alarm.AddOkAction(awscloudwatchactions.NewSnsAction(topic))
	}
}
