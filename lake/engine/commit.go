package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
)

// A merge's commit is written here rather than by iceberg-go's overwrite, which reads every
// manifest of the table twice to find the files it removes: once to check they belong to the
// table and once to rewrite the manifests that list them. A daily run on a year of history then
// spent most of its commit reading the eleven months it does not touch
// (BenchmarkDailyTransformOnHistory). Here a manifest is read only when its partition summary
// says it may list a removed file, which for a date-partitioned table is the month of the day
// merged (compactManifests groups manifests by month) and the manifests of the last few
// commits. The snapshot written is the one Java's overwrite writes: the added files in a new
// manifest, each manifest that listed a removed file rewritten with that file as DELETED, every
// other manifest carried over unread.

// replaceFiles commits one snapshot on the main branch of tbl that removes the data files removed
// and adds added, on condition that the branch still points at tbl's current snapshot: if it
// moved, the catalog refuses the commit and the error satisfies isStaleBase. props go into the
// snapshot's summary. When the commit surely did not take place (it failed before the catalog
// answered, or the catalog refused it), the added files are deleted: nothing references them.
func replaceFiles(ctx context.Context, cat catalog.Catalog, tbl *table.Table, removed, added []iceberg.DataFile, props iceberg.Properties) error {
	mayHaveCommitted, err := commitReplace(ctx, cat, tbl, removed, added, props)
	if err != nil && !mayHaveCommitted {
		removeFiles(ctx, tbl, added)
	}
	return err
}

