package main

import (
	"encoding/json"
	"fmt"
	"strings"

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
	"github.com/marketing-data/wistia-pipeline/lake/state"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// Names the worker and Athena share with the stack. The Glue databases are the lake's default
// namespaces with the environment's name after them (names.glueDatabase); prefixes keep bronze
// and the warehouse apart from anything else in their buckets. The doctor (`starter doctor`,
// the smoke test after each deploy) writes one small object per run under bronze's doctor/.
const (
	silverDatabase  = "wistia_silver"
	goldDatabase    = "wistia_gold"
	bronzePrefix    = "bronze"
	warehousePrefix = "warehouse"
	doctorPrefix    = bronzePrefix + "/doctor/"
)

// The worker's metrics in CloudWatch: with METRICS_CLOUDWATCH_NAMESPACE set, the worker logs
// one line in CloudWatch's embedded metric format (EMF) every 60 s, which CloudWatch Logs turns
// into these metrics under the dimension Account (WISTIA_ACCOUNT). Counts are per interval,
// the lag its current value. EMF needs no sidecar: the awslogs driver already ships the line.
const (
	emfAccountDimension = "Account"
	emfHTTPRequests     = "HttpRequests"  // requests sent to Wistia
	emfRateLimited      = "RateLimited"   // of which answered 429
	emfRecordsLanded    = "RecordsLanded" // records written to silver
	emfQuarantined      = "Quarantined"   // records kept in silver.quarantine instead
	emfWatermarkLagDays = "WatermarkLagDays"
)

// NewPipelineStack is everything the worker runs on: buckets, Glue databases, the Athena
// workgroup, the watermark table, the alert topic and alarms, and the workers on Fargate.
func NewPipelineStack(scope constructs.Construct, id string, props *awscdk.StackProps, s *settings, n names) awscdk.Stack {
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
	}, {
		// The worker may not delete in bronze, so the doctor's probes expire here: the current
		// version after a day, the version that leaves behind a day later, then its marker.
		Id:                          jsii.String("expire-doctor-probes"),
		Prefix:                      jsii.String(doctorPrefix),
		Expiration:                  awscdk.Duration_Days(jsii.Number(1)),
		NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(1)),
	}, {
		Id:                        jsii.String("remove-doctor-delete-markers"),
		Prefix:                    jsii.String(doctorPrefix),
		ExpiredObjectDeleteMarker: jsii.Bool(true),
	}}
	if lockDays > 0 {
		bronzeProps.ObjectLockEnabled = jsii.Bool(true)
		bronzeProps.ObjectLockDefaultRetention = awss3.ObjectLockRetention_Governance(awscdk.Duration_Days(jsii.Number(lockDays)))
	}
	bronze := awss3.NewBucket(stack, jsii.String("Bronze"), bronzeProps)
	suppress(bronze, "AwsSolutions-S1", "no server access logs: the worker is the only writer and reader (one role, "+
		"every call in CloudTrail's management view when data events are turned on for an audit); logs of every "+
		"bronze read and write would cost more than the bucket")

	// Versioned so that a table a bad commit or a person deleted can be restored: its metadata
	// and data files' previous versions stay 30 days. Iceberg's own snapshot expiry and orphan
	// removal delete files every day, which makes noncurrent versions too; the expiry below
	// keeps them from piling up. Delete markers left alone are removed, and failed uploads.
	warehouseProps := secureBucket(key)
	warehouseProps.Versioned = jsii.Bool(true)
	warehouseProps.LifecycleRules = &[]*awss3.LifecycleRule{{
		Id:                                  jsii.String("expire-noncurrent-versions"),
		NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(30)),
		ExpiredObjectDeleteMarker:           jsii.Bool(true),
		AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(7)),
	}}
	warehouse := awss3.NewBucket(stack, jsii.String("Warehouse"), warehouseProps)
	suppress(warehouse, "AwsSolutions-S1", "no server access logs: Iceberg reads and writes thousands of manifests "+
		"and data files a day, all by the worker's one role; CloudTrail data events serve an audit when one is needed")
	resultsProps := secureBucket(key)
	resultsProps.LifecycleRules = &[]*awss3.LifecycleRule{{Id: jsii.String("expire-query-results"), Expiration: awscdk.Duration_Days(jsii.Number(30))}}
	results := awss3.NewBucket(stack, jsii.String("AthenaResults"), resultsProps)
	suppress(results, "AwsSolutions-S1", "no server access logs: query results expire after 30 days and Athena "+
		"records each query (who, what, when) in its own history")

	warehouseURL := fmt.Sprintf("s3://%s/%s", *warehouse.BucketName(), warehousePrefix)
	silver, gold := n.glueDatabase(silverDatabase), n.glueDatabase(goldDatabase)
	for _, db := range []string{silver, gold} {
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
		Name:        jsii.String(n.workgroup()),
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
		PartitionKey:                     &awsdynamodb.Attribute{Name: jsii.String(state.TableKey), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:                      awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: jsii.Bool(true)},
		// The rate budget's per-window counters and the merge leases carry this attribute; the
		// watermarks and the ledger of pending days never do.
		TimeToLiveAttribute: jsii.String(state.TableTTLAttribute),
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

	// Named, so that the CI stack's deploy role may pass exactly these two to the ops task.
	taskRole := ecsRole(stack, "WorkerTaskRole", n.role("worker-task"),
		"wistia-pipeline worker: only the calls the worker makes, on only its resources")
	for _, st := range workerStatements(partition, region, account, bronze, warehouse, table, topic, key, silver, gold) {
		taskRole.AddToPolicy(st)
	}
	suppress(taskRole, "AwsSolutions-IAM5", "the worker names its objects and tables at run time (a day's bronze "+
		"keys, Iceberg's data and metadata files, the tables iceberg-go creates), each grant only under its "+
		"own prefix or its own two Glue databases", `^Resource::<(Bronze|Warehouse)[0-9A-F]{8}\.Arn>/(bronze|warehouse)/\*$`,
		`^Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/(`+silver+`|`+gold+`)/\*$`)
	executionRole := ecsRole(stack, "WorkerExecutionRole", n.role("worker-execution"),
		"ECS starting wistia-pipeline tasks: pull the image, read the two secrets, write the logs")

	retention := s.num("logRetentionDays", 1)
	if !validRetention[int(retention)] {
		s.errs = append(s.errs, fmt.Sprintf("logRetentionDays=%v: CloudWatch accepts only 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653", retention))
	}
	logs := retainedLogs(stack, "WorkerLogs", n.logGroup(), retention)

	sched := scheduleOf(s, n)
	w := newWorkers(stack, s, n, workerEnv{
		bronzeURL:    fmt.Sprintf("s3://%s/%s", *bronze.BucketName(), bronzePrefix),
		warehouseURL: warehouseURL,
		silver:       silver,
		gold:         gold,
		table:        *table.TableName(),
		topicARN:     *topic.TopicArn(),
		region:       region,
		schedule:     sched,
	}, taskRole, executionRole, logs)

	newAlarms(stack, s, n, logs, w.service, topic)
	if s.flag("dashboard") {
		newDashboard(stack, s, n, w, dashboardEnv{warehouse: warehouse, warehouseURL: warehouseURL, silver: silver, gold: gold,
			zone: sched.zone, region: region, key: key})
	}

	for name, value := range map[string]*string{
		"BronzeBucketName": bronze.BucketName(), "WarehouseBucketName": warehouse.BucketName(),
		"AthenaResultsBucketName": results.BucketName(), "WatermarkTableName": table.TableName(), "AlertTopicArn": topic.TopicArn(),
		"WorkerLogGroupName": logs.LogGroupName(), "ClusterName": w.service.Cluster().ClusterName(),
		"WorkerServiceName": w.service.ServiceName(), "AthenaWorkgroupName": jsii.String(n.workgroup()),
		// What deploy/run-ops-task.sh needs to run a one-off task after a deploy.
		"OpsTaskDefinitionArn": w.ops.TaskDefinitionArn(), "OpsSecurityGroup": w.securityGroup.SecurityGroupId(),
		"OpsSubnets":           awscdk.Fn_Join(jsii.String(","), w.subnets),
		"OpsContainerName":     jsii.String(opsContainer),
		"ScheduleApplyCommand": jsii.String(scheduleApplyCommand(sched)),
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

// workerStatements grants the worker exactly the API calls it makes (lake/bronze/store_s3.go,
// iceberg-go's S3 IO and Glue catalog, lake's DynamoDB watermarks, budget, ledger and leases,
// the SNS alerter), each on only the resources it makes them on. The buckets are the stack's
// own, so listing is granted on the whole bucket: S3 answers a HEAD or GET of a missing key 404
// only to a caller that may list the bucket, and a listing grant with an s3:prefix condition
// does not cover a request without a prefix, so the answer would be 403, which iceberg-go's
// deletes of files already gone (snapshot expiry, orphan removal) take for a failure.
func workerStatements(partition, region, account string, bronze, warehouse awss3.Bucket, table awsdynamodb.Table,
	topic awssns.Topic, key awskms.Key, silver, gold string) []awsiam.PolicyStatement {
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
			glue("catalog"), glue("database/"+silver), glue("database/"+gold),
			glue("table/"+silver+"/*"), glue("table/"+gold+"/*")),
		// ListSubscriptionsByTopic: the doctor proves the topic reachable, and subscribed to, without sending to it.
		allow("Alerts", []string{"sns:Publish", "sns:ListSubscriptionsByTopic"}, *topic.TopicArn()),
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

// ecsRole is a role that ECS tasks assume, under its environment's name.
func ecsRole(stack awscdk.Stack, id, name, description string) awsiam.Role {
	return awsiam.NewRole(stack, jsii.String(id), &awsiam.RoleProps{
		RoleName:    jsii.String(name),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
		Description: jsii.String(description),
	})
}

// retainedLogs is a log group that outlives the stack, kept retentionDays.
func retainedLogs(stack awscdk.Stack, id, name string, retentionDays float64) awslogs.LogGroup {
	logs := awslogs.NewLogGroup(stack, jsii.String(id), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String(name),
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	logs.Node().DefaultChild().(awslogs.CfnLogGroup).SetRetentionInDays(jsii.Number(retentionDays))
	return logs
}

// fargateTask is a task definition of the stack's tasks: x86 Linux on Fargate.
func fargateTask(stack awscdk.Stack, id, family string, cpu, memory float64, taskRole, executionRole awsiam.Role) awsecs.FargateTaskDefinition {
	return awsecs.NewFargateTaskDefinition(stack, jsii.String(id), &awsecs.FargateTaskDefinitionProps{
		Family:         jsii.String(family),
		Cpu:            jsii.Number(cpu),
		MemoryLimitMiB: jsii.Number(memory),
		TaskRole:       taskRole,
		ExecutionRole:  executionRole,
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       awsecs.CpuArchitecture_X86_64(),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
	})
}

type workerEnv struct {
	bronzeURL, warehouseURL, silver, gold, table, topicARN, region string
	schedule                                                       schedule
}

// workers are the service and what a one-off task needs to run beside it.
type workers struct {
	task          awsecs.FargateTaskDefinition
	vpc           awsec2.Vpc
	cluster       awsecs.Cluster
	service       awsecs.FargateService
	ops           awsecs.FargateTaskDefinition
	securityGroup awsec2.SecurityGroup
	subnets       *[]*string
	image         awsecs.ContainerImage
}

// opsContainer is the operations task's container, which a run-task override names.
const opsContainer = "starter"

// newWorkers runs the worker image on Fargate in public subnets without inbound access: it only
// calls out (Wistia, Temporal Cloud; S3 and DynamoDB through gateway endpoints). Beside the
// service it defines the operations task: the same image, roles, environment and secrets, with
// the CLI as its entry point, for one-off commands (`starter doctor`, `starter schedule apply`).
// ECS overrides can change a container's command but not its entry point, which is the worker.
func newWorkers(stack awscdk.Stack, s *settings, n names, env workerEnv, taskRole, executionRole awsiam.Role, logs awslogs.LogGroup) workers {
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs:              jsii.Number(2),
		NatGateways:         jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)}},
		GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
			"S3":       {Service: awsec2.GatewayVpcEndpointAwsService_S3()},
			"DynamoDB": {Service: awsec2.GatewayVpcEndpointAwsService_DYNAMODB()},
		},
	})
	// Rejected connections only: none is expected (the workers only call out), so any is
	// worth seeing, and their volume costs nothing to speak of.
	vpc.AddFlowLog(jsii.String("RejectedFlows"), &awsec2.FlowLogOptions{
		TrafficType: awsec2.FlowLogTrafficType_REJECT,
		Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(awslogs.NewLogGroup(stack, jsii.String("RejectedFlowLogs"), &awslogs.LogGroupProps{
			Retention:     awslogs.RetentionDays_ONE_MONTH,
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		}), nil),
	})
	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{
		ClusterName:         jsii.String(n.cluster()),
		Vpc:                 vpc,
		ContainerInsightsV2: awsecs.ContainerInsights_ENABLED, // RunningTaskCount, for the alarm
	})

	cpu, memory := s.num("cpu", 256), s.num("memoryMib", 512)

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
	sched := env.schedule
	environment := &map[string]*string{
		"TEMPORAL_ADDRESS":      jsii.String(address),
		"TEMPORAL_NAMESPACE":    jsii.String(s.str("temporalNamespace")),
		"TEMPORAL_TASK_QUEUE":   jsii.String(sched.taskQueue),
		"TEMPORAL_SCHEDULE_ID":  jsii.String(sched.id),
		"TEMPORAL_UI_URL":       jsii.String(s.str("temporalUiUrl")),
		"WISTIA_ACCOUNT":        jsii.String(sched.account),
		"WISTIA_STATS_TIMEZONE": jsii.String(sched.zone),
		// The schedule's input: the doctor compares the live schedule with these.
		"MAX_CONCURRENCY":          jsii.String(sched.maxConcurrency),
		"MERGE_SPREAD":             jsii.String(sched.mergeSpread),
		"SCHEDULE_CRON":            jsii.String(sched.cron),
		"AWS_REGION":               jsii.String(env.region),
		"BRONZE_URL":               jsii.String(env.bronzeURL),
		"ICEBERG_CATALOG":          jsii.String("glue"),
		"ICEBERG_WAREHOUSE":        jsii.String(env.warehouseURL),
		"ICEBERG_SILVER_NAMESPACE": jsii.String(env.silver),
		"ICEBERG_GOLD_NAMESPACE":   jsii.String(env.gold),
		"WATERMARKS_URL":           jsii.String("dynamodb://" + env.table),
		"ALERT_SNS_TOPIC_ARN":      jsii.String(env.topicARN),
		// The worker's metrics as EMF log lines (see the emf* metric names).
		"METRICS_CLOUDWATCH_NAMESPACE": jsii.String(n.metricNamespace()),
		"DATA_DIR":                     jsii.String("/tmp/wistia"),
		"LOG_LEVEL":                    jsii.String("info"),
		// Leave the runtime a tenth of the task for stacks, buffers and the kernel.
		"GOMEMLIMIT": jsii.String(fmt.Sprintf("%dMiB", int(memory)*9/10)),
	}
	repo := awsecr.Repository_FromRepositoryName(stack, jsii.String("Repository"), jsii.String(s.str("repositoryName")))
	image := awsecs.ContainerImage_FromEcrRepository(repo, jsii.String(s.str("imageTag")))
	logging := func(stream string) awsecs.LogDriver {
		return awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{LogGroup: logs, StreamPrefix: jsii.String(stream)})
	}

	task := fargateTask(stack, "Worker", n.family("worker"), cpu, memory, taskRole, executionRole)
	task.AddContainer(jsii.String("worker"), &awsecs.ContainerDefinitionOptions{
		Image:   image,
		Logging: logging("worker"),
		// The worker finishes its activities' current step on SIGTERM; Fargate allows 120 s.
		StopTimeout: awscdk.Duration_Seconds(jsii.Number(120)),
		Environment: environment,
		Secrets:     &secrets,
	})
	ops := fargateTask(stack, "Ops", n.family("ops"), cpu, memory, taskRole, executionRole)
	ops.AddContainer(jsii.String(opsContainer), &awsecs.ContainerDefinitionOptions{
		Image:       image,
		Logging:     logging("ops"),
		EntryPoint:  jsii.Strings("/usr/local/bin/starter"),
		Command:     jsii.Strings("doctor"),
		Environment: environment,
		Secrets:     &secrets,
	})

	// After the containers: their grants make the role's default policy, which this applies to.
	suppress(executionRole, "AwsSolutions-IAM5", "ecr:GetAuthorizationToken has no resource-level permissions; "+
		"the image pull itself is granted on the one repository", `^Resource::\*$`)
	for _, td := range []awsecs.FargateTaskDefinition{task, ops} {
		suppress(td, "AwsSolutions-ECS2", "the plain environment holds names, URLs and tuning only; the two secrets "+
			"come from Secrets Manager, and a stack test fails on a secret-like name in an environment")
	}

	sg := awsec2.NewSecurityGroup(stack, jsii.String("WorkerSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc: vpc, AllowAllOutbound: jsii.Bool(true), Description: jsii.String("wistia-pipeline workers: outbound only"),
	})
	service := publicService(stack, "Workers", cluster, task, s.num("desiredCount", 0), sg)
	public := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC}
	return workers{task: task, vpc: vpc, cluster: cluster, service: service, ops: ops, securityGroup: sg,
		subnets: vpc.SelectSubnets(public).SubnetIds, image: image}
}

