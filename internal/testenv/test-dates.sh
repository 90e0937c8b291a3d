#!/usr/bin/env bash
# make test-dates: runs the calendar-sensitive tests as if on each day from FROM to TO
# (TEST_DATE, read by testenv.Today). They are the tests whose every clock is their own: the
# simulator's, the activities' and Temporal's test environment's; tests on the dev server run on
# the real day only, since its clock cannot move. Prints a row per day and the totals; exits 1
# when any test failed or was skipped on any day.
set -euo pipefail
from=${1:?usage: test-dates.sh FROM TO (YYYY-MM-DD)}
to=${2:?usage: test-dates.sh FROM TO (YYYY-MM-DD)}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

# package | -run pattern: each run is one test binary started once per day.
runs=(
  "workflows|^(TestScheduledDaysEqualTheTruth|TestScheduledRunMakesTheLocalDayFinal)$"
  "lake|^TestLakehouse$/^file$"
  "lake|^(TestQuarantinedCountsRowsAdded|TestAnyStatsZoneMatchesGroundTruth|TestAStatsZoneSetWrongIsNamed|TestHostileIDsAreQuarantinedAndNeverUsedAsNames|TestHostileVisitorKeyIsQuarantined)$"
)

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
for pkg in workflows lake; do
  go test -c -o "$bin/$pkg.test" "./$pkg"
done

days=0 failures=0 fewest=0 most=0
printf '| date | tests | failed | seconds |\n|---|---|---|---|\n'
d=$from
while [[ ! "$d" > "$to" ]]; do
  start=$(date +%s)
  logs=()
  for i in "${!runs[@]}"; do
    pkg=${runs[$i]%%|*} pattern=${runs[$i]#*|}
    logs+=("$bin/$d.$i.log")
    # Each binary runs in its package's folder, as go test runs it; the runs share the 2 cores.
    (cd "$pkg" && TEST_DATE=$d "$bin/$pkg.test" -test.run "$pattern" -test.v -test.count=1 -test.timeout 10m >"$bin/$d.$i.log" 2>&1) &
  done
  wait || true
  tests=$(cat "${logs[@]}" | grep -cE '^--- (PASS|FAIL|SKIP): ' || true)
  failed=$(cat "${logs[@]}" | grep -cE '^--- (FAIL|SKIP): |^(FAIL|panic:)' || true)
  if [[ $failed -gt 0 ]]; then
    failures=$((failures + failed))
    cat "${logs[@]}" | grep -E -B2 -A20 '^--- FAIL|^panic:' | head -80 >&2 || true
  fi
  [[ $days -eq 0 || $tests -lt $fewest ]] && fewest=$tests
  [[ $tests -gt $most ]] && most=$tests
  printf '| %s | %d | %d | %d |\n' "$d" "$tests" "$failed" $(($(date +%s) - start))
  rm -f "${logs[@]}"
  days=$((days + 1))
  d=$(date -u -d "$d + 1 day" +%F)
done
per_day=$fewest
[[ $fewest -eq $most ]] || per_day="$fewest to $most"
echo "test-dates: $days dates from $from to $to, $per_day tests per date, $failures failures"
[[ $failures -eq 0 ]]
