// Command cdk is the wistia-pipeline's AWS deployment: `go run ./deploy/cdk` (or `cdk synth`
// in this directory) writes the CloudFormation templates to deploy/cdk/cdk.out. See
// deploy/README.md for the parameters and the steps from an empty account.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// Stack names; the CI stack is deployed once by an administrator, the pipeline by CI.
const (
	ciStackName       = "WistiaPipelineCI"
	pipelineStackName = "WistiaPipeline"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir())})
	if err := build(app); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	app.Synth(nil)
}

// build adds both stacks to app, or names every bad parameter.
func build(app awscdk.App) error {
	s := resolveParams(app)
	props := &awscdk.StackProps{Env: env(), Tags: &map[string]*string{"project": jsii.String("wistia-pipeline")}}
	NewCIStack(app, ciStackName, props, s)
	NewPipelineStack(app, pipelineStackName, props, s)
	return s.err()
}

// env pins the stacks to the account and region the cdk CLI resolved; without them (a plain
// go run) the templates are environment-agnostic.
func env() *awscdk.Environment {
	account, region := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION")
	if account == "" || region == "" {
		return nil
	}
	return &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
}

// outdir is the cdk CLI's choice when it runs the app, else cdk.out beside this app's cdk.json,
// whether go run is started here or at the repository's root.
func outdir() string {
	if dir := os.Getenv("CDK_OUTDIR"); dir != "" {
		return dir
	}
	if _, err := os.Stat(filepath.Join("deploy", "cdk", "cdk.json")); err == nil {
		return filepath.Join("deploy", "cdk", "cdk.out")
	}
	return "cdk.out"
}
