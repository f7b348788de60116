#!/usr/bin/env python3
"""Golden fixtures for the auto-augment presets: Kornia 0.9's AutoAugment (imagenet, cifar10,
svhn), RandAugment(n, m) and TrivialAugment, standalone.

Run from the repository root (scripts/gen_fixtures.sh sets up the interpreter):

    FIXTURES_SCRIPT=scripts/gen_auto_fixtures.py bash scripts/gen_fixtures.sh

One file, ``tests/fixtures/auto/presets.safetensors``; for each case ``c<k>`` it holds:
  c<k>.image                    the input (B,3,H,W), drawn after manual_seed(700 + k)
  c<k>.out                      Kornia's output, drawn after manual_seed(1700 + k)
  c<k>.upstream, c<k>.grad      a fixed upstream gradient and Kornia's input gradient for it
  c<k>.choice                   the table indices of the applied sub-policies (int64, in order)
  c<k>.param.<pos>.<j>.<key>    the params of the j-th op of the pos-th applied sub-policy
The metadata's ``cases`` (json) lists each case's preset and its arguments in tch-dda's JSON,
and ``tables`` (json) Kornia's three AutoAugment tables.
"""
import json
import os

import kornia
import torch
from kornia.augmentation.auto import AutoAugment, RandAugment, TrivialAugment
from kornia.augmentation.auto.autoaugment.autoaugment import cifar10_policy, imagenet_policy, svhn_policy
from kornia.augmentation.auto.trivial_augment.trivial_augment import default_policy as trivial_policy
from safetensors.torch import save_file

from gen_fixtures import canonicalize  # the same sorted-header rewrite (this folder is on sys.path)

CASES = (
    [("AutoAugment", dict(policy=p), (4, 3, 8, 10)) for p in ("imagenet", "cifar10", "svhn") for _ in range(12)]
    + [("RandAugment", dict(n=n, m=m), (4, 3, 8, 10)) for (n, m) in ((1, 5), (2, 9), (3, 15), (2, 29)) for _ in range(4)]
    + [("TrivialAugment", {}, (4, 3, 8, 10)) for _ in range(16)]
    # Odd sizes: the translations scale with W and H, the shears with the centre.
    + [("RandAugment", dict(n=15, m=7), (3, 3, 9, 13)), ("TrivialAugment", {}, (5, 3, 11, 7))]
    # Every sub-policy of the three tables, alone (a one-entry custom policy), and every
    # TrivialAugment candidate alone.
    + [("AutoAugment", dict(policy=[sub]), (4, 3, 6, 7))
       for table in (imagenet_policy, cifar10_policy, svhn_policy) for sub in table]
    + [("TrivialAugment", dict(policy=[cand]), (4, 3, 6, 7)) for cand in trivial_policy]
)


def ours(name, kwargs):
    """The case's arguments in tch-dda's JSON: the same, but TrivialAugment's and
    RandAugment's candidates are a flat list of (op, lo, hi)."""
    if name in ("TrivialAugment", "RandAugment") and "policy" in kwargs:
        return dict(kwargs, policy=[list(sub[0]) for sub in kwargs["policy"]])
    if "policy" in kwargs and not isinstance(kwargs["policy"], str):
        return dict(kwargs, policy=[[list(e) for e in sub] for sub in kwargs["policy"]])
    return kwargs

PRESETS = dict(AutoAugment=AutoAugment, RandAugment=RandAugment, TrivialAugment=TrivialAugment)


def main():
    tensors, cases = {}, []
    for k, (name, kwargs, shape) in enumerate(CASES):
        torch.manual_seed(700 + k)
        image = torch.rand(shape)
        aug = PRESETS[name](**kwargs)
        image.requires_grad_(True)
        torch.manual_seed(1700 + k)
        out = aug(image)
        # The input gradient for a fixed upstream gradient, drawn after Kornia's draws.
        upstream = torch.rand(out.shape)
        out.backward(upstream)
        tensors[f"c{k}.upstream"] = upstream
        tensors[f"c{k}.grad"] = image.grad.contiguous()
        image = image.detach()
        out = out.detach()
        choice = []
        for pos, item in enumerate(aug._params):
            choice.append(int(item.name.rsplit("_", 1)[1]))
            for j, op in enumerate(item.data):
                for key, value in op.data.items():
                    if key == "forward_input_shape":
                        continue
                    tensors[f"c{k}.param.{pos}.{j}.{key}"] = value.contiguous()
        tensors[f"c{k}.image"] = image
        tensors[f"c{k}.out"] = out.contiguous()
        tensors[f"c{k}.choice"] = torch.tensor(choice, dtype=torch.int64)
        cases.append(dict(preset=name, kwargs=ours(name, kwargs), shape=list(shape)))
    os.makedirs("tests/fixtures/auto", exist_ok=True)
    path = "tests/fixtures/auto/presets.safetensors"
    tables = dict(imagenet=imagenet_policy, cifar10=cifar10_policy, svhn=svhn_policy)
    tables = {k: [[list(e) for e in sub] for sub in t] for k, t in tables.items()}
    meta = dict(cases=json.dumps(cases), tables=json.dumps(tables), torch=torch.__version__,
                kornia=kornia.__version__)
    save_file(tensors, path, metadata=meta)
    canonicalize(path)
    print(f"{len(cases)} cases -> {path}")


if __name__ == "__main__":
    main()
