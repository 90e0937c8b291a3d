package workflows

import (
	"slices"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/marketing-data/wistia-pipeline/activities"
	"github.com/marketing-data/wistia-pipeline/wistia"
)

// What the workflows ask of Temporal when they schedule work: each activity's timeouts and
// retry policy, named by the kind of work it serves, and the child workflows' options. Every
// value here is recorded in histories (a changed one changes what replays schedule), so a
// change goes behind workflow.GetVersion like any other; legacy.go keeps its own copies.

// Retry policies by the kind of work.
var (
	// wistiaRetry retries a call of the Wistia API. Its HTTP client has already retried each
	// request (pageRetryBudget), so an attempt fails only when those retries are spent, the
	// worker died, or the heartbeat stopped: backing off to five minutes apart rides out a
	// rate-limit pause or a short outage of the API.
	wistiaRetry = temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2,
		MaximumInterval: 5 * time.Minute, MaximumAttempts: 10, NonRetryableErrorTypes: activities.NonRetryable}
	// storageRetry retries a short call of S3 or DynamoDB (a watermark, the ledger): quickly,
	// ten attempts backing off to a minute apart, which fit in storageRetryWindow.
	storageRetry = temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
		MaximumInterval: time.Minute, MaximumAttempts: 10, NonRetryableErrorTypes: activities.NonRetryable}
	// mergeRetry retries a merge into Iceberg: long work, retried rarely and never when the
	// data checks failed or the input is bad (running it again would give the same answer).
	mergeRetry = temporal.RetryPolicy{InitialInterval: 30 * time.Second, BackoffCoefficient: 2,
		MaximumInterval: 10 * time.Minute, MaximumAttempts: 5,
		NonRetryableErrorTypes: append(slices.Clone(activities.NonRetryable), activities.ErrTypeCheckFailed, activities.ErrTypeBadInput)}
	// maintenanceRetry retries snapshot expiry a few times; the next run retries it anyway.
	maintenanceRetry = temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumAttempts: 3}
	// alertRetry retries sending an alert; one that still fails is logged.
	alertRetry = temporal.RetryPolicy{MaximumAttempts: 5}
	// followRetry retries waiting on another run of the date until that run ends; its failure
	// (or a misconfiguration) ends the wait.
	followRetry = temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
		NonRetryableErrorTypes: []string{activities.ErrTypeAttachedRunFailed, activities.ErrTypeMisconfigured}}
)

// Start-to-close timeouts by the kind of work.
const (
	// wistiaCallTimeout bounds one attempt of a page crawl of one media's window.
	wistiaCallTimeout = 30 * time.Minute
	// visitorsCallTimeout bounds one attempt of a run's visitor fetch: thousands of requests at
	// the shared budget take longer than a page crawl, and the heartbeat cursor carries the
	// fetch across attempts.
	visitorsCallTimeout = 2 * time.Hour
	storageCallTimeout  = 30 * time.Second
	mergeCallTimeout    = 2 * time.Hour
	maintenanceTimeout  = 30 * time.Minute
	alertTimeout        = time.Minute
	// followTimeout is as long as a run of a date may take.
	followTimeout = 24 * time.Hour
)

// storageRetryWindow is how long a watermark or ledger call retries through a storage outage
// (ten attempts, backing off to a minute apart, fit in it).
const storageRetryWindow = 10 * time.Minute

// pageRetryBudget is everything that may be spent on one page of the Wistia API before a run
// fails: its HTTP client tries each request up to httpAttempts times (WISTIA_MAX_ATTEMPTS),
// backing off up to the ceilings of the wistia package's RetryPolicy (full jitter, so the
// ceilings bound the waits), within every attempt of the activity, which wistiaRetry makes up
// to ten times with its own backoff between them. A Retry-After answer (429, 503) waits what
// it asks instead, up to WISTIA_MAX_RETRY_AFTER per retry, and each request may take up to
// WISTIA_REQUEST_TIMEOUT: neither is counted here.
type pageRetryBudget struct {
	Tries           int           // requests of the page, at most
	HTTPBackoff     time.Duration // the client's backoff within one activity attempt, at most
	ActivityBackoff time.Duration // Temporal's backoff between activity attempts, in all
	Total           time.Duration // all the waiting: HTTPBackoff per attempt plus ActivityBackoff
}

