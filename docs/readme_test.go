// Package docs holds the project's documents; its test keeps the README's layout table true.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ignored are folders that are not part of the source: tools, data, build outputs.
var ignored = []string{".git", ".tools", ".data", "cdk.out", "node_modules"}

// folders lists the folders up to two levels down that hold files of their own.
func folders(t *testing.T, root string) []string {
	var out []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if slices.Contains(ignored, d.Name()) || strings.Count(rel, string(filepath.Separator)) >= 2 {
				return filepath.SkipDir
			}
			return nil
		}
		dir := filepath.Dir(rel)
		if dir != "." && !strings.HasPrefix(dir, ".") || dir == filepath.Join(".github", "workflows") {
			out = append(out, filepath.ToSlash(dir)+"/")
		}
		return nil
	})
	require.NoError(t, err)
	slices.Sort(out)
	return slices.Compact(out)
}

func TestLayoutTableListsEveryFolder(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	section := string(readme)
	start := strings.Index(section, "## Layout")
	require.GreaterOrEqual(t, start, 0, "the README has a Layout section")
	section = section[start:]
	if end := strings.Index(section[3:], "\n## "); end > 0 {
		section = section[:end+3]
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.SplitN(line, "|", 3)[1]
		for _, m := range regexp.MustCompile("`([^`]+/)`").FindAllStringSubmatch(first, -1) {
			listed[m[1]] = true
		}
	}
	require.NotEmpty(t, listed)
	existing := folders(t, "..")
	for _, f := range existing {
		assert.True(t, listed[f], "folder %s is not in the README's layout table", f)
	}
	for f := range listed {
		assert.Contains(t, existing, f, "the README's layout table lists %s, which holds no file", f)
	}
}
