// Command cdk is the wistia-pipeline's AWS deployment: `go run ./deploy/cdk` (or `cdk synth`
// in this directory) writes the CloudFormation templates to deploy/cdk/cdk.out. See
// deploy/README.md for the parameters and the steps from an empty account.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	defer jsii.Close()
	context, err := contextArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir()), Context: &context})
	if err := build(app); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	app.Synth(nil)
}

// build adds both stacks of the environment (-c env=NAME) to app, or names every bad parameter.
func build(app awscdk.App) error {
	s := resolveParams(app)
	n := names{s.str("env")}
	props := &awscdk.StackProps{Env: env(), Tags: &map[string]*string{"project": jsii.String("wistia-pipeline"), "environment": jsii.String(n.env)}}
	NewCIStack(app, n.ciStack(), props, s, n)
	NewPipelineStack(app, n.pipelineStack(), props, s, n)
	return s.err()
}

// contextArgs reads the cdk CLI's context arguments (-c key=value, --context key=value) from
// the command line, so that `go run ./deploy/cdk -c env=staging` synthesizes what
// `cdk synth -c env=staging` does. (The cdk CLI itself passes context in CDK_CONTEXT_JSON.)
func contextArgs(args []string) (map[string]any, error) {
	context := map[string]any{}
	for i := 0; i < len(args); i++ {
		if args[i] != "-c" && args[i] != "--context" || i+1 == len(args) {
			return nil, fmt.Errorf("usage: go run ./deploy/cdk [-c key=value]...; got %q", args[i])
		}
		i++
		key, value, ok := strings.Cut(args[i], "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("-c %q: want key=value", args[i])
		}
		context[key] = value
	}
	return context, nil
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
