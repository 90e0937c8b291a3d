package dashboard

import (
	"context"
	"strings"
	"sync"

	"github.com/marketing-data/wistia-pipeline/lake"
)

// The dashboard keeps what it derives from each gold table in memory, under the table's
// current Iceberg snapshot. Every request loads the table's metadata from the catalog (one
// load, no data file) and uses what is kept when the snapshot is the same; a new snapshot is
// read once, however many requests ask for it at the same time, and is what every request
// that loaded it sees from then on. Only the newest snapshot's state is kept per table, and a
// day-partitioned fact re-reads only the days whose data files changed (see tables.go).

// goldTable keeps what the dashboard derives from one gold table (rows of type R) for the
// table's latest snapshot.
type goldTable[R, V any] struct {
	name  string // "<layer>.<name>", as Reads reports it
	state snapshotCache[V]
	// derive builds the state of snap, given the state of the snapshot read before it (the
	// empty state in state.val at first), whose unchanged parts it may share: states are
	// never changed once built.
	derive func(ctx context.Context, snap lake.Snapshot[R], prev V) (V, error)
}

// current is the state of the table's current snapshot.
func (t *goldTable[R, V]) current(ctx context.Context, lh *lake.Lakehouse) (V, error) {
	snap, err := lake.LoadSnapshot[R](ctx, lh)
	if err != nil {
		var zero V
		return zero, err
	}
	return t.state.get(ctx, snap.ID(), func(ctx context.Context, prev V) (V, error) {
		return t.derive(ctx, snap, prev)
	})
}

// snapshotCache holds one value, the one of the newest snapshot read, and runs one load per
// snapshot however many callers ask for it at once.
type snapshotCache[V any] struct {
	mu       sync.Mutex
	id       int64      // the snapshot val is of
	val      V          // before the first load, the state of a table without rows
	ok       bool       // val is id's
	inFlight *flight[V] // the latest load started, until it ends
	reads    int        // loads started
}

// flight is one load of a snapshot's value; done closes when val and err are set.
type flight[V any] struct {
	id   int64
	done chan struct{}
	val  V
	err  error
}

// get returns the value of snapshot id: the kept one, the one a load in flight brings, or
// one it loads itself. load gets the newest value kept, to share what has not changed. A
// failed load keeps nothing, so the next request tries again.
func (c *snapshotCache[V]) get(ctx context.Context, id int64, load func(ctx context.Context, prev V) (V, error)) (V, error) {
	c.mu.Lock()
	if c.ok && c.id == id {
		v := c.val
		c.mu.Unlock()
		return v, nil
	}
	if f := c.inFlight; f != nil && f.id == id {
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.val, f.err
		case <-ctx.Done():
			var zero V
			return zero, context.Cause(ctx)
		}
	}
	f := &flight[V]{id: id, done: make(chan struct{})}
	c.inFlight = f
	c.reads++
	prev := c.val
	c.mu.Unlock()

	// The load outlives a caller that goes away: others may be waiting for it.
	f.val, f.err = load(context.WithoutCancel(ctx), prev)
	c.mu.Lock()
	// Another snapshot's load may have started meanwhile (a commit landed): the last load
	// started is the one kept. Whichever is kept, each caller gets the value of the very
	// snapshot it asked for, never another's.
	if c.inFlight == f {
		c.inFlight = nil
		if f.err == nil {
			c.id, c.val, c.ok = id, f.val, true
		}
	}
	c.mu.Unlock()
	close(f.done)
	return f.val, f.err
}

func (c *snapshotCache[V]) loads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

// names numbers strings (media or visitor ids) in the order first seen, so the states keep
// small numbers rather than strings, and the numbers stay the same from one snapshot to the
// next. It only grows: by the ids gold has held, which dim_media and dim_visitor hold anyway.
type names struct {
	mu   sync.Mutex
	num  map[string]int32
	list []string
}

func newNames() *names { return &names{num: map[string]int32{}} }

// number calls use with a function numbering strings, under one lock for a batch of rows.
// Strings are copied when first seen: those decoded from a scan share its buffers.
func (n *names) number(use func(of func(string) int32)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	use(func(s string) int32 {
		if i, ok := n.num[s]; ok {
			return i
		}
		s = strings.Clone(s)
		i := int32(len(n.list))
		n.num[s] = i
		n.list = append(n.list, s)
		return i
	})
}

// lookup is the number of s, if it has one.
func (n *names) lookup(s string) (int32, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	i, ok := n.num[s]
	return i, ok
}

// all lists the strings numbered so far, by number. Strings are only appended, so the list
// stays valid as more are numbered.
func (n *names) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.list
}