// publicService runs count tasks of task in the VPC's public subnets with public addresses:
// there is no NAT gateway to pay for, and the security group decides what may come in. Deploys
// roll, keeping every running task until its replacement is healthy, and roll back when new
// tasks do not start.
func publicService(stack awscdk.Stack, id string, cluster awsecs.Cluster, task awsecs.FargateTaskDefinition, count float64, sg awsec2.SecurityGroup) awsecs.FargateService {
	return awsecs.NewFargateService(stack, jsii.String(id), &awsecs.FargateServiceProps{
		Cluster:           cluster,
		TaskDefinition:    task,
		DesiredCount:      jsii.Number(count),
		AssignPublicIp:    jsii.Bool(true),
		VpcSubnets:        &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC},
		SecurityGroups:    &[]awsec2.ISecurityGroup{sg},
		MinHealthyPercent: jsii.Number(100),
		MaxHealthyPercent: jsii.Number(200),
		CircuitBreaker:    &awsecs.DeploymentCircuitBreaker{Rollback: jsii.Bool(true)},
	})
}

// schedule is the daily schedule as the deploy parameters describe it. The worker's
// environment carries it, so the doctor can compare the live schedule with it, and
// ScheduleApplyCommand applies it, so neither takes a value from an operator's shell.
type schedule struct {
	id, taskQueue, account, zone, cron string
	maxConcurrency, mergeSpread        string
}

