#!/usr/bin/env python3
"""The routing recipes side by side: trains configs/toy_moe.yaml (st-moe's routing) and each
configs/routing_*.yaml at seed 0 with the moegrad binary, and prints the markdown table of
docs/routing.md from their metrics.jsonl.

    python3 scripts/routing_table.py [--moegrad build/moegrad] [--out DIR] [--threads 1]

Columns, all from the run's own records:
  eval loss        the last eval record's main loss (held-out MSE)
  specialisation   its normalised mutual information between clusters and main experts
  drop rate        routed choices dropped for capacity, over the last quarter of training
  imbalance        max / mean of the demand per expert (choices routed to it, before the
                   capacity cap), per layer, over the last quarter, averaged over layers
  step ms          median of batch_size / tokens_per_s over the logged windows
  active           parameters active per token (check-config's count)
Needs only the Python standard library.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def records(run_dir, kind):
    with open(os.path.join(run_dir, "metrics.jsonl"), encoding="utf-8") as f:
        return [r for r in map(json.loads, filter(str.strip, f)) if r.get("kind") == kind]


def active_parameters(moegrad, config):
    out = subprocess.run([moegrad, "check-config", config], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("# parameters:") and "active per token:" in line:
            return int(line.rsplit(":", 1)[1].split()[0])
    return None


def row(moegrad, config, out_dir, threads):
    name = os.path.basename(config)[: -len(".yaml")]
    run = os.path.join(out_dir, name)
    subprocess.run([moegrad, "train", config, "--out", run, "--threads", str(threads)], check=True,
                   stdout=subprocess.DEVNULL)
    train, evals = records(run, "train"), records(run, "eval")
    steps = train[-1]["step"]
    late = [r for r in train if r["step"] > 0.75 * steps]
    drop = statistics.mean(r["dropped_fraction"] for r in late)
    imbalance = []
    for layer in range(len(late[-1]["layers"])):
        demand = [0] * len(late[-1]["layers"][layer]["demand_per_expert"])
        for r in late:
            for i, d in enumerate(r["layers"][layer]["demand_per_expert"]):
                demand[i] += d
        imbalance.append(max(demand) / statistics.mean(demand))
    with open(os.path.join(run, "config.yaml"), encoding="utf-8") as f:
        batch = next(int(line.split(":")[1]) for line in f if line.strip().startswith("batch_size:"))
    step_ms = statistics.median(1000.0 * batch / r["tokens_per_s"] for r in train if r["tokens_per_s"] > 0)
    last = evals[-1]
    return (f"| `{name}` | {last['loss']:.5f} | {last.get('specialisation', 0):.3f} | {100 * drop:.1f}% | "
            f"{statistics.mean(imbalance):.2f} | {step_ms:.2f} | {active_parameters(moegrad, config)} |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--moegrad", default=os.path.join(ROOT, "build", "moegrad"))
    p.add_argument("--out", default=None, help="keep the runs here (default: a temporary folder)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    configs = [os.path.join(ROOT, "configs", "toy_moe.yaml")] + sorted(
        os.path.join(ROOT, "configs", f) for f in os.listdir(os.path.join(ROOT, "configs"))
        if f.startswith("routing_") and f.endswith(".yaml"))
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.out or tmp
        print("| config | eval loss | specialisation | drop rate | imbalance | step ms | active |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for config in configs:
            print(row(args.moegrad, config, out_dir, args.threads), flush=True)


if __name__ == "__main__":
    sys.exit(main())
