#!/usr/bin/env python3
"""moegrad against PyTorch on the toy MoE step (bench/README.md), side by side in one run.

For each size and thread count, runs `moegrad bench` and the PyTorch version of the same
step alternately (A B A B ...) for several rounds, and prints the median step time of each,
the ratio of medians (moegrad / PyTorch), peak RSS, and moegrad's fraction of the
useful-FLOP bound at the sgemm rate it measured in the same process.

    python3 bench/side_by_side.py --torch-script PATH/torch_toy_moe.py \\
        [--sizes S,M] [--threads 1,2] [--rounds 3] [--steps 10] [--moegrad build/moegrad]

PyTorch's 2-thread runs get OMP_WAIT_POLICY=PASSIVE (its fastest setting on these
machines); everything else keeps the environment as it is.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def run_json(cmd, env):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"side_by_side: {' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        sys.exit(f"side_by_side: no JSON from {' '.join(cmd)}")
    return json.loads(lines[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--torch-script", required=True, help="the PyTorch step: torch_toy_moe.py")
    p.add_argument("--torch-python", default="/usr/bin/python3")
    p.add_argument("--moegrad", default="build/moegrad")
    p.add_argument("--sizes", default="S,M")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    args = p.parse_args()

    rows = []
    for size in args.sizes.split(","):
        for threads in [int(t) for t in args.threads.split(",")]:
            ours, theirs, ratios = [], [], []
            ours_rss = theirs_rss = 0.0
            bound = []
            for _ in range(args.rounds):
                env = dict(os.environ)
                m = run_json([args.moegrad, "bench", "--size", size, "--threads", str(threads),
                              "--steps", str(args.steps), "--warmup", str(args.warmup)], env)
                tenv = dict(os.environ)
                if threads > 1:
                    tenv["OMP_WAIT_POLICY"] = "PASSIVE"
                t = run_json([args.torch_python, args.torch_script, "--size", size, "--threads", str(threads),
                              "--steps", str(args.steps), "--warmup", str(args.warmup), "--breakdown-steps", "0"],
                             tenv)
                ours.append(m["step_ms"]["median"])
                theirs.append(t["step_ms"]["median"])
                ratios.append(ours[-1] / theirs[-1])
                ours_rss = max(ours_rss, m["peak_rss_mib"])
                theirs_rss = max(theirs_rss, t["peak_rss_mib"])
                bound.append(m["fraction_of_bound"])
            row = {"size": size, "threads": threads, "rounds": args.rounds,
                   "moegrad_ms": statistics.median(ours), "torch_ms": statistics.median(theirs),
                   "ratio_of_medians": statistics.median(ours) / statistics.median(theirs),
                   "pair_ratios": [round(r, 3) for r in ratios],
                   "moegrad_fraction_of_bound": statistics.median(bound),
                   "moegrad_peak_rss_mib": ours_rss, "torch_peak_rss_mib": theirs_rss}
            rows.append(row)
            print(json.dumps(row), flush=True)

    print("\n| size | threads | moegrad ms | PyTorch ms | ratio | moegrad % of bound | RSS MiB moegrad / PyTorch |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['size']} | {r['threads']} | {r['moegrad_ms']:.1f} | {r['torch_ms']:.1f} | "
              f"{r['ratio_of_medians']:.2f} | {100 * r['moegrad_fraction_of_bound']:.0f}% | "
              f"{r['moegrad_peak_rss_mib']:.0f} / {r['torch_peak_rss_mib']:.0f} |")


if __name__ == "__main__":
    main()
