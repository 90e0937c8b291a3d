// Package doctor proves, with real calls and the worker's own configuration, that every
// dependency the worker uses answers and lets it do what it does: Temporal (namespace, search
// attribute, the schedule as configured), bronze, the warehouse and its catalog, the DynamoDB
// state, the alert destinations and the Wistia API. `starter doctor` runs it after every
// deploy under the worker's task role, and on a laptop. Each check prints one line, and a
// failure says what to fix; nothing it prints holds a secret.
package doctor

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	icebergio "github.com/apache/iceberg-go/io"
	"github.com/aws/smithy-go"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/internal/app"
	"github.com/marketing-data/wistia-pipeline/internal/operate"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
	"github.com/marketing-data/wistia-pipeline/lake/state"
	"github.com/marketing-data/wistia-pipeline/wistia"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// Options change what the doctor does beyond checking.
type Options struct {
	// SendTestAlert sends a message to every alert destination instead of only reaching them.
	SendTestAlert bool
	// DashboardRoots are the certificate authorities the dashboard's certificate is checked
	// against; nil is the system's (tests give their own).
	DashboardRoots *x509.CertPool
}

// Status is a check's outcome.
type Status string

// Statuses; only Fail fails the run.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "FAIL"
)

// Result is one check's line.
type Result struct {
	Check  string
	Status Status
	Detail string // what was proven, or what went wrong
	Fix    string // on failure: what to do
}

// problem is a failed check: its cause and the fix.
type problem struct {
	err error
	fix string
}

func (p problem) Error() string { return p.err.Error() }

func fail(err error, fix string, args ...any) error { return problem{err, fmt.Sprintf(fix, args...)} }

// warning is a check that passed with something to look at.
type warning string

func (w warning) Error() string { return string(w) }

// check is one named proof; it returns what it proved.
type check struct {
	name string
	run  func(ctx context.Context) (string, error)
}

// Run checks everything cfg uses and writes one line per check to out. It returns the results;
// any Fail means the worker would fail too.
func Run(ctx context.Context, cfg app.Config, opts Options, out io.Writer) []Result {
	d := &doctor{cfg: cfg, opts: opts, id: strconv.FormatInt(time.Now().UnixNano(), 36)}
	defer d.close()
	var results []Result
	for _, c := range d.checks() {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		detail, err := c.run(cctx)
		cancel()
		r := Result{Check: c.name, Status: OK, Detail: detail}
		var (
			p problem
			w warning
		)
		switch {
		case errors.As(err, &p):
			r.Status, r.Detail, r.Fix = Fail, p.err.Error(), p.fix
		case errors.As(err, &w):
			r.Status, r.Detail = Warn, string(w)
		case err != nil:
			r.Status, r.Detail = Fail, err.Error()
		}
		results = append(results, r)
		fmt.Fprintf(out, "%-4s  %-20s  %s\n", r.Status, r.Check, r.Detail)
		if r.Fix != "" {
			fmt.Fprintf(out, "      %-20s  fix: %s\n", "", r.Fix)
		}
	}
	return results
}

// Failed counts the failed results.
func Failed(results []Result) int {
	n := 0
	for _, r := range results {
		if r.Status == Fail {
			n++
		}
	}
	return n
}

type doctor struct {
	cfg     app.Config
	opts    Options
	id      string // names this run's doctor objects and items
	tc      client.Client
	dialErr error
	marks   state.Store
	store   bronze.Store
	closers []func() error
}

func (d *doctor) close() {
	for _, c := range d.closers {
		_ = c()
	}
}

func (d *doctor) checks() []check {
	return []check{
		{"temporal namespace", d.namespace},
		{"temporal attribute", d.searchAttribute},
		{"temporal schedule", d.schedule},
		{"bronze write", d.bronzeWrite},
		{"bronze missing key", d.bronzeMissing},
		{"warehouse", d.warehouse},
		{"catalog", d.catalog},
		{"dynamodb", d.state},
		{"alerts", d.alerts},
		{"wistia", d.wistia},
		{"dashboard sign-in", d.dashboardSignIn},
	}
}

