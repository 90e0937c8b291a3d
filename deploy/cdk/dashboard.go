package main

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elb "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"

	"github.com/marketing-data/wistia-pipeline/internal/dashboard"
)

// dashboardPort is where the dashboard's container listens; only the load balancer reaches it.
const dashboardPort = 8080

// dashboardContainer is the dashboard task's container.
const dashboardContainer = "dashboard"

// dashboardSettings are the dashboard's deploy parameters, checked.
type dashboardSettings struct {
	domain, certificateARN                    string
	issuer, authorize, token, userInfo        string
	clientID, clientSecret, allowedDomainList string
}

var (
	certificateARN = regexp.MustCompile(`^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$`)
	hostName       = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)
)

// dashboardOf reads the dashboard's parameters, naming each one missing or malformed. The
// sign-in has no default: a dashboard deployed without it would serve the company's numbers
// to anyone who found its address.
func dashboardOf(s *settings) dashboardSettings {
	d := dashboardSettings{
		domain: s.str("dashboardDomain"), certificateARN: s.str("dashboardCertificateArn"),
		issuer: s.str("dashboardOidcIssuer"), authorize: s.str("dashboardOidcAuthorizationEndpoint"),
		token: s.str("dashboardOidcTokenEndpoint"), userInfo: s.str("dashboardOidcUserInfoEndpoint"),
		clientID: s.str("dashboardOidcClientId"), clientSecret: s.str("dashboardOidcClientSecret"),
		allowedDomainList: strings.ToLower(strings.ReplaceAll(s.str("dashboardAllowedDomains"), " ", "")),
	}
	bad := func(key, value, want string) {
		if value == "" {
			s.errs = append(s.errs, fmt.Sprintf("%s: required while dashboard=true (%s; deploy/RUNBOOK.md, \"The dashboard\"), or set dashboard=false", key, want))
			return
		}
		s.errs = append(s.errs, fmt.Sprintf("%s=%q: want %s", key, value, want))
	}
	if !hostName.MatchString(d.domain) {
		bad("dashboardDomain", d.domain, "a host name such as dashboard.example.com")
	}
	if !certificateARN.MatchString(d.certificateARN) {
		bad("dashboardCertificateArn", d.certificateARN, "an ACM certificate's ARN (arn:aws:acm:<region>:<account>:certificate/<id>)")
	}
	for key, value := range map[string]string{"dashboardOidcIssuer": d.issuer, "dashboardOidcAuthorizationEndpoint": d.authorize,
		"dashboardOidcTokenEndpoint": d.token, "dashboardOidcUserInfoEndpoint": d.userInfo} {
		if u, err := url.Parse(value); err != nil || u.Scheme != "https" || u.Host == "" {
			bad(key, value, "an https:// URL from the identity provider's /.well-known/openid-configuration")
		}
	}
	if d.clientID == "" {
		bad("dashboardOidcClientId", d.clientID, "the client ID the identity provider gave the dashboard")
	}
	if d.clientSecret == "" {
		bad("dashboardOidcClientSecret", d.clientSecret, "the name of the Secrets Manager secret holding the client secret")
	}
	domains := strings.Split(d.allowedDomainList, ",")
	for _, domain := range domains {
		if !hostName.MatchString(domain) {
			bad("dashboardAllowedDomains", d.allowedDomainList, "email domains, comma-separated (example.com,example.org)")
			break
		}
	}
	return d
}

// dashboardEnv is what the dashboard reads of the lake: the worker's catalog and warehouse.
type dashboardEnv struct {
	warehouse                                awss3.Bucket
	warehouseURL, silver, gold, zone, region string
	key                                      awskms.Key
}

