package operate

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/robfig/cron"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/marketing-data/wistia-pipeline/workflows"
)

// CheckCron parses a five-field cron expression with the parser the Temporal SDK itself uses.
func CheckCron(expr string) error {
	_, err := cron.ParseStandard(expr)
	return err
}

// ApplySchedule makes the namespace ready for the pipeline and its schedule what p and cron
// say: it registers the WistiaDate search attribute when missing, then creates the schedule
// or updates it. Running it again changes nothing.
func (p Pipeline) ApplySchedule(ctx context.Context, namespace, cron string) error {
	if err := CheckCron(cron); err != nil {
		return fmt.Errorf("cron %q: %w", cron, err)
	}
	if err := EnsureSearchAttribute(ctx, p.Client, namespace); err != nil {
		return err
	}
	return p.EnsureSchedule(ctx, cron)
}

// ErrNoSearchAttribute is a namespace without workflows.DateAttribute.
var ErrNoSearchAttribute = errors.New("search attribute " + workflows.DateAttribute.GetName() + " (Keyword) is not registered")

// CheckSearchAttribute reports whether the namespace has workflows.DateAttribute as a Keyword:
// without it no run starts (each run sets it).
func CheckSearchAttribute(ctx context.Context, tc client.Client, namespace string) error {
	resp, err := tc.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list the search attributes of namespace %s: %w", namespace, err)
	}
	name := workflows.DateAttribute.GetName()
	typ, ok := resp.GetCustomAttributes()[name]
	switch {
	case !ok:
		return fmt.Errorf("namespace %s: %w", namespace, ErrNoSearchAttribute)
	case typ != enums.INDEXED_VALUE_TYPE_KEYWORD:
		return fmt.Errorf("namespace %s: search attribute %s is a %s, want Keyword", namespace, name, typ)
	}
	return nil
}

// EnsureSearchAttribute registers workflows.DateAttribute in the namespace when it is missing.
// Temporal Cloud registers search attributes only through its control plane (tcld or the web
// console); there the error says so.
func EnsureSearchAttribute(ctx context.Context, tc client.Client, namespace string) error {
	err := CheckSearchAttribute(ctx, tc, namespace)
	if !errors.Is(err, ErrNoSearchAttribute) {
		return err
	}
	name := workflows.DateAttribute.GetName()
	_, err = tc.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: namespace,
		SearchAttributes: map[string]enums.IndexedValueType{name: enums.INDEXED_VALUE_TYPE_KEYWORD}})
	var exists *serviceerror.AlreadyExists
	switch {
	case err == nil, errors.As(err, &exists): // registered by a concurrent apply
		return nil
	default:
		return fmt.Errorf("register search attribute %s (Keyword) in namespace %s (on Temporal Cloud: "+
			"tcld namespace search-attributes add --namespace %s --search-attribute %s=Keyword): %w", name, namespace, namespace, name, err)
	}
}

// ScheduleDrift compares the schedule with what p and cron want: its time zone, when it fires
// over the next eight days (as the Temporal server computes it, paused or not), and the run it
// starts (workflow type and ID, task queue, input). It returns one line per difference.
func (p Pipeline) ScheduleDrift(ctx context.Context, namespace, cron string) ([]string, error) {
	d, err := p.Client.ScheduleClient().GetHandle(ctx, p.scheduleID()).Describe(ctx)
	if err != nil {
		return nil, fmt.Errorf("describe schedule %s: %w", p.scheduleID(), err)
	}
	wantSpec, want := p.schedule(cron)
	var drift []string
	differ := func(what string, got, want any) {
		if !reflect.DeepEqual(got, want) {
			drift = append(drift, fmt.Sprintf("%s: %v, want %v", what, got, want))
		}
	}
	differ("time zone", d.Schedule.Spec.TimeZoneName, wantSpec.TimeZoneName)
	got, err := p.fires(ctx, namespace, time.Now())
	if err != nil {
		return nil, err
	}
	differ("its next fires (UTC)", got, fires(cron, p.zone().Location(), time.Now()))
	action, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok {
		return append(drift, fmt.Sprintf("its action is a %T, want a workflow start", d.Schedule.Action)), nil
	}
	differ("its workflow type", action.Workflow, want.Workflow)
	differ("its workflow ID", action.ID, want.ID)
	differ("its task queue", action.TaskQueue, want.TaskQueue)
	var input workflows.DailyRunInput
	wantInput := want.Args[0].(workflows.DailyRunInput)
	if err := decodeArg(action.Args, &input); err != nil {
		drift = append(drift, "its input does not decode: "+err.Error())
	} else if input.Options != wantInput.Options {
		differ("its runs' options", fmt.Sprintf("%+v", input.Options), fmt.Sprintf("%+v", wantInput.Options))
	} else {
		differ("its runs' input", fmt.Sprintf("%+v", input), fmt.Sprintf("%+v", wantInput))
	}
	return drift, nil
}

// driftWindow is how far ahead ScheduleDrift compares fire times: a week and a day, so a
// weekday-only difference shows.
const driftWindow = 8 * 24 * time.Hour

// fires is when the schedule fires in the drift window, as the server computes it.
func (p Pipeline) fires(ctx context.Context, namespace string, from time.Time) ([]string, error) {
	resp, err := p.Client.WorkflowService().ListScheduleMatchingTimes(ctx, &workflowservice.ListScheduleMatchingTimesRequest{
		Namespace: namespace, ScheduleId: p.scheduleID(), StartTime: timestamppb.New(from), EndTime: timestamppb.New(from.Add(driftWindow))})
	if err != nil {
		return nil, fmt.Errorf("fire times of schedule %s: %w", p.scheduleID(), err)
	}
	out := []string{}
	for _, ts := range resp.GetStartTime() {
		out = append(out, ts.AsTime().UTC().Format(time.RFC3339))
	}
	return out, nil
}

// fires is when cron fires in loc in the drift window.
func fires(expr string, loc *time.Location, from time.Time) []string {
	out := []string{}
	s, err := cron.ParseStandard(expr)
	if err != nil {
		return out
	}
	end := from.Add(driftWindow)
	for t := s.Next(from.In(loc)); !t.After(end); t = s.Next(t) {
		out = append(out, t.UTC().Format(time.RFC3339))
	}
	return out
}

// decodeArg decodes the single argument a described schedule action carries.
func decodeArg(args []any, v any) error {
	if len(args) != 1 {
		return fmt.Errorf("%d arguments, want 1", len(args))
	}
	payload, ok := args[0].(*commonpb.Payload)
	if !ok {
		return fmt.Errorf("argument is a %T", args[0])
	}
	return converter.GetDefaultDataConverter().FromPayload(payload, v)
}