// temporal dials once; every Temporal check fails with the dial's error when it cannot.
func (d *doctor) temporal(ctx context.Context) (client.Client, error) {
	if d.tc == nil && d.dialErr == nil {
		d.tc, d.dialErr = d.cfg.Temporal.Dial(ctx, slog.New(slog.DiscardHandler), nil)
		if d.tc != nil {
			d.closers = append(d.closers, func() error { d.tc.Close(); return nil })
		}
	}
	if d.dialErr != nil {
		return nil, fail(d.dialErr, "check TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and the credentials (TEMPORAL_API_KEY, or TEMPORAL_TLS_CERT/KEY)")
	}
	return d.tc, nil
}

func (d *doctor) namespace(ctx context.Context) (string, error) {
	tc, err := d.temporal(ctx)
	if err != nil {
		return "", err
	}
	ns := d.cfg.Temporal.Namespace
	resp, err := tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
	if err != nil {
		return "", fail(err, "TEMPORAL_NAMESPACE=%s must name a namespace these credentials may use", ns)
	}
	return fmt.Sprintf("namespace %s answers at %s (%s)", ns, d.cfg.Temporal.Address, resp.GetNamespaceInfo().GetState()), nil
}

func (d *doctor) searchAttribute(ctx context.Context) (string, error) {
	tc, err := d.temporal(ctx)
	if err != nil {
		return "", err
	}
	name := workflows.DateAttribute.GetName()
	if err := operate.CheckSearchAttribute(ctx, tc, d.cfg.Temporal.Namespace); err != nil {
		return "", fail(err, "register it: starter schedule apply (the deploy runs it), or temporal operator search-attribute create --name %s --type Keyword; on Temporal Cloud: tcld namespace search-attributes add", name)
	}
	return name + " is a Keyword", nil
}

func (d *doctor) schedule(ctx context.Context) (string, error) {
	tc, err := d.temporal(ctx)
	if err != nil {
		return "", err
	}
	id, cron := d.cfg.Schedule.ID, d.cfg.Schedule.Cron
	p := d.cfg.Pipeline(tc)
	apply := fmt.Sprintf("starter schedule apply --schedule-id %s --task-queue %s --account %s --stats-timezone %s --max-concurrency %d --merge-spread %d --cron %q (the deploy runs it with the stack's parameters)",
		id, p.TaskQueue, p.Options.Account, p.Options.StatsZone, p.Options.MaxConcurrency, p.Options.MergeSpread, cron)
	drift, err := p.ScheduleDrift(ctx, d.cfg.Temporal.Namespace, cron)
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		return "", fail(fmt.Errorf("schedule %s does not exist: no run starts", id), "create it: %s", apply)
	case err != nil:
		return "", fail(err, "check that these credentials may read schedules in namespace %s", d.cfg.Temporal.Namespace)
	case len(drift) > 0:
		return "", fail(fmt.Errorf("schedule %s differs from this configuration: %s", id, strings.Join(drift, "; ")), "set it: %s", apply)
	}
	st, err := operate.DescribeSchedule(ctx, tc, id)
	if err != nil {
		return "", fail(err, "check that these credentials may read schedules")
	}
	detail := fmt.Sprintf("schedule %s fires %q in %s and starts %s on %s with this configuration", id, cron, st.TimeZone, workflows.DailyRunType, p.TaskQueue)
	if st.Paused {
		return "", warning(detail + ", but it is paused: starter schedule unpause when that is not on purpose")
	}
	return detail, nil
}

// bronze opens the bronze store once for both bronze checks.
func (d *doctor) bronze(ctx context.Context) (bronze.Store, error) {
	if d.store == nil {
		store, err := d.cfg.Lake.OpenStore(ctx)
		if err != nil {
			return nil, fail(err, "check BRONZE_URL")
		}
		d.store = store
	}
	return d.store, nil
}

// doctorKey is where this run's doctor object goes, under the store's root.
func (d *doctor) doctorKey() string { return "doctor/" + d.id + ".json" }

