#!/usr/bin/env python3
"""The toy MoE step (bench/README.md) on 2 ranks against 1 process, in one run.

Runs `moegrad bench` as 1 process (1 and 2 threads) and under mpirun as 2 ranks of 1
thread each, data parallel (each rank half the batch) and data x expert parallel (each
rank also half the experts, --expert-parallel 2), in turn for several rounds. Prints the
median step time of each layout, its throughput, the ratio to the 1-process runs, and the
share of the 2-rank step spent in collectives (rank 0's, waiting included).

    python3 bench/distributed.py [--size M] [--rounds 3] [--steps 10] [--moegrad build/moegrad]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", "2"]


def run_json(cmd, env):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"distributed: {' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if len(lines) != 1:
        sys.exit(f"distributed: expected one JSON line (rank 0's) from {' '.join(cmd)}, got {len(lines)}")
    return json.loads(lines[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="M")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--moegrad", default="build/moegrad")
    a = ap.parse_args()
    env = dict(os.environ, OMPI_MCA_btl_vader_single_copy_mechanism="none")
    bench = [a.moegrad, "bench", "--size", a.size, "--steps", str(a.steps)]
    layouts = [
        ("1 process, 1 thread", bench + ["--threads", "1"]),
        ("1 process, 2 threads", bench + ["--threads", "2"]),
        ("2 ranks, data parallel", MPIRUN + bench),
        ("2 ranks, data x expert parallel (K=2)", MPIRUN + bench + ["--expert-parallel", "2"]),
    ]
    runs = {name: [] for name, _ in layouts}
    for _ in range(a.rounds):
        for name, cmd in layouts:
            runs[name].append(run_json(cmd, env))
    first = runs[layouts[0][0]][0]
    tokens = first["b"] * first["n"]
    med = {name: statistics.median(r["step_ms"]["median"] for r in rs) for name, rs in runs.items()}
    base1, base2 = med[layouts[0][0]], med[layouts[1][0]]
    print(f"size {a.size}: {tokens} tokens a step, {a.rounds} rounds of {a.steps} steps")
    print("| layout | step ms | tokens/s | vs 1 process, 1 thread | vs 1 process, 2 threads | in collectives |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, rs in runs.items():
        comm = [r["communication_share"] for r in rs if "communication_share" in r]
        share = f"{100 * statistics.median(comm):.1f}%" if comm else "-"
        print(f"| {name} | {med[name]:.1f} | {tokens / med[name] * 1e3:.0f} | {base1 / med[name]:.2f}x "
              f"| {base2 / med[name]:.2f}x | {share} |")


if __name__ == "__main__":
    main()
