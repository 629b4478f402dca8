#!/usr/bin/env python3
"""N simultaneous deaths under `mcrun serve`: how long until all N are in the ledger.

N live runtimes (`sleep`) are SIGKILLed together (one loop of kill(2) calls, all sent
within about a millisecond); the time is from the first kill to each `death` event row in
the ledger (its `at` is written in the death's own transaction, together with the runtime's
move to `dead`). The ledger is read through a read-only SQLite connection. Each run uses a
fresh state directory and a fresh serve.

Reports per run: time until all N deaths are recorded, and per-death latency percentiles;
then min/median/max of the all-recorded time over the runs.

Usage: python3 bench/death_burst.py [--mcrun PATH] [--count 100] [--runs 3]
Prints a Markdown report on stdout.
"""
import argparse, json, os, shutil, signal, sqlite3, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from death_latency import kill_env_marker, pct, wait_for  # noqa: E402


def one_run(mcrun, count, scratch, n):
    state = os.path.join(scratch, f"burst{n}")
    env = dict(os.environ, MCRUN_STATE_DIR=state, MCRUN_ACTOR="bench")
    for key in ("MCRUN_TICKET", "MCRUN_EPISODE", "MCRUN_NONCE", "MCRUN_RUNTIME_ID", "TMUX", "TMUX_PANE", "NOTIFY_SOCKET"):
        env.pop(key, None)
    # A long retry delay: the relaunches owed for these first deaths do not run during the
    # measurement. The reconcile pass keeps its default (15 s), so deaths are noticed by pidfd.
    serve = subprocess.Popen([mcrun, "serve", "--retry-delay", "3600s"], env=env,
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(scratch, f"serve{n}.log"), "w"))
    try:
        db = os.path.join(state, "ledger.sqlite")
        wait_for("serve's ledger", lambda: os.path.exists(db), 30)
        agents = []
        for i in range(count):
            r = subprocess.run([mcrun, "start", f"B{i}", "--json", "--", "sleep", "3600"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
            rt = json.loads(r.stdout)["runtime"]
            agents.append((rt["id"], rt["pid"]))
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        # serve picks new runtimes up from the nudge each start sends; give it a moment to
        # open every pidfd, and check that the agents are all still running.
        time.sleep(2)
        running = conn.execute("select count(*) from runtimes where state='running'").fetchone()[0]
        assert running == count, f"{running} running before the burst, expected {count}"
        ids = [rid for rid, _ in agents]
        marks = ",".join("?" * len(ids))
        t0 = time.time()
        for _, pid in agents:
            os.kill(pid, signal.SIGKILL)
        sent = time.time() - t0

        def recorded():
            rows = conn.execute(f"select runtime_id, min(at) from events where kind='death' and runtime_id in ({marks}) group by runtime_id", ids).fetchall()
            return rows if len(rows) == count else None
        rows = wait_for(f"{count} deaths in the ledger", recorded, 60, 0.002)
        seen = time.time() - t0
        dead = conn.execute(f"select count(*) from runtimes where state='dead' and id in ({marks})", ids).fetchone()[0]
        assert dead == count, f"{dead} runtimes dead, expected {count}"
        lat = sorted(at - t0 for _, at in rows)
        # Not measured: the teardowns (sessions, cgroups) finish before serve is stopped.
        wait_for("every teardown", lambda: conn.execute(
            f"select count(distinct runtime_id) from events where kind='teardown' and runtime_id in ({marks})", ids).fetchone()[0] == count, 60)
        conn.close()
        return {"sent": sent, "all": lat[-1], "seen": seen, "lat": lat}
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.wait(10)
        except subprocess.TimeoutExpired:
            serve.kill()
        # Stopped through mcrun, so each runtime's cgroup goes with it (a killed server leaves them).
        subprocess.run([mcrun, "stop", "--all", "--grace", "1s", "--reason", "benchmark done"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        subprocess.run(["tmux", "-S", os.path.join(state, "tmux", "sock"), "kill-server"], stderr=subprocess.DEVNULL)
        kill_env_marker(f"MCRUN_STATE_DIR={state}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mcrun", default=os.path.join(HERE, "..", ".build", "release", "mcrun"))
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    mcrun = os.path.abspath(args.mcrun)
    scratch = tempfile.mkdtemp(prefix="mcrun-burst-", dir="/tmp")
    try:
        results = [one_run(mcrun, args.count, scratch, n) for n in range(args.runs)]
        print(f"{args.count} agents SIGKILLed at once (kills sent within "
              f"{max(r['sent'] for r in results) * 1000:.1f} ms), {args.runs} runs:")
        print()
        print("| run | all recorded ms | p50 ms | p90 ms | p99 ms | first ms |")
        print("| --- | --- | --- | --- | --- | --- |")
        for n, r in enumerate(results):
            v = r["lat"]
            print(f"| {n + 1} | {r['all'] * 1000:.0f} | {pct(v, 50) * 1000:.0f} | {pct(v, 90) * 1000:.0f} | {pct(v, 99) * 1000:.0f} | {v[0] * 1000:.0f} |")
        alls = [r["all"] * 1000 for r in results]
        print()
        print(f"- all {args.count} recorded: min {min(alls):.0f} ms, median {statistics.median(alls):.0f} ms, max {max(alls):.0f} ms "
              f"(target: 500 ms; {statistics.median(alls) / 500:.2f}x the target at the median)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
