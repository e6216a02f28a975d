#!/usr/bin/env python3
"""Plot the metrics.jsonl written by `moegrad train`.

Usage:
    python3 tools/plot_metrics.py RUN_DIR [RUN_DIR ...] [--out DIR] [--labels A,B]

Writes into --out (default: the first RUN_DIR):
  loss.png         train main loss and eval loss against step (log scale), one colour
                   per run, aux loss as a thin dashed line when present; a second panel
                   with eval specialisation (or bits/char) when a run logs it.
  experts.png      for a single MoE run (experts_<label>.png when several runs are given):
                   per MoE layer, heatmaps of the demand per expert (routed choices, before
                   the capacity cap) and of the tokens kept per expert against step, on one
                   colour scale with the capacity marked; then the drop rate per layer and
                   per choice against step. Metrics written before moegrad logged the demand
                   get the kept heatmap alone, with a note.

Needs matplotlib (Debian: apt-get install -y python3-matplotlib); standard library otherwise.
Exit status 2 on bad input (missing metrics.jsonl, a line that is not JSON, no train records).
"""

import argparse
import json
import math
import os
import re
import sys

PROG = "plot_metrics.py"
DPI = 100


class InputError(Exception):
    """Bad input: reported on stderr, exit status 2."""


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


class Run:
    def __init__(self, folder, label, train, evals):
        self.folder = folder
        self.label = label
        self.train = train  # list of dicts sorted by step
        self.evals = evals  # list of dicts sorted by step

    @property
    def has_layers(self):
        return any(isinstance(r.get("layers"), list) and r["layers"] for r in self.train)


def _dedupe_by_step(records):
    """Sort by step; where a step repeats (e.g. a resumed run appended to the file), keep the last."""
    by_step = {}
    for r in records:
        by_step[r["step"]] = r
    return [by_step[s] for s in sorted(by_step)]


def load_run(folder, label):
    if not os.path.isdir(folder):
        raise InputError(f"{folder}: not a folder")
    path = os.path.join(folder, "metrics.jsonl")
    if not os.path.isfile(path):
        raise InputError(f"{folder}: no metrics.jsonl (is this a run folder written by `moegrad train --out`?)")
    train, evals = [], []
    with open(path, "r", encoding="utf-8") as f:
        lines = f.readlines()
    for lineno, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        try:
            rec = json.loads(text)
        except json.JSONDecodeError as e:
            if lineno == len(lines) and not line.endswith("\n"):
                # A half-written last line: the run is probably still training.
                print(f"{PROG}: warning: {path}:{lineno}: ignoring incomplete last line", file=sys.stderr)
                continue
            raise InputError(f"{path}:{lineno}: not valid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(rec, dict):
            raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(rec).__name__}")
        step = rec.get("step")
        if not isinstance(step, (int, float)) or isinstance(step, bool):
            raise InputError(f"{path}:{lineno}: record has no numeric \"step\"")
        kind = rec.get("kind")
        if kind == "train":
            train.append(rec)
        elif kind == "eval":
            evals.append(rec)
        # Other kinds (if any appear in future) are ignored.
    if not train:
        raise InputError(f"{path}: no train records (no line with \"kind\":\"train\")")
    return Run(folder, label, _dedupe_by_step(train), _dedupe_by_step(evals))


