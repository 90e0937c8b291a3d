package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/marketing-data/wistia-pipeline/internal/operate"
	"github.com/marketing-data/wistia-pipeline/workflows"
)

// starter runs the CLI in this process and returns its exit status and output.
func starter(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := execute(context.Background(), args, &out, &errOut, false)
	return code, out.String(), errOut.String()
}

func TestHelpAtEveryLevel(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "not an address") // help never reads the environment
	for _, args := range [][]string{{}, {"--help"}, {"help"}, {"help", "run"}, {"run", "--help"}, {"backfill", "-h"},
		{"schedule", "--help"}, {"schedule", "create", "--help"}, {"query", "--help"}, {"status", "--help"}, {"dashboard", "--help"}} {
		code, out, errOut := starter(t, args...)
		assert.Equal(t, 0, code, "%v: %s", args, errOut)
		assert.Contains(t, out, "Usage:", args)
		assert.Contains(t, out, "Example", "%v shows an example", args)
	}
	_, out, _ := starter(t, "backfill", "--help")
	assert.Contains(t, out, `--parallelism int   days ingested at once (default 3)`, "flags show their defaults")
	_, out, _ = starter(t, "schedule", "create", "--help")
	assert.Contains(t, out, `(default $SCHEDULE_CRON, else "0 3 * * *")`)
	_, out, _ = starter(t, "query", "--help")
	assert.Contains(t, out, "gold.fact_media_daily", "query's help lists the tables")
}

func TestBadEnvironmentOnlyStopsCommandsThatNeedIt(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "not an address")
	t.Setenv("DATA_DIR", t.TempDir())
	for _, args := range [][]string{{"version"}, {"help", "status"}, {"completion", "bash"}} {
		code, _, errOut := starter(t, args...)
		assert.Equal(t, 0, code, "%v: %s", args, errOut)
	}
	code, _, errOut := starter(t, "run", "--date", yesterday())
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `TEMPORAL_ADDRESS="not an address": host:port`)

	// A flag stands in for the variable, and is checked like it.
	code, _, errOut = starter(t, "status", "--address", "127.0.0.1:1")
	assert.Equal(t, 1, code, errOut)
	assert.Contains(t, errOut, "cannot reach Temporal at 127.0.0.1:1")
	code, _, errOut = starter(t, "status", "--address", "nope")
	assert.Equal(t, 2, code, errOut)
	assert.Contains(t, errOut, `TEMPORAL_ADDRESS="nope"`)

	// query reads the lakehouse only: a bad Temporal setting does not stop it.
	code, _, errOut = starter(t, "query", "gold.dim_media", "--format", "json")
	assert.NotContains(t, errOut, "TEMPORAL_ADDRESS")
	assert.NotEqual(t, 2, code, errOut)
}

func yesterday() string { return time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly) }

func TestBadCommandLinesExitTwoNamingTheMistake(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	t.Setenv("DATA_DIR", t.TempDir())
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"launch"}, `unknown command "launch"`},
		{[]string{"run"}, "run needs --date"},
		{[]string{"run", "--date", "2026-13-01"}, `--date "2026-13-01": want YYYY-MM-DD`},
		{[]string{"run", "--dat", "2026-11-01"}, "unknown flag: --dat"},
		{[]string{"backfill", "--from", yesterday()}, "backfill needs --from and --to"},
		{[]string{"backfill", "--from", yesterday(), "--to", yesterday(), "--parallelism", "x"}, `invalid argument "x" for "--parallelism"`},
		{[]string{"query"}, "query needs one table"},
		{[]string{"query", "gold.nope"}, `unknown table "gold.nope"`},
		{[]string{"query", "gold.dim_media", "--format", "xml"}, `--format "xml": want table, csv, json`},
		{[]string{"status", "--format", "yaml"}, `--format "yaml": want table, csv, json`},
		{[]string{"replay", "--last", "0"}, "--last must be 1 to 1000"},
		{[]string{"schedule", "create", "extra"}, `unknown command "extra"`},
		{[]string{"dashboard", "--addr", "nope"}, `--addr "nope": want host:port`},
	} {
		code, out, errOut := starter(t, c.args...)
		assert.Equal(t, 2, code, "%v: %s", c.args, errOut)
		assert.Contains(t, errOut, c.msg, c.args)
		assert.Contains(t, errOut, "--help' for usage", c.args)
		assert.Empty(t, out, c.args)
	}
}

func TestCSVNeutralisesFormulas(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, writeRows(&out, "csv", []string{"title", "n"}, [][]any{{"=1+1", int64(3)}}))
	got, err := csv.NewReader(&out).ReadAll()
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"title", "n"}, {"'=1+1", "3"}}, got, "query's CSV goes through csvsafe")
}

func TestTableStripsControlCharacters(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, writeRows(&out, "table", []string{"title"}, [][]any{{"Launch\x1b[31m red\x1b[0m\r\nvideo\a"}}))
	assert.Equal(t, "title\nLaunch[31m red[0mvideo\n", out.String())
	assert.NotContains(t, out.String(), "\x1b")
}

func TestJSONOutputIsPureJSON(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, writeRows(&out, "json", []string{"a", "b"}, [][]any{{"x", int64(1)}, {nil, 2.5}}))
	assert.Equal(t, "{\"a\":\"x\",\"b\":1}\n{\"a\":null,\"b\":2.5}\n", out.String())
}

// phases serves progress snapshots, moving to the next phase on each query.
type phases struct {
	mu   sync.Mutex
	list []string
	n    int
}

func (p *phases) query(context.Context) (operate.Snapshot, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := min(p.n, len(p.list)-1)
	p.n++
	if p.list[i] == "" {
		return operate.Snapshot{}, errors.New("not answering yet")
	}
	return operate.Snapshot{Progress: workflows.Progress{Phase: p.list[i], MediasDone: i, MediasTotal: len(p.list)}}, nil
}

func (p *phases) asked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func count(v operate.Snapshot) (int, int, string) { return v.MediasDone, v.MediasTotal, v.Phase }

func TestProgressOffATerminalIsOneLinePerPhase(t *testing.T) {
	p := &phases{list: []string{"", "listing medias", "ingesting", "ingesting", "ingesting", "transforming", "done"}}
	var out bytes.Buffer
	stop := operate.Follower{W: &out, Poll: time.Millisecond, Every: time.Hour}.FollowQuery(context.Background(), p.query, count)
	require.Eventually(t, func() bool { return p.asked() > 10 }, 10*time.Second, time.Millisecond)
	stop()
	assert.NotContains(t, out.String(), "\r", "no bar redrawn into a log")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 5, "one line per phase, and the last state: %q", out.String())
	for i, want := range []string{"1/7 listing medias", "2/7 ingesting", "5/7 transforming", "6/7 done", "6/7 done"} {
		assert.True(t, strings.HasSuffix(lines[i], want), "line %d %q ends with %q", i, lines[i], want)
	}
}

func TestProgressOnATerminalRedrawsOneBar(t *testing.T) {
	p := &phases{list: []string{"ingesting", "ingesting", "done"}}
	var out bytes.Buffer
	stop := operate.Follower{W: &out, Terminal: true, Poll: time.Millisecond}.FollowQuery(context.Background(), p.query, count)
	require.Eventually(t, func() bool { return p.asked() > 3 }, 10*time.Second, time.Millisecond)
	stop()
	assert.Contains(t, out.String(), "\r[####################..........] 2/3 done")
	assert.Equal(t, 1, strings.Count(out.String(), "\n"), "one line, ended once")
}
