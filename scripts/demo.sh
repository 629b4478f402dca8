#!/usr/bin/env bash
# The main job: builds mcrun, then shows what it does on the default state directory
# (~/.local/state/mcrun, or $MCRUN_STATE_DIR): two agents started, listed, one stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release
mcrun=$PWD/.build/release/mcrun
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

demo_agent='i=0; while :; do i=$((i+1)); echo "working on $MCRUN_TICKET, step $i"; sleep 2; done'
step "$mcrun" start DEMO-1 --owner demo -- sh -c "$demo_agent"
step "$mcrun" start DEMO-2 --owner demo -- sh -c "$demo_agent"
step "$mcrun" start DEMO-1 -- sh -c "$demo_agent" || echo "(exit $?: DEMO-1 already has a live runtime)"
step "$mcrun" ps
step "$mcrun" stop DEMO-1 --reason "demo finished" --grace 2s
step "$mcrun" ps --all
step "$mcrun" show DEMO-1
step "$mcrun" stop DEMO-2 --reason "demo finished" --grace 2s
