#!/usr/bin/env bash
# npm run bench: builds, then runs each benchmark (or those named) in turn.
# Each prints Fieldsync's figure beside a baseline measured in the same run.
# As root the benchmarks run inside a private network namespace (only lo).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${FIELDSYNC_BENCH_INNER:-}" ]; then
  bash test/system-deps.sh
  npm run --silent build
  if [ "$(id -u)" = 0 ] && unshare --net true 2>/dev/null; then
    exec env FIELDSYNC_BENCH_INNER=1 FIELDSYNC_TEST_NETNS=1 unshare --net -- bash -c 'ip link set lo up && exec bash test/bench/run.sh "$@"' run.sh "$@"
  fi
fi
if [ $# -gt 0 ]; then benches=(); for n in "$@"; do benches+=("dist/test/bench/$n.bench.js"); done
else mapfile -t benches < <(find dist/test/bench -name '*.bench.js' | sort); fi
for b in "${benches[@]}"; do
  echo "### $(basename "$b" .bench.js)"
  node "$b"
done
