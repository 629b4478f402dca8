#!/usr/bin/env python3
"""Crash safety of the ending path: `mcrun serve` is SIGKILLed at random moments, over and
over, while agents die on their own and are relaunched; afterwards the ledger must tell
the truth. Exits non-zero when an invariant is broken.

Each cycle starts serve, tops the host up to --live tickets (each a new ticket whose agent
lives a random 0.2-2 s: `sleep`, or `sh -c 'sleep X; exit 3'`, or SIGKILLed by this
script), waits a random 0.05-1.5 s and SIGKILLs serve; some agents are also killed while
serve is down. Every ticket lives through at most two episodes: its first death is relaunched
once (after --retry-delay, a window in which serve is often killed), its second escalates.
After the last cycle one serve runs until every ticket has settled.

Invariants checked from the ledger (and tmux):
- every `dead` runtime has its exit status (exit_code or exit_signal);
- every first death was followed by exactly one relaunch or an escalation (no relaunch
  lost, none doubled);
- never two live runtimes for a ticket, never two sessions with a running agent for a
  ticket (sampled every cycle);
- tickets.deaths equals the number of `dead` runtimes of the ticket (no resets or
  completions happen here), and one `death` event per dead runtime;
- no ended runtime is left with its teardown owed once serve has settled.

Usage: python3 bench/serve_kill_loop.py [--mcrun PATH] [--cycles 100] [--max-seconds 540]
"""
import argparse, json, os, random, shutil, signal, sqlite3, subprocess, sys, tempfile, time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from death_latency import kill_env_marker  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mcrun", default=os.path.join(HERE, "..", ".build", "release", "mcrun"))
    ap.add_argument("--cycles", type=int, default=100)
    ap.add_argument("--live", type=int, default=8)
    ap.add_argument("--retry-delay", default="400ms")
    ap.add_argument("--max-seconds", type=float, default=540)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    mcrun = os.path.abspath(args.mcrun)
    rng = random.Random(args.seed)
    scratch = tempfile.mkdtemp(prefix="mcrun-kloop-", dir="/tmp")
    state = os.path.join(scratch, "state")
    env = dict(os.environ, MCRUN_STATE_DIR=state, MCRUN_ACTOR="bench")
    for key in ("MCRUN_TICKET", "MCRUN_EPISODE", "MCRUN_NONCE", "MCRUN_RUNTIME_ID", "TMUX", "TMUX_PANE", "NOTIFY_SOCKET"):
        env.pop(key, None)
    sock = os.path.join(state, "tmux", "sock")
    db = os.path.join(state, "ledger.sqlite")
    serve_args = [mcrun, "serve", "--retry-delay", args.retry_delay, "--reconcile-interval", "500ms"]
    serve_log = open(os.path.join(scratch, "serve.log"), "w")
    began = time.monotonic()
    tickets = 0
    starts_failed = Counter()
    kills = Counter()
    double_sessions = []
    cycles = 0
    serve = None

    def live_agents(conn):
        return conn.execute("select ticket, pid from runtimes where state='running' and pid is not null").fetchall()

    def sample_sessions():
        r = subprocess.run(["tmux", "-S", sock, "list-panes", "-a", "-F", "#{session_name} #{pane_dead}"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        running = Counter(line.split()[0].split("@")[0] for line in r.stdout.splitlines() if line.endswith(" 0"))
        return [t for t, c in running.items() if c > 1]

    try:
        while cycles < args.cycles and time.monotonic() - began < args.max_seconds:
            cycles += 1
            serve = subprocess.Popen(serve_args, env=env, stdout=serve_log, stderr=serve_log)
            if cycles == 1:
                deadline = time.monotonic() + 30
                while not os.path.exists(db) and time.monotonic() < deadline:
                    time.sleep(0.01)
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
            try:
                live = conn.execute("select count(*) from runtimes where state in ('launching','running','stopping')").fetchone()[0]
            except sqlite3.OperationalError:
                live = 0
            for _ in range(max(0, args.live - live)):
                tickets += 1
                lifetime = f"{rng.uniform(0.2, 2.0):.2f}"
                kind = rng.choice(["sleep", "exit3", "killed"])
                cmd = ["sh", "-c", f"sleep {lifetime}; exit 3"] if kind == "exit3" else ["sleep", "3600" if kind == "killed" else lifetime]
                r = subprocess.run([mcrun, "start", f"K{tickets}", "--json", "--"] + cmd, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                if r.returncode != 0:
                    starts_failed[json.loads(r.stdout or "{}").get("reason", str(r.returncode))] += 1
            time.sleep(rng.uniform(0.05, 1.5))
            # Agents that never end by themselves are killed, some while serve runs...
            for ticket, pid in live_agents(conn):
                if rng.random() < 0.3:
                    try:
                        os.kill(pid, signal.SIGKILL)
                        kills["while serve runs"] += 1
                    except ProcessLookupError:
                        pass
            time.sleep(rng.uniform(0, 0.3))
            serve.kill()
            serve.wait()
            kills["serve"] += 1
            double_sessions += sample_sessions()
            # ...and some while it is down.
            for ticket, pid in live_agents(conn):
                if rng.random() < 0.2:
                    try:
                        os.kill(pid, signal.SIGKILL)
                        kills["while serve is down"] += 1
                    except ProcessLookupError:
                        pass
            conn.close()

        # Settle: one serve runs until nothing is live and no relaunch is owed. Agents that
        # would sleep for an hour are killed (a death, counted like the others).
        serve = subprocess.Popen(serve_args, env=env, stdout=serve_log, stderr=serve_log)
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        settle_deadline = time.monotonic() + 90
        settled = False
        while time.monotonic() < settle_deadline:
            for ticket, pid in live_agents(conn):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            live = conn.execute("select count(*) from runtimes where state in ('launching','running','stopping')").fetchone()[0]
            owed = conn.execute("select count(*) from pending_retries").fetchone()[0]
            torn = conn.execute("select count(*) from runtimes where teardown_owed = 1").fetchone()[0]
            if live == 0 and owed == 0 and torn == 0:
                settled = True
                break
            time.sleep(0.2)
        double_sessions += sample_sessions()
        serve.send_signal(signal.SIGTERM)
        serve.wait(10)

        # ---------------------------------------------------------------- the invariants
        q = lambda sql, *a: conn.execute(sql, a).fetchall()
        dead_total = q("select count(*) from runtimes where state='dead'")[0][0]
        no_status = q("select id, ticket, episode, end_reason, ended_by from runtimes where state='dead' and exit_code is null and exit_signal is null")
        teardown_owed = q("select id, ticket, episode, state from runtimes where teardown_owed = 1")
        double_live = q("select ticket, count(*) from runtimes where state in ('launching','running','stopping') group by ticket having count(*) > 1")
        deaths_events = dict(q("select runtime_id, count(*) from events where kind='death' group by runtime_id"))
        dead_ids = [r[0] for r in q("select id from runtimes where state='dead'")]
        death_event_wrong = [rid for rid in dead_ids if deaths_events.get(rid, 0) != 1] + [rid for rid in deaths_events if rid not in set(dead_ids)]
        miscounted, lost, doubled, first_deaths, relaunched, escalated_first = [], [], [], 0, 0, 0
        retry_events = dict(q("select ticket, count(*) from events where kind='retry' group by ticket"))
        for tid, deaths, escalated in q("select id, deaths, escalated from tickets"):
            # A relaunch that failed to launch for a cause outside the agent is owed again:
            # those attempts are not episodes that ran.
            rts = q("select episode, state from runtimes where ticket=? and state != 'launch_failed' order by episode", tid)
            dead = sum(1 for _, s in rts if s == "dead")
            if deaths != dead:
                miscounted.append((tid, deaths, dead, [s for _, s in rts]))
            if rts and rts[0][1] == "dead":
                first_deaths += 1
                later = len(rts) - 1
                if later == 1 and retry_events.get(tid, 0) == 1:
                    relaunched += 1
                elif later == 0 and escalated:
                    escalated_first += 1
                elif later == 0:
                    lost.append((tid, [s for _, s in rts]))
                if later > 1 or retry_events.get(tid, 0) > 1:
                    doubled.append((tid, [s for _, s in rts], retry_events.get(tid, 0)))
        states = Counter(s for (s,) in q("select state from runtimes"))
        elapsed = time.monotonic() - began

        print(f"serve SIGKILLed {kills['serve']} times over {cycles} cycles in {elapsed:.0f} s; {tickets} tickets started "
              f"({sum(starts_failed.values())} starts refused or failed: {dict(starts_failed)})")
        print(f"agents SIGKILLed by the loop: {kills['while serve runs']} while serve ran, {kills['while serve is down']} while it was down")
        print(f"runtimes by state: {dict(states)}; settled at the end: {settled}")
        print()
        print("| invariant | broken | of |")
        print("| --- | --- | --- |")
        print(f"| `dead` runtime without exit status | {len(no_status)} | {dead_total} deaths |")
        print(f"| first death neither relaunched nor escalated (relaunch lost) | {len(lost)} | {first_deaths} first deaths |")
        print(f"| relaunched more than once | {len(doubled)} | {first_deaths} first deaths |")
        print(f"| two live runtimes for a ticket (ledger) | {len(double_live)} | {tickets} tickets |")
        print(f"| two running sessions for a ticket (tmux, sampled per cycle) | {len(double_sessions)} | {cycles + 1} samples |")
        print(f"| tickets.deaths != dead runtimes | {len(miscounted)} | {tickets} tickets |")
        print(f"| dead runtime without exactly one `death` event | {len(death_event_wrong)} | {dead_total} deaths |")
        print(f"| ended runtime whose teardown is still owed after settling | {len(teardown_owed)} | {sum(states.values())} runtimes |")
        print()
        print(f"first deaths: {relaunched} relaunched once, {escalated_first} escalated without relaunch, {len(lost)} lost")
        for name, items in [("without exit status", no_status), ("relaunch lost", lost), ("doubled", doubled),
                            ("miscounted", miscounted), ("death events", death_event_wrong), ("double sessions", double_sessions),
                            ("teardown owed", teardown_owed)]:
            if items:
                print(f"{name}: {items[:10]}{' ...' if len(items) > 10 else ''}")
        broken = len(no_status) + len(lost) + len(doubled) + len(double_live) + len(double_sessions) + len(miscounted) + len(death_event_wrong) + len(teardown_owed)
        if not settled:
            print("did not settle within 90 s after the last cycle")
            broken += 1
        return 1 if broken else 0
    finally:
        if serve and serve.poll() is None:
            serve.kill()
        # Stopped through mcrun, so each runtime's cgroup goes with it (a killed server leaves them).
        subprocess.run([mcrun, "stop", "--all", "--grace", "1s", "--reason", "benchmark done"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        subprocess.run(["tmux", "-S", sock, "kill-server"], stderr=subprocess.DEVNULL)
        kill_env_marker(f"MCRUN_STATE_DIR={state}")
        if os.environ.get("KEEP_SCRATCH"):
            print(f"kept {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
