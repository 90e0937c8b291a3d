package operate_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/marketing-data/wistia-pipeline/internal/operate"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// The schedule fires at 03:00 in the account's stats zone on every day, the days clocks
// change included, as the Temporal server computes its fires; each fire ingests the local day
// that ended three hours before.
func TestScheduleFiresAfterTheLocalDayAcrossDaylightSaving(t *testing.T) {
	srv := testenv.StartTemporal(t)
	tc, err := client.Dial(client.Options{HostPort: srv.Address})
	require.NoError(t, err)
	defer tc.Close()
	ctx := context.Background()
	p := operate.Pipeline{Client: tc, TaskQueue: "zone-test", Options: workflows.Options{Account: "acct", StatsZone: "America/New_York"}}
	require.NoError(t, p.CreateSchedule(ctx, workflows.DefaultCron))
	require.NoError(t, operate.PauseSchedule(ctx, tc, workflows.ScheduleID, true))

	fires := func(from, to time.Time) []string {
		resp, err := tc.WorkflowService().ListScheduleMatchingTimes(ctx, &workflowservice.ListScheduleMatchingTimesRequest{
			Namespace: "default", ScheduleId: workflows.ScheduleID, StartTime: timestamppb.New(from), EndTime: timestamppb.New(to)})
		require.NoError(t, err)
		var out []string
		for _, ts := range resp.StartTime {
			out = append(out, ts.AsTime().UTC().Format(time.RFC3339))
		}
		return out
	}
	// New York's clocks go forward at 02:00 on 14 March 2027 and back on 7 November 2027.
	assert.Equal(t, []string{"2027-03-13T08:00:00Z", "2027-03-14T07:00:00Z", "2027-03-15T07:00:00Z"},
		fires(time.Date(2027, 3, 13, 0, 0, 0, 0, time.UTC), time.Date(2027, 3, 16, 0, 0, 0, 0, time.UTC)))
	assert.Equal(t, []string{"2027-11-06T07:00:00Z", "2027-11-07T08:00:00Z", "2027-11-08T08:00:00Z"},
		fires(time.Date(2027, 11, 6, 0, 0, 0, 0, time.UTC), time.Date(2027, 11, 9, 0, 0, 0, 0, time.UTC)))

	st, err := operate.DescribeSchedule(ctx, tc, workflows.ScheduleID)
	require.NoError(t, err)
	assert.Equal(t, "America/New_York", st.TimeZone)
	require.NotEmpty(t, st.Next)
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	for _, n := range st.Next {
		local := n.At.In(ny)
		assert.Equal(t, 3, local.Hour(), "fires at 03:00 in New York: %s", n.At)
		assert.Equal(t, local.AddDate(0, 0, -1).Format(time.DateOnly), n.Date, "ingests the local day before")
	}
}
