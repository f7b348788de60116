#!/usr/bin/env python3
"""Fixtures for `PatchSequential`: Kornia 0.9's PatchSequential over pipelines written as Python
source, called once after a seed, then replayed with its params for the input gradient.

Run from the repository root (scripts/gen_fixtures.sh sets up the interpreter):

    FIXTURES_SCRIPT=scripts/gen_patch_fixtures.py bash scripts/gen_fixtures.sh

One file per case, ``tests/fixtures/patch/<name>.safetensors``:
  input       the images, drawn after manual_seed(seed)
  output      aug(input) after manual_seed(1000 + seed)
  params.*    aug._params in this crate's layout (below)
  kornia.*    aug._params as docs/kornia-params.md's `kornia_params` saves them (what
              `Params::load_kornia` imports into the layout below)
  weights     drawn after manual_seed(2000 + seed); grad = d sum(weights * aug(input, params)) / d input
  grad
The metadata holds ``source`` (the Python call).

Kornia's params are a list of PatchParamItem (the patch indices, and a child's ParamItem). This
crate groups them by the patches they apply to: group ``g`` is the whole patch batch without
``patchwise_apply`` (one group), else patch location ``g`` (its indices are ``g, g + N, ...``).
A group's items, in order, are a pipeline's: item ``k`` under ``"{g}.{k}.{key}"``, and the
children they come from (the index ending each item's name) under ``"{g}.selection"``.
"""
import os

import kornia
import kornia.augmentation as K
import torch
from safetensors.torch import save_file

from gen_fixtures import canonicalize  # the same sorted-header rewrite (this folder is on sys.path)
from gen_kornia_params_fixtures import kornia_params  # docs/kornia-params.md's lines

CASES = [
    # One pipeline over every patch; "same" pads 9 rows to 10.
    ("sequence_same", """K.PatchSequential(K.ColorJiggle(0.1, 0.1, 0.1, 0.1, p=1.0),
        K.RandomAffine(20.0, p=0.8), grid_size=(2, 2), patchwise_apply=False)""", (2, 3, 9, 10)),
    # One child per patch location; "valid" crops 9 x 11 to 8 x 10.
    ("located_valid", """K.PatchSequential(K.ColorJiggle(0.2, 0.2, 0.2, 0.1, p=1.0),
        K.RandomBrightness((0.7, 1.3), p=1.0), K.RandomHorizontalFlip(),
        K.RandomGaussianBlur(3, (0.1, 2.0), p=1.0), grid_size=(2, 2), padding="valid")""", (2, 3, 9, 11)),
    # A random sequence per patch location, one draw for every image at it.
    ("located_random_same_on_batch", """K.PatchSequential(K.ColorJiggle(0.1, 0.1, 0.1, 0.1),
        K.RandomAffine(15.0), K.RandomVerticalFlip(), grid_size=(2, 3), patchwise_apply=True,
        random_apply=True, same_on_batch=True)""", (3, 3, 8, 9)),
    # One random selection for every patch.
    ("sequence_random", """K.PatchSequential(K.RandomBrightness((0.8, 1.2)), K.RandomContrast((0.8, 1.2)),
        K.RandomHorizontalFlip(), grid_size=(3, 3), patchwise_apply=False, random_apply=2)""", (2, 1, 9, 9)),
]


def child(name):
    return int(name.rsplit("_", 1)[1])


def ours(aug, params):
    """Kornia's PatchParamItem list in this crate's layout (the module docstring)."""
    groups = {}
    for item in params:
        indices = item.indices.tolist() if isinstance(item.indices, torch.Tensor) else list(item.indices)
        g = 0 if not aug.patchwise_apply else indices[0]
        groups.setdefault(g, []).append(item.param)
    out = {}
    for g, items in groups.items():
        out[f"{g}.selection"] = torch.tensor([child(p.name) for p in items])
        for k, p in enumerate(items):
            for key, v in (p.data or {}).items():
                if isinstance(v, torch.Tensor):
                    out[f"{g}.{k}.{key}"] = v.detach().cpu().clone()
    return out


def main():
    os.makedirs("tests/fixtures/patch", exist_ok=True)
    for seed, (name, source, shape) in enumerate(CASES):
        aug = eval(source, {"K": K})
        torch.manual_seed(seed)
        x = torch.rand(shape)
        torch.manual_seed(1000 + seed)
        out = aug(x)
        params = aug._params
        xg = x.clone().requires_grad_(True)
        replay = aug(xg, params=params)
        torch.manual_seed(2000 + seed)
        weights = torch.rand(replay.shape)
        (replay * weights).sum().backward()
        tensors = {"input": x, "output": out.detach(), "weights": weights, "grad": xg.grad}
        tensors.update({f"params.{k}": v for k, v in ours(aug, params).items()})
        # As a user saves them (docs/kornia-params.md), for the importer.
        tensors.update({f"kornia.{k}": v for k, v in kornia_params(params).items()})
        tensors = {k: (v.float() if v.dtype == torch.bool else v).contiguous() for k, v in tensors.items()}
        path = f"tests/fixtures/patch/{name}.safetensors"
        meta = dict(source=" ".join(source.split()), torch=torch.__version__, kornia=kornia.__version__)
        save_file(tensors, path, metadata=meta)
        canonicalize(path)
        print(f"{name}: {sorted(tensors)} -> {path}")


if __name__ == "__main__":
    main()
