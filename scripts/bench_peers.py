#!/usr/bin/env python3
"""Times tch-dda's Python peers on the CPU and writes one JSON file for the comparison tables.

1. Kornia 0.9, one operator per family (benches/families.json: the same constructor call as benches/families.rs,
   JSON lists passed as tuples, Normalize's mean/std as tensors), at the file's shape; bench "family/<family>".
2. The paper pipeline (bench "paper"): RandomAffine(30, translate 0.1, scale 0.9-1.1, shear 10) + ColorJitter(0.2,
   0.3, 0.2, 0.3) + Normalize(ImageNet), at 512x3x32x32, 64x3x224x224, 16x3x512x512 and 1x3x224x224, with
   - Kornia (nn.Sequential, p = 1),
   - torchvision.transforms.v2 on the whole float32 batch (one parameter draw per batch),
   - torchvision.transforms.v2 per image in a Python loop, then torch.stack,
   - Albumentations per image on uint8 HWC arrays and on float32 HWC arrays in [0, 1], then np.stack.

Everything is float32 unless the peer says otherwise, with torch's default thread count. "forward" runs under
torch.no_grad(); "forward+backward" takes a fresh leaf of the fixed input with requires_grad (made before the clock
starts), runs the pipeline and calls out.sum().backward(); a case whose output has no grad_fn, or whose autograd
raises (torchvision v2's adjust_hue works in place on views), is skipped (listed in the JSON's "skipped", no record). Each case: 2 warm-up calls, then --runs timed calls (time.perf_counter), stopping
early after 3 runs once the case has used --max-seconds. Inputs are made once per shape after torch.manual_seed(0).

Output (--out, default out/bench/python.json): {"versions": {...}, "threads": n, "quick": bool, "records": [{"peer",
"bench", "pass", "shape", "median_ms", "min_ms", "max_ms", "runs", "note"?}, ...], "failed": [...], "skipped": [...]}.

    bash scripts/bench_peers.sh [--runs N] [--out PATH] [--only families|paper] [--family NAME ...] [--max-seconds S]
                                 [--quick]

--quick (smoke tests only, marked "quick": true) shrinks the shapes: families at 4x3x64x64, the paper shapes to a
batch of at most 2 and sides of at most 64.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import kornia  # noqa: E402
import kornia.augmentation as K  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from kornia_kwargs import kornia_kwargs  # noqa: E402  (beside this file)

ROOT = Path(__file__).resolve().parent.parent
PAPER_SHAPES = [(512, 3, 32, 32), (64, 3, 224, 224), (16, 3, 512, 512), (1, 3, 224, 224)]
QUICK_FAMILY_SHAPE = (4, 3, 64, 64)
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
WARMUP, MIN_RUNS = 2, 3
FWD, FWD_BWD = "forward", "forward+backward"


def optional_import(name):
    try:
        return __import__(name)
    except ImportError as e:
        print(f"note: {name} unavailable ({e}); its peers are skipped", flush=True)
        return None


torchvision = optional_import("torchvision")
cv2 = optional_import("cv2")
albumentations = optional_import("albumentations")


class NoGraph(Exception):
    """The output of a forward+backward case does not depend differentiably on the input."""


class Bench:
    """Times cases and collects the records, the failed constructors and the skipped cases."""

    def __init__(self, runs, max_seconds):
        self.runs, self.max_seconds = runs, max_seconds
        self.records, self.failed, self.skipped = [], [], []

    def time_calls(self, call, setup=None):
        """Warm-up, then up to self.runs timed calls of call(setup()); ms per call. setup is not timed."""
        setup = setup or (lambda: None)
        for _ in range(WARMUP):
            call(setup())
        times, spent = [], 0.0
        while len(times) < self.runs:
            arg = setup()
            t = time.perf_counter()
            call(arg)
            times.append((time.perf_counter() - t) * 1e3)
            spent += times[-1] / 1e3
            if self.max_seconds and spent > self.max_seconds and len(times) >= MIN_RUNS:
                break
        return times

    def add(self, peer, bench, pass_, shape, times, note=None):
        rec = {"peer": peer, "bench": bench, "pass": pass_, "shape": list(shape),
               "median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times),
               "runs": len(times)}
        if note:
            rec["note"] = note
        self.records.append(rec)
        print(f"{peer} / {bench} / {pass_} / {'x'.join(map(str, shape))}: {rec['median_ms']:.3f} ms "
              f"({rec['min_ms']:.3f}–{rec['max_ms']:.3f}, {len(times)} runs)", flush=True)

    def skip(self, peer, bench, pass_, shape, reason):
        self.skipped.append({"peer": peer, "bench": bench, "pass": pass_, "shape": list(shape), "reason": reason})
        print(f"{peer} / {bench} / {pass_} / {'x'.join(map(str, shape))}: skipped ({reason})", flush=True)

    def forward(self, peer, bench, shape, fn, x, note=None):
        """Times fn(x) under torch.no_grad()."""
        with torch.no_grad():
            times = self.time_calls(lambda _: fn(x))
        self.add(peer, bench, FWD, shape, times, note)

    def forward_backward(self, peer, bench, shape, fn, x, note=None):
        """Times fn(leaf).sum().backward() on a fresh leaf of x per call; skipped when the output has no grad_fn."""
        def leaf():
            return x.detach().requires_grad_(True)

        def step(xi):
            out = fn(xi)
            if out.grad_fn is None:
                raise NoGraph
            out.sum().backward()

        try:
            times = self.time_calls(step, leaf)
        except NoGraph:
            self.skip(peer, bench, FWD_BWD, shape, "output has no grad_fn")
            return
        except RuntimeError as e:  # a peer whose kernels do not support autograd (e.g. in-place ops on views)
            self.skip(peer, bench, FWD_BWD, shape, f"autograd error: {e}")
            return
        self.add(peer, bench, FWD_BWD, shape, times, note)

    def both(self, peer, bench, shape, fn, x, note=None):
        self.forward(peer, bench, shape, fn, x, note)
        self.forward_backward(peer, bench, shape, fn, x, note)


def input_for(shape):
    torch.manual_seed(0)
    return torch.rand(shape)


def bench_families(b, quick, only=None):
    spec = json.loads((ROOT / "benches" / "families.json").read_text())
    shape = QUICK_FAMILY_SHAPE if quick else tuple(spec["shape"])
    x = input_for(shape)
    for fam in spec["families"]:
        if only and fam["family"] not in only:
            continue
        bench, cls_name = "family/" + fam["family"], fam["class"]
        # RandAugment & co. live in kornia.augmentation.auto, not in kornia.augmentation itself.
        module = next((m for m in (K, K.auto) if hasattr(m, cls_name)), K)
        note = None if module is K else f"{module.__name__}.{cls_name}"
        try:
            aug = getattr(module, cls_name)(**kornia_kwargs(cls_name, fam["kwargs"]))
        except Exception as e:  # report and go on: one bad constructor must not stop the run
            reason = f"{type(e).__name__}: {e}"
            b.failed.append({"peer": "kornia", "bench": bench, "class": cls_name, "reason": reason})
            print(f"kornia / {bench}: constructor {cls_name} failed ({reason})", flush=True)
            continue
        if fam.get("mask_labels"):
            # Called with a label mask (B, H, W), as Kornia's RandomTransplantation needs; the image output.
            torch.manual_seed(1)
            mask = torch.randint(0, fam["mask_labels"], (shape[0], *shape[2:]))
            b.both("kornia", bench, shape, lambda xi, aug=aug, mask=mask: aug(xi, mask)[0], x, note)
            continue
        b.both("kornia", bench, shape, aug, x, note)
    # torchvision's transforms that Kornia lacks (the crate's spec in benches/families.rs).
    if torchvision is not None:
        from torchvision.transforms import v2
        for fam in spec.get("torchvision", []):
            if only and fam["family"] not in only:
                continue
            aug = eval(fam["python"], {"v2": v2})
            b.both("torchvision", "family/" + fam["family"], shape, aug, x)
    # Kornia's containers, each on its own shape (the same Python call as benches/families.rs).
    for cont in spec.get("containers", []):
        if only and cont["family"] not in only:
            continue
        cshape = tuple(cont["shape"])
        aug = eval(cont["python"], {"K": K})
        b.both("kornia", "family/" + cont["family"], cshape, aug, input_for(cshape))


def paper_shapes(quick):
    if not quick:
        return PAPER_SHAPES
    return [(min(n, 2), c, min(h, 64), min(w, 64)) for n, c, h, w in PAPER_SHAPES]


def bench_paper(b, quick):
    kornia_pipe = torch.nn.Sequential(
        K.RandomAffine(30, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=10, p=1.0),
        K.ColorJitter(0.2, 0.3, 0.2, 0.3, p=1.0),
        K.Normalize(mean=torch.tensor(MEAN), std=torch.tensor(STD)),
    )
    tv_pipe = alb_pipe = alb_float_pipe = None
    if torchvision is not None:
        from torchvision.transforms import v2
        tv_pipe = v2.Compose([v2.RandomAffine(30, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=10),
                              v2.ColorJitter(0.2, 0.3, 0.2, 0.3), v2.Normalize(MEAN, STD)])
    if albumentations is not None:
        A = albumentations

        def alb(max_pixel_value):
            return A.Compose([
                A.Affine(rotate=(-30, 30), translate_percent=(-0.1, 0.1), scale=(0.9, 1.1), shear=(-10, 10), p=1.0),
                A.ColorJitter(brightness=0.2, contrast=0.3, saturation=0.2, hue=0.3, p=1.0),
                A.Normalize(mean=MEAN, std=STD, max_pixel_value=max_pixel_value),
            ])

        alb_pipe, alb_float_pipe = alb(255.0), alb(1.0)  # float32 images are in [0, 1]

    for shape in paper_shapes(quick):
        x = input_for(shape)
        b.both("kornia", "paper", shape, kornia_pipe, x)
        if tv_pipe is not None:
            b.both("torchvision v2 (batch)", "paper", shape, tv_pipe, x,
                   "whole float32 batch tensor: one parameter draw per batch")
            b.forward("torchvision v2 (per image)", "paper", shape,
                      lambda t: torch.stack([tv_pipe(img) for img in t]), x,
                      "Python loop over the batch, one draw per image, then torch.stack")
        if alb_pipe is not None:
            hwc = x.permute(0, 2, 3, 1).contiguous()
            u8 = [img for img in (x * 255).byte().permute(0, 2, 3, 1).numpy()]
            f32 = [img for img in hwc.numpy()]
            b.forward("albumentations (uint8, per image)", "paper", shape,
                      lambda imgs: np.stack([alb_pipe(image=i)["image"] for i in imgs]), u8,
                      "uint8 HWC numpy images, Python loop, float32 output np.stack-ed to (B,H,W,C)")
            b.forward("albumentations (float32, per image)", "paper", shape,
                      lambda imgs: np.stack([alb_float_pipe(image=i)["image"] for i in imgs]), f32,
                      "float32 HWC numpy images in [0,1] (Normalize max_pixel_value=1), Python loop, np.stack-ed")


def versions():
    def ver(mod):
        return None if mod is None else mod.__version__

    return {"python": platform.python_version(), "torch": torch.__version__, "kornia": kornia.__version__,
            "torchvision": ver(torchvision), "albumentations": ver(albumentations), "opencv": ver(cv2),
            "numpy": np.__version__}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10, help="timed calls per case after 2 warm-up calls (default 10)")
    ap.add_argument("--out", default=str(ROOT / "out" / "bench" / "python.json"), help="JSON file to write")
    ap.add_argument("--only", choices=["families", "paper"], help="run one part only")
    ap.add_argument("--max-seconds", "--min-seconds", dest="max_seconds", type=float, default=20.0,
                    help="per-case time budget: stop after 3 runs once a case used this many seconds (0: none)")
    ap.add_argument("--quick", action="store_true", help="small shapes, for smoke tests only")
    ap.add_argument("--family", action="append", help="time only this family of benches/families.json (repeatable)")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")

    b = Bench(args.runs, args.max_seconds)
    print(f"{versions()}, threads {torch.get_num_threads()}{', QUICK' if args.quick else ''}", flush=True)
    if args.only in (None, "families"):
        bench_families(b, args.quick, args.family)
    if args.only in (None, "paper"):
        bench_paper(b, args.quick)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"versions": versions(), "threads": torch.get_num_threads(), "quick": args.quick,
                               "records": b.records, "failed": b.failed, "skipped": b.skipped}, indent=1) + "\n")
    print(f"{len(b.records)} records, {len(b.failed)} failed constructors, {len(b.skipped)} skipped -> {out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
