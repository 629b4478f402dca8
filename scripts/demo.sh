#!/usr/bin/env bash
# The main job: builds mcrun, runs its supervisor (`mcrun serve`) on a scratch state
# directory (or $MCRUN_STATE_DIR when set), and shows what it does: two agents started and
# listed, a 409 answered by adopt, a message sent, a killed agent noticed and relaunched
# once, a ticket parked, a harvest, the event log. On a terminal the supervisor then keeps
# running until Ctrl-C. Either way it leaves nothing running: its agents, its serve and
# (in a scratch directory) its tmux server are stopped, and the scratch directory removed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Each product on its own: a plain build would also build the tests' support library.
for product in mcrun mcrun-shim mcrun-pane-log; do
    swift build -c release --static-swift-stdlib --product "$product"
done
mcrun=$PWD/.build/release/mcrun
scratch=
if [ -z "${MCRUN_STATE_DIR:-}" ]; then
    scratch=$(mktemp -d -t mcrun-demo-XXXXXX)
    export MCRUN_STATE_DIR=$scratch/state
fi
# A tmux server that was there before the demo (a real state directory) is not the demo's to stop.
tmux_before=no
tmux -S "$MCRUN_STATE_DIR/tmux/sock" list-sessions >/dev/null 2>&1 && tmux_before=yes
step() { printf '\n\033[1m$ mcrun %s\033[0m\n' "$*"; "$mcrun" "$@"; }
note() { printf '\n\033[2m# %s\033[0m\n' "$*"; }
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...: poll a condition, bounded
    local deadline=$((SECONDS + $1)) what=$2; shift 2
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || { echo "demo: timed out waiting for $what" >&2; exit 1; }
        sleep 0.1
    done
}

log=$(mktemp -t mcrun-serve-XXXXXX.log)
"$mcrun" serve --retry-delay 1s --reconcile-interval 5s 2>"$log" &
serve=$!
cleanup() {
    for t in DEMO-1 DEMO-2; do "$mcrun" stop "$t" --grace 2s >/dev/null 2>&1 || true; done
    "$mcrun" unpark DEMO-2 >/dev/null 2>&1 || true
    kill -TERM "$serve" 2>/dev/null && wait "$serve" 2>/dev/null || true
    [ "$tmux_before" = yes ] || tmux -S "$MCRUN_STATE_DIR/tmux/sock" kill-server 2>/dev/null || true
    [ -z "$scratch" ] || rm -rf "$scratch"
    rm -f "$log"
}
trap cleanup EXIT
note "mcrun serve (pid $serve) supervises $MCRUN_STATE_DIR; its log: $log"

worker='i=0; while :; do i=$((i+1)); echo "DEMO-1 working, step $i"; sleep 1; done'
echoer='echo "DEMO-2 ready"; while IFS= read -r line; do echo "DEMO-2 got: $line"; done'
step start DEMO-1 --owner demo -- sh -c "$worker"
step start DEMO-2 --owner demo -- sh -c "$echoer"
step ps
note "a second start of a live ticket is a 409, not a new session; the dispatcher adopts"
step start DEMO-1 --owner demo -- sh -c "$worker" || echo "(exit $?)"
step adopt DEMO-1 --owner demo
note "DEMO-2 printed a moment ago, so it counts as busy: --queue lets serve deliver when it is idle"
step send DEMO-2 --queue 'hello from the dispatcher: $(not a shell) "quotes" C-c'
wait_for 10 "the echo" sh -c "'$mcrun' logs DEMO-2 | grep -q 'DEMO-2 got: hello'"
step logs DEMO-2

note "kill DEMO-1's agent behind mcrun's back: serve notices at once and relaunches it once"
pid=$("$mcrun" show DEMO-1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runtime"]["pid"])')
kill -KILL "$pid"
wait_for 20 "the relaunch" sh -c "'$mcrun' show DEMO-1 --json | python3 -c 'import json,sys; r=json.load(sys.stdin)[\"runtime\"]; sys.exit(0 if r[\"episode\"] == 2 and r[\"state\"] == \"running\" else 1)'"
step ps --all
step harvest DEMO-1 --episode 1

note "park: the runtime is stopped and the ticket cannot be started until unparked"
step park DEMO-2 --reason "waiting for review" --grace 2s
step start DEMO-2 -- sh -c "$echoer" || echo "(exit $?)"
step stop DEMO-1 --reason "demo finished" --grace 2s
step ps --all
step show DEMO-1 --events 12

note "the same counts for Prometheus (mcrun metrics, or serve --metrics-textfile for node_exporter)"
"$mcrun" metrics | grep -E '^mcrun_(runtimes\{state="(running|dead|stopped)"\}|deaths_total|relaunches_total|death_record_seconds_count)'
step doctor || echo "(exit $?)"

if [ -t 0 ] && [ -t 1 ]; then
    note "serve keeps supervising $MCRUN_STATE_DIR; try: MCRUN_STATE_DIR=$MCRUN_STATE_DIR $mcrun ps --watch; Ctrl-C ends the demo and cleans up"
    wait "$serve" || true
fi
