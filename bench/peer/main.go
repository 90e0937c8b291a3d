//go:build duckdb

// Command peer measures the lake's transform against DuckDB doing the same work on the same
// bronze. It lands a benchdata set once, runs each side in a child process of its own (so each
// side's peak RSS is its own), checks that both wrote the same distinct events, and prints one
// table. See README.md.
//
//	go run -tags duckdb ./bench/peer -events 1000000 [-days 7 -medias 2000 -visitors 200000 -seed 1]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/marketing-data/wistia-pipeline/dates"
	"github.com/marketing-data/wistia-pipeline/internal/benchdata"
	"github.com/marketing-data/wistia-pipeline/lake/bronze"
)

// Sides, as -side names them.
const (
	sideOurs   = "ours"
	sideDuckDB = "duckdb"
)

// result is what a side's child reports on stdout, as JSON; the parent adds the peak RSS.
type result struct {
	Side       string  `json:"side"`
	Events     int64   `json:"events"`     // distinct events written to silver
	Engagement int64   `json:"engagement"` // rows of the engagement fact
	Seconds    float64 `json:"seconds"`    // wall time of the work only, measured in the child
	PeakRSS    int64   `json:"-"`          // bytes, from the child's rusage
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("peer: ")
	shape := benchdata.NewShape(1_000_000, 7, 2_000)
	flag.IntVar(&shape.Events, "events", shape.Events, "distinct events to land")
	flag.IntVar(&shape.Days, "days", shape.Days, "event days")
	flag.IntVar(&shape.Medias, "medias", shape.Medias, "medias")
	flag.IntVar(&shape.Visitors, "visitors", shape.Visitors, "distinct visitor keys")
	flag.Float64Var(&shape.DuplicateShare, "duplicates", shape.DuplicateShare, "share of the events listed twice")
	flag.Uint64Var(&shape.Seed, "seed", shape.Seed, "seed of the data set")
	keep := flag.Bool("keep", false, "keep the temporary folder: the bronze and what each side wrote")
	side := flag.String("side", "", "internal: run one side ("+sideOurs+" or "+sideDuckDB+") and print its result as JSON")
	bronzeDir := flag.String("bronze", "", "internal: the bronze folder a side reads")
	out := flag.String("out", "", "internal: the folder a side writes to")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of our transform (only the transform) to this file")
	flag.StringVar(&memProfile, "memprofile", "", "write the heap profile of our transform at the peak of its live heap to this file")
	flag.StringVar(&memLimit, "memlimit", "", "our side's soft memory limit (GOMEMLIMIT), e.g. 400MiB, as a deployed worker runs with")
	flag.Parse()

	ctx := context.Background()
	if *side != "" {
		if err := runSide(ctx, *side, *bronzeDir, benchdata.EventDays(shape.Days), *out); err != nil {
			log.Fatalf("%s: %v", *side, err)
		}
		return
	}
	if err := compare(ctx, shape, *keep); err != nil {
		log.Fatal(err)
	}
}

// runSide is the child: it runs one side and writes its result to stdout.
func runSide(ctx context.Context, side, bronzeDir string, days []dates.Date, out string) error {
	if bronzeDir == "" || out == "" {
		return fmt.Errorf("-bronze and -out are required with -side")
	}
	var (
		r   result
		err error
	)
	switch side {
	case sideOurs:
		r, err = runOurs(ctx, bronzeDir, days, out)
	case sideDuckDB:
		r, err = runDuckDB(ctx, bronzeDir, out)
	default:
		return fmt.Errorf("unknown side %q: want %s or %s", side, sideOurs, sideDuckDB)
	}
	if err != nil {
		return err
	}
	r.Side = side
	return json.NewEncoder(os.Stdout).Encode(r)
}

// compare lands the data set, runs both sides and prints the table.
func compare(ctx context.Context, shape benchdata.Shape, keep bool) error {
	dir, err := os.MkdirTemp("", "wistia-peer-*")
	if err != nil {
		return err
	}
	if keep {
		log.Printf("keeping %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bronzeDir := filepath.Join(dir, "bronze")
	store, err := bronze.NewLocalStore(bronzeDir)
	if err != nil {
		return err
	}
	start := time.Now()
	set, err := benchdata.Land(ctx, store, shape)
	if err != nil {
		return err
	}
	log.Printf("landed %d events (%d lines, %d visitors) over %d days × %d medias in %.1f s",
		set.Events, set.Records, set.Visitors, shape.Days, shape.Medias, time.Since(start).Seconds())
	// The kernel writes the landed bronze back to disk for seconds after landing: without this,
	// it did so while the side that runs first (ours) was timed, and DuckDB, second, ran on a
	// quiet disk.
	syscall.Sync()

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var results []result
	for _, side := range []string{sideOurs, sideDuckDB} {
		out := filepath.Join(dir, side)
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		args := []string{"-side", side, "-bronze", bronzeDir, "-out", out, "-days", strconv.Itoa(shape.Days)}
		for flag, path := range map[string]string{"-cpuprofile": cpuProfile, "-memprofile": memProfile} {
			if path == "" {
				continue
			}
			abs, err := filepath.Abs(path)
			if err != nil {
				return err
			}
			args = append(args, flag, abs)
		}
		cmd := exec.CommandContext(ctx, exe, args...)
		cmd.Dir = out // where DuckDB spills, if it must
		if side == sideOurs && memLimit != "" {
			cmd.Env = append(os.Environ(), "GOMEMLIMIT="+memLimit) // the runtime reads and checks it
		}
		var stdout bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
		log.Printf("running %s", side)
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("side %s: %w", side, err)
		}
		var r result
		if err := json.NewDecoder(io.Reader(&stdout)).Decode(&r); err != nil {
			return fmt.Errorf("side %s printed %q: %w", side, stdout.String(), err)
		}
		ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		if !ok {
			return fmt.Errorf("side %s: no rusage on %s", side, runtime.GOOS)
		}
		r.PeakRSS = ru.Maxrss << 10 // Linux reports KiB
		results = append(results, r)
	}

	ours, duck := results[0], results[1]
	printTable(os.Stdout, results, ours, duck)
	if ours.Events != duck.Events || ours.Events != int64(set.Events) {
		return fmt.Errorf("distinct events written: ours %d, DuckDB %d, landed %d", ours.Events, duck.Events, set.Events)
	}
	if ours.Engagement != duck.Engagement {
		return fmt.Errorf("engagement rows: ours %d, DuckDB %d", ours.Engagement, duck.Engagement)
	}
	if err := checkSameRows(ctx, filepath.Join(dir, sideOurs), filepath.Join(dir, sideDuckDB)); err != nil {
		return err
	}
	log.Printf("both sides wrote the same silver events and engagement rows, column by column")
	return nil
}

func printTable(w io.Writer, results []result, ours, duck result) {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "side\tevents\twall time\tpeak RSS\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%.1f s\t%d MiB\t\n", r.Side, r.Events, r.Seconds, r.PeakRSS>>20)
	}
	fmt.Fprintf(tw, "ours/duckdb\t\t%.2f×\t%.2f×\t\n", ours.Seconds/duck.Seconds, float64(ours.PeakRSS)/float64(duck.PeakRSS))
	tw.Flush()
}
