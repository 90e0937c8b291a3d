package main

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/stretchr/testify/require"
)

// cdk-nag's AwsSolutions pack finds nothing it calls an error in either stack, with or without
// the KMS key, that the stack does not suppress with its reason (nagSuppressions).
func TestAwsSolutionsChecks(t *testing.T) {
	for _, context := range []map[string]any{{}, {"kms": "true", "alertEmail": "data@example.com"}, {"dashboard": "false"}} {
		t.Run(fmt.Sprint(context), func(t *testing.T) {
			context := withDashboard(context)
			app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir()), Context: &context})
			awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
			require.NoError(t, build(app))
			n := names{"prod"}
			for _, name := range []string{n.pipelineStack(), n.ciStack()} {
				stack := app.Node().FindChild(jsii.String(name)).(awscdk.Stack)
				noNagErrors(t, stack)
			}
		})
	}
}

// noNagErrors fails the test with every AwsSolutions error of the stack (jsii reports a failed
// assertion as a panic that lists them).
func noNagErrors(t *testing.T, stack awscdk.Stack) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", *stack.StackName(), r)
		}
	}()
	assertions.Annotations_FromStack(stack).HasNoError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
}
