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

// NewCIStack is what GitHub Actions deploys with, created once by an administrator: the image
// repository, the GitHub OIDC provider, and a role that only this repository's main branch can
// assume. The role may push images to the repository and assume the CDK bootstrap roles that
// `cdk deploy` uses; it holds no other permission itself.
func NewCIStack(scope constructs.Construct, id string, props *awscdk.StackProps, s *settings) awscdk.Stack {
	stack := awscdk.NewStack(scope, &id, props)
	partition, account := *stack.Partition(), *stack.Account()

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
		Description: jsii.String("GitHub Actions deploys of " + repoName + " from main"),
		AssumedBy: awsiam.NewWebIdentityPrincipal(providerARN, &map[string]any{
			"StringEquals": map[string]any{
				githubOIDC + ":aud": "sts.amazonaws.com",
				githubOIDC + ":sub": "repo:" + repoName + ":ref:refs/heads/main",
			},
		}),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
	})
	role.AddToPolicy(allow("AssumeCdkBootstrapRoles", []string{"sts:AssumeRole"},
		fmt.Sprintf("arn:%s:iam::%s:role/cdk-hnb659fds-*", partition, account)))
	role.AddToPolicy(allow("PushWorkerImage", []string{"ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload",
		"ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage"}, *repo.RepositoryArn()))
	// GetAuthorizationToken has no resource-level permissions.
	role.AddToPolicy(allow("EcrLogin", []string{"ecr:GetAuthorizationToken"}, "*"))

	awscdk.NewCfnOutput(stack, jsii.String("DeployRoleArn"), &awscdk.CfnOutputProps{Value: role.RoleArn()})
	awscdk.NewCfnOutput(stack, jsii.String("RepositoryUri"), &awscdk.CfnOutputProps{Value: repo.RepositoryUri()})
	return stack
}
