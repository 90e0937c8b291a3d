package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; without it, the
// module version and VCS revision Go stamped into the binary are shown.
var version = ""

func versionCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version of this build",
		Example: `  starter version`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v, revision, modified := version, "unknown", false
			if info, ok := debug.ReadBuildInfo(); ok {
				if v == "" {
					v = info.Main.Version
				}
				for _, s := range info.Settings {
					switch s.Key {
					case "vcs.revision":
						revision = s.Value
					case "vcs.modified":
						modified = s.Value == "true"
					}
				}
			}
			if modified {
				revision += " (modified)"
			}
			fmt.Fprintf(c.stdout, "starter %s\nrevision %s\n%s %s/%s\n", v, revision, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
