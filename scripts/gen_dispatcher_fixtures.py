#!/usr/bin/env python3
"""Fixtures for the dispatchers (`ManyToMany`, `ManyToOne`): Kornia 0.9's
ManyToManyAugmentationDispather and ManyToOneAugmentationDispather over pipelines written as
Python source, called once after a seed.

Run from the repository root (scripts/gen_fixtures.sh sets up the interpreter):

    FIXTURES_SCRIPT=scripts/gen_dispatcher_fixtures.py bash scripts/gen_fixtures.sh

One file per case, ``tests/fixtures/dispatch/<name>.safetensors``:
  input.<b>.<key>    input bundle b (ManyToOne: bundle 0 only), drawn after manual_seed(seed)
  output.<i>.<key>   pipeline i's outputs, the dispatcher called after manual_seed(1000 + seed)
The metadata holds ``kind`` (many_to_many or many_to_one), ``sources`` (each pipeline's
Python call, json) and ``keys`` (each pipeline's data keys, json).
"""
import json
import os

import kornia
import kornia.augmentation as K
import torch
from safetensors.torch import save_file

from gen_fixtures import canonicalize  # the same sorted-header rewrite (this folder is on sys.path)

AFFINE_JITTER = """K.AugmentationSequential(K.RandomAffine(20, (0.1, 0.1), p=1.0),
    K.ColorJitter(0.2, 0.2, 0.2, 0.05, p=1.0), data_keys=["input", "mask"])"""
CROP_FLIP = """K.AugmentationSequential(K.RandomResizedCrop((6, 7), p=1.0), K.RandomHorizontalFlip(),
    data_keys=["input", "mask"])"""
BLUR = """K.AugmentationSequential(K.RandomGaussianBlur(3, (0.1, 2.0), p=1.0), K.RandomVerticalFlip(p=0.5))"""

CASES = [
    # Two views of one batch (image and mask).
    ("many_to_one", "many_to_one", [AFFINE_JITTER, CROP_FLIP], (4, 3, 9, 10)),
    # Two pipelines on two inputs: an image with its mask, and an image alone.
    ("many_to_many", "many_to_many", [CROP_FLIP, BLUR], (3, 3, 8, 9)),
]


def bundle(keys, shape):
    b, _, h, w = shape
    out = {"input": torch.rand(shape)}
    if "mask" in keys:
        out["mask"] = (torch.rand(b, 1, h, w) > 0.5).float()
    return out


def main():
    os.makedirs("tests/fixtures/dispatch", exist_ok=True)
    for seed, (name, kind, sources, shape) in enumerate(CASES):
        pipes = [eval(s, {"K": K}) for s in sources]
        keys = [[k.name.lower() for k in p.data_keys] for p in pipes]
        keys = [["input" if k == "image" else k for k in ks] for ks in keys]
        torch.manual_seed(seed)
        if kind == "many_to_one":
            given = [bundle(keys[0], shape)]
            dispatcher = K.container.ManyToOneAugmentationDispather(*pipes)
            torch.manual_seed(1000 + seed)
            outs = dispatcher(*[given[0][k] for k in keys[0]])
        else:
            given = [bundle(ks, shape) for ks in keys]
            dispatcher = K.container.ManyToManyAugmentationDispather(*pipes)
            torch.manual_seed(1000 + seed)
            outs = dispatcher(*[[g[k] for k in ks] for g, ks in zip(given, keys)])
        tensors = {f"input.{b}.{k}": v.contiguous() for b, g in enumerate(given) for k, v in g.items()}
        for i, (out, ks) in enumerate(zip(outs, keys)):
            out = out if isinstance(out, (list, tuple)) else [out]
            tensors.update({f"output.{i}.{k}": v.detach().contiguous() for k, v in zip(ks, out)})
        path = f"tests/fixtures/dispatch/{name}.safetensors"
        meta = dict(kind=kind, sources=json.dumps([" ".join(s.split()) for s in sources]), keys=json.dumps(keys),
                    torch=torch.__version__, kornia=kornia.__version__)
        save_file(tensors, path, metadata=meta)
        canonicalize(path)
        print(f"{name}: {sorted(tensors)} -> {path}")


if __name__ == "__main__":
    main()
