#!/usr/bin/env bash
# Records the workflow histories that TestReplayRecordedHistories replays: runs the dev-server
# integration tests, which export the parent and one child history here with
# `temporal workflow show --output json` when RECORD_HISTORIES is set. Run it after a
# deliberate, versioned workflow change, and commit the new files next to the old ones.
set -euo pipefail
cd "$(dirname "$0")/../.."
make tools >/dev/null
export PATH="$PWD/.tools/bin:$PWD/.tools/node_modules/.bin:$PATH"
RECORD_HISTORIES="$PWD/workflows/testdata" go test ./workflows -run '^(TestDailyRunOnDevServer|TestRunsReadWhatTheyName|TestBackfillMergeSpreadsOverThreeWorkers)$' -count=1
ls -l workflows/testdata/*.json