func (d *doctor) bronzeWrite(ctx context.Context) (string, error) {
	store, err := d.bronze(ctx)
	if err != nil {
		return "", err
	}
	where := store.Location()
	key := d.doctorKey()
	body := fmt.Appendf(nil, `{"doctor":%q,"at":%q}`+"\n", d.id, time.Now().UTC().Format(time.RFC3339))
	if err := store.PutIfAbsent(ctx, key, body); err != nil {
		return "", failAWS(err, "BRONZE_URL", where, "s3:PutObject")
	}
	// The worker never overwrites bronze: a second put of other bytes must be refused.
	if err := store.PutIfAbsent(ctx, key, append(body, ' ')); !errors.Is(err, bronze.ErrConflict) {
		return "", fail(fmt.Errorf("a conditional put (If-None-Match) over %s/%s was not refused: %v", where, key, err),
			"bronze needs a store that honours If-None-Match (S3 does); an overwritten object would change history")
	}
	got, err := store.Get(ctx, key)
	if err != nil {
		return "", failAWS(err, "BRONZE_URL", where, "s3:GetObject")
	}
	if string(got) != string(body) {
		return "", fail(fmt.Errorf("%s/%s reads back %d bytes that differ from the %d written", where, key, len(got), len(body)), "check what else writes to the bucket")
	}
	keys, err := store.List(ctx, "doctor/")
	if err != nil {
		return "", failAWS(err, "BRONZE_URL", where, "s3:ListBucket")
	}
	if !slices.Contains(keys, key) {
		return "", fail(fmt.Errorf("listing %s/doctor/ does not show %s", where, key), "check the bucket's listing permissions and prefix")
	}
	return fmt.Sprintf("put (If-None-Match, and refused over an existing key), get and list %s/%s", where, key), nil
}

// bronzeMissing proves a HEAD of a missing key is not-found: S3 says 403 instead to a caller
// that may not list the bucket, and then every "is it there yet" answer is wrong.
func (d *doctor) bronzeMissing(ctx context.Context) (string, error) {
	store, err := d.bronze(ctx)
	if err != nil {
		return "", err
	}
	return d.missing(ctx, "BRONZE_URL", store.Location())
}

// missing HEADs a key that does not exist under root with the tables' own file IO.
func (d *doctor) missing(ctx context.Context, setting, root string) (string, error) {
	fsys, err := d.cfg.Lake.ObjectIO(ctx, root)
	if err != nil {
		return "", fail(err, "check %s", setting)
	}
	name := strings.TrimSuffix(root, "/") + "/doctor/missing-" + d.id
	_, err = stat(fsys, name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "HEAD " + name + ": not found, as it should be", nil
	case err == nil:
		return "", fail(fmt.Errorf("HEAD %s found an object that was never written", name), "check what else writes under %s", root)
	default:
		return "", failAWS(fmt.Errorf("HEAD %s: %w", name, err), setting, root, "s3:ListBucket on the whole bucket (no s3:prefix condition), so a missing key is 404, not 403,")
	}
}

func (d *doctor) warehouse(ctx context.Context) (string, error) {
	root, err := d.cfg.Lake.WarehouseURL()
	if err != nil {
		return "", fail(err, "check ICEBERG_WAREHOUSE")
	}
	fsys, err := d.cfg.Lake.ObjectIO(ctx, root)
	if err != nil {
		return "", fail(err, "check ICEBERG_WAREHOUSE")
	}
	wfs, ok := fsys.(icebergio.WriteFileIO)
	if !ok {
		return "", fail(fmt.Errorf("the file IO of %s cannot write", root), "ICEBERG_WAREHOUSE must be s3:// or file://")
	}
	dir := strings.TrimSuffix(root, "/") + "/doctor"
	name := dir + "/" + d.id + ".json"
	body := fmt.Appendf(nil, `{"doctor":%q}`+"\n", d.id)
	if err := wfs.WriteFile(name, body); err != nil {
		return "", failAWS(err, "ICEBERG_WAREHOUSE", root, "s3:PutObject")
	}
	got, err := readFile(fsys, name)
	if err != nil {
		return "", failAWS(err, "ICEBERG_WAREHOUSE", root, "s3:GetObject")
	}
	if string(got) != string(body) {
		return "", fail(fmt.Errorf("%s reads back other bytes than written", name), "check what else writes to the bucket")
	}
	if lfs, ok := fsys.(icebergio.ListableIO); ok {
		found := false
		err := lfs.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
			found = found || strings.HasSuffix(p, path.Base(name))
			return err
		})
		if err != nil {
			return "", failAWS(err, "ICEBERG_WAREHOUSE", root, "s3:ListBucket")
		}
		if !found {
			return "", fail(fmt.Errorf("listing %s does not show %s", dir, name), "check the bucket's listing permissions")
		}
	}
	if err := fsys.Remove(name); err != nil {
		return "", failAWS(err, "ICEBERG_WAREHOUSE", root, "s3:DeleteObject (snapshot expiry deletes files)")
	}
	// Snapshot expiry deletes files that may be gone already: only not-found counts as done.
	switch _, err := stat(fsys, name); {
	case err == nil:
		return "", fail(fmt.Errorf("HEAD %s after its delete found it", name), "check that the bucket's versioning or lifecycle does not restore objects")
	case !errors.Is(err, fs.ErrNotExist):
		return "", failAWS(fmt.Errorf("HEAD %s after its delete: %w, want not found", name, err), "ICEBERG_WAREHOUSE", root, "s3:ListBucket on the whole bucket (no s3:prefix condition)")
	}
	return "put, get, list and delete " + name + "; a HEAD of it then is not found", nil
}

