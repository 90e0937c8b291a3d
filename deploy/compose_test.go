// Package deploy_test checks docker-compose.yml, the Dockerfile and .dockerignore.
package deploy_test

import (
	"bufio"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/marketing-data/wistia-pipeline/internal/app"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// Docker does not run here, so docker-compose.yml, the Dockerfile and .dockerignore are checked
// statically: against the worker's settings, and against what each image runs as and carries
// (knownImages, read from the images' sources).

const (
	composePath      = "../docker-compose.yml"
	dockerfilePath   = "../Dockerfile"
	dockerignorePath = "../.dockerignore"
	healthy          = "service_healthy"
	completed        = "service_completed_successfully"
)

// composeFile is the part of docker-compose.yml the tests read. Entrypoints, commands and
// health check tests are lists (exec form), and depends_on is in its long form, with conditions.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string                       `yaml:"image"`
	Build       any                          `yaml:"build"`
	User        string                       `yaml:"user"`
	Entrypoint  []string                     `yaml:"entrypoint"`
	Command     []string                     `yaml:"command"`
	Environment map[string]string            `yaml:"environment"`
	Ports       []string                     `yaml:"ports"`
	Volumes     []string                     `yaml:"volumes"`
	DependsOn   map[string]composeDependency `yaml:"depends_on"`
	Healthcheck struct {
		Test    []string `yaml:"test"`
		Disable bool     `yaml:"disable"`
	} `yaml:"healthcheck"`
	Restart string `yaml:"restart"`
}

type composeDependency struct {
	Condition string `yaml:"condition"`
}

func loadCompose(t *testing.T) (composeFile, string) {
	t.Helper()
	raw, err := os.ReadFile(composePath)
	require.NoError(t, err)
	var c composeFile
	require.NoError(t, yaml.Unmarshal(raw, &c),
		"docker-compose.yml: entrypoint, command and healthcheck.test as lists, depends_on with conditions")
	return c, string(raw)
}

// script is what a service runs, entrypoint then command, as one text.
func (s composeService) script() string {
	return strings.Join(append(slices.Clone(s.Entrypoint), s.Command...), " ")
}

// containerPorts are the ports a service publishes, on its side.
func (s composeService) containerPorts() []string {
	var ports []string
	for _, p := range s.Ports {
		ports = append(ports, p[strings.LastIndex(p, ":")+1:])
	}
	return ports
}

// mounts maps each named volume a service mounts read-write to where it mounts it.
func (s composeService) mounts(c composeFile) map[string]string {
	m := map[string]string{}
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if _, named := c.Volumes[parts[0]]; named && len(parts) >= 2 && !(len(parts) == 3 && strings.Contains(parts[2], "ro")) {
			m[parts[0]] = parts[1]
		}
	}
	return m
}

// imageFacts is what an image runs as and which programs it carries.
type imageFacts struct {
	uid      int
	programs []string
}

// knownImages is, for each image of docker-compose.yml (by name, without the tag), the user it
// runs as and the programs a health check or a script may call, each read where its comment says.
// An image that is not here fails the tests: look it up and add it.
var knownImages = map[string]imageFacts{
	// github.com/temporalio/cli, Dockerfile at v1.5.1 (and main since): FROM alpine,
	// `adduser -u 1000 -D temporal`, USER temporal, ENTRYPOINT ["temporal"]; busybox gives the rest.
	"temporalio/temporal": {uid: 1000, programs: []string{"temporal", "sh", "grep", "wget"}},
	// github.com/versity/versitygw, Dockerfile at v1.8.0: FROM alpine, no USER (root), ENTRYPOINT
	// docker-entrypoint.sh, which runs `versitygw "$@"` when given arguments; busybox wget.
	"versity/versitygw": {uid: 0, programs: []string{"versitygw", "sh", "wget"}},
	// amazon/dynamodb-local: no public Dockerfile. It runs as user dynamodblocal, uid 1000, in
	// /home/dynamodblocal with ENTRYPOINT java, on an Amazon Linux base with sh, date and curl:
	// so report public compose setups (uid 1000 from image inspect of 3.3.1, `chown -R 1000` of
	// its data folder, CMD-SHELL curl health checks, a curl ListTables probe of 3.3.1).
	"amazon/dynamodb-local": {uid: 1000, programs: []string{"java", "sh", "date", "curl"}},
	// github.com/aws/aws-cli, docker/Dockerfile at 2.36.7: FROM amazonlinux:2023, no USER (root),
	// ENTRYPOINT ["/usr/local/bin/aws"]; the base has sh.
	"amazon/aws-cli": {uid: 0, programs: []string{"aws", "sh"}},
	// The official busybox image: root, and every applet.
	"busybox": {uid: 0, programs: []string{"sh", "chown", "mkdir"}},
}