func scheduleOf(s *settings, n names) schedule {
	sc := schedule{
		id: n.scheduleID(), taskQueue: n.taskQueue(), account: s.str("wistiaAccount"), zone: s.str("wistiaStatsTimezone"),
		cron: s.str("scheduleCron"), maxConcurrency: s.str("maxConcurrency"), mergeSpread: s.str("mergeSpread"),
	}
	if len(strings.Fields(sc.cron)) != 5 {
		s.errs = append(s.errs, fmt.Sprintf("scheduleCron=%q: want five fields (minute hour day-of-month month day-of-week)", sc.cron))
	}
	s.num("maxConcurrency", 1)
	s.num("mergeSpread", 1)
	return sc
}

// scheduleApplyCommand is the operations task's command that creates or updates the schedule
// from the deploy parameters, as a JSON array (the form `aws ecs run-task` overrides take).
func scheduleApplyCommand(sc schedule) string {
	args, err := json.Marshal([]string{"schedule", "apply", "--schedule-id", sc.id, "--task-queue", sc.taskQueue,
		"--account", sc.account, "--stats-timezone", sc.zone, "--max-concurrency", sc.maxConcurrency,
		"--merge-spread", sc.mergeSpread, "--cron", sc.cron})
	if err != nil {
		panic(err) // strings always marshal
	}
	return string(args)
}

