#!/usr/bin/env python3
"""Fixtures for `VideoSequential`: Kornia 0.9's VideoSequential over pipelines written as Python
source, called once after a seed, then replayed with its params for the input gradient.

Run from the repository root (scripts/gen_fixtures.sh sets up the interpreter):

    FIXTURES_SCRIPT=scripts/gen_video_fixtures.py bash scripts/gen_fixtures.sh

One file per case, ``tests/fixtures/video/<name>.safetensors``:
  input       the clips, drawn after manual_seed(seed)
  output      aug(input) after manual_seed(1000 + seed)
  params.*    aug._params as docs/kornia-params.md flattens them ("{i}:{name}.{key}")
  weights     drawn after manual_seed(2000 + seed); grad = d sum(weights * aug(input, params)) / d input
  grad
  inverse     aug.inverse(output) (cases where Kornia's inverse runs)
The metadata holds ``source`` (the Python call).
"""
import json
import os

import kornia
import kornia.augmentation as K
import torch
from safetensors.torch import save_file

from gen_fixtures import canonicalize  # the same sorted-header rewrite (this folder is on sys.path)

CASES = [
    # One draw per clip: colour, a gated affine, a flip; (B,T,C,H,W).
    ("btchw_same_frame", """K.VideoSequential(K.ColorJiggle(0.1, 0.1, 0.1, 0.1, p=1.0),
        K.RandomAffine(30.0, (0.1, 0.1), p=0.7), K.RandomHorizontalFlip(),
        data_format="BTCHW", same_on_frame=True)""", (2, 3, 3, 8, 10), True),
    # One draw per frame, (B,C,T,H,W), a crop that resizes.
    ("bcthw_per_frame", """K.VideoSequential(K.RandomRotation(40.0, p=0.8),
        K.RandomGaussianBlur(3, (0.1, 2.0), p=0.6), K.RandomResizedCrop((6, 7)),
        data_format="BCTHW", same_on_frame=False)""", (2, 3, 4, 9, 11), True),
    # same_on_batch steps (one draw for all clips), a random selection, motion blur's kernel index.
    ("same_on_batch_random_apply", """K.VideoSequential(K.RandomBrightness((0.8, 1.2), same_on_batch=True, p=1.0),
        K.RandomPerspective(0.3, p=0.9), K.RandomVerticalFlip(same_on_batch=True),
        K.RandomMotionBlur((3, 5), 35.0, 0.5, p=1.0), random_apply=3)""", (3, 2, 3, 8, 8), False),
    # Per frame with same_on_batch (one draw per frame index), and a nested container.
    ("per_frame_nested", """K.VideoSequential(K.ColorJitter(0.2, 0.2, 0.2, 0.05, same_on_batch=True, p=1.0),
        K.ImageSequential(K.RandomAffine(20.0, p=1.0), K.RandomHorizontalFlip()),
        same_on_frame=False)""", (2, 3, 3, 7, 9), False),
]


def kornia_params(params, prefix=""):
    """`aug._params` as flat tensors (docs/kornia-params.md)."""
    if isinstance(params, dict):
        return {prefix + k: v.detach().cpu().clone() for k, v in params.items() if isinstance(v, torch.Tensor)}
    out = {}
    for i, item in enumerate(params):
        out.update(kornia_params(item.data or {}, f"{prefix}{i}:{item.name}."))
    return out


def main():
    os.makedirs("tests/fixtures/video", exist_ok=True)
    for seed, (name, source, shape, invert) in enumerate(CASES):
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
        tensors.update({f"params.{k}": v for k, v in kornia_params(params).items()})
        if invert:
            tensors["inverse"] = aug.inverse(out, params=params).detach()
        tensors = {k: (v.float() if v.dtype == torch.bool else v).contiguous() for k, v in tensors.items()}
        path = f"tests/fixtures/video/{name}.safetensors"
        meta = dict(source=" ".join(source.split()), torch=torch.__version__, kornia=kornia.__version__)
        save_file(tensors, path, metadata=meta)
        canonicalize(path)
        print(f"{name}: {sorted(tensors)} -> {path}")


if __name__ == "__main__":
    main()