// distrolessNonroot is the uid of distroless's "nonroot" user
// (github.com/GoogleContainerTools/distroless, common/variables.bzl: NONROOT = 65532).
const distrolessNonroot = 65532

// dockerfile is what the tests read from the Dockerfile.
type dockerfile struct {
	froms    []string          // image of each FROM, stage names resolved away
	buildEnv map[string]string // ENV of the first stage
	user     string            // USER of the last stage
	programs []string          // commands go build puts in the image
}

func loadDockerfile(t *testing.T) dockerfile {
	t.Helper()
	raw, err := os.ReadFile(dockerfilePath)
	require.NoError(t, err)
	text := strings.ReplaceAll(string(raw), "\\\n", " ")
	d := dockerfile{buildEnv: map[string]string{}}
	stages := map[string]bool{}
	stage := -1
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			stage++
			args := slices.DeleteFunc(slices.Clone(fields[1:]), func(f string) bool { return strings.HasPrefix(f, "--") })
			require.NotEmpty(t, args, "FROM names an image")
			if !stages[args[0]] && args[0] != "scratch" {
				d.froms = append(d.froms, args[0])
			}
			if len(args) == 3 && strings.EqualFold(args[1], "AS") {
				stages[args[2]] = true
			}
			d.user = ""
		case "ENV":
			if stage == 0 {
				for _, kv := range fields[1:] {
					if k, v, ok := strings.Cut(kv, "="); ok {
						d.buildEnv[k] = v
					}
				}
				if len(fields) == 3 && !strings.Contains(fields[1], "=") {
					d.buildEnv[fields[1]] = fields[2]
				}
			}
		case "USER":
			d.user = fields[1]
		case "RUN":
			for i, f := range fields {
				if f == "go" && i+1 < len(fields) && fields[i+1] == "build" {
					for _, pkg := range fields[i+2:] {
						if pkg == "&&" || pkg == ";" {
							break
						}
						if strings.HasPrefix(pkg, "./") {
							d.programs = append(d.programs, path.Base(pkg))
						}
					}
				}
			}
		}
	}
	return d
}

// uid is the Dockerfile's final USER as a number.
func (d dockerfile) uid(t *testing.T) int {
	t.Helper()
	user, _, _ := strings.Cut(d.user, ":")
	if user == "nonroot" {
		return distrolessNonroot
	}
	uid, err := strconv.Atoi(user)
	require.NoError(t, err, "the Dockerfile's last stage sets USER, numeric or distroless's nonroot (got %q)", d.user)
	return uid
}

// factsOf is what a service runs as and carries: its image's facts, or the Dockerfile's for a
// service built here, with the service's own user: first.
func factsOf(t *testing.T, name string, s composeService, d dockerfile) (imageFacts, bool) {
	t.Helper()
	var f imageFacts
	if s.Build != nil {
		f = imageFacts{uid: d.uid(t), programs: d.programs}
	} else {
		repo, _, _ := splitImage(s.Image)
		known, ok := knownImages[repo]
		if !assert.True(t, ok, "service %s: image %s is not in knownImages; read its Dockerfile and add its user and programs", name, repo) {
			return f, false
		}
		f = known
	}
	if s.User != "" {
		user, _, _ := strings.Cut(s.User, ":")
		uid, err := strconv.Atoi(user)
		if !assert.NoError(t, err, "service %s: user: is numeric, so it can be checked against volume owners", name) {
			return f, false
		}
		f.uid = uid
	}
	return f, true
}

// splitImage splits an image reference into its repository, tag and digest.
func splitImage(ref string) (repo, tag, digest string) {
	repo, digest, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo, tag = repo[:i], repo[i+1:]
	}
	return repo, tag, digest
}

