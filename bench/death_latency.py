#!/usr/bin/env python3
"""Death noticed -> recorded, with 1, 50 and 200 live processes, for three supervisors
supervising the same kind of process (`sleep`), in one run:

- mcrun serve: SIGKILL an agent; latency to the `death` event row in the ledger (its `at`
  is written in the death transaction) and to the start of the `death` event hook.
- supervisord (PyPI): SIGKILL a program; latency to its PROCESS_STATE_EXITED event reaching
  an event listener (supervisord's own notification path).
- a libtmux-style poller: panes polled every 500 ms through libtmux (as popular agent
  managers do); latency to the poll that sees the pane dead.

Also measures `mcrun serve` idle with --idle-runtimes agents: CPU over --idle-seconds and RSS.

Usage: python3 bench/death_latency.py [--mcrun PATH] [--kills K] [--sizes 1,50,200] [--settle]
Prints a Markdown report on stdout. Needs: pip install supervisor libtmux.
"""
import argparse, json, os, random, threading, shutil, signal, sqlite3, subprocess, sys, tempfile, textwrap, time

HERE = os.path.dirname(os.path.abspath(__file__))


def pct(values, p):
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def wait_for(what, cond, timeout=30.0, interval=0.002):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)


def kill_env_marker(marker):
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if marker.encode() in open(f"/proc/{pid}/environ", "rb").read().split(b"\0"):
                    os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


