#!/usr/bin/env python3
"""Golden fixtures for pipelines with annotations: Kornia 0.9's AugmentationSequential with
data_keys ["input", "mask", "bbox_xyxy", "keypoints"], forward and inverse.

Run from the repository root (scripts/gen_fixtures.sh sets up the interpreter):

    FIXTURES_SCRIPT=scripts/gen_annotation_fixtures.py bash scripts/gen_fixtures.sh [--only a,b]

One file per case, ``tests/fixtures/annotations/<case>.safetensors``, holding:
  image, mask, boxes, keypoints            the inputs (mask: float32 class ids 0..4, or int64 where noted;
                                           boxes: (B,N,4) inclusive xyxy; keypoints: (B,N,2))
  out.image, out.mask, out.boxes, out.keypoints      Kornia's forward outputs
  inv.image, inv.mask, inv.boxes, inv.keypoints      Kornia's aug.inverse of those outputs
  param.<i>.<key>     aug._params: the i-th applied child's params (in application order)
  seedparam.<i>.<key> aug.forward_parameters(image.shape) of a fresh container after manual_seed(1000 + seed)
The metadata records the children (class and kwargs, json), the applied children's names
(``param_names``, e.g. ["RandomAffine_0", "RandomCrop_2"]) and the versions.

RNG protocol per case (seed = 500 + index of the case):
  manual_seed(seed);        image, mask, boxes, keypoints drawn
  manual_seed(1000 + seed); outputs = aug(image, mask, boxes, keypoints)   # kornia draws its params here
"""
import argparse
import json
import os

import kornia
import kornia.augmentation as KA
import torch
from safetensors.torch import save_file

from gen_fixtures import canonicalize  # the same sorted-header rewrite (this folder is on sys.path)

T = torch.tensor
KEYS = ["input", "mask", "bbox_xyxy", "keypoints"]

AFFINE = ("RandomAffine", dict(degrees=30, translate=(0.1, 0.1), scale=(0.8, 1.2), shear=10, p=1.0))
# (name, [(class, kwargs), ...], image shape (B,C,H,W), boxes per image, options)
CASES = [
    ("flips", [("RandomHorizontalFlip", dict(p=0.5)), ("RandomVerticalFlip", dict(p=0.5))], (6, 3, 9, 11), 3, {}),
    ("affine", [AFFINE], (3, 3, 10, 12), 3, {}),
    ("affine_nearest_border", [("RandomAffine", dict(degrees=20, translate=(0.2, 0.1), resample="nearest",
                                                      padding_mode="border", align_corners=True, p=0.5))],
     (6, 1, 8, 10), 2, {}),
    ("rotation", [("RandomRotation", dict(degrees=45.0, p=1.0))], (3, 3, 10, 8), 3, {}),
    ("perspective", [("RandomPerspective", dict(distortion_scale=0.5, p=1.0))], (3, 3, 9, 12), 3, {}),
    ("crop", [("RandomCrop", dict(size=(7, 8), padding=2))], (3, 3, 10, 11), 3, {}),
    ("crop_fill_int_mask", [("RandomCrop", dict(size=(9, 12), pad_if_needed=True, fill=0.5))], (3, 1, 8, 10), 3,
     dict(int_mask=True)),
    ("resized_crop", [("RandomResizedCrop", dict(size=(8, 9), scale=(0.3, 0.9)))], (3, 3, 12, 14), 3, {}),
    ("resized_crop_resample", [("RandomResizedCrop", dict(size=(7, 6), cropping_mode="resample"))],
     (3, 3, 11, 10), 3, {}),
    ("center_crop", [("CenterCrop", dict(size=(6, 7)))], (3, 3, 9, 12), 3, {}),
    ("resize", [("Resize", dict(size=(7, 15)))], (3, 3, 10, 12), 3, {}),
    ("resize_nearest", [("Resize", dict(size=(13, 9), resample="nearest"))], (3, 1, 10, 12), 3, {}),
    ("pad_to", [("PadTo", dict(size=(12, 14), pad_value=0.3))], (3, 3, 9, 11), 3, {}),
    ("chain_affine_flip_rrc_jitter", [AFFINE, ("RandomHorizontalFlip", dict(p=0.5)),
                                      ("RandomResizedCrop", dict(size=(9, 10), scale=(0.5, 1.0))),
                                      ("ColorJitter", dict(brightness=0.2, contrast=0.2, p=1.0))],
     (4, 3, 12, 13), 3, {}),
    ("chain_rotation_crop_resize_pad", [("RandomRotation", dict(degrees=30.0, p=1.0)),
                                        ("RandomCrop", dict(size=(8, 9))),
                                        ("Resize", dict(size=(10, 12))),
                                        ("PadTo", dict(size=(12, 14)))],
     (3, 3, 11, 12), 3, {}),
    ("chain_perspective_center_erasing", [("RandomPerspective", dict(distortion_scale=0.4, p=1.0)),
                                          ("CenterCrop", dict(size=(8, 9))),
                                          ("RandomErasing", dict(p=1.0, value=0.7))],
     (3, 3, 10, 11), 3, {}),
    ("random_apply", [("RandomHorizontalFlip", dict(p=1.0)), ("RandomAffine", dict(degrees=20, p=1.0)),
                      ("RandomVerticalFlip", dict(p=1.0)), ("RandomRotation", dict(degrees=30.0, p=1.0))],
     (3, 3, 9, 10), 2, dict(container=dict(random_apply=2))),
    ("one_of_weighted", [("RandomHorizontalFlip", dict(p=1.0)), ("RandomAffine", dict(degrees=20, p=1.0)),
                         ("RandomVerticalFlip", dict(p=1.0))],
     (3, 3, 9, 10), 2, dict(container=dict(random_apply=1, random_apply_weights=[0.2, 0.5, 0.3]))),
    ("same_on_batch", [AFFINE, ("RandomHorizontalFlip", dict(p=0.5))], (4, 3, 9, 10), 2,
     dict(container=dict(same_on_batch=True))),
    # Appended (a case's seed is its position): the half-pixel resize (align_corners=False)
    # and Kornia's longest and smallest-side classes.
    ("resize_half_pixel", [("Resize", dict(size=(7, 15), align_corners=False))], (3, 3, 10, 12), 3, {}),
    ("longest_max_size", [("LongestMaxSize", dict(max_size=15, align_corners=False))], (3, 3, 10, 12), 3, {}),
    ("smallest_max_size", [("SmallestMaxSize", dict(max_size=7))], (3, 3, 10, 12), 3, {}),
    ("resized_crop_half_pixel", [("RandomResizedCrop", dict(size=(8, 9), scale=(0.3, 0.9), align_corners=False))],
     (3, 3, 12, 14), 3, {}),
    ("resized_crop_nearest", [("RandomResizedCrop", dict(size=(7, 8), resample="nearest"))], (3, 3, 12, 14), 3, {}),
]