def _num(x):
    """A finite float, or None."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def series(records, key, positive=False):
    """(steps, values) for the records that have a usable value of `key`."""
    xs, ys = [], []
    for r in records:
        v = _num(r.get(key))
        if v is None or (positive and v <= 0):
            continue
        xs.append(r["step"])
        ys.append(v)
    return xs, ys


def safe_name(label):
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._")
    return s or "run"


def default_labels(folders):
    labels = [os.path.basename(os.path.normpath(os.path.abspath(f))) or f for f in folders]
    seen = {}
    out = []
    for lab in labels:
        n = seen.get(lab, 0)
        seen[lab] = n + 1
        out.append(lab if n == 0 else f"{lab}#{n + 1}")
    return out


# --------------------------------------------------------------------------------------
# Plotting
# --------------------------------------------------------------------------------------

SECONDARY = [
    # (eval key, per-layer key, axis label, panel title, y range or None)
    ("specialisation", "specialisation_per_layer", "specialisation", "Eval expert specialisation", (0.0, 1.05)),
    ("bits_per_char", None, "bits per character", "Eval bits per character", None),
]


def plot_loss(plt, runs, out_path):
    secondary = [s for s in SECONDARY if any(series(r.evals, s[0])[0] for r in runs)]
    ncols = 1 + len(secondary)
    fig, axes = plt.subplots(1, ncols, figsize=(6.4 * ncols if ncols > 1 else 8.0, 4.8), squeeze=False)
    axes = axes[0]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    ax = axes[0]
    for i, run in enumerate(runs):
        c = colours[i % len(colours)]
        xs, ys = series(run.train, "main_loss", positive=True)
        if not xs:  # older files, or a model without a separate main loss
            xs, ys = series(run.train, "loss", positive=True)
        if xs:
            ax.plot(xs, ys, color=c, lw=1.8, label=f"{run.label}: train main loss")
        xs, ys = series(run.evals, "loss", positive=True)
        if xs:
            ax.plot(xs, ys, color=c, lw=1.0, ls=":", marker="o", ms=5, label=f"{run.label}: eval loss")
        xs, ys = series(run.train, "aux_loss", positive=True)
        if xs:
            ax.plot(xs, ys, color=c, lw=0.9, ls="--", alpha=0.8, label=f"{run.label}: aux loss (train)")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (log scale)")
    ax.set_title("Loss")
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    ax.legend(fontsize=8, loc="best")

    for ax, (key, per_layer_key, ylabel, title, ylim) in zip(axes[1:], secondary):
        for i, run in enumerate(runs):
            c = colours[i % len(colours)]
            xs, ys = series(run.evals, key)
            if not xs:
                continue
            ax.plot(xs, ys, color=c, lw=1.8, marker="o", ms=5, label=f"{run.label}: mean over layers"
                    if per_layer_key else run.label)
            if per_layer_key:
                n_layers = max((len(r.get(per_layer_key) or []) for r in run.evals), default=0)
                styles = ["--", "-.", ":", (0, (5, 1, 1, 1))]
                for li in range(n_layers):
                    lx, ly = [], []
                    for r in run.evals:
                        vals = r.get(per_layer_key) or []
                        v = _num(vals[li]) if li < len(vals) else None
                        if v is not None:
                            lx.append(r["step"])
                            ly.append(v)
                    if lx:
                        ax.plot(lx, ly, color=c, lw=0.9, alpha=0.7, ls=styles[li % len(styles)],
                                marker=".", label=f"{run.label}: layer {li}")
        if ylim:
            ax.set_ylim(*ylim)
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, alpha=0.35)
        ax.legend(fontsize=8, loc="best")

    if len(runs) > 1:
        fig.suptitle("Runs: " + ", ".join(r.label for r in runs), fontsize=11)
    fig.tight_layout()
    fig.savefig(out_path, dpi=DPI)
    plt.close(fig)


def _edges(steps):
    """Cell edges around each step for pcolormesh (steps may be unevenly spaced)."""
    if len(steps) == 1:
        return [steps[0] - 0.5, steps[0] + 0.5]
    mids = [(a + b) / 2.0 for a, b in zip(steps[:-1], steps[1:])]
    return [steps[0] - (mids[0] - steps[0])] + mids + [steps[-1] + (steps[-1] - mids[-1])]


def _layer_matrix(np, recs, li, key):
    """(experts x steps) array of the per-expert list `key` of layer li; NaN where missing.
    None when no record has the key (metrics written before moegrad logged it)."""
    n_exp = max((len(r["layers"][li].get(key) or []) for r in recs if li < len(r["layers"])), default=0)
    if n_exp == 0:
        return None
    m = np.full((n_exp, len(recs)), np.nan)
    for j, r in enumerate(recs):
        if li >= len(r["layers"]):
            continue
        for e, v in enumerate(r["layers"][li].get(key) or []):
            v = _num(v)
            if v is not None and e < n_exp:
                m[e, j] = v
    return m


def _layer_values(np, recs, li, key):
    """The number `key` of layer li per record, NaN where missing."""
    d = np.full(len(recs), np.nan)
    for j, r in enumerate(recs):
        if li < len(r["layers"]):
            v = _num(r["layers"][li].get(key))
            if v is not None:
                d[j] = v
    return d


def _layer_choice_rates(np, recs, li):
    """(choices x steps) drop rate per choice of layer li, or None when not logged."""
    k = max((len(r["layers"][li].get("drop_rate_per_choice") or []) for r in recs if li < len(r["layers"])),
            default=0)
    if k == 0:
        return None
    m = np.full((k, len(recs)), np.nan)
    for j, r in enumerate(recs):
        if li < len(r["layers"]):
            for c, v in enumerate(r["layers"][li].get("drop_rate_per_choice") or []):
                v = _num(v)
                if v is not None and c < k:
                    m[c, j] = v
    return m


def plot_experts(plt, np, run, out_path):
    """Per MoE layer, the tokens asked of each expert (demand: routed choices, before the
    capacity cap) and those it kept, on one colour scale, so that demand above what the
    capacity lets through shows; then the drop rate per layer (and per choice) over steps."""
    from matplotlib.ticker import MaxNLocator

    recs = [r for r in run.train if isinstance(r.get("layers"), list) and r["layers"]]
    steps = [r["step"] for r in recs]
    n_layers = max(len(r["layers"]) for r in recs)
    kept = [_layer_matrix(np, recs, li, "tokens_per_expert") for li in range(n_layers)]
    demand = [_layer_matrix(np, recs, li, "demand_per_expert") for li in range(n_layers)]
    has_demand = any(d is not None for d in demand)
    if not has_demand:
        print(f"{PROG}: note: {run.folder}: the metrics have no demand_per_expert (written before moegrad "
              "logged it): plotting kept tokens only", file=sys.stderr)

    heights = [2.4] * n_layers + [2.1]
    fig = plt.figure(figsize=(12.0 if has_demand else 10.0, sum(heights) + 1.2))
    ncols = 3 if has_demand else 2
    widths = [40, 40, 1.6] if has_demand else [40, 1]
    gs = fig.add_gridspec(n_layers + 1, ncols, height_ratios=heights, width_ratios=widths, hspace=0.5, wspace=0.06)
    xe = _edges(steps)
    first = None

    def heatmap(cell, m, vmax, title, show_ylabel):
        nonlocal first
        ax = fig.add_subplot(cell, sharex=first)
        first = first or ax
        if m is None:
            ax.text(0.5, 0.5, "not in this metrics file", ha="center", va="center", transform=ax.transAxes,
                    fontsize=9, color="grey")
            ax.set_yticks([])
            ax.set_title(title, fontsize=10)
            ax.tick_params(labelbottom=False)
            return None
        mm = np.ma.masked_invalid(m)
        ye = np.arange(mm.shape[0] + 1) - 0.5
        mesh = ax.pcolormesh(xe, ye, mm, cmap="viridis", vmin=0, vmax=vmax, shading="flat")
        ax.set_ylim(mm.shape[0] - 0.5, -0.5)  # expert 0 at the top
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=min(mm.shape[0], 9)))
        if show_ylabel:
            ax.set_ylabel("expert")
        else:
            ax.tick_params(labelleft=False)
        ax.set_title(title, fontsize=10)
        ax.tick_params(labelbottom=False)
        return mesh

    for li in range(n_layers):
        # One scale per layer, demand's maximum: kept can never exceed demand.
        tops = [float(np.nanmax(m)) for m in (kept[li], demand[li]) if m is not None and np.isfinite(m).any()]
        vmax = max(tops + [1.0])
        capacity = _layer_values(np, recs, li, "capacity") * _layer_values(np, recs, li, "groups")
        if has_demand:
            heatmap(gs[li, 0], demand[li], vmax,
                    f"MoE layer {li}: demand per expert (routed choices, before the capacity cap)", True)
            mesh = heatmap(gs[li, 1], kept[li], vmax, f"MoE layer {li}: tokens kept per expert", False)
            cax = fig.add_subplot(gs[li, 2])
        else:
            mesh = heatmap(gs[li, 0], kept[li], vmax,
                           f"MoE layer {li}: tokens kept per expert per batch (demand not in these metrics)", True)
            cax = fig.add_subplot(gs[li, 1])
        if mesh is None:
            cax.axis("off")
            continue
        cb = fig.colorbar(mesh, cax=cax)
        label = "tokens per batch"
        if np.isfinite(capacity).any():
            # What one expert may keep of a batch: capacity per group times the groups.
            cap = float(np.nanmax(capacity))
            if cap <= vmax:
                cb.ax.axhline(cap, color="red", lw=2.0)
                label += " (red: capacity)"
        cb.set_label(label, fontsize=9)

    ax = fig.add_subplot(gs[n_layers, :ncols - 1], sharex=first)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    choice_styles = [":", "--", "-.", (0, (5, 1, 1, 1))]
    top = 0.0
    for li in range(n_layers):
        c = colours[li % len(colours)]
        d = _layer_values(np, recs, li, "dropped_fraction")
        ok = np.isfinite(d)
        if ok.any():
            ax.plot(np.asarray(steps)[ok], d[ok], lw=1.5, marker=".", color=c, label=f"layer {li}: all choices")
            top = max(top, float(np.nanmax(d)))
        rates = _layer_choice_rates(np, recs, li)
        if rates is None:
            continue
        for ci in range(rates.shape[0]):
            ok = np.isfinite(rates[ci])
            if ok.any():
                ax.plot(np.asarray(steps)[ok], rates[ci][ok], lw=0.9, alpha=0.8, color=c,
                        ls=choice_styles[ci % len(choice_styles)], label=f"layer {li}: choice {ci}")
                top = max(top, float(np.nanmax(rates[ci])))
    ax.set_ylim(0, max(0.05, top * 1.15))
    ax.set_xlabel("step")
    ax.set_ylabel("drop rate")
    ax.set_title("Routed choices dropped for lack of expert capacity (dropped / routed)", fontsize=10)
    ax.grid(True, alpha=0.35)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.set_xlim(xe[0], xe[-1])

    fig.suptitle(f"Expert load: {run.label}", fontsize=12)
    fig.subplots_adjust(left=0.07, right=0.86 if has_demand else 0.84, top=0.93, bottom=0.07)
    fig.savefig(out_path, dpi=DPI)
    plt.close(fig)


# --------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog=PROG,
        description="Plot loss and expert-load figures from the metrics.jsonl of moegrad run folders.")
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folder(s) written by `moegrad train --out`")
    ap.add_argument("--out", metavar="DIR", help="where to write the PNGs (default: the first RUN_DIR)")
    ap.add_argument("--labels", metavar="A,B", help="comma-separated legend labels, one per RUN_DIR "
                    "(default: the folder names)")
    args = ap.parse_args(argv)

    try:
        if args.labels is not None:
            labels = [s.strip() for s in args.labels.split(",")]
            if len(labels) != len(args.runs) or not all(labels):
                raise InputError(f"--labels has {len(labels)} label(s) for {len(args.runs)} run folder(s)")
            if len(set(labels)) != len(labels):
                raise InputError("--labels must be distinct")
        else:
            labels = default_labels(args.runs)
        runs = [load_run(folder, label) for folder, label in zip(args.runs, labels)]
    except InputError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError as e:
        hint = "on Debian: apt-get install -y python3-matplotlib"
        if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and os.path.exists(
                "/usr/bin/python3"):
            hint += f", then run it with /usr/bin/python3 (this is {sys.executable})"
        print(f"{PROG}: error: needs matplotlib ({e}); {hint}", file=sys.stderr)
        return 2

    out_dir = args.out or args.runs[0]
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        print(f"{PROG}: error: cannot create {out_dir}: {e}", file=sys.stderr)
        return 2

    written = []
    path = os.path.join(out_dir, "loss.png")
    plot_loss(plt, runs, path)
    written.append(path)

    used = set()
    for run in runs:
        if not run.has_layers:
            continue
        if len(runs) == 1:
            name = "experts.png"
        else:
            base = safe_name(run.label)
            name, k = f"experts_{base}.png", 2
            while name in used:
                name, k = f"experts_{base}_{k}.png", k + 1
        used.add(name)
        path = os.path.join(out_dir, name)
        plot_experts(plt, np, run, path)
        written.append(path)

    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
