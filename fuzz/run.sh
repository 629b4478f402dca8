#!/bin/sh
# Builds the PaneLogFilter fuzzer with libFuzzer and AddressSanitizer (the
# Swift toolchain's -sanitize=fuzzer,address) and runs it.
#   fuzz/run.sh [SECONDS] [libFuzzer options...]
# Corpus: fuzz/corpus (seeded from the recorded fixture); crashes land in fuzz/crashes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
seconds=${1:-600}
[ $# -gt 0 ] && shift
build="$here/.build"
mkdir -p "$build" "$here/corpus" "$here/crashes"
rm -f "$build/pane-log-fuzz"
if ! swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name PaneLogFuzz \
    "$root"/Sources/PaneLogFilter/*.swift \
    "$root/Tests/PaneLogFilterTests/StreamGenerator.swift" \
    "$here/PaneLogFuzz.swift" -o "$build/pane-log-fuzz" 2> "$build/build.log"; then
    grep -v 'Cannot export local symbol' "$build/build.log" >&2
    exit 1
fi
# A raw-stream seed: the recorded agent session behind an even first byte.
seed="$here/corpus/agent-session"
[ -e "$seed" ] || { printf '\000' > "$seed"; cat "$root/Tests/PaneLogFilterTests/Fixtures/agent-session.raw" >> "$seed"; }
# The Swift runtime's own crash handler would race AddressSanitizer's report.
SWIFT_BACKTRACE=enable=no exec "$build/pane-log-fuzz" -max_total_time="$seconds" -max_len=8192 -timeout=60 -rss_limit_mb=2048 \
    -artifact_prefix="$here/crashes/" -print_final_stats=1 "$@" "$here/corpus"