// commitReplace is replaceFiles but for deleting the added files; on an error it says whether
// the catalog may have taken the commit all the same. Another error than a refusal from the
// catalog may come after it took it, so what the commit wrote then stays (an orphan, if not
// committed, which ExpireSnapshots deletes at orphanAge).
func commitReplace(ctx context.Context, cat catalog.Catalog, tbl *table.Table, removed, added []iceberg.DataFile, props iceberg.Properties) (mayHaveCommitted bool, err error) {
	meta := tbl.Metadata()
	parent := tbl.CurrentSnapshot()
	if parent == nil || meta.Version() != 2 || meta.NameMapping() == nil {
		// A table's first commit, which also records the name mapping, and tables of another
		// format version go through iceberg-go: they are once per table, or not ours.
		tx := tbl.NewTransaction()
		if err := tx.AssertRefSnapshotID(table.MainBranch); err != nil {
			return false, err
		}
		if err := tx.ReplaceDataFilesWithDataFiles(ctx, removed, added, props); err != nil {
			return false, err
		}
		_, err := tx.Commit(ctx)
		return err != nil && !isStaleBase(err), err
	}
	fs, err := tbl.FS(ctx)
	if err != nil {
		return false, err
	}
	wfs, ok := fs.(icebergio.WriteFileIO)
	if !ok {
		return false, fmt.Errorf("the file system of %s cannot write", tbl.Identifier())
	}
	locations, err := tbl.LocationProvider()
	if err != nil {
		return false, err
	}
	c := &snapshotCommit{
		fs:         wfs,
		locations:  locations,
		meta:       meta,
		spec:       tbl.Spec(),
		snapshotID: newSnapshotID(meta),
		prefix:     fmt.Sprintf("%016x%016x", rand.Uint64(), rand.Uint64()),
	}
	defer func() {
		if err != nil && !mayHaveCommitted {
			c.removeWritten()
		}
	}()
	manifests, err := c.manifests(ctx, parent, removed, added)
	if err != nil {
		return false, err
	}
	seq := meta.LastSequenceNumber() + 1
	list := locations.NewMetadataLocation(fmt.Sprintf("snap-%d-0-%s.avro", c.snapshotID, c.prefix))
	if err := c.create(list, func(w io.Writer) error {
		return iceberg.WriteManifestList(2, w, c.snapshotID, &parent.SnapshotID, &seq, 0, manifests)
	}); err != nil {
		return false, err
	}
	op := table.OpOverwrite
	if len(removed) == 0 {
		op = table.OpAppend
	}
	schemaID := meta.CurrentSchema().ID
	snap := &table.Snapshot{
		SnapshotID:       c.snapshotID,
		ParentSnapshotID: &parent.SnapshotID,
		SequenceNumber:   seq,
		TimestampMs:      time.Now().UnixMilli(),
		ManifestList:     list,
		Summary:          &table.Summary{Operation: op, Properties: snapshotSummary(parent, removed, added, props)},
		SchemaID:         &schemaID,
	}
	reqs := []table.Requirement{
		table.AssertTableUUID(meta.TableUUID()),
		table.AssertRefSnapshotID(table.MainBranch, &parent.SnapshotID),
	}
	updates := []table.Update{
		table.NewAddSnapshotUpdate(snap),
		mainBranchUpdate(meta, c.snapshotID),
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	_, _, err = cat.CommitTable(ctx, tbl.Identifier(), reqs, updates)
	return err != nil && !isStaleBase(err), err
}

// mainBranchUpdate points the main branch at snapshotID and keeps the branch's retention, which
// an operator may have set (ExpireSnapshots honours it).
func mainBranchUpdate(meta table.Metadata, snapshotID int64) table.Update {
	ref := meta.Ref()
	var maxRefAge, maxSnapshotAge int64
	var minSnapshots int
	if ref.MaxRefAgeMs != nil {
		maxRefAge = *ref.MaxRefAgeMs
	}
	if ref.MaxSnapshotAgeMs != nil {
		maxSnapshotAge = *ref.MaxSnapshotAgeMs
	}
	if ref.MinSnapshotsToKeep != nil {
		minSnapshots = *ref.MinSnapshotsToKeep
	}
	return table.NewSetSnapshotRefUpdate(table.MainBranch, snapshotID, table.BranchRef, maxRefAge, maxSnapshotAge, minSnapshots)
}

// snapshotCommit writes the manifests of one snapshot.
type snapshotCommit struct {
	fs         icebergio.WriteFileIO
	locations  table.LocationProvider
	meta       table.Metadata
	spec       iceberg.PartitionSpec
	snapshotID int64
	prefix     string   // of the names of the files it writes, unique to the commit
	written    []string // files written, removed if the commit does not take place
}

// manifests writes the manifests of a snapshot of parent's files less removed plus added, and
// returns the snapshot's manifest list: the added files' manifest first, then parent's manifests
// in their order, those that listed a removed file rewritten. A manifest left with no live file
// by an earlier commit is dropped.
func (c *snapshotCommit) manifests(ctx context.Context, parent *table.Snapshot, removed, added []iceberg.DataFile) ([]iceberg.ManifestFile, error) {
	parts := make(map[int32]bool, len(removed))
	gone := make(map[string]bool, len(removed))
	for _, f := range removed {
		p, err := filePartition(c.spec, f)
		if err != nil {
			return nil, err
		}
		parts[p] = true
		gone[f.FilePath()] = true
	}
	var out []iceberg.ManifestFile
	if len(added) > 0 {
		m, err := c.writeManifest(func(w *iceberg.ManifestWriter) error {
			for _, f := range added {
				if err := w.Add(iceberg.NewManifestEntry(iceberg.EntryStatusADDED, &c.snapshotID, nil, nil, f)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	parentManifests, err := parent.Manifests(c.fs)
	if err != nil {
		return nil, err
	}
	found := 0
	for _, m := range parentManifests {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if m.ManifestContent() == iceberg.ManifestContentData && m.AddedDataFiles() == 0 && m.ExistingDataFiles() == 0 {
			continue // only DELETED entries, which the snapshot that wrote them recorded
		}
		if len(gone) == 0 || m.ManifestContent() != iceberg.ManifestContentData || !c.mayList(m, parts) {
			out = append(out, m)
			continue
		}
		m, n, err := c.filter(m, gone)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
		found += n
	}
	if found != len(removed) {
		return nil, fmt.Errorf("%d of the %d data files to remove are not in the table's current snapshot %d", len(removed)-found, len(removed), parent.SnapshotID)
	}
	return out, nil
}

// mayList reports whether data manifest m may list a file of one of parts, by its partition
// summary. A manifest of another partition spec, or whose summary does not bound the partition,
// may.
func (c *snapshotCommit) mayList(m iceberg.ManifestFile, parts map[int32]bool) bool {
	sums := m.Partitions()
	if int(m.PartitionSpecID()) != c.spec.ID() || len(sums) != 1 {
		return true
	}
	lo, okLo := int32Bound(sums[0].LowerBound)
	hi, okHi := int32Bound(sums[0].UpperBound)
	if !okLo || !okHi {
		return true
	}
	for p := range parts {
		if lo <= p && p <= hi {
			return true
		}
	}
	return false
}

// int32Bound decodes a partition summary's bound of an int or date field: four bytes, little
// endian, as Iceberg serializes single values.
func int32Bound(b *[]byte) (int32, bool) {
	if b == nil || len(*b) != 4 {
		return 0, false
	}
	return int32(binary.LittleEndian.Uint32(*b)), true
}

// filter returns manifest m as it is when it lists none of gone's files; otherwise a copy of it
// in which they are DELETED, and how many of them it listed.
func (c *snapshotCommit) filter(m iceberg.ManifestFile, gone map[string]bool) (iceberg.ManifestFile, int, error) {
	var entries []iceberg.ManifestEntry
	n := 0
	for e, err := range m.Entries(c.fs, true) {
		if err != nil {
			return nil, 0, fmt.Errorf("read manifest %s: %w", m.FilePath(), err)
		}
		if gone[e.DataFile().FilePath()] {
			n++
		}
		entries = append(entries, e)
	}
	if n == 0 {
		return m, 0, nil
	}
	filtered, err := c.writeManifest(func(w *iceberg.ManifestWriter) error {
		for _, e := range entries {
			write := w.Existing
			if gone[e.DataFile().FilePath()] {
				write = w.Delete
			}
			if err := write(e); err != nil {
				return err
			}
		}
		return nil
	})
	return filtered, n, err
}

// writeManifest writes a data manifest of the commit's snapshot with what fill adds to it.
func (c *snapshotCommit) writeManifest(fill func(*iceberg.ManifestWriter) error) (iceberg.ManifestFile, error) {
	path := c.locations.NewMetadataLocation(fmt.Sprintf("%s-m%d.avro", c.prefix, len(c.written)))
	var m iceberg.ManifestFile
	err := c.create(path, func(out io.Writer) error {
		counted := &countingWriter{w: out}
		w, err := iceberg.NewManifestWriter(2, counted, c.spec, c.meta.CurrentSchema(), c.snapshotID,
			iceberg.WithManifestWriterContent(iceberg.ManifestContentData))
		if err != nil {
			return err
		}
		if err := fill(w); err != nil {
			return errors.Join(err, w.Close())
		}
		if err := w.Close(); err != nil {
			return err
		}
		m, err = w.ToManifestFile(path, counted.n)
		return err
	})
	return m, err
}

// create writes the file at path with write, and records it as written by the commit.
func (c *snapshotCommit) create(path string, write func(io.Writer) error) error {
	f, err := c.fs.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	c.written = append(c.written, path)
	if err := write(f); err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", path, err), f.Close())
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// removeWritten deletes the files of a commit that did not take place.
func (c *snapshotCommit) removeWritten() {
	for _, path := range c.written {
		_ = c.fs.Remove(path)
	}
}

// countingWriter counts the bytes written through it: a manifest list records each manifest's
// length.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// newSnapshotID returns a positive snapshot id that meta does not hold yet.
func newSnapshotID(meta table.Metadata) int64 {
	for {
		id := rand.Int64N(math.MaxInt64-1) + 1
		if meta.SnapshotByID(id) == nil {
			return id
		}
	}
}

// snapshotSummary is the summary Iceberg's spec gives a snapshot that removes removed and adds
// added to parent: what changed, the new totals from parent's, and props.
func snapshotSummary(parent *table.Snapshot, removed, added []iceberg.DataFile, props iceberg.Properties) iceberg.Properties {
	var addedRows, addedBytes, removedRows, removedBytes int64
	parts := map[string]bool{}
	for _, f := range added {
		addedRows += f.Count()
		addedBytes += f.FileSizeBytes()
		parts[fmt.Sprint(f.Partition())] = true
	}
	for _, f := range removed {
		removedRows += f.Count()
		removedBytes += f.FileSizeBytes()
		parts[fmt.Sprint(f.Partition())] = true
	}
	s := iceberg.Properties{}
	set := func(key string, v int64) {
		if v != 0 {
			s[key] = strconv.FormatInt(v, 10)
		}
	}
	set("added-data-files", int64(len(added)))
	set("added-records", addedRows)
	set("added-files-size", addedBytes)
	set("deleted-data-files", int64(len(removed)))
	set("deleted-records", removedRows)
	set("removed-files-size", removedBytes)
	s["changed-partition-count"] = strconv.Itoa(len(parts))
	var before iceberg.Properties
	if parent.Summary != nil {
		before = parent.Summary.Properties
	}
	total := func(key string, delta int64) {
		if v := before.GetInt64(key, 0) + delta; v >= 0 {
			s[key] = strconv.FormatInt(v, 10)
		}
	}
	total("total-data-files", int64(len(added)-len(removed)))
	total("total-records", addedRows-removedRows)
	total("total-files-size", addedBytes-removedBytes)
	total("total-delete-files", 0)
	total("total-position-deletes", 0)
	total("total-equality-deletes", 0)
	maps.Copy(s, props)
	return s
}
