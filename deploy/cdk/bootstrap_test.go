package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cfnActions are the calls CloudFormation makes to create, update, tag, read and delete each
// resource type the stacks hold (their resource handlers' permissions), plus, for every
// stack, the read of the CDK bootstrap's version parameter. The execution policy
// (deploy/bootstrap/cfn-execution-policy.json) grants their union and nothing else.
var cfnActions = map[string][]string{
	"AWS::Athena::WorkGroup":                    {"athena:CreateWorkGroup", "athena:GetWorkGroup", "athena:UpdateWorkGroup", "athena:DeleteWorkGroup", "athena:TagResource", "athena:UntagResource", "athena:ListTagsForResource"},
	"AWS::CloudWatch::Alarm":                    {"cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:ListTagsForResource"},
	"AWS::DynamoDB::Table":                      {"dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:UpdateTable", "dynamodb:DeleteTable", "dynamodb:UpdateTimeToLive", "dynamodb:DescribeTimeToLive", "dynamodb:UpdateContinuousBackups", "dynamodb:DescribeContinuousBackups", "dynamodb:TagResource", "dynamodb:UntagResource", "dynamodb:ListTagsOfResource"},
	"AWS::EC2::FlowLog":                         {"ec2:CreateFlowLogs", "ec2:DeleteFlowLogs", "ec2:DescribeFlowLogs", "ec2:CreateTags", "ec2:DeleteTags", "logs:CreateLogDelivery", "logs:DeleteLogDelivery", "iam:PassRole"},
	"AWS::EC2::InternetGateway":                 {"ec2:CreateInternetGateway", "ec2:DeleteInternetGateway", "ec2:DescribeInternetGateways", "ec2:CreateTags", "ec2:DeleteTags"},
	"AWS::EC2::Route":                           {"ec2:CreateRoute", "ec2:DeleteRoute", "ec2:ReplaceRoute", "ec2:DescribeRouteTables"},
	"AWS::EC2::RouteTable":                      {"ec2:CreateRouteTable", "ec2:DeleteRouteTable", "ec2:DescribeRouteTables", "ec2:CreateTags", "ec2:DeleteTags"},
	"AWS::EC2::SecurityGroup":                   {"ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup", "ec2:DescribeSecurityGroups", "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:CreateTags", "ec2:DeleteTags"},
	"AWS::EC2::Subnet":                          {"ec2:CreateSubnet", "ec2:DeleteSubnet", "ec2:DescribeSubnets", "ec2:ModifySubnetAttribute", "ec2:CreateTags", "ec2:DeleteTags"},
	"AWS::EC2::SubnetRouteTableAssociation":     {"ec2:AssociateRouteTable", "ec2:DisassociateRouteTable", "ec2:DescribeRouteTables"},
	"AWS::EC2::VPC":                             {"ec2:CreateVpc", "ec2:DeleteVpc", "ec2:DescribeVpcs", "ec2:ModifyVpcAttribute", "ec2:DescribeVpcAttribute", "ec2:CreateTags", "ec2:DeleteTags"},
	"AWS::EC2::VPCEndpoint":                     {"ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints", "ec2:DescribeVpcEndpoints", "ec2:ModifyVpcEndpoint", "ec2:DescribeRouteTables", "ec2:CreateTags", "ec2:DeleteTags"},
	"AWS::EC2::VPCGatewayAttachment":            {"ec2:AttachInternetGateway", "ec2:DetachInternetGateway", "ec2:DescribeInternetGateways"},
	"AWS::EC2::SecurityGroupEgress":             {"ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress", "ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules"},
	"AWS::EC2::SecurityGroupIngress":            {"ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules"},
	"AWS::ECR::Repository":                      {"ecr:CreateRepository", "ecr:DeleteRepository", "ecr:DescribeRepositories", "ecr:PutLifecyclePolicy", "ecr:GetLifecyclePolicy", "ecr:DeleteLifecyclePolicy", "ecr:PutImageScanningConfiguration", "ecr:PutImageTagMutability", "ecr:TagResource", "ecr:UntagResource", "ecr:ListTagsForResource"},
	"AWS::ECS::Cluster":                         {"ecs:CreateCluster", "ecs:DeleteCluster", "ecs:DescribeClusters", "ecs:UpdateCluster", "ecs:UpdateClusterSettings", "ecs:TagResource", "ecs:UntagResource", "ecs:ListTagsForResource", "iam:CreateServiceLinkedRole"},
	"AWS::ECS::Service":                         {"ecs:CreateService", "ecs:UpdateService", "ecs:DeleteService", "ecs:DescribeServices", "ecs:TagResource", "ecs:UntagResource", "ecs:ListTagsForResource"},
	"AWS::ECS::TaskDefinition":                  {"ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:TagResource", "ecs:UntagResource", "ecs:ListTagsForResource", "iam:PassRole"},
	"AWS::ElasticLoadBalancingV2::LoadBalancer": {"elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes", "elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets", "elasticloadbalancing:SetIpAddressType", "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags", "elasticloadbalancing:DescribeTags", "iam:CreateServiceLinkedRole"},
	// The listener's client secret is a dynamic reference, which CloudFormation resolves with the execution role.
	"AWS::ElasticLoadBalancingV2::Listener":    {"elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener", "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:ModifyListener", "elasticloadbalancing:DescribeListenerAttributes", "elasticloadbalancing:ModifyListenerAttributes", "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags", "elasticloadbalancing:DescribeTags", "secretsmanager:GetSecretValue"},
	"AWS::ElasticLoadBalancingV2::TargetGroup": {"elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:DeleteTargetGroup", "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroupAttributes", "elasticloadbalancing:ModifyTargetGroup", "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags", "elasticloadbalancing:DescribeTags"},
	"AWS::Glue::Database":                      {"glue:CreateDatabase", "glue:GetDatabase", "glue:UpdateDatabase", "glue:DeleteDatabase"},
	"AWS::IAM::OIDCProvider":                   {"iam:CreateOpenIDConnectProvider", "iam:GetOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint", "iam:AddClientIDToOpenIDConnectProvider", "iam:RemoveClientIDFromOpenIDConnectProvider", "iam:TagOpenIDConnectProvider", "iam:UntagOpenIDConnectProvider"},
	"AWS::IAM::Policy":                         {"iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"},
	"AWS::IAM::Role":                           {"iam:CreateRole", "iam:GetRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"},
	"AWS::KMS::Key":                            {"kms:CreateKey", "kms:DescribeKey", "kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:EnableKeyRotation", "kms:GetKeyRotationStatus", "kms:UpdateKeyDescription", "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource", "kms:ListResourceTags", "kms:CreateGrant"},
	"AWS::Logs::LogGroup":                      {"logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:DescribeLogGroups", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy", "logs:TagResource", "logs:UntagResource", "logs:ListTagsForResource"},
	"AWS::Logs::MetricFilter":                  {"logs:PutMetricFilter", "logs:DeleteMetricFilter", "logs:DescribeMetricFilters"},
	"AWS::S3::Bucket":                          {"s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:GetBucketLocation", "s3:PutBucketTagging", "s3:GetBucketTagging", "s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration", "s3:PutBucketVersioning", "s3:GetBucketVersioning", "s3:PutLifecycleConfiguration", "s3:GetLifecycleConfiguration", "s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock", "s3:PutBucketOwnershipControls", "s3:GetBucketOwnershipControls", "s3:PutBucketObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration"},
	"AWS::S3::BucketPolicy":                    {"s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"},
	"AWS::SNS::Subscription":                   {"sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes"},
	"AWS::SNS::Topic":                          {"sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:ListSubscriptionsByTopic", "sns:TagResource", "sns:UntagResource", "sns:ListTagsForResource"},
	"AWS::SNS::TopicPolicy":                    {"sns:SetTopicAttributes", "sns:GetTopicAttributes"},
}

var bootstrapVersionRead = []string{"ssm:GetParameters"}

// The CloudFormation execution policies that cdk bootstrap gives CloudFormation instead of
// AdministratorAccess (deploy/bootstrap/cfn-execution-policy*.json: the pipeline's, and the
// dashboard's, each a managed policy of its own) cover every resource type of both stacks, in
// every variant (kms, an alert email, the OIDC provider created), and grant no action no type
// needs. A new resource type fails here until cfnActions and a policy name its actions.
func TestExecutionPolicyCoversEveryResourceType(t *testing.T) {
	files, err := filepath.Glob("../bootstrap/cfn-execution-policy*.json")
	require.NoError(t, err)
	require.Len(t, files, 2)
	granted := map[string]bool{}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		require.NoError(t, err)
		var compact bytes.Buffer
		require.NoError(t, json.Compact(&compact, raw))
		assert.LessOrEqual(t, compact.Len(), 6144, "%s: a managed policy holds at most 6,144 characters without whitespace", file)
		var policy struct {
			Statement []struct {
				Effect string
				Action []string
			}
		}
		require.NoError(t, json.Unmarshal(raw, &policy))
		for _, st := range policy.Statement {
			require.Equal(t, "Allow", st.Effect)
			for _, a := range st.Action {
				granted[a] = true
			}
		}
	}

	needed := map[string]bool{}
	for _, a := range bootstrapVersionRead {
		needed[a] = true
	}
	for _, context := range []map[string]any{{}, {"kms": "true", "alertEmail": "data@example.com", "bronzeLockDays": "30"}, {"dashboard": "false"}} {
		pipeline, ci := synth(t, context)
		for _, tpl := range []*template{pipeline, ci} {
			for id, r := range tpl.json.Resources {
				actions, ok := cfnActions[r.Type]
				if !assert.True(t, ok, "%s %s: a resource type the execution policy does not know; add its actions to cfnActions and the policy", tpl.stackName, id) {
					continue
				}
				for _, a := range actions {
					needed[a] = true
					assert.True(t, granted[a], "%s (%s) needs %s", id, r.Type, a)
				}
			}
		}
	}
	extra := slices.Sorted(maps.Keys(granted))
	extra = slices.DeleteFunc(extra, func(a string) bool { return needed[a] })
	assert.Empty(t, extra, "the policy grants actions no resource of the stacks needs")
}
