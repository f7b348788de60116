#!/usr/bin/env python3
"""Puts examples/device_bench.rs's and scripts/bench_device.py's figures side by side.

    python3 scripts/device_report.py --ours ours.json --peers peers.json --out DIR [--title "..."]

Writes DIR/results.md (the paper pipeline per shape and pass: tch-dda exact and fast, the libtorch floor, Kornia,
torchvision v2, and Kornia's time over ours; Table 1: the ResNet18 step with and without the pipeline, the
augmentation's share of the step) and DIR/results.png (when matplotlib is there).
"""
import argparse
import json
import os


def load(path):
    if not path or not os.path.exists(path):
        return {"records": []}
    with open(path) as f:
        return json.load(f)


def shape_label(shape):
    b, _, h, w = shape
    return f"{b}x{h}x{w}" if h != w else f"{b}x{h}²"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True)
    ap.add_argument("--peers")
    ap.add_argument("--out", required=True)
    ap.add_argument("--title", default="")
    args = ap.parse_args()
    ours, peers = load(args.ours), load(args.peers)
    every = ours["records"] + peers["records"]
    families = [r for r in every if "family" in r]
    records = [r for r in every if "family" not in r]
    os.makedirs(args.out, exist_ok=True)
    by = {(r["impl"], r["pass"], tuple(r["shape"])): r["median_ms"] for r in records if "median_ms" in r}
    errors = {(r["impl"], r["pass"]): r["error"] for r in records if "error" in r}
    impls = []
    for r in records:
        if r["pass"] != "resnet18 step" and r["impl"] not in impls:
            impls.append(r["impl"])
    kornia = next((i for i in impls if i.startswith("kornia")), None)
    shapes = []
    for r in records:
        if r["pass"] != "resnet18 step" and tuple(r["shape"]) not in shapes:
            shapes.append(tuple(r["shape"]))
    md = [f"# {args.title or 'The paper pipeline on ' + ours.get('device', '?')}", ""]
    if peers.get("gpu"):
        md += [f"GPU: {peers['gpu']}; Python side: torch {peers.get('torch')}.", ""]
    md += ["Median milliseconds per call (synchronised; forward without a graph). "
           "Kornia / ours: Kornia's time over tch-dda's (above 1: tch-dda is faster).", ""]
    head = "| shape | pass | " + " | ".join(impls) + (" | Kornia / exact | Kornia / fast |" if kornia else " |")
    md += [head, "|" + "---|" * (head.count("|") - 1)]
    for shape in shapes:
        for pass_ in ["forward", "forward+backward"]:
            cells = [f"{by[(i, pass_, shape)]:.3f}" if (i, pass_, shape) in by else "–" for i in impls]
            row = f"| {shape_label(shape)} | {pass_} | " + " | ".join(cells) + " |"
            if kornia:
                k = by.get((kornia, pass_, shape))
                for mine in ["tch-dda exact", "tch-dda fast"]:
                    o = by.get((mine, pass_, shape))
                    row += f" {k / o:.2f} |" if k and o else " – |"
            md.append(row)
    for (impl, pass_), msg in errors.items():
        md += ["", f"{impl}, {pass_}: fails (–): `{msg}`"]
    steps = [r for r in records if r["pass"] == "resnet18 step" and "median_ms" in r]
    if steps:
        base = next((r["median_ms"] for r in steps if r["impl"] == "no augmentation"), None)
        md += ["", "## Table 1: a ResNet18 training step at 224², batch 512", "",
               "| pipeline | step (ms, median) | augmentation's share of the step |", "|---|---|---|"]
        for r in steps:
            share = "–" if base is None or r["impl"] == "no augmentation" else \
                f"{100 * (r['median_ms'] - base) / r['median_ms']:.1f}%"
            md.append(f"| {r['impl']} | {r['median_ms']:.2f} | {share} |")
    if families:
        fam_by = {(r["family"], r["impl"].split()[0], r["pass"]): r.get("median_ms") for r in families}
        names = []
        for r in families:
            if r["family"] not in names:
                names.append(r["family"])
        shape = families[0]["shape"]
        md += ["", f"## One operator per family, {'x'.join(map(str, shape))}", "",
               "Kornia's constructor call from benches/families.json; tch-dda builds it with "
               "`AugSpec::from_kornia`. Median ms; Kornia / ours above 1: tch-dda is faster.", "",
               "| family | pass | tch-dda | Kornia | Kornia / ours |", "|---|---|---|---|---|"]
        for name in names:
            for pass_ in ["forward", "forward+backward"]:
                o, k = fam_by.get((name, "tch-dda", pass_)), fam_by.get((name, "kornia", pass_))
                if o is None and k is None:
                    continue
                cell = lambda v: f"{v:.3f}" if v else "–"
                ratio = f"{k / o:.2f}" if o and k else "–"
                md.append(f"| {name} | {pass_} | {cell(o)} | {cell(k)} | {ratio} |")
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("device_report: no matplotlib, no plot")
        return
    fig, axes = plt.subplots(1, 2, figsize=(14, 5))
    for ax, pass_ in zip(axes, ["forward", "forward+backward"]):
        width = 0.8 / max(1, len(impls))
        for k, impl in enumerate(impls):
            ys = [by.get((impl, pass_, s), 0) for s in shapes]
            ax.bar([i + k * width for i in range(len(shapes))], ys, width, label=impl)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(shapes))])
        ax.set_xticklabels([shape_label(s) for s in shapes])
        ax.set_yscale("log")
        ax.set_ylabel("ms per call (median, log scale)")
        ax.set_title(pass_)
        ax.legend(fontsize=8)
    fig.suptitle(args.title or "paper pipeline")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "results.png"), dpi=100)
    print(f"wrote {args.out}/results.md and results.png")


if __name__ == "__main__":
    main()
