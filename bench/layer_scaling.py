#!/usr/bin/env python3
"""How one MoE layer's forward + backward grows with the number of tokens n, for moegrad's
dense (reference einsum) and indexed (gather/scatter) dispatch: d=256, E=8, b=1,
n = 256 ... 8192 by default. Prints one JSON line per (dispatch, n), then the least-squares
growth exponent of time against n per dispatch path (1 = linear).

    python3 bench/layer_scaling.py [--moegrad build/moegrad] [--threads 1] [--reps 3]
"""
import argparse
import json
import math
import subprocess
import sys


def slope(xs, ys):
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--moegrad", default="build/moegrad")
    p.add_argument("--ns", default="256,512,1024,2048,4096,8192")
    p.add_argument("--dispatch", default="indexed,dense")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--d", type=int, default=256)
    p.add_argument("--E", type=int, default=8)
    args = p.parse_args()
    ns = [int(n) for n in args.ns.split(",")]
    summary = {}
    for dispatch in args.dispatch.split(","):
        times = []
        for n in ns:
            cmd = [args.moegrad, "bench", "--layer", "--batch", "1", "--seq", str(n), "--dim", str(args.d),
                   "--experts", str(args.E), "--dispatch", dispatch, "--threads", str(args.threads),
                   "--steps", str(args.reps), "--warmup", "1"]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"layer_scaling: {' '.join(cmd)} failed:\n{out.stderr}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(json.dumps(r), flush=True)
            times.append(r["ms"]["median"])
        summary[dispatch] = {"ns": ns, "ms": times, "exponent_all": slope(ns, times),
                             "exponent_2048_8192": slope(ns[-3:], times[-3:]) if len(ns) >= 3 else None}
    print(json.dumps({"summary": summary}))


if __name__ == "__main__":
    main()
