#!/usr/bin/env bash
# Deploys one environment's pipeline stack with an image tag, then proves it with one-off tasks
# (run-ops-task.sh): `starter schedule apply` with the stack's ScheduleApplyCommand, then
# `starter doctor`. If either fails, it redeploys the image tag the service ran before and
# exits 1. .github/workflows/deploy.yml runs it once per environment; deploy parameters come
# from DEPLOY_* variables (deploy/README.md).
#
#   deploy/deploy-env.sh ENV IMAGE_TAG APPROVAL
#
# APPROVAL is cdk's --require-approval: "broadening" stops a deploy that widens IAM or
# security-group access (no terminal to confirm on), "never" does not.
set -euo pipefail

if [ $# -ne 3 ]; then
	echo "usage: $0 ENV IMAGE_TAG never|broadening|any-change" >&2
	exit 2
fi
env=$1
tag=$2
approval=$3
stack=WistiaPipeline-$env
here=$(cd "$(dirname "$0")" && pwd)

cdk_deploy() {
	(cd "$here/cdk" && npx --yes "aws-cdk@${CDK_VERSION:?pin the CDK CLI}" deploy "$stack" \
		--require-approval "$approval" -c "env=$env" -c "imageTag=$1")
}

# The tag of the image the service runs now, if the stack exists: what a failed deploy puts back.
previous=""
if cluster=$(aws cloudformation describe-stacks --stack-name "$stack" \
	--query "Stacks[0].Outputs[?OutputKey=='ClusterName'].OutputValue" --output text 2>/dev/null); then
	service=$(aws cloudformation describe-stacks --stack-name "$stack" \
		--query "Stacks[0].Outputs[?OutputKey=='WorkerServiceName'].OutputValue" --output text)
	definition=$(aws ecs describe-services --cluster "$cluster" --services "$service" \
		--query 'services[0].taskDefinition' --output text)
	image=$(aws ecs describe-task-definition --task-definition "$definition" \
		--query 'taskDefinition.containerDefinitions[0].image' --output text)
	previous=${image##*:}
fi
echo "previous image tag: ${previous:-none (first deploy)}"

# A failed deploy is rolled back by CloudFormation (and the service's circuit breaker).
cdk_deploy "$tag"

apply=$(aws cloudformation describe-stacks --stack-name "$stack" \
	--query "Stacks[0].Outputs[?OutputKey=='ScheduleApplyCommand'].OutputValue" --output text)
if "$here/run-ops-task.sh" "$stack" "$apply" && "$here/run-ops-task.sh" "$stack" '["doctor"]'; then
	exit 0
fi

if [ -n "$previous" ] && [ "$previous" != "$tag" ]; then
	echo "::error::$env failed its checks after the deploy of $tag; putting back $previous"
	cdk_deploy "$previous"
else
	echo "::error::$env failed its checks after the deploy of $tag, and there is no earlier image to put back"
fi
exit 1