def build(steps, container):
    return KA.AugmentationSequential(*(getattr(KA, c)(**kw) for c, kw in steps), data_keys=KEYS, **container)


def flatten_params(params, prefix):
    out = {}
    for i, item in enumerate(params):
        for k, v in (item.data or {}).items():
            if isinstance(v, torch.Tensor):
                out[f"{prefix}.{i}.{k}"] = v
    return out


def store(tensors):
    out = {}
    for k, v in tensors.items():
        v = v.detach().to("cpu")
        out[k] = (v.to(torch.float32) if v.dtype == torch.bool else v).clone().contiguous()
    return out


def inputs(shape, n, int_mask):
    b, _, h, w = shape
    image = torch.rand(shape)
    mask = torch.randint(0, 5, (b, 1, h, w))
    mask = mask if int_mask else mask.to(torch.float32)
    # Inclusive boxes inside the image: x1 in [0, W/2), x2 in [x1, W-1], likewise y.
    x1 = torch.randint(0, w // 2, (b, n)).float()
    y1 = torch.randint(0, h // 2, (b, n)).float()
    x2 = torch.minimum(x1 + torch.randint(1, w // 2 + 1, (b, n)).float(), torch.tensor(w - 1.0))
    y2 = torch.minimum(y1 + torch.randint(1, h // 2 + 1, (b, n)).float(), torch.tensor(h - 1.0))
    boxes = torch.stack([x1, y1, x2, y2], -1)
    keypoints = torch.rand(b, 2 * n, 2) * torch.tensor([w - 1.0, h - 1.0])
    return image, mask, boxes, keypoints


def run_case(seed, name, steps, shape, n, opts, out_dir):
    container = opts.get("container", {})
    torch.manual_seed(seed)
    image, mask, boxes, keypoints = inputs(shape, n, opts.get("int_mask", False))
    copies = [t.clone() for t in (image, mask, boxes, keypoints)]
    aug = build(steps, container)
    torch.manual_seed(1000 + seed)
    out = aug(image, mask, boxes, keypoints)
    params = aug._params
    inv = aug.inverse(*out, params=params)
    for a, b in zip(copies, (image, mask, boxes, keypoints)):
        assert torch.equal(a, b), f"{name}: input modified"
    tensors = {"image": image, "mask": mask, "boxes": boxes, "keypoints": keypoints}
    for prefix, vals in (("out", out), ("inv", inv)):
        for key, v in zip(("image", "mask", "boxes", "keypoints"), vals):
            tensors[f"{prefix}.{key}"] = v
    tensors.update(flatten_params(params, "param"))
    fresh = build(steps, container)
    torch.manual_seed(1000 + seed)
    tensors.update(flatten_params(fresh.forward_parameters(image.shape), "seedparam"))
    stored = store(tensors)
    meta = {
        "steps": json.dumps(steps, sort_keys=True),
        "container": json.dumps(container, sort_keys=True),
        "param_names": json.dumps([item.name for item in params]),
        "seed": str(seed),
        "torch": torch.__version__,
        "kornia": kornia.__version__,
    }
    path = os.path.join(out_dir, f"{name}.safetensors")
    save_file(stored, path, metadata=meta)
    canonicalize(path)
    print(f"{name}: applied {[item.name for item in params]} out.image{list(out[0].shape)} "
          f"out.boxes[0,0]={out[2][0, 0].tolist()} inv.boxes[0,0]={inv[2][0, 0].tolist()}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/annotations")
    ap.add_argument("--only", default="", help="comma-separated case names")
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    only = set(filter(None, args.only.split(",")))
    for i, (name, steps, shape, n, opts) in enumerate(CASES):
        if not only or name in only:
            run_case(500 + i, name, steps, shape, n, opts, args.out)
    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print(f"total {args.out}: {total} bytes")


if __name__ == "__main__":
    main()