func (d *doctor) catalog(ctx context.Context) (string, error) {
	l, err := d.cfg.Lake.OpenLakehouse(ctx)
	if err != nil {
		return "", fail(err, "check ICEBERG_CATALOG and its settings")
	}
	defer l.Close()
	if err := l.ReadNamespaces(ctx); err != nil {
		return "", fail(err, "ICEBERG_SILVER_NAMESPACE=%s and ICEBERG_GOLD_NAMESPACE=%s must exist in the %s catalog and be readable (Glue: glue:GetDatabase; the stack creates both)",
			d.cfg.Lake.SilverNamespace, d.cfg.Lake.GoldNamespace, d.cfg.Lake.Catalog)
	}
	return fmt.Sprintf("%s catalog: %s and %s readable", d.cfg.Lake.Catalog, d.cfg.Lake.SilverNamespace, d.cfg.Lake.GoldNamespace), nil
}

// openMarks opens the state store once; the Wistia check's shared budget uses it too.
func (d *doctor) openMarks(ctx context.Context) (state.Store, error) {
	if d.marks == nil {
		m, err := d.cfg.Lake.OpenState(ctx)
		if err != nil {
			return nil, fail(err, "check WATERMARKS_URL")
		}
		d.marks = m
		d.closers = append(d.closers, m.Close)
	}
	return d.marks, nil
}

// state takes and frees a lease, the conditional update and the conditional delete every
// watermark, ledger and budget write is made of. A lease left behind expires by its TTL.
func (d *doctor) state(ctx context.Context) (string, error) {
	marks, err := d.openMarks(ctx)
	if err != nil {
		return "", err
	}
	where := d.cfg.Lake.WatermarksURL
	if where == "" {
		where = "the sqlite file under DATA_DIR"
	}
	name := "doctor/" + d.id
	held, err := marks.AcquireLease(ctx, name, d.id, time.Minute)
	if err != nil {
		return "", failAWS(err, "WATERMARKS_URL", where, "dynamodb:UpdateItem")
	}
	if !held {
		return "", fail(fmt.Errorf("a conditional update of item %s in %s was refused on a fresh item", name, where), "check what else writes to the table")
	}
	if err := marks.ReleaseLease(ctx, name, d.id); err != nil {
		return "", failAWS(err, "WATERMARKS_URL", where, "dynamodb:DeleteItem")
	}
	return "conditional update and delete of item " + name + " in " + where, nil
}

