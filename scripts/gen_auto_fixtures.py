#!/usr/bin/env python3
"""Golden fixtures for the auto-augment presets: Kornia 0.9's AutoAugment (imagenet, cifar10,
svhn), RandAugment(n, m) and TrivialAugment, standalone.

Run from the repository root (scripts/gen_fixtures.sh sets up the interpreter):

    FIXTURES_SCRIPT=scripts/gen_auto_fixtures.py bash scripts/gen_fixtures.sh

One file, ``tests/fixtures/auto/presets.safetensors``; for each case ``c<k>`` it holds:
  c<k>.image                    the input (B,3,H,W), drawn after manual_seed(700 + k)
  c<k>.out                      Kornia's output, drawn after manual_seed(1700 + k)
  c<k>.choice                   the table indices of the applied sub-policies (int64, in order)
  c<k>.param.<pos>.<j>.<key>    the params of the j-th op of the pos-th applied sub-policy
The metadata's ``cases`` (json) lists each case's preset and arguments.
"""
import json
import os

import kornia
import torch
from kornia.augmentation.auto import AutoAugment, RandAugment, TrivialAugment
from safetensors.torch import save_file

from gen_fixtures import canonicalize  # the same sorted-header rewrite (this folder is on sys.path)

CASES = (
    [("AutoAugment", dict(policy=p), (4, 3, 8, 10)) for p in ("imagenet", "cifar10", "svhn") for _ in range(12)]
    + [("RandAugment", dict(n=n, m=m), (4, 3, 8, 10)) for (n, m) in ((1, 5), (2, 9), (3, 15), (2, 29)) for _ in range(4)]
    + [("TrivialAugment", {}, (4, 3, 8, 10)) for _ in range(16)]
    # Odd sizes: the translations scale with W and H, the shears with the centre.
    + [("RandAugment", dict(n=15, m=7), (3, 3, 9, 13)), ("TrivialAugment", {}, (5, 3, 11, 7))]
)

PRESETS = dict(AutoAugment=AutoAugment, RandAugment=RandAugment, TrivialAugment=TrivialAugment)


def main():
    tensors, cases = {}, []
    for k, (name, kwargs, shape) in enumerate(CASES):
        torch.manual_seed(700 + k)
        image = torch.rand(shape)
        aug = PRESETS[name](**kwargs)
        torch.manual_seed(1700 + k)
        out = aug(image)
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
        cases.append(dict(preset=name, kwargs=kwargs, shape=list(shape)))
    os.makedirs("tests/fixtures/auto", exist_ok=True)
    path = "tests/fixtures/auto/presets.safetensors"
    meta = dict(cases=json.dumps(cases), torch=torch.__version__, kornia=kornia.__version__)
    save_file(tensors, path, metadata=meta)
    canonicalize(path)
    print(f"{len(cases)} cases -> {path}")


if __name__ == "__main__":
    main()
