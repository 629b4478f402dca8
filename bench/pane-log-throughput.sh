#!/bin/sh
# Throughput of the pane-log pump on a generated, chatty agent stream, beside
# `cat` and a colour-stripping `sed` as reference points (neither produces a
# readable transcript: they only show what reading and a regex cost here).
#
# usage: bench/pane-log-throughput.sh [MEGABYTES] [RUNS]    (default 200 MB, best of 3)
# Builds mcrun-pane-log in release mode. Needs python3, GNU date and sed.
set -eu

megabytes=${1:-200}
runs=${2:-3}
cd "$(dirname "$0")/.."

swift build -c release --product mcrun-pane-log >/dev/null
pump="$(swift build -c release --show-bin-path)/mcrun-pane-log"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

# The stream: coloured log lines, compiler-style output with UTF-8, a braille
# spinner and a progress bar redrawn with \r, a three-line status block
# redrawn with ESC[3A, window titles and hyperlinks. A 4 MB block of it,
# seeded, is repeated up to the size asked for.
python3 - "$megabytes" "$work/stream.raw" <<'PY'
import random, sys
megabytes, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(8)
braille = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
words = ("parser token syntax tree module build test cache index request "
         "response handler retry timeout config résumé naïve 日本語 ✓").split()
block = []
size = 0
tick = 0
while size < 4 << 20:
    kind = rng.random()
    if kind < 0.55:
        text = " ".join(rng.choice(words) for _ in range(rng.randint(4, 16)))
        part = f"\x1b[3{rng.randint(1, 7)}m●\x1b[39m {text} \x1b[2m({rng.randint(1, 999)} ms)\x1b[22m\r\n"
    elif kind < 0.75:
        part = "".join(f"\r\x1b[36m{braille[(tick + i) % 10]}\x1b[0m Thinking… ({tick // 10}s)"
                       for i in range(rng.randint(5, 30))) + "\r\x1b[2K"
    elif kind < 0.85:
        part = "".join(f"\rDownloading {'█' * (p // 5)}{'░' * (20 - p // 5)} {p:3d}%" for p in range(0, 101, 5)) + "\r\n"
    elif kind < 0.95:
        part = "\x1b[3A" + "".join(f"\x1b[2K  {name}: {rng.randint(0, 500)}\r\n" for name in ("tests", "passed", "failed"))
    else:
        part = f"\x1b]0;agent: step {tick}\x07See \x1b]8;;https://example.com/{tick}\x1b\\docs\x1b]8;;\x1b\\ and\tmore\r\n"
    tick += 1
    data = part.encode()
    block.append(data)
    size += len(data)
chunk = b"".join(block)
with open(path, "wb") as out:
    remaining = megabytes << 20
    while remaining > 0:
        out.write(chunk[:remaining])
        remaining -= len(chunk)
PY

bytes=$(wc -c < "$work/stream.raw")

# "WALL CPU" seconds of the run with the least CPU time out of $runs. CPU time
# (user + system) is what the pump costs; wall time also shows waiting, and
# on a busy machine the two differ.
measure() {
    best=""
    i=0
    while [ "$i" -lt "$runs" ]; do
        rm -f "$work"/out*
        if [ -x /usr/bin/time ]; then
            /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" < "$work/stream.raw"
            run=$(awk '{ printf "%.3f %.3f", $1, $2 + $3 }' "$work/time")
        else
            start=$(date +%s.%N)
            "$@" < "$work/stream.raw"
            end=$(date +%s.%N)
            run=$(echo "$start $end" | awk '{ s = $2 - $1; printf "%.3f %.3f", s, s }')
        fi
        best=$(echo "$run ${best:-}" | awk '{ if ($3 == "" || $2 < $4) print $1, $2; else print $3, $4 }')
        i=$((i + 1))
    done
    echo "$best"
}

cat_times=$(measure sh -c 'cat > /dev/null')
sed_times=$(measure sh -c "sed 's/\\x1b\\[[0-9;]*m//g' > /dev/null")
pump_times=$(measure "$pump" --max-bytes 1G "$work/out.log")
"$pump" --max-bytes 1G "$work/out.log" < "$work/stream.raw"
clean_bytes=$(wc -c < "$work/out.log")

echo "$cat_times $sed_times $pump_times" | awk -v bytes="$bytes" -v clean="$clean_bytes" '{
    mb = bytes / 1048576
    printf "stream: %.0f MB raw -> %.1f MB transcript (%.1f%% of the bytes)\n", mb, clean / 1048576, 100 * clean / bytes
    printf "%-16s %8s %10s %8s %10s %14s\n", "tool", "wall s", "wall MB/s", "CPU s", "CPU MB/s", "CPU vs pump"
    split("cat|sed (SGR only)|mcrun-pane-log", name, "|")
    for (i = 1; i <= 3; i++) {
        wall = $(2 * i - 1); cpu = $(2 * i)
        if (wall <= 0) wall = 0.001
        if (cpu <= 0) cpu = 0.001
        printf "%-16s %8.2f %10.0f %8.2f %10.0f %13.2fx\n", name[i], wall, mb / wall, cpu, mb / cpu, cpu / $6
    }
}'
