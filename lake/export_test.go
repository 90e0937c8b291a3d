package lake

import "context"

// ManifestCount is the number of manifests of the table's current snapshot.
func ManifestCount(ctx context.Context, l *Lakehouse, name string) (int, error) {
	for _, t := range Tables() {
		if t.TableName() != name {
			continue
		}
		tbl, err := l.LoadTable(ctx, t)
		if err != nil || tbl.CurrentSnapshot() == nil {
			return 0, err
		}
		fs, err := tbl.FS(ctx)
		if err != nil {
			return 0, err
		}
		manifests, err := tbl.CurrentSnapshot().Manifests(fs)
		return len(manifests), err
	}
	return 0, nil
}