// workerEnv is the worker's environment with each ${VAR:-default} at its default, as docker
// compose reads it without VAR set.
func workerEnv(worker composeService) map[string]string {
	defaults := regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`)
	env := map[string]string{}
	for k, v := range worker.Environment {
		env[k] = defaults.ReplaceAllString(v, "$1")
	}
	return env
}

// The worker's environment names only settings the worker reads, sets every one it needs,
// passes the worker's own validation, and points at services the file defines, with the
// credentials those services accept.
func TestDockerComposeMatchesTheWorkerConfig(t *testing.T) {
	compose, _ := loadCompose(t)
	worker, ok := compose.Services["worker"]
	require.True(t, ok, "a worker service")
	assert.NotNil(t, worker.Build, "the worker is built from the Dockerfile")

	known := map[string]bool{"AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true} // read by the AWS SDK
	collectEnvNames(reflect.TypeOf(app.Config{}), known)
	for name := range worker.Environment {
		assert.True(t, known[name], "worker setting %s is not read by the worker (typo?)", name)
	}
	for _, name := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_TASK_QUEUE", "WISTIA_API_TOKEN", "WISTIA_BASE_URL",
		"BRONZE_URL", "WATERMARKS_URL", "ICEBERG_WAREHOUSE", "S3_ENDPOINT", "DYNAMODB_ENDPOINT",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		assert.NotEmpty(t, worker.Environment[name], "worker sets %s", name)
	}

	env := workerEnv(worker)
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := app.LoadConfig()
	require.NoError(t, err, "the worker accepts the file's settings")
	assert.True(t, cfg.Lake.S3PathStyle, "versitygw serves path-style requests: S3_FORCE_PATH_STYLE")

	// Every address points at a service of the file, on a port it serves.
	for name, addr := range map[string]string{"TEMPORAL_ADDRESS": "http://" + cfg.Temporal.Address, "S3_ENDPOINT": cfg.Lake.S3Endpoint,
		"DYNAMODB_ENDPOINT": cfg.Lake.DynamoDBEndpoint, "WISTIA_BASE_URL": cfg.Wistia.BaseURL} {
		u, err := url.Parse(addr)
		require.NoError(t, err, name)
		host, port, _ := net.SplitHostPort(u.Host)
		svc, ok := compose.Services[host]
		if !assert.True(t, ok, "%s points at service %q, which the file defines", name, host) {
			continue
		}
		assert.Contains(t, svc.containerPorts(), port, "%s: service %s serves port %s", name, host, port)
	}

	// The S3 service's root user is the worker's AWS user, and DynamoDB Local takes its key:
	// "AWS_ACCESS_KEY_ID can contain only letters (A–Z, a–z) and numbers (0–9)" (DynamoDB local usage notes).
	s3URL, _ := url.Parse(cfg.Lake.S3Endpoint)
	s3 := compose.Services[s3URL.Hostname()]
	assert.Equal(t, env["AWS_ACCESS_KEY_ID"], s3.Environment["ROOT_ACCESS_KEY_ID"], "versitygw's root access key is the worker's")
	assert.Equal(t, env["AWS_SECRET_ACCESS_KEY"], s3.Environment["ROOT_SECRET_ACCESS_KEY"], "versitygw's root secret is the worker's")
	assert.Regexp(t, `^[A-Za-z0-9]+$`, env["AWS_ACCESS_KEY_ID"], "DynamoDB Local accepts only letters and digits in an access key")

	// The bucket of bronze and of the warehouse is created at start by a one-shot the worker waits for.
	bucket := strings.TrimPrefix(cfg.Lake.BronzeURL, "s3://")
	bucket, _, _ = strings.Cut(bucket, "/")
	assert.True(t, strings.HasPrefix(cfg.Lake.Warehouse, "s3://"+bucket+"/"), "the warehouse is in the bronze bucket %s", bucket)
	creates := regexp.MustCompile(`(?:create-bucket --bucket |mb s3://)` + regexp.QuoteMeta(bucket) + `(?:\s|;|$)`)
	endpoints := regexp.MustCompile(`--endpoint-url[ =](\S+)`)
	creators := 0
	for name, svc := range compose.Services {
		script := svc.script()
		if !creates.MatchString(script) {
			continue
		}
		creators++
		used := endpoints.FindAllStringSubmatch(script, -1)
		assert.NotEmpty(t, used, "%s names the S3 endpoint", name)
		for _, m := range used {
			assert.Equal(t, cfg.Lake.S3Endpoint, m[1], "%s creates the bucket where the worker looks for it", name)
		}
		assert.Equal(t, env["AWS_ACCESS_KEY_ID"], svc.Environment["AWS_ACCESS_KEY_ID"], "%s creates the bucket as the worker's user", name)
		assert.Equal(t, completed, worker.DependsOn[name].Condition, "the worker waits for %s to create the bucket", name)
	}
	assert.Equal(t, 1, creators, "one service creates the bucket %s", bucket)
	assert.Equal(t, compose.Services["starter"].Environment, worker.Environment, "the CLI sees what the worker sees")
}

// Every image is pinned to a release, and nothing refers to MinIO, whose images are gone.
func TestDockerComposeImagesArePinned(t *testing.T) {
	compose, raw := loadCompose(t)
	for name, svc := range compose.Services {
		if svc.Build != nil {
			assert.Empty(t, svc.Image, "service %s: build or image, not both", name)
			continue
		}
		_, tag, digest := splitImage(svc.Image)
		assert.True(t, (tag != "" && tag != "latest") || digest != "",
			"service %s: image %q is pinned to a release tag (not latest, not untagged)", name, svc.Image)
	}
	d := loadDockerfile(t)
	require.NotEmpty(t, d.froms)
	for _, from := range d.froms {
		_, tag, digest := splitImage(from)
		assert.True(t, (tag != "" && tag != "latest") || digest != "", "Dockerfile: FROM %s has a tag other than latest", from)
	}
	files := map[string]string{"docker-compose.yml": raw}
	for _, p := range []string{dockerfilePath, dockerignorePath} {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		files[p] = string(b)
	}
	for name, text := range files {
		assert.NotContains(t, strings.ToLower(text), "minio", "%s: MinIO's images were withdrawn; nothing may use them", name)
	}
}

// The worker and the CLI start only once every service they use answers, and the one-shot jobs
// (volume ownership, the bucket) have finished.
func TestDockerComposeWaitsForHealthyServices(t *testing.T) {
	compose, _ := loadCompose(t)
	worker := compose.Services["worker"]
	env := workerEnv(worker)
	for _, name := range []string{"TEMPORAL_ADDRESS", "S3_ENDPOINT", "DYNAMODB_ENDPOINT", "WISTIA_BASE_URL"} {
		addr := env[name]
		if !strings.Contains(addr, "://") {
			addr = "tcp://" + addr
		}
		u, err := url.Parse(addr)
		require.NoError(t, err, name)
		assert.Equal(t, healthy, worker.DependsOn[u.Hostname()].Condition,
			"the worker (%s) waits for service %s with condition %s", name, u.Hostname(), healthy)
	}

	// Each condition fits what it waits for: a health check, or a one-shot job's success.
	for name, svc := range compose.Services {
		for dep, d := range svc.DependsOn {
			target, ok := compose.Services[dep]
			if !assert.True(t, ok, "service %s depends on %s, which the file defines", name, dep) {
				continue
			}
			switch d.Condition {
			case healthy:
				assert.True(t, len(target.Healthcheck.Test) > 0 && !target.Healthcheck.Disable && target.Healthcheck.Test[0] != "NONE",
					"service %s waits for %s to be healthy: %s has a health check", name, dep, dep)
			case completed:
				assert.True(t, len(target.Ports) == 0 && (target.Restart == "" || target.Restart == "no"),
					"service %s waits for %s to complete: %s is a one-shot job (no ports, no restart)", name, dep, dep)
			default:
				assert.Fail(t, "a start-up order that waits", "service %s depends on %s with condition %q: use %s or %s",
					name, dep, d.Condition, healthy, completed)
			}
		}
	}

	// The CLI waits for all the worker waits for, the same way.
	starter := compose.Services["starter"]
	for dep, d := range worker.DependsOn {
		assert.Equal(t, d.Condition, starter.DependsOn[dep].Condition, "the starter waits for %s as the worker does", dep)
	}

	// The Temporal dev server registers the workflows' search attribute, and reports healthy
	// only once it is there.
	attr := workflows.DateAttribute.GetName()
	temporal := compose.Services[strings.Split(env["TEMPORAL_ADDRESS"], ":")[0]]
	assert.Contains(t, temporal.script(), "--search-attribute "+attr+"=Keyword")
	assert.Contains(t, strings.Join(temporal.Healthcheck.Test, " "), attr, "temporal's health check waits for %s", attr)
}

// A health check runs inside the service's container: it may call only programs its image has
// (the project's image is distroless, with no shell), and probes a port the service serves.
func TestDockerComposeHealthChecksRunWhatTheImageHas(t *testing.T) {
	compose, _ := loadCompose(t)
	d := loadDockerfile(t)
	local := regexp.MustCompile(`(?:127\.0\.0\.1|localhost):(\d+)`)
	for name, svc := range compose.Services {
		test := svc.Healthcheck.Test
		if len(test) == 0 {
			continue
		}
		facts, ok := factsOf(t, name, svc, d)
		if !ok {
			continue
		}
		var programs []string
		switch test[0] {
		case "CMD":
			require.Greater(t, len(test), 1, "service %s: a health check command", name)
			programs = []string{test[1]}
		case "CMD-SHELL":
			require.Len(t, test, 2, "service %s: CMD-SHELL takes one command line", name)
			programs = []string{"sh"}
			for _, part := range regexp.MustCompile(`\|\||&&|[|;]`).Split(test[1], -1) {
				if fields := strings.Fields(part); len(fields) > 0 {
					programs = append(programs, fields[0])
				}
			}
		default:
			assert.Fail(t, "an exec-form health check", "service %s: healthcheck.test starts with CMD or CMD-SHELL, not %q", name, test[0])
			continue
		}
		for _, p := range programs {
			assert.Contains(t, facts.programs, path.Base(p), "service %s: its health check runs %s, which its image must have", name, p)
		}
		for _, m := range local.FindAllStringSubmatch(strings.Join(test, " "), -1) {
			assert.Contains(t, svc.containerPorts(), m[1], "service %s: its health check probes port %s, which it serves", name, m[1])
		}
	}
}

// Named volumes are created owned by root. Each one a non-root user writes is given to that user
// by a one-shot job the service waits for; the directories versitygw needs exist.
func TestDockerComposeVolumesAreWritableByTheirUsers(t *testing.T) {
	compose, _ := loadCompose(t)
	d := loadDockerfile(t)
	chownLine := regexp.MustCompile(`^chown\s+(?:-R\s+)?(\d+)(?::\d+)?\s+(.+)$`)
	mkdirLine := regexp.MustCompile(`^mkdir\s+(?:-p\s+)?(.+)$`)

	// What each one-shot job chowns and creates, by volume and path inside it.
	type prepared struct {
		owner map[string]int  // volume path → uid it is chowned to
		made  map[string]bool // volume paths created
	}
	jobs := map[string]prepared{}
	for name, svc := range compose.Services {
		p := prepared{owner: map[string]int{}, made: map[string]bool{}}
		inVolume := func(target string) (string, bool) {
			for vol, at := range svc.mounts(compose) {
				if target == at || strings.HasPrefix(target, at+"/") {
					return vol + strings.TrimPrefix(target, at), true
				}
			}
			return "", false
		}
		var lines []string
		for _, arg := range append(slices.Clone(svc.Entrypoint), svc.Command...) {
			lines = append(lines, regexp.MustCompile(`\n|&&|;`).Split(arg, -1)...)
		}
		for _, line := range lines {
			line = strings.TrimSpace(line)
			if m := chownLine.FindStringSubmatch(line); m != nil {
				uid, _ := strconv.Atoi(m[1])
				for _, target := range strings.Fields(m[2]) {
					if at, ok := inVolume(target); ok {
						p.owner[at] = uid
					}
				}
			}
			if m := mkdirLine.FindStringSubmatch(line); m != nil {
				for _, target := range strings.Fields(m[1]) {
					if at, ok := inVolume(target); ok {
						p.made[at] = true
					}
				}
			}
		}
		jobs[name] = p
	}

	users := map[string]map[int][]string{} // volume → uid → services
	for name, svc := range compose.Services {
		facts, ok := factsOf(t, name, svc, d)
		if !ok {
			continue
		}
		for vol := range svc.mounts(compose) {
			if users[vol] == nil {
				users[vol] = map[int][]string{}
			}
			users[vol][facts.uid] = append(users[vol][facts.uid], name)
			if facts.uid == 0 {
				continue // root writes anywhere
			}
			given := false
			for dep, cond := range svc.DependsOn {
				given = given || (cond.Condition == completed && jobs[dep].owner[vol] == facts.uid)
			}
			assert.True(t, given, "service %s runs as uid %d and writes volume %s, created owned by root: it must wait "+
				"(%s) for a one-shot job that runs `chown %d <where it mounts %s>`", name, facts.uid, vol, completed, facts.uid, vol)
		}
	}
	for vol, byUID := range users {
		nonRoot := 0
		for uid := range byUID {
			if uid != 0 {
				nonRoot++
			}
		}
		assert.LessOrEqual(t, nonRoot, 1, "volume %s is written by one non-root user, not several: %v", vol, byUID)
	}

	// versitygw fails to start without its posix root and sidecar folders.
	s3 := compose.Services["s3"]
	args := s3.Command
	require.Contains(t, args, "posix", "versitygw serves its posix backend")
	folders := []string{args[len(args)-1]}
	if i := slices.Index(args, "--sidecar"); i >= 0 {
		folders = append(folders, args[i+1])
	}
	for _, folder := range folders {
		var vol string
		for v, at := range s3.mounts(compose) {
			if strings.HasPrefix(folder, at+"/") {
				vol = v + strings.TrimPrefix(folder, at)
			}
		}
		if !assert.NotEmpty(t, vol, "versitygw's folder %s is on a volume", folder) {
			continue
		}
		made := false
		for dep, cond := range s3.DependsOn {
			made = made || (cond.Condition == completed && jobs[dep].made[vol])
		}
		assert.True(t, made, "versitygw's folder %s exists before it starts: a one-shot job it waits for creates it", folder)
	}
}

// The image builds the root module alone, and its context leaves out what the build never reads.
func TestDockerComposeImageBuild(t *testing.T) {
	d := loadDockerfile(t)
	assert.Equal(t, "off", d.buildEnv["GOWORK"], "the build stage sets ENV GOWORK=off: a go.work at the root must not change the image")
	assert.NotZero(t, d.uid(t), "the image does not run as root")
	for _, p := range []string{"worker", "starter", "wistiasim", "healthcheck"} {
		assert.Contains(t, d.programs, p, "the image has /usr/local/bin/%s", p)
	}

	raw, err := os.ReadFile(dockerignorePath)
	require.NoError(t, err, "a .dockerignore")
	var patterns []string
	for _, line := range strings.Split(string(raw), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, strings.TrimSuffix(line, "/"))
		}
	}
	for _, p := range []string{".git", ".data", ".tools", "deploy/cdk", "go.work", "go.work.sum", "**/node_modules", "**/cdk.out", "**/*.test"} {
		assert.Contains(t, patterns, p, ".dockerignore leaves out %s", p)
	}
	// Nothing the build reads is left out: Go sources, the module files, and testdata (go:embed).
	skip := map[string]bool{".git": true, ".tools": true, ".data": true, "deploy/cdk": true}
	require.NoError(t, filepath.WalkDir("..", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", p)
		rel = filepath.ToSlash(rel)
		if e.IsDir() {
			if skip[rel] || e.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		needed := (strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go")) ||
			rel == "go.mod" || rel == "go.sum" || strings.Contains("/"+rel, "/testdata/")
		if needed {
			for _, pat := range patterns {
				assert.False(t, dockerignoreMatches(pat, rel), ".dockerignore pattern %q leaves out %s, which the build reads", pat, rel)
			}
		}
		return nil
	}))
}

// dockerignoreMatches tells whether a .dockerignore pattern excludes a path: the pattern matches
// the path or one of its parent folders; a leading **/ matches at any depth.
func dockerignoreMatches(pattern, rel string) bool {
	parts := strings.Split(rel, "/")
	for end := 1; end <= len(parts); end++ {
		for start := 0; start < end; start++ {
			if start > 0 && !strings.HasPrefix(pattern, "**/") {
				break
			}
			if ok, _ := path.Match(strings.TrimPrefix(pattern, "**/"), strings.Join(parts[start:end], "/")); ok {
				return true
			}
		}
	}
	return false
}

// collectEnvNames gathers the envconfig variable names of a settings struct, recursively.
func collectEnvNames(t reflect.Type, into map[string]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if name := f.Tag.Get("envconfig"); name != "" {
			into[name] = true
			continue
		}
		if f.Type.Kind() == reflect.Struct {
			collectEnvNames(f.Type, into)
		}
	}
}
