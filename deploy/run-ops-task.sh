#!/usr/bin/env bash
# Runs one command of the operator CLI (starter) as a one-off ECS task of an environment's
# pipeline stack: the operations task definition, under the worker's task role, with the
# worker's environment and secrets. Prints the task's log, waits for it to stop and exits 0
# only if its container exited 0. deploy-env.sh runs `schedule apply` and `doctor` with it after
# each deploy; by hand, with credentials of the environment's deploy role or an administrator:
#
#   deploy/run-ops-task.sh WistiaPipeline-staging '["doctor","--send-test-alert"]'
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 STACK COMMAND_JSON   (e.g. $0 WistiaPipeline-prod '[\"doctor\"]')" >&2
	exit 2
fi
stack=$1
command=$2

outputs=$(aws cloudformation describe-stacks --stack-name "$stack" --query 'Stacks[0].Outputs' --output json)
output() { jq -er --arg key "$1" '.[] | select(.OutputKey == $key) | .OutputValue' <<<"$outputs"; }
cluster=$(output ClusterName)
task_definition=$(output OpsTaskDefinitionArn)
container=$(output OpsContainerName)
log_group=$(output WorkerLogGroupName)
network=$(jq -cn --arg subnets "$(output OpsSubnets)" --arg sg "$(output OpsSecurityGroup)" \
	'{awsvpcConfiguration: {subnets: ($subnets | split(",")), securityGroups: [$sg], assignPublicIp: "ENABLED"}}')
overrides=$(jq -cn --arg name "$container" --argjson command "$command" \
	'{containerOverrides: [{name: $name, command: $command}]}')

echo "running $command in $cluster ($task_definition)"
run=$(aws ecs run-task --cluster "$cluster" --task-definition "$task_definition" --launch-type FARGATE \
	--network-configuration "$network" --overrides "$overrides" --started-by deploy --output json)
task=$(jq -r '.tasks[0].taskArn // empty' <<<"$run")
if [ -z "$task" ]; then
	echo "::error::the task did not start: $(jq -c '.failures' <<<"$run")" >&2
	exit 1
fi

# The waiter gives up after 10 minutes; a task still running then is waited for once more.
aws ecs wait tasks-stopped --cluster "$cluster" --tasks "$task" ||
	aws ecs wait tasks-stopped --cluster "$cluster" --tasks "$task"

aws logs get-log-events --log-group-name "$log_group" --log-stream-name "ops/$container/${task##*/}" \
	--start-from-head --query 'events[].message' --output text 2>/dev/null | tr '\t' '\n' || true

described=$(aws ecs describe-tasks --cluster "$cluster" --tasks "$task" --output json)
code=$(jq -r --arg name "$container" '.tasks[0].containers[] | select(.name == $name) | .exitCode // "none"' <<<"$described")
if [ "$code" != 0 ]; then
	echo "::error::$command exited $code: $(jq -r '.tasks[0].stoppedReason' <<<"$described")" >&2
	exit 1
fi
echo "$command: ok"
