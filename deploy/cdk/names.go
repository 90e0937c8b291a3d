package main

import "strings"

// names are the physical names of one environment's resources, each derived from the
// environment's name here and nowhere else, so that two environments (staging and prod) can
// live in one account and one Temporal namespace with no name in common. A test synthesizes
// both and compares every name.
type names struct{ env string }

// Stack names; the CI stack is deployed once per environment by an administrator, the
// pipeline stack by the deploy workflow.
func (n names) ciStack() string       { return "WistiaPipelineCI-" + n.env }
func (n names) pipelineStack() string { return "WistiaPipeline-" + n.env }

// prefix starts the names of the resources the stack names itself: the cluster, task
// definition families, roles, alarms, the log group.
func (n names) prefix() string { return "wistia-pipeline-" + n.env }

// glueDatabase is a Glue database of the environment: Glue names take underscores, not hyphens.
func (n names) glueDatabase(base string) string {
	return base + "_" + strings.ReplaceAll(n.env, "-", "_")
}

func (n names) workgroup() string { return "wistia-" + n.env }
func (n names) logGroup() string  { return "/wistia-pipeline/" + n.env + "/worker" }
func (n names) dashboardLogGroup() string {
	return "/wistia-pipeline/" + n.env + "/dashboard"
}
func (n names) taskQueue() string       { return n.prefix() }
func (n names) scheduleID() string      { return "wistia-daily-" + n.env }
func (n names) metricNamespace() string { return "WistiaPipeline/" + n.env }
func (n names) cluster() string         { return n.prefix() }
func (n names) family(kind string) string {
	return n.prefix() + "-" + kind
}
func (n names) role(kind string) string { return n.prefix() + "-" + kind }

// alarm ends with the alert rule's name (deploy/observability/alerts.yml), so an alarm in
// CloudWatch and a rule in Prometheus read the same.
func (n names) alarm(rule string) string { return n.prefix() + "-" + rule }

// githubSubject is the OIDC subject of a job of repo that runs in the GitHub environment of
// the same name: each environment's deploy role trusts only its own.
func (n names) githubSubject(repo string) string {
	return "repo:" + repo + ":environment:" + n.env
}
