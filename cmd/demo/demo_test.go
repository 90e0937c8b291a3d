package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/testenv"
	"github.com/marketing-data/wistia-pipeline/wistia/wistiasim"
)

// TestDemo runs the demo's own code path end to end (what `make demo` runs), twice on the same
// data folder, and checks its printed totals against the simulator's ground truth, with the
// API's stats days in Tokyo time rather than UTC. (An east zone: its days have all ended when
// UTC's have, so events arriving while the test runs cannot change the truth. The lake tests
// cover a west zone on a fixed clock.)
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DATA_DIR", dir)
	t.Setenv("DEMO_DAYS", "2")
	t.Setenv("DEMO_MEDIAS", "5")
	t.Setenv("DEMO_TEMPORAL_PORT", strconv.Itoa(testenv.FreePort(t)))
	t.Setenv("DEMO_UI_PORT", strconv.Itoa(testenv.FreePort(t)))
	t.Setenv("DEMO_TEMPORAL_CLI", testenv.Tool(t, "temporal"))
	t.Setenv("WISTIA_API_TOKEN", "")
	t.Setenv("TEMPORAL_TASK_QUEUE", "demo-test")
	t.Setenv("WISTIA_STATS_TIMEZONE", "Asia/Tokyo")
	t.Setenv("DEMO_DASHBOARD_ADDR", "127.0.0.1:0")

	for run := 1; run <= 2; run++ {
		var out, errOut bytes.Buffer
		start := time.Now()
		code := Demo(context.Background(), false, &out, &errOut)
		t.Logf("demo run %d took %s", run, time.Since(start).Round(time.Millisecond))
		require.Equal(t, 0, code, "demo run %d:\n%s\n%s", run, out.String(), errOut.String())

		tokyo, err := dates.LoadZone("Asia/Tokyo")
		require.NoError(t, err)
		sim, err := wistiasim.New(DemoConfig{Medias: 5}.DemoSimOptions(tokyo))
		require.NoError(t, err)
		from, to := DemoRange(time.Now(), tokyo, 2)
		truth := sim.Truth(from.Time(), to.Time())
		channel := map[string]string{}
		for _, m := range truth.Medias {
			channel[m.HashedID] = m.Channel
		}
		totals := map[string]*ChannelTotal{}
		for _, f := range truth.MediaDaily {
			c := channel[f.MediaID]
			if totals[c] == nil {
				totals[c] = &ChannelTotal{Channel: c}
			}
			totals[c].Plays += f.Plays
			totals[c].HoursWatched += f.HoursWatched
		}
		require.NotEmpty(t, totals)
		for _, c := range totals {
			assert.Contains(t, out.String(), c.Line(), "channel %s totals", c.Channel)
		}
		assert.Contains(t, out.String(), fmt.Sprintf("Days covered: 2 (%s", from.String()))
		assert.Contains(t, out.String(), "Dashboard:   http://127.0.0.1:")
		assert.Contains(t, out.String(), "==> stop everything")
	}
	// Nothing it started is left running.
	ps, _ := exec.Command("pgrep", "-f", filepath.Join(dir, "temporal.db")).Output()
	assert.Empty(t, strings.TrimSpace(string(ps)), "dev server processes left")
}
