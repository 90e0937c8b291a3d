package main

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

const githubOIDC = "token.actions.githubusercontent.com"

// cdkQualifier is the CDK bootstrap's default qualifier, which names its roles.
const cdkQualifier = "hnb659fds"

// NewCIStack is what GitHub Actions deploys an environment with, created once per environment
// by an administrator: the image repository, the GitHub OIDC provider (or the account's
// existing one), and a role that only this repository's jobs in the GitHub environment of the
// same name can assume. The role may push images to the repository, assume the three CDK
// bootstrap roles `cdk deploy` uses, and run the environment's one-off tasks after a deploy
// (`starter schedule apply`, `starter doctor`, deploy/run-ops-task.sh); nothing else.
func NewCIStack(scope constructs.Construct, id string, props *awscdk.StackProps, s *settings, n names) awscdk.Stack {
	stack := awscdk.NewStack(scope, &id, props)
	partition, region, account := *stack.Partition(), *stack.Region(), *stack.Account()

	repo := awsecr.NewRepository(stack, jsii.String("Repository"), &awsecr.RepositoryProps{
		RepositoryName:  jsii.String(s.str("repositoryName")),
		ImageScanOnPush: jsii.Bool(true),
		LifecycleRules:  &[]*awsecr.LifecycleRule{{Description: jsii.String("keep the last 50 images"), MaxImageCount: jsii.Number(50)}},
		RemovalPolicy:   awscdk.RemovalPolicy_RETAIN,
	})

	var providerARN *string
	if arn := s.str("githubOidcProviderArn"); arn != "" {
		providerARN = jsii.String(arn)
	} else {
		provider := awsiam.NewOidcProviderNative(stack, jsii.String("GitHubOidc"), &awsiam.OidcProviderNativeProps{
			Url:       jsii.String("https://" + githubOIDC),
			ClientIds: jsii.Strings("sts.amazonaws.com"),
		})
		providerARN = provider.OidcProviderArn()
	}
	repoName := s.str("githubRepository")
	role := awsiam.NewRole(stack, jsii.String("DeployRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(n.role("deploy")),
		Description: jsii.String("GitHub Actions deploys of " + repoName + " in its GitHub environment " + n.env),
		AssumedBy: awsiam.NewWebIdentityPrincipal(providerARN, &map[string]any{
			"StringEquals": map[string]any{
				githubOIDC + ":aud": "sts.amazonaws.com",
				githubOIDC + ":sub": n.githubSubject(repoName),
			},
		}),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
	})
	// The deploy, file-publishing (the template) and lookup (cdk diff) roles of the bootstrap;
	// not its image-publishing role, since the workflow pushes the image itself. What the
	// deploy may create is the CloudFormation execution policy's business
	// (deploy/bootstrap/cfn-execution-policy.json).
	bootstrapRole := func(kind string) string {
		return fmt.Sprintf("arn:%s:iam::%s:role/cdk-%s-%s-role-%s-%s", partition, account, cdkQualifier, kind, account, region)
	}
	role.AddToPolicy(allow("AssumeCdkBootstrapRoles", []string{"sts:AssumeRole"},
		bootstrapRole("deploy"), bootstrapRole("file-publishing"), bootstrapRole("lookup")))
	role.AddToPolicy(allow("PushWorkerImage", []string{"ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload",
		"ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage"}, *repo.RepositoryArn()))
	// GetAuthorizationToken has no resource-level permissions.
	role.AddToPolicy(allow("EcrLogin", []string{"ecr:GetAuthorizationToken"}, "*"))
	for _, st := range opsTaskStatements(partition, region, account, n) {
		role.AddToPolicy(st)
	}
	suppress(role, "AwsSolutions-IAM5", "ecr:GetAuthorizationToken and ecs:DescribeTaskDefinition have no "+
		"resource-level permissions; the rest are the environment's own stack, cluster and task family, "+
		"whose stack ID, task IDs, revisions and log streams are made at run time",
		`^Resource::\*$`, `^Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/`+n.pipelineStack()+`/\*$`,
		`^Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:(service|task)/`+n.cluster()+`/\*$`,
		`^Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task-definition/`+n.family("ops")+`:\*$`,
		`^Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:`+n.logGroup()+`:log-stream:ops/\*$`)

	awscdk.NewCfnOutput(stack, jsii.String("DeployRoleArn"), &awscdk.CfnOutputProps{Value: role.RoleArn()})
	awscdk.NewCfnOutput(stack, jsii.String("RepositoryUri"), &awscdk.CfnOutputProps{Value: repo.RepositoryUri()})
	return stack
}

// opsTaskStatements let the deploy workflow read the pipeline stack's outputs, find the image
// the service runs (to put it back if the new one fails), and run the one-off operations task
// in the environment's cluster, passing it its two roles; the names are the environment's own
// (names), so the grants reach no other environment.
func opsTaskStatements(partition, region, account string, n names) []awsiam.PolicyStatement {
	arn := func(service, resource string) string {
		return fmt.Sprintf("arn:%s:%s:%s:%s:%s", partition, service, region, account, resource)
	}
	cluster := arn("ecs", "cluster/"+n.cluster())
	runTask := allow("RunOpsTask", []string{"ecs:RunTask"}, arn("ecs", "task-definition/"+n.family("ops")+":*"))
	runTask.AddCondition(jsii.String("ArnEquals"), map[string]any{"ecs:cluster": cluster})
	passRoles := allow("PassOpsTaskRoles", []string{"iam:PassRole"},
		fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, account, n.role("worker-task")),
		fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, account, n.role("worker-execution")))
	passRoles.AddCondition(jsii.String("StringEquals"), map[string]any{"iam:PassedToService": "ecs-tasks.amazonaws.com"})
	return []awsiam.PolicyStatement{
		allow("ReadPipelineOutputs", []string{"cloudformation:DescribeStacks"}, arn("cloudformation", "stack/"+n.pipelineStack()+"/*")),
		allow("FindRunningImage", []string{"ecs:DescribeServices"}, arn("ecs", "service/"+n.cluster()+"/*")),
		// DescribeTaskDefinition has no resource-level permissions.
		allow("ReadTaskDefinitions", []string{"ecs:DescribeTaskDefinition"}, "*"),
		runTask,
		allow("WatchOpsTask", []string{"ecs:DescribeTasks"}, arn("ecs", "task/"+n.cluster()+"/*")),
		// The task's output in the job's log: what the doctor found.
		allow("ReadOpsTaskLogs", []string{"logs:GetLogEvents"}, arn("logs", "log-group:"+n.logGroup()+":log-stream:ops/*")),
		passRoles,
	}
}