# ---------------------------------------------------------------- mcrun
def bench_mcrun(mcrun, size, kills, scratch, settle=False):
    state = os.path.join(scratch, f"m{size}")
    hooks = os.path.join(scratch, f"mhooks{size}")
    os.makedirs(hooks)
    stamp = os.path.join(scratch, f"mhook{size}.log")
    hook = os.path.join(hooks, "death")
    with open(hook, "w") as f:
        # A shell hook, so the time measured is mcrun's, not an interpreter's start-up.
        f.write(f'#!/bin/sh\ndate +%s.%N >> "{stamp}"\ncat > /dev/null\n')
    os.chmod(hook, 0o755)
    env = dict(os.environ, MCRUN_STATE_DIR=state, MCRUN_ACTOR="bench", MCRUN_EVENT_HOOKS_DIR=hooks)
    run = lambda *a: subprocess.run([mcrun, *a], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    serve = subprocess.Popen([mcrun, "serve", "--retry-delay", "3600s"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        db = os.path.join(state, "ledger.sqlite")
        wait_for("serve's ledger", lambda: os.path.exists(db), 30)
        pids = []
        for i in range(size + kills):
            out = json.loads(run("start", f"B{i}", "--json", "--", "sleep", "3600").stdout)
            pids.append((out["runtime"]["id"], out["runtime"]["pid"]))
        conn = sqlite3.connect(db, timeout=5)
        ledger, hooked = [], []
        # Each kill takes a distinct agent, so `size` stay live while `kills` die one by one.
        for n, (rid, pid) in enumerate(pids[size:]):
            before = (conn.execute("select max(id) from events").fetchone()[0] or 0)
            t0 = time.time()
            os.kill(pid, signal.SIGKILL)
            row = wait_for("death event", lambda: conn.execute(
                "select id, at from events where kind='death' and runtime_id=? and id>?", (rid, before)).fetchone(), 10)
            ledger.append(row[1] - t0)
            line = wait_for("death hook", lambda: (lambda ls: ls[n] if len(ls) > n else None)(open(stamp).read().split()) if os.path.exists(stamp) else None, 30)
            hooked.append(float(line) - t0)
            if settle:
                # A death on its own: the next kill waits until this one's teardown (leftover
                # scan, session, pane log) is done, so it does not share the CPU with it.
                wait_for("teardown", lambda: conn.execute(
                    "select 1 from events where kind='teardown' and runtime_id=?", (rid,)).fetchone(), 30)
        return ledger, hooked
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


def bench_mcrun_idle(mcrun, count, seconds, scratch):
    state = os.path.join(scratch, "idle")
    env = dict(os.environ, MCRUN_STATE_DIR=state, MCRUN_ACTOR="bench")
    for i in range(count):
        subprocess.run([mcrun, "start", f"I{i}", "--", "sleep", "3600"], env=env, stdout=subprocess.DEVNULL, check=True)
    serve = subprocess.Popen([mcrun, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(5)  # let the first reconcile and the pidfd registrations settle
        def cpu():
            f = open(f"/proc/{serve.pid}/stat").read().rsplit(")", 1)[1].split()
            return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        c0, t0 = cpu(), time.monotonic()
        time.sleep(seconds)
        c1, t1 = cpu(), time.monotonic()
        rss = next(int(l.split()[1]) for l in open(f"/proc/{serve.pid}/status") if l.startswith("VmRSS:"))
        return (c1 - c0) / (t1 - t0) * 100, rss / 1024
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(10)
        # Stopped through mcrun, so each runtime's cgroup goes with it (a killed server leaves them).
        subprocess.run([mcrun, "stop", "--all", "--grace", "1s", "--reason", "benchmark done"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        subprocess.run(["tmux", "-S", os.path.join(state, "tmux", "sock"), "kill-server"], stderr=subprocess.DEVNULL)
        kill_env_marker(f"MCRUN_STATE_DIR={state}")


# ---------------------------------------------------------------- supervisord
LISTENER = textwrap.dedent("""\
    import sys, time
    out = open(sys.argv[1], "a", buffering=1)
    while True:
        sys.stdout.write("READY\\n"); sys.stdout.flush()
        header = dict(x.split(":", 1) for x in sys.stdin.readline().split())
        payload = dict(x.split(":", 1) for x in sys.stdin.read(int(header["len"])).split())
        out.write(f"{payload.get('processname')} {time.time()}\\n")
        sys.stdout.write("RESULT 2\\nOK"); sys.stdout.flush()
    """)


def bench_supervisord(size, kills, scratch):
    d = os.path.join(scratch, f"s{size}")
    os.makedirs(d)
    stamp = os.path.join(d, "exited.log")
    open(os.path.join(d, "listener.py"), "w").write(LISTENER)
    conf = [f"[supervisord]\nnodaemon=true\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\nchildlogdir={d}\n",
            f"[unix_http_server]\nfile={d}/sock\n[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
            f"[supervisorctl]\nserverurl=unix://{d}/sock\n",
            f"[eventlistener:exits]\ncommand={sys.executable} {d}/listener.py {stamp}\nevents=PROCESS_STATE_EXITED\n"]
    for i in range(size + kills):
        conf.append(f"[program:p{i}]\ncommand=sleep 3600\nautorestart=false\nstartsecs=0\n")
    open(os.path.join(d, "s.conf"), "w").write("".join(conf))
    sup = subprocess.Popen(["supervisord", "-c", os.path.join(d, "s.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def status():
            r = subprocess.run(["supervisorctl", "-c", os.path.join(d, "s.conf"), "status"], stdout=subprocess.PIPE, text=True)
            return {l.split()[0]: l for l in r.stdout.splitlines() if l.strip()}
        st = wait_for("supervisord programs running", lambda: (lambda s: s if sum("RUNNING" in v for k, v in s.items() if k.startswith("p")) == size + kills else None)(status()), 120, 0.2)
        pids = {k: int(v.split("pid ")[1].split(",")[0]) for k, v in st.items() if k.startswith("p")}
        lat = []
        for i in range(size, size + kills):
            t0 = time.time()
            os.kill(pids[f"p{i}"], signal.SIGKILL)
            line = wait_for("exit event", lambda: next((l for l in open(stamp).read().split("\n") if l.startswith(f"p{i} ")), None) if os.path.exists(stamp) else None, 10)
            lat.append(float(line.split()[1]) - t0)
        return lat
    finally:
        sup.send_signal(signal.SIGTERM)
        try:
            sup.wait(15)
        except subprocess.TimeoutExpired:
            sup.kill()


# ---------------------------------------------------------------- libtmux poller
def bench_poller(size, kills, scratch, interval=0.5):
    import libtmux
    sock = os.path.join(scratch, f"p{size}.sock")
    subprocess.run(["tmux", "-S", sock, "-f", "/dev/null", "set", "-g", "exit-empty", "off", ";", "set", "-wg", "remain-on-exit", "on",
                    ";", "new-session", "-d", "-s", "keep", "--", "sleep", "3600"], check=True)
    try:
        server = libtmux.Server(socket_path=sock)
        for i in range(size + kills):
            server.cmd("new-session", "-d", "-s", f"w{i}", "--", "sleep", "3600")
        panes = {p.session_name: p for p in server.panes}
        seen_dead = {}
        stop = threading.Event()

        def poll():
            # The poller runs on its own fixed schedule, independent of when deaths happen.
            while not stop.is_set():
                now = time.time()
                for p in server.panes:
                    if p.pane_dead == "1":
                        seen_dead.setdefault(p.session_name, now)
                stop.wait(interval)

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        lat = []
        rng = random.Random(size)
        for i in range(size, size + kills):
            pid = int(panes[f"w{i}"].pane_pid)
            time.sleep(rng.uniform(0, interval))
            t0 = time.time()
            os.kill(pid, signal.SIGKILL)
            wait_for("poller sees the pane dead", lambda: f"w{i}" in seen_dead, 10)
            lat.append(seen_dead[f"w{i}"] - t0)
        stop.set()
        thread.join()
        return lat
    finally:
        subprocess.run(["tmux", "-S", sock, "kill-server"], stderr=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mcrun", default=os.path.join(HERE, "..", ".build", "release", "mcrun"))
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--sizes", default="1,50,200")
    ap.add_argument("--idle-runtimes", type=int, default=200)
    ap.add_argument("--idle-seconds", type=float, default=60)
    ap.add_argument("--only", default="mcrun,supervisord,poller,idle")
    ap.add_argument("--settle", action="store_true",
                    help="mcrun: kill the next agent only once the previous death's teardown is done (deaths on their own, not back to back)")
    args = ap.parse_args()
    mcrun = os.path.abspath(args.mcrun)
    only = set(args.only.split(","))
    scratch = tempfile.mkdtemp(prefix="mcrun-death-", dir="/tmp")
    rows = []
    try:
        for size in [int(s) for s in args.sizes.split(",")]:
            if "mcrun" in only:
                ledger, hooked = bench_mcrun(mcrun, size, args.kills, scratch, args.settle)
                spacing = ", each after the last teardown" if args.settle else ""
                rows.append((f"mcrun serve: death recorded in the ledger{spacing}", size, ledger))
                rows.append((f"mcrun serve: death hook started{spacing}", size, hooked))
            if "supervisord" in only:
                rows.append(("supervisord: exit event at its listener", size, bench_supervisord(size, args.kills, scratch)))
            if "poller" in only:
                rows.append(("libtmux poller (500 ms): pane seen dead", size, bench_poller(size, min(args.kills, 12), scratch)))
        print("| supervisor | live | samples | p50 ms | p90 ms | p99 ms | max ms |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for name, size, v in rows:
            print(f"| {name} | {size} | {len(v)} | {pct(v,50)*1000:.1f} | {pct(v,90)*1000:.1f} | {pct(v,99)*1000:.1f} | {max(v)*1000:.1f} |")
        if "idle" in only:
            cpu, rss = bench_mcrun_idle(mcrun, args.idle_runtimes, args.idle_seconds, scratch)
            print()
            print(f"- `mcrun serve` idle with {args.idle_runtimes} live runtimes over {args.idle_seconds:.0f} s: {cpu:.2f}% of one core, RSS {rss:.1f} MB")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
