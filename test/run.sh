#!/usr/bin/env bash
# The test command (README, .ci/run): builds, then runs every test with Node's
# test runner. As root it runs the whole suite inside a network namespace of
# its own (only `lo`), so that no packet, multicast included, can leave the
# machine; tests that need namespaces of their own create them inside it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${FIELDSYNC_TEST_INNER:-}" ]; then
  bash test/system-deps.sh
  [ -d node_modules ] || npm ci
  npm run --silent build
  if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && unshare --net true 2>/dev/null; then
    exec env FIELDSYNC_TEST_INNER=netns unshare --net -- bash -c 'ip link set lo up && exec bash test/run.sh "$@"' run.sh "$@"
  fi
  echo "note: not root: running without a private network namespace; tests that need one are skipped" >&2
  export FIELDSYNC_TEST_INNER=host
fi
export FIELDSYNC_TEST_NETNS=$([ "$FIELDSYNC_TEST_INNER" = netns ] && echo 1 || echo 0)
if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(find dist/test -name '*.test.js' -not -path '*/bench/*' | sort); fi
exec node --test --test-concurrency=2 --test-reporter=spec "${files[@]}"