// pageBudget computes the budget of one page for the HTTP client's retry policy.
func pageBudget(httpRetry wistia.RetryPolicy) pageRetryBudget {
	b := pageRetryBudget{Tries: httpRetry.MaxAttempts * int(wistiaRetry.MaximumAttempts)}
	for retry := 1; retry < httpRetry.MaxAttempts; retry++ {
		b.HTTPBackoff += httpRetry.Ceiling(retry)
	}
	wait := wistiaRetry.InitialInterval
	for retry := 1; retry < int(wistiaRetry.MaximumAttempts); retry++ {
		b.ActivityBackoff += wait
		wait = min(time.Duration(float64(wait)*wistiaRetry.BackoffCoefficient), wistiaRetry.MaximumInterval)
	}
	b.Total = time.Duration(wistiaRetry.MaximumAttempts)*b.HTTPBackoff + b.ActivityBackoff
	return b
}

// policy returns a copy of a named policy for one schedule: the SDK keeps the pointer.
func policy(p temporal.RetryPolicy) *temporal.RetryPolicy { return &p }

// wistiaCalls are the options of a call of the Wistia API.
func wistiaCalls(ctx workflow.Context, heartbeat time.Duration) workflow.Context {
	return wistiaCallsWithin(ctx, heartbeat, wistiaCallTimeout)
}

// visitorCalls are wistiaCalls for a run's visitor fetch.
func visitorCalls(ctx workflow.Context, heartbeat time.Duration) workflow.Context {
	return wistiaCallsWithin(ctx, heartbeat, visitorsCallTimeout)
}

func wistiaCallsWithin(ctx workflow.Context, heartbeat, startToClose time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: startToClose,
		HeartbeatTimeout:    heartbeat,
		RetryPolicy:         policy(wistiaRetry),
	})
}

// storageLocal runs short watermark reads and writes as local activities: in the worker that
// runs the workflow, recorded as one marker instead of a scheduled task, which halves the
// orchestration cost per media.
func storageLocal(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, storageLocalOptions(workflow.GetVersion(ctx, versionStorageRetryWindow, workflow.DefaultVersion, 1)))
}

// storageLocalOptions are the local storage calls' options on a run of the given version.
// Before versionStorageRetryWindow the schedule-to-close was left unset, which the SDK makes
// the 30 s start-to-close: the retries ended with the first attempt's half minute, and a
// storage outage that long failed the media and the day's run.
func storageLocalOptions(v workflow.Version) workflow.LocalActivityOptions {
	opts := workflow.LocalActivityOptions{
		StartToCloseTimeout: storageCallTimeout,
		RetryPolicy:         policy(storageRetry),
	}
	if v >= 1 {
		opts.ScheduleToCloseTimeout = storageRetryWindow
	}
	return opts
}

// mergeCalls are the options of a merge into Iceberg and its checks.
func mergeCalls(ctx workflow.Context, heartbeat time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: mergeCallTimeout,
		HeartbeatTimeout:    heartbeat,
		RetryPolicy:         policy(mergeRetry),
	})
}

// maintenanceCalls are the options of table maintenance (snapshot expiry).
func maintenanceCalls(ctx workflow.Context, heartbeat time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: maintenanceTimeout, HeartbeatTimeout: heartbeat,
		RetryPolicy: policy(maintenanceRetry)})
}

// alertCalls are the options of sending an alert.
func alertCalls(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: alertTimeout,
		RetryPolicy: policy(alertRetry)})
}

// followCalls waits for another run for as long as a run may take.
func followCalls(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: followTimeout,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         policy(followRetry),
	})
}

// mediaChild are the options of a media's ingest, a child of its date's run.
//
// The child has no retry policy, deliberately (Temporal's default for a child: one attempt).
// Everything it does is an activity with a retry policy of its own, so a child fails only when
// those retries are spent (pageRetryBudget) or its input is bad; retrying the whole child
// would spend that budget again on the same page before the run could fail and alert. The
// date's run fails naming the media, and the next run's lookback reads its days again.
func mediaChild(ctx workflow.Context, account, date, media string) workflow.Context {
	return workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            MediaIngestID(account, date, media),
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_TERMINATE,
	})
}

// dateRunChild are the options of a date's run started as a child (by the schedule's action or
// a backfill) under the date's own ID. No retry policy either: a run that fails has alerted,
// and the next scheduled run or the operator's rerun is the retry.
func dateRunChild(ctx workflow.Context, id string) workflow.Context {
	return workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            id,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// The date's run is its own: others may have attached to it.
		ParentClosePolicy: enums.PARENT_CLOSE_POLICY_ABANDON,
	})
}