func (d *doctor) alerts(ctx context.Context) (string, error) {
	alerter, err := d.cfg.Alerter(ctx)
	if err != nil {
		return "", fail(err, "check AWS_REGION and the AWS credentials")
	}
	reached, err := alerter.Reachable(ctx)
	if errors.Is(err, activities.ErrNoSubscriber) {
		return "", fail(err, "subscribe someone: the stack's alertEmail parameter, or aws sns subscribe --topic-arn %s", d.cfg.Alerts.SNSTopicARN)
	}
	if err != nil {
		return "", failAWS(err, "ALERT_SNS_TOPIC_ARN", d.cfg.Alerts.SNSTopicARN, "sns:ListSubscriptionsByTopic and sns:Publish")
	}
	if len(reached) == 0 {
		return "", warning("no destination configured (ALERT_SNS_TOPIC_ARN, ALERT_WEBHOOK_URL): a failed run alerts nobody")
	}
	detail := "reached " + strings.Join(reached, " and ")
	if d.opts.SendTestAlert {
		host, _ := os.Hostname()
		if err := alerter.SendTest(ctx, fmt.Sprintf("Test alert from starter doctor on %s (namespace %s, account %s): alerts reach you.",
			host, d.cfg.Temporal.Namespace, d.cfg.Lake.Account)); err != nil {
			return "", failAWS(err, "ALERT_SNS_TOPIC_ARN", d.cfg.Alerts.SNSTopicARN, "sns:Publish")
		}
		detail += "; sent a test message"
	}
	return detail, nil
}

// wistia makes one request, the first page of medias, through the shared request budget.
func (d *doctor) wistia(ctx context.Context) (string, error) {
	if !d.cfg.Wistia.APIToken.IsSet() {
		return "", fail(errors.New("WISTIA_API_TOKEN is not set"), "set it (in AWS: the stack's Wistia token secret)")
	}
	var marks state.Store
	if d.cfg.Worker.SharedBudget {
		var err error
		if marks, err = d.openMarks(ctx); err != nil {
			return "", err
		}
	}
	wc, err := d.cfg.WistiaClient(marks)
	if err != nil {
		return "", fail(err, "check the WISTIA_* settings")
	}
	for page, err := range wc.Medias(ctx, 1) {
		var apiErr *wistia.APIError
		switch {
		case errors.As(err, &apiErr) && (apiErr.Status == http.StatusUnauthorized || apiErr.Status == http.StatusForbidden):
			return "", fail(err, "WISTIA_API_TOKEN is refused: put a current token with read access to stats (in AWS: the stack's Wistia token secret, then a new deployment)")
		case err != nil:
			return "", fail(err, "check WISTIA_BASE_URL and the network path to it")
		}
		budget := ""
		if marks != nil {
			budget = ", inside the account's shared budget"
		}
		return fmt.Sprintf("token accepted: %d medias on the first page (1 request%s)", len(page.Items), budget), nil
	}
	return "", fail(errors.New("no answer"), "check WISTIA_BASE_URL")
}

// failAWS is a failed AWS call, with awsFix's fix for the error that caused it.
func failAWS(failure error, setting, where, grant string) error {
	return fail(failure, "%s", awsFix(setting, where, grant, failure))
}

// awsFix names the likely cause of an AWS error: a missing resource, a denied call, or else the
// endpoint and the network.
func awsFix(setting, where, grant string, err error) string {
	var apiErr smithy.APIError
	code := ""
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	switch {
	case code == "NoSuchBucket" || code == "ResourceNotFoundException" || code == "NotFound" && strings.Contains(err.Error(), "bucket"):
		return fmt.Sprintf("%s names %s, which does not exist: check %s against the stack's outputs", setting, where, setting)
	case code == "AccessDenied" || code == "AccessDeniedException" || code == "AuthorizationError" || code == "Forbidden" ||
		strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), "AccessDenied"):
		return fmt.Sprintf("this caller is denied on %s: the worker's role needs %s there", where, grant)
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "UnrecognizedClientException":
		return "the AWS credentials are not valid here: check the task role, or AWS_PROFILE and the keys on a laptop"
	}
	return fmt.Sprintf("check %s (%s) and the network path to it", setting, where)
}

// stat HEADs name with the file IO, or opens it when the IO cannot stat.
func stat(fsys icebergio.IO, name string) (fs.FileInfo, error) {
	if s, ok := fsys.(icebergio.StatIO); ok {
		return s.Stat(name)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

func readFile(fsys icebergio.IO, name string) ([]byte, error) {
	if r, ok := fsys.(icebergio.ReadFileIO); ok {
		return r.ReadFile(name)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
