#!/usr/bin/env python3
"""Fixtures for the Kornia params importer (`Params::from_kornia`): Kornia 0.9 pipelines
written as Python source, run once, their `aug._params` saved with the few lines
docs/kornia-params.md gives to users (`kornia_params` below, copied there verbatim).

Run from the repository root (scripts/gen_fixtures.sh sets up the interpreter):

    FIXTURES_SCRIPT=scripts/gen_kornia_params_fixtures.py bash scripts/gen_fixtures.sh

One file per case, ``tests/fixtures/kornia_params/<name>.safetensors``:
  input.<key>     the inputs, in the order of the pipeline's data keys (drawn after manual_seed(seed))
  output.<key>    Kornia's outputs of ``aug(*inputs)``, drawn after manual_seed(1000 + seed)
  params.<...>    ``kornia_params(aug._params)``, the layout the importer reads
The metadata's ``source`` is the pipeline's Python call (what `AugSpec::from_kornia_python`
reads) and ``keys`` its data keys (json).
"""
import json
import os

import kornia
import kornia.augmentation as K
import torch
from safetensors.torch import save_file

from gen_fixtures import canonicalize  # the same sorted-header rewrite (this folder is on sys.path)


# --- what docs/kornia-params.md gives users, verbatim ---------------------------------
def kornia_params(params, prefix=""):
    """`aug._params` as flat tensors: the i-th item of a list of ParamItem under
    "{i}:{item.name}.", each tensor under its own key; a PatchSequential's PatchParamItem as
    its ParamItem, with the patches it applied to under "patch_indices"."""
    if isinstance(params, dict):
        return {prefix + k: v.detach().cpu().clone() for k, v in params.items() if isinstance(v, torch.Tensor)}
    out = {}
    for i, item in enumerate(params):
        if hasattr(item, "indices"):
            name = f"{prefix}{i}:{item.param.name}."
            out[name + "patch_indices"] = torch.as_tensor(item.indices).cpu().clone()
            item = item.param
        out.update(kornia_params(item.data or {}, f"{prefix}{i}:{item.name}."))
    return out
# ----------------------------------------------------------------------------------------


CASES = [
    # Flips, crop, erasing: arithmetic that replays bit for bit; two steps of four applied.
    ("random_apply_annotations", """K.AugmentationSequential(
        K.RandomHorizontalFlip(),
        K.RandomVerticalFlip(p=0.7),
        K.RandomCrop((7, 8), 1),
        K.RandomErasing((0.1, 0.3), (0.5, 2.0), 0.25, p=1.0),
        data_keys=["input", "mask", "bbox_xyxy", "keypoints"],
        random_apply=2,
    )""", (4, 3, 9, 10)),
    # A nested container and geometry: within float rounding of Kornia.
    ("nested_affine", """K.AugmentationSequential(
        K.RandomAffine(25, (0.1, 0.1), (0.9, 1.1), 5, p=1.0),
        K.AugmentationSequential(K.RandomHorizontalFlip(p=1.0), K.ColorJitter(0.2, 0.2, 0.2, 0.05, p=1.0)),
        data_keys=["input", "bbox_xyxy"],
    )""", (3, 3, 10, 12)),
    # Presets: the applied sub-policies and their ops.
    ("rand_augment", "K.auto.RandAugment(2, 9)", (4, 3, 10, 12)),
    ("auto_augment", "K.auto.AutoAugment('imagenet')", (4, 3, 10, 12)),
    # Boxes as vertices (Kornia's `bbox` key, the one its examples use) through a rotation,
    # a flip and a resized crop.
    ("vertex_boxes", """K.AugmentationSequential(
        K.RandomRotation(30.0, p=1.0),
        K.RandomHorizontalFlip(),
        K.RandomResizedCrop((8, 10), p=1.0),
        data_keys=["input", "bbox", "keypoints"],
    )""", (3, 3, 10, 12)),
    # Boxes through a mosaic (N boxes in, N * 4 out): moved with their tiles, clamped to the
    # window, small ones zeroed; gated-off samples keep their own boxes and zero rows.
    ("mosaic_boxes", """K.AugmentationSequential(
        K.RandomAffine(15.0, p=1.0),
        K.RandomMosaic((12, 16), min_bbox_size=3.0, p=0.6),
        K.RandomHorizontalFlip(),
        data_keys=["input", "bbox_xyxy"],
    )""", (4, 3, 16, 20)),
    # A 3 x 2 grid cropped by a warp, boxes as vertices.
    ("mosaic_vertices", """K.AugmentationSequential(
        K.RandomMosaic((10, 14), mosaic_grid=(3, 2), start_ratio_range=(0.1, 0.6), p=1.0,
                       cropping_mode="resample"),
        K.RandomVerticalFlip(),
        data_keys=["input", "bbox"],
    )""", (3, 3, 12, 15)),
]


def inputs(keys, shape, seed):
    torch.manual_seed(seed)
    b, _, h, w = shape
    out = {"input": torch.rand(shape)}
    if "mask" in keys:
        out["mask"] = (torch.rand(b, 1, h, w) > 0.5).float()
    if "bbox_xyxy" in keys:
        x1 = torch.rand(b, 3) * (w / 2)
        y1 = torch.rand(b, 3) * (h / 2)
        out["bbox_xyxy"] = torch.stack([x1, y1, x1 + 1 + torch.rand(b, 3) * (w / 2 - 1),
                                        y1 + 1 + torch.rand(b, 3) * (h / 2 - 1)], -1)
    if "bbox" in keys:
        # Inclusive vertices, top-left, top-right, bottom-right, bottom-left.
        x1 = torch.rand(b, 3) * (w / 2)
        y1 = torch.rand(b, 3) * (h / 2)
        x2 = x1 + 1 + torch.rand(b, 3) * (w / 2 - 1)
        y2 = y1 + 1 + torch.rand(b, 3) * (h / 2 - 1)
        out["bbox"] = torch.stack([torch.stack(p, -1) for p in [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]], -2)
    if "keypoints" in keys:
        out["keypoints"] = torch.rand(b, 4, 2) * torch.tensor([w - 1.0, h - 1.0])
    return out


def main():
    os.makedirs("tests/fixtures/kornia_params", exist_ok=True)
    for seed, (name, source, shape) in enumerate(CASES):
        aug = eval(source, {"K": K, "torch": torch})
        keys = [k.name.lower() for k in aug.data_keys] if hasattr(aug, "data_keys") and aug.data_keys else ["input"]
        keys = ["input" if k == "image" else k for k in keys]
        given = inputs(keys, shape, seed)
        torch.manual_seed(1000 + seed)
        outs = aug(*[given[k] for k in keys])
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        tensors = {f"input.{k}": v.contiguous() for k, v in given.items()}
        tensors.update({f"output.{k}": v.detach().contiguous() for k, v in zip(keys, outs)})
        tensors.update({f"params.{k}": v.contiguous() for k, v in kornia_params(aug._params).items()})
        path = f"tests/fixtures/kornia_params/{name}.safetensors"
        meta = dict(source=" ".join(source.split()), keys=json.dumps(keys), torch=torch.__version__,
                    kornia=kornia.__version__)
        save_file(tensors, path, metadata=meta)
        canonicalize(path)
        print(f"{name}: {sorted(k for k in tensors if k.startswith('params.'))[:6]}... -> {path}")


if __name__ == "__main__":
    main()
