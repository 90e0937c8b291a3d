package docs

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/marketing-data/wistia-pipeline/"

// layers are the project's packages, lowest first, as docs/architecture.md draws them: a
// package's own (non-test) files import only packages of lower layers.
var layers = [][]string{
	{"dates", "config", "csvsafe", "deploy/observability"},
	{"wistia", "wistia/wistiasim", "wistia/apispec"},
	{"lake/bronze", "lake/state", "lake/engine"},
	{"lake/silver"},
	{"lake/gold"},
	{"lake"},
	{"ingest"},
	{"activities"},
	{"workflows"},
	{"internal/operate", "internal/dashboard", "internal/metrics", "internal/httpserve"},
	{"internal/app"},
	{"internal/doctor"},
	entryPoints,
}

var entryPoints = []string{"worker", "starter", "cmd/demo", "cmd/contract", "cmd/wistiasim", "cmd/healthcheck"}

// support are test harnesses: they may import anything, and only tests and entry points
// (the demo starts the dev server) import them.
var support = []string{"internal/testenv", "internal/devserver", "internal/truthcheck", "internal/benchdata", "internal/soak"}

func layerOf(pkg string) int {
	for i, l := range layers {
		if slices.Contains(l, pkg) {
			return i
		}
	}
	return -1
}

// TestImportsGoDownTheLayers holds every package's imports to the layers above, so the
// diagram in docs/architecture.md stays true.
func TestImportsGoDownTheLayers(t *testing.T) {
	cmd := exec.Command("go", "list", "-json=ImportPath,GoFiles,Imports", "./...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	require.NoError(t, err, "go list")
	dec := json.NewDecoder(bytes.NewReader(out))
	checked := 0
	for {
		var p struct {
			ImportPath string
			GoFiles    []string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		pkg := strings.TrimPrefix(p.ImportPath, module)
		if len(p.GoFiles) == 0 || slices.Contains(support, pkg) {
			continue // tests only, or a harness
		}
		layer := layerOf(pkg)
		if !assert.NotEqual(t, -1, layer, "%s is in no layer: add it to layers here and to docs/architecture.md", pkg) {
			continue
		}
		checked++
		for _, imp := range p.Imports {
			dep, ok := strings.CutPrefix(imp, module)
			if !ok {
				continue
			}
			if slices.Contains(support, dep) {
				assert.Contains(t, entryPoints, pkg, "%s imports the test harness %s", pkg, dep)
				continue
			}
			assert.Less(t, layerOf(dep), layer, "%s (layer %d) imports %s (layer %d): imports go down the layers", pkg, layer, dep, layerOf(dep))
		}
	}
	assert.Greater(t, checked, 20, "go list found the project's packages")
}
