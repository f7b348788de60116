#!/usr/bin/env python3
"""Times Kornia 0.9 and torchvision v2 on the paper pipeline on a device, with examples/device_bench.rs's protocol.

RandomAffine(30, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=10) + ColorJitter(0.2, 0.3, 0.2, 0.3) + Normalize(ImageNet),
float32, at the same shapes. The input is drawn once on the device; each call is bracketed by synchronisations; 3
warm-up calls; the median (min, max) of --runs calls. Forward runs under torch.no_grad(); forward + backward takes an
input that requires grad and calls backward on the output's sum. torchvision v2 on a batch draws one set of params for
the whole batch (Kornia and tch-dda draw per sample): its figures are a floor for per-sample work, not an equal.

With --families FILE (benches/families.json): also Kornia on one operator per family at the file's shape, the same
constructor calls examples/device_bench.rs reads with AugSpec::from_kornia (forward, and forward + backward where the
output has a gradient).

    python3 scripts/bench_device.py [--device cuda] [--runs 20] [--out results.json] [--shapes quick|all]
                                    [--no-pipeline] [--families benches/families.json]
"""
import argparse
import json
import statistics
import sys
import time

import torch

from kornia_kwargs import kornia_kwargs  # beside this file (scripts/, or the bundle's py/)

SHAPES = [(512, 3, 32, 32), (64, 3, 224, 224), (16, 3, 512, 512), (1, 3, 224, 224), (512, 3, 224, 224)]
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def timed(fn, dev, runs, warm=3):
    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    for _ in range(warm):
        fn()
    times = []
    for _ in range(runs):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t) * 1e3)
    return times


def record(who, pass_, shape, times, family=None):
    t = sorted(times)
    med = statistics.median(t)
    print(f"{who:>22} {family or '':>14} {pass_:>17} {str(list(shape)):>16}: median {med:8.3f} ms "
          f"(min {t[0]:.3f}, max {t[-1]:.3f}, {len(t)} runs)", flush=True)
    r = {"impl": who, "pass": pass_, "shape": list(shape), "median_ms": med,
         "min_ms": t[0], "max_ms": t[-1], "runs": len(t)}
    if family:
        r["family"] = family
    return r


def pipelines(dev):
    out = []
    try:
        import kornia
        import kornia.augmentation as K
        pipe = torch.nn.Sequential(
            K.RandomAffine(30, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=10, p=1.0),
            K.ColorJitter(0.2, 0.3, 0.2, 0.3, p=1.0),
            K.Normalize(mean=torch.tensor(MEAN), std=torch.tensor(STD)),
        ).to(dev)
        out.append((f"kornia {kornia.__version__}", pipe))
    except ImportError as e:
        print(f"bench_device: no Kornia ({e})", file=sys.stderr)
    try:
        import torchvision
        from torchvision.transforms import v2
        tv = v2.Compose([v2.RandomAffine(30, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=10),
                         v2.ColorJitter(0.2, 0.3, 0.2, 0.3), v2.Normalize(MEAN, STD)])
        out.append((f"torchvision {torchvision.__version__} v2", tv))
    except ImportError as e:
        print(f"bench_device: no torchvision ({e})", file=sys.stderr)
    return out


def bench_families(path, dev, runs, quick):
    try:
        import kornia
        import kornia.augmentation as K
    except ImportError as e:
        print(f"bench_device: no Kornia ({e}): no families", file=sys.stderr)
        return []
    with open(path) as f:
        spec = json.load(f)
    shape = (2, 3, 64, 64) if quick else tuple(spec["shape"])
    torch.manual_seed(0)
    x = torch.rand(shape, device=dev)
    who = f"kornia {kornia.__version__}"
    out = []
    for fam in spec["families"]:
        name, cls_name = fam["family"], fam["class"]
        module = next((m for m in (K, K.auto) if hasattr(m, cls_name)), K)
        try:
            aug = getattr(module, cls_name)(**kornia_kwargs(cls_name, fam["kwargs"])).to(dev)
        except Exception as e:  # one bad constructor must not stop the run
            print(f"{who} {name}: constructor failed: {type(e).__name__}: {e}", flush=True)
            continue

        def forward():
            with torch.no_grad():
                aug(x)

        def forward_backward():
            aug(x.detach().requires_grad_(True)).sum().backward()

        passes = [("forward", forward)]
        if aug(x.detach().requires_grad_(True)).requires_grad:
            passes.append(("forward+backward", forward_backward))
        for pass_, fn in passes:
            try:
                r = record(who, pass_, shape, timed(fn, dev, runs), family=name)
            except RuntimeError as e:
                r = {"impl": who, "pass": pass_, "shape": list(shape), "error": str(e).splitlines()[0]}
            r["family"] = name
            out.append(r)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--out")
    ap.add_argument("--shapes", choices=["quick", "all"], default="all")
    ap.add_argument("--no-pipeline", action="store_true")
    ap.add_argument("--families")
    args = ap.parse_args()
    dev = torch.device(args.device)
    shapes = [SHAPES[0], SHAPES[3]] if args.shapes == "quick" else SHAPES
    print(f"bench_device: torch {torch.__version__}, {dev}"
          + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else ""), flush=True)
    records = []
    for shape in [] if args.no_pipeline else shapes:
        x = torch.rand(shape, device=dev)
        for who, pipe in pipelines(dev):
            def forward():
                with torch.no_grad():
                    pipe(x)

            def forward_backward():
                xg = x.detach().requires_grad_(True)
                pipe(xg).sum().backward()

            for pass_, fn in [("forward", forward), ("forward+backward", forward_backward)]:
                try:
                    records.append(record(who, pass_, shape, timed(fn, dev, args.runs)))
                except RuntimeError as e:  # torchvision's hue: in place on views, no backward
                    msg = str(e).splitlines()[0]
                    print(f"{who:>22} {pass_:>17} {str(list(shape)):>16}: fails: {msg}", flush=True)
                    records.append({"impl": who, "pass": pass_, "shape": list(shape), "error": msg})
    if args.families:
        records += bench_families(args.families, dev, args.runs, args.shapes == "quick")
    doc = {"device": str(dev), "torch": torch.__version__,
           "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None, "records": records}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(doc, f, indent=1)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
