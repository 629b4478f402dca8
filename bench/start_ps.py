#!/usr/bin/env python3
"""Benchmarks `mcrun start` against a bare `tmux new-session` of the same command on the same
server, and `mcrun ps` with many runtimes, counting its tmux calls.

Usage: python3 bench/start_ps.py [--mcrun PATH] [--starts N] [--runtimes N] [--ps-runs N]
Prints a Markdown report (percentiles and ratios) on stdout.
"""
import argparse, json, os, shutil, signal, statistics, subprocess, sys, tempfile, time


def pct(values, p):
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def ms(v):
    return f"{v * 1000:.1f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mcrun", default=os.path.join(os.path.dirname(__file__), "..", ".build", "release", "mcrun"))
    ap.add_argument("--starts", type=int, default=40)
    ap.add_argument("--runtimes", type=int, default=500)
    ap.add_argument("--ps-runs", type=int, default=30)
    args = ap.parse_args()
    mcrun = os.path.abspath(args.mcrun)
    scratch = tempfile.mkdtemp(prefix="mcrun-bench-", dir="/tmp")
    state = os.path.join(scratch, "s")
    counter = os.path.join(scratch, "tmux-calls")
    wrapper = os.path.join(scratch, "tmux-counting")
    with open(wrapper, "w") as f:
        f.write(f'#!/bin/sh\necho x >> "{counter}"\nexec tmux "$@"\n')
    os.chmod(wrapper, 0o755)
    env = dict(os.environ, MCRUN_STATE_DIR=state, MCRUN_ACTOR="bench")
    sock = os.path.join(state, "tmux", "sock")

    def run(argv, **kw):
        return subprocess.run(argv, env=kw.pop("env", env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True, **kw)

    try:
        run([mcrun, "start", "WARM", "--", "sleep", "600"])
        run([mcrun, "stop", "WARM", "--grace", "1s"])
        mc, bare = [], []
        for i in range(args.starts):
            t = time.perf_counter()
            run([mcrun, "start", f"S{i}", "--", "sleep", "600"])
            mc.append(time.perf_counter() - t)
            t = time.perf_counter()
            run(["tmux", "-S", sock, "new-session", "-d", "-s", f"bare{i}", "--", "sleep", "600"])
            bare.append(time.perf_counter() - t)
        run(["tmux", "-S", sock, "kill-session", "-t", "=bare0"])
        for i in range(1, args.starts):
            run(["tmux", "-S", sock, "kill-session", "-t", f"=bare{i}"])

        def ps_calls():
            open(counter, "w").close()
            run([mcrun, "ps", "--json"], env=dict(env, MCRUN_TMUX=wrapper))
            return sum(1 for _ in open(counter))

        small = ps_calls()
        live = args.starts
        while live < args.runtimes:
            run([mcrun, "start", f"S{live}", "--", "sleep", "600"])
            live += 1
        large = ps_calls()
        out = json.loads(run([mcrun, "ps", "--json"]).stdout)
        assert len(out["runtimes"]) == args.runtimes, len(out["runtimes"])
        ps_times = []
        for _ in range(args.ps_runs):
            t = time.perf_counter()
            run([mcrun, "ps", "--json"])
            ps_times.append(time.perf_counter() - t)

        print("| measure | p50 ms | p90 ms | p99 ms | max ms |")
        print("| --- | --- | --- | --- | --- |")
        for name, v in [("`mcrun start` (identity recorded, returned)", mc), ("bare `tmux new-session -d` (same server, same command)", bare),
                        (f"`mcrun ps --json`, {args.runtimes} live runtimes", ps_times)]:
            print(f"| {name} | {ms(pct(v, 50))} | {ms(pct(v, 90))} | {ms(pct(v, 99))} | {ms(max(v))} |")
        print()
        print(f"- start / bare tmux, p50: {pct(mc, 50) / pct(bare, 50):.2f}x; p99: {pct(mc, 99) / pct(bare, 99):.2f}x ({args.starts} starts each, interleaved)")
        print(f"- tmux calls per `ps`: {small} with {args.starts} runtimes, {large} with {args.runtimes} runtimes")
    finally:
        subprocess.run(["tmux", "-S", sock, "kill-server"], stderr=subprocess.DEVNULL)
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    if f"MCRUN_STATE_DIR={state}".encode() in open(f"/proc/{pid}/environ", "rb").read().split(b"\0"):
                        os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
