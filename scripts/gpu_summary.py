#!/usr/bin/env python3
"""The table of step medians for scripts/gpu-check.sh's summary, from its gpu-bench.jsonl.

Each line there is {"size": S, "impl": "moegrad" | "torch_eager" | "torch_compile",
"result": <the JSON line of `moegrad bench` or torch_toy_moe.py>}, written only for runs
that named a CUDA device. Prints a Markdown table on stdout: per size, the median step of
each, and moegrad's median over each PyTorch median (the ratio of medians of
bench/side_by_side.py; one run each here, not alternating rounds).

    python3 scripts/gpu_summary.py gpu-out/gpu-bench.jsonl
"""
import json
import sys

SIZES = ["S", "M", "L", "XL"]
IMPLS = ["moegrad", "torch_eager", "torch_compile"]


def main():
    rows = {}
    with open(sys.argv[1]) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                rows.setdefault(r["size"], {})[r["impl"]] = r["result"]

    def ms(size, impl):
        r = rows.get(size, {}).get(impl)
        return None if r is None else float(r["step_ms"]["median"])

    def fmt(v, spec=".2f"):
        return "-" if v is None else format(v, spec)

    print("## Step medians on the GPU (ms; float32, TF32 off)")
    print()
    print("| size | b, n, d, E | moegrad | torch eager | torch compile | moegrad / eager | moegrad / compile "
          "| moegrad host reads / step | torch peak GPU MiB (eager / compile) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for size in SIZES:
        if size not in rows:
            print(f"| {size} | - | - | - | - | - | - | - | - |")
            continue
        any_result = next(iter(rows[size].values()))
        shape = ", ".join(str(any_result.get(k, "?")) for k in ("b", "n", "d", "E"))
        m, e, c = (ms(size, i) for i in IMPLS)
        reads = rows[size].get("moegrad", {}).get("host_reads_per_step")
        peaks = [rows[size].get(i, {}).get("peak_gpu_mib") for i in IMPLS[1:]]
        print(f"| {size} | {shape} | {fmt(m)} | {fmt(e)} | {fmt(c)} | "
              f"{fmt(m / e if m and e else None)} | {fmt(m / c if m and c else None)} | "
              f"{fmt(reads, 'g')} | {fmt(peaks[0], '.0f')} / {fmt(peaks[1], '.0f')} |")
    print()
    print("A ratio above 1 means moegrad is slower. moegrad's sgemm_gflops and fraction_of_bound "
          "in gpu-bench.jsonl are measured with a CPU sgemm, so they mean nothing for a cuda run.")


if __name__ == "__main__":
    main()
