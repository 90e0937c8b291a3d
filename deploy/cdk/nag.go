package main

import (
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// suppress records that construct (and its children: a role's default policy) keeps a finding
// of cdk-nag's AwsSolutions rule on purpose, and why. appliesTo narrows a granular rule
// (AwsSolutions-IAM5) to the findings named, as regular expressions over cdk-nag's
// "Resource::..." and "Action::..." strings; TestAwsSolutionsChecks fails on any other.
func suppress(construct constructs.IConstruct, rule, reason string, appliesTo ...string) {
	s := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		var to []any
		for _, re := range appliesTo {
			to = append(to, &cdknag.RegexAppliesTo{Regex: jsii.String("/" + re + "/")})
		}
		s.AppliesTo = &to
	}
	cdknag.NagSuppressions_AddResourceSuppressions(construct, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(true))
}