// logLineCount is a metric of the worker's log lines whose message is msg, one per line.
func logLineCount(stack awscdk.Stack, n names, logs awslogs.LogGroup, name, msg string) awslogs.MetricFilter {
	return awslogs.NewMetricFilter(stack, jsii.String(name), &awslogs.MetricFilterProps{
		LogGroup:        logs,
		FilterPattern:   awslogs.FilterPattern_StringValue(jsii.String("$.msg"), jsii.String("="), jsii.String(msg)),
		MetricNamespace: jsii.String(n.metricNamespace()),
		MetricName:      jsii.String(name),
		MetricValue:     jsii.String("1"),
	})
}

// newAlarms gives each rule of deploy/observability/alerts.yml its CloudWatch alarm, under the
// rule's name (a test holds the two lists equal): silence (no verified merge in 26 hours, no
// worker running), table maintenance failing on two days running, and the worker's EMF
// metrics (429s, quarantine, watermark lag). Failures inside runs alert from the workflows
// themselves (the Notify activity). Every alarm tells the topic when it fires and when it clears.
func newAlarms(stack awscdk.Stack, s *settings, n names, logs awslogs.LogGroup, service awsecs.FargateService, topic awssns.Topic) {
	alarm := func(rule, description string, props *awscloudwatch.AlarmProps) {
		props.AlarmName = jsii.String(n.alarm(rule))
		props.AlarmDescription = jsii.String(description)
		a := awscloudwatch.NewAlarm(stack, jsii.String(rule), props)
		a.AddAlarmAction(awscloudwatchactions.NewSnsAction(topic))
		a.AddOkAction(awscloudwatchactions.NewSnsAction(topic))
	}
	account := s.str("wistiaAccount")
	emf := func(metric, statistic string, period awscdk.Duration) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String(n.metricNamespace()),
			MetricName:    jsii.String(metric),
			DimensionsMap: &map[string]*string{emfAccountDimension: jsii.String(account)},
			Statistic:     jsii.String(statistic),
			Period:        period,
		})
	}

	verified := logLineCount(stack, n, logs, "VerifiedMerges", activities.VerifiedMergeMessage)
	// 13 periods of 2 hours: the alarm fires when none of the last 26 hours saw a verified merge.
	alarm("WistiaNoVerifiedMergeIn26Hours", "No wistia-pipeline run merged and checked its days in 26 hours. Check: is the "+
		n.scheduleID()+" schedule paused (starter schedule describe); is a worker running (WistiaWorkerDown); are runs "+
		"failing (Temporal Web UI, WistiaDate = yesterday, and the worker logs).", &awscloudwatch.AlarmProps{
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
	alarm("WistiaWorkerDown", "No wistia-pipeline worker task has been running for 15 minutes; runs wait on their task queue. "+
		"Check: the service's events (a task that cannot start: image, secrets, subnets); the stopped tasks' reasons; the "+
		"worker logs of the last task (a bad TEMPORAL_ADDRESS or API key).", &awscloudwatch.AlarmProps{
		Metric:             tasks,
		Threshold:          jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(3),
		TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING,
	})

	// Maintenance failures do not fail a run (its data is in and checked), so they are counted
	// from the log and alarm when they happen on two days running: one is a blip the next run
	// retries, two mean files pile up.
	maintenance := logLineCount(stack, n, logs, "MaintenanceFailedLogLines", workflows.MaintenanceFailedMessage)
	alarm("WistiaMaintenanceFailing", "wistia-pipeline's snapshot expiry failed on two days running: old snapshots and orphan "+
		"files are piling up in the warehouse. Check: the worker logs (\""+workflows.MaintenanceFailedMessage+"\") for the "+
		"error; access denied on the warehouse bucket (starter doctor); a table's metadata in Glue.", &awscloudwatch.AlarmProps{
		Metric:             maintenance.Metric(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: awscdk.Duration_Days(jsii.Number(1))}),
		Threshold:          jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		EvaluationPeriods:  jsii.Number(2),
		DatapointsToAlarm:  jsii.Number(2),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})

	// The EMF metrics come only while a worker runs; silence is WistiaWorkerDown's to report.
	quarter := awscdk.Duration_Minutes(jsii.Number(15))
	alarm("WistiaRateLimitedRising", "More than 5% of the Wistia requests of two quarter-hours running were answered 429: "+
		"the account's budget is spent. Check: WISTIA_RATE_LIMIT against the account's real budget; another client using "+
		"the same token; a backfill running beside the daily run.", &awscloudwatch.AlarmProps{
		Metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String("IF(requests > 0, limited / requests, 0)"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"limited": emf(emfRateLimited, "Sum", quarter), "requests": emf(emfHTTPRequests, "Sum", quarter),
			},
			Label:  jsii.String("share of Wistia requests rate limited"),
			Period: quarter,
		}),
		Threshold:          jsii.Number(0.05),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(2),
		DatapointsToAlarm:  jsii.Number(2),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})

	day := awscdk.Duration_Days(jsii.Number(1))
	alarm("WistiaQuarantineOverOnePercent", "Over 1% of the records landed in a day were quarantined: the API changed what "+
		"it sends. Check: starter query silver.quarantine (each record and its reason); the Wistia API's changelog; the "+
		"nightly contract check's last run.", &awscloudwatch.AlarmProps{
		Metric: awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			// A day with no records divides by 1, as the Prometheus rule's clamp_min does.
			Expression: jsii.String("quarantined / IF(landed > 1, landed, 1)"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"quarantined": emf(emfQuarantined, "Sum", day), "landed": emf(emfRecordsLanded, "Sum", day),
			},
			Label:  jsii.String("share of a day's records quarantined"),
			Period: day,
		}),
		Threshold:          jsii.Number(0.01),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(1),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})

	// Four half-hours: the watermark stayed behind for two hours, as the rule's "for: 2h".
	alarm("WistiaWatermarksBehind", "A media's watermark has been more than three days behind its run's date for two hours: "+
		"its windows keep failing to read completely. Check: the run's history in the Temporal Web UI (it names the media); "+
		"429s (WistiaRateLimitedRising); the media in Wistia (deleted or restricted).", &awscloudwatch.AlarmProps{
		Metric:             emf(emfWatermarkLagDays, "Maximum", awscdk.Duration_Minutes(jsii.Number(30))),
		Threshold:          jsii.Number(3),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
		EvaluationPeriods:  jsii.Number(4),
		DatapointsToAlarm:  jsii.Number(4),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
}