// newDashboard runs `starter dashboard` from the worker's image as a service of its own, behind
// an internet-facing load balancer that answers HTTPS only (HTTP redirects) and signs every
// request in through the company's OIDC provider before forwarding it. The dashboard checks the
// load balancer's signature on each request itself (DASHBOARD_ALB_ARN), so a request that
// reaches the task any other way gets 401; the target group's health check is the one path it
// serves without sign-in. The task reads the gold tables through Glue, and nothing else.
func newDashboard(stack awscdk.Stack, s *settings, n names, w workers, env dashboardEnv) {
	d := dashboardOf(s)

	taskRole := ecsRole(stack, "DashboardTaskRole", n.role("dashboard-task"),
		"wistia-pipeline dashboard: reads the gold tables through Glue; no bronze, no DynamoDB, no writes")
	for _, st := range dashboardStatements(*stack.Partition(), *stack.Region(), *stack.Account(), env) {
		taskRole.AddToPolicy(st)
	}
	suppress(taskRole, "AwsSolutions-IAM5", "Iceberg names its metadata and data files at run time; reads only, under "+
		"the warehouse's prefix and of the gold database's tables", `^Resource::<Warehouse[0-9A-F]{8}\.Arn>/warehouse/\*$`,
		`^Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/`+env.gold+`/\*$`)
	executionRole := ecsRole(stack, "DashboardExecutionRole", n.role("dashboard-execution"),
		"ECS starting the wistia-pipeline dashboard: pull the image, write the logs; no secrets")
	logs := retainedLogs(stack, "DashboardLogs", n.dashboardLogGroup(), s.num("logRetentionDays", 1))

	memory := s.num("dashboardMemoryMib", 512)
	task := fargateTask(stack, "Dashboard", n.family("dashboard"), s.num("dashboardCpu", 256), memory, taskRole, executionRole)
	alb := elb.NewApplicationLoadBalancer(stack, jsii.String("DashboardLoadBalancer"), &elb.ApplicationLoadBalancerProps{
		Vpc:            w.vpc,
		InternetFacing: jsii.Bool(true),
		VpcSubnets:     &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC},
		// A header the load balancer cannot parse never reaches the task.
		DropInvalidHeaderFields: jsii.Bool(true),
	})
	task.AddContainer(jsii.String(dashboardContainer), &awsecs.ContainerDefinitionOptions{
		Image:        w.image,
		Logging:      awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{LogGroup: logs, StreamPrefix: jsii.String("dashboard")}),
		EntryPoint:   jsii.Strings("/usr/local/bin/starter"),
		Command:      jsii.Strings("dashboard", "--addr", fmt.Sprintf("0.0.0.0:%d", dashboardPort)),
		PortMappings: &[]*awsecs.PortMapping{{ContainerPort: jsii.Number(dashboardPort)}},
		Environment: &map[string]*string{
			"AWS_REGION":               jsii.String(env.region),
			"ICEBERG_CATALOG":          jsii.String("glue"),
			"ICEBERG_WAREHOUSE":        jsii.String(env.warehouseURL),
			"ICEBERG_SILVER_NAMESPACE": jsii.String(env.silver),
			"ICEBERG_GOLD_NAMESPACE":   jsii.String(env.gold),
			"WISTIA_STATS_TIMEZONE":    jsii.String(env.zone),
			// Sign-in: only what this load balancer signed, for these domains.
			"DASHBOARD_ALB_ARN":         alb.LoadBalancerArn(),
			"DASHBOARD_ALLOWED_DOMAINS": jsii.String(d.allowedDomainList),
			"DATA_DIR":                  jsii.String("/tmp/wistia"),
			"LOG_LEVEL":                 jsii.String("info"),
			"GOMEMLIMIT":                jsii.String(fmt.Sprintf("%dMiB", int(memory)*9/10)),
		},
	})
	suppress(executionRole, "AwsSolutions-IAM5", "ecr:GetAuthorizationToken has no resource-level permissions; "+
		"the image pull itself is granted on the one repository", `^Resource::\*$`)
	suppress(task, "AwsSolutions-ECS2", "the plain environment holds names, URLs and the allowed domains; the "+
		"dashboard has no secret, and a stack test fails on a secret-like name in an environment")

	sg := awsec2.NewSecurityGroup(stack, jsii.String("DashboardSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc: w.vpc, AllowAllOutbound: jsii.Bool(true),
		Description: jsii.String("wistia-pipeline dashboard: in from its load balancer only; out to Glue and S3"),
	})
	// In the public subnets as the workers are: Glue has no gateway endpoint, and no NAT gateway is paid for.
	service := publicService(stack, "DashboardService", w.cluster, task, 1, sg)
	targets := elb.NewApplicationTargetGroup(stack, jsii.String("DashboardTargets"), &elb.ApplicationTargetGroupProps{
		Vpc:        w.vpc,
		Port:       jsii.Number(dashboardPort),
		Protocol:   elb.ApplicationProtocol_HTTP,
		TargetType: elb.TargetType_IP,
		HealthCheck: &elb.HealthCheck{
			Path:             jsii.String(dashboard.HealthPath),
			HealthyHttpCodes: jsii.String("200"),
		},
		DeregistrationDelay: awscdk.Duration_Seconds(jsii.Number(30)),
		Targets:             &[]elb.IApplicationLoadBalancerTarget{service},
	})

	alb.AddListener(jsii.String("Https"), &elb.BaseApplicationListenerProps{
		Port:         jsii.Number(443),
		Protocol:     elb.ApplicationProtocol_HTTPS,
		Certificates: &[]elb.IListenerCertificate{elb.ListenerCertificate_FromArn(jsii.String(d.certificateARN))},
		SslPolicy:    elb.SslPolicy_RECOMMENDED_TLS,
		Open:         jsii.Bool(true),
		DefaultAction: elb.ListenerAction_AuthenticateOidc(&elb.AuthenticateOidcOptions{
			Issuer:                jsii.String(d.issuer),
			AuthorizationEndpoint: jsii.String(d.authorize),
			TokenEndpoint:         jsii.String(d.token),
			UserInfoEndpoint:      jsii.String(d.userInfo),
			ClientId:              jsii.String(d.clientID),
			// A dynamic reference: CloudFormation reads the secret at deploy time; the template
			// holds only its name.
			ClientSecret:             awscdk.SecretValue_SecretsManager(jsii.String(d.clientSecret), nil),
			Scope:                    jsii.String("openid email"),
			OnUnauthenticatedRequest: elb.UnauthenticatedAction_AUTHENTICATE,
			SessionTimeout:           awscdk.Duration_Hours(jsii.Number(12)),
			Next:                     elb.ListenerAction_Forward(&[]elb.IApplicationTargetGroup{targets}, nil),
		}),
	})
	alb.AddRedirect(&elb.ApplicationLoadBalancerRedirectConfig{
		SourcePort: jsii.Number(80), SourceProtocol: elb.ApplicationProtocol_HTTP,
		TargetPort: jsii.Number(443), TargetProtocol: elb.ApplicationProtocol_HTTPS,
	})
	suppress(alb, "AwsSolutions-ELB2", "no access logs: the load balancer signs everyone in before forwarding, and the "+
		"dashboard logs each refused request with its reason; access logs would need a bucket of their own for a "+
		"few dozen readers a day")
	suppress(alb, "AwsSolutions-EC23", "internet-facing on 443 (and 80, which only redirects) is the point: the "+
		"marketing team opens it from anywhere, and the identity provider signs them in first")

	// The doctor after each deploy (the operations task) proves the load balancer signs people
	// in; the worker gets the same, so the two environments stay one.
	for _, td := range []awsecs.FargateTaskDefinition{w.task, w.ops} {
		c := td.DefaultContainer()
		c.AddEnvironment(jsii.String("DASHBOARD_URL"), jsii.String("https://"+d.domain+"/"))
		c.AddEnvironment(jsii.String("DASHBOARD_LOAD_BALANCER"), alb.LoadBalancerDnsName())
		c.AddEnvironment(jsii.String("DASHBOARD_OIDC_AUTHORIZATION_ENDPOINT"), jsii.String(d.authorize))
	}

	for name, value := range map[string]*string{
		"DashboardUrl":                 jsii.String("https://" + d.domain + "/"),
		"DashboardLoadBalancerDnsName": alb.LoadBalancerDnsName(),
		// The redirect URI to register at the identity provider for the client.
		"DashboardOidcRedirectUri": jsii.String("https://" + d.domain + "/oauth2/idpresponse"),
		"DashboardServiceName":     service.ServiceName(),
		"DashboardLogGroupName":    logs.LogGroupName(),
	} {
		awscdk.NewCfnOutput(stack, jsii.String(name), &awscdk.CfnOutputProps{Value: value})
	}
}

// dashboardStatements grant the dashboard what reading gold takes and no more: the warehouse's
// objects (listing too, so a missing file is 404, not 403) and the gold database's tables in
// Glue. No bronze, no DynamoDB, no silver, no write.
func dashboardStatements(partition, region, account string, env dashboardEnv) []awsiam.PolicyStatement {
	glue := func(resource string) string {
		return fmt.Sprintf("arn:%s:glue:%s:%s:%s", partition, region, account, resource)
	}
	statements := []awsiam.PolicyStatement{
		allow("WarehouseRead", []string{"s3:GetObject"}, *env.warehouse.ArnForObjects(jsii.String(warehousePrefix + "/*"))),
		allow("WarehouseList", []string{"s3:ListBucket"}, *env.warehouse.BucketArn()),
		allow("GoldCatalogRead", []string{"glue:GetDatabase", "glue:GetTable", "glue:GetTables"},
			glue("catalog"), glue("database/"+env.gold), glue("table/"+env.gold+"/*")),
	}
	if env.key != nil {
		statements = append(statements, allow("LakeKeyDecrypt", []string{"kms:Decrypt", "kms:DescribeKey"}, *env.key.KeyArn()))
	}
	return statements
}
