"""torchvision 0.28's ScaleJitter, RandomShortestSize and RandomZoomOut (tests/fixtures/torchvision/sizes.safetensors):
for each case and seed, the image and oriented boxes (XYWHR, unclamped) through the transform
after torch.manual_seed(seed), the size it drew, and (the first seed of each setting) the input
gradient of a weighted sum of the output image. tests/torchvision/random_size.rs draws with the same
seed (the same size) and compares the outputs.

Run (pinned torch 2.13.0, torchvision 0.28.0):
    python3 scripts/gen_torchvision_size_fixtures.py
"""
import json
import os

import torch
import torchvision
from safetensors.torch import save_file
from torchvision import tv_tensors
from torchvision.transforms import v2

assert torchvision.__version__.startswith("0.28"), torchvision.__version__
torch.manual_seed(0)
h, w = 30, 40
image = torch.rand(2, 3, h, w)
# Oriented boxes (continuous coordinates), some across the border.
n = 6
cxcywhr = torch.stack(
    [torch.rand(n) * 50 - 5, torch.rand(n) * 40 - 5, torch.rand(n) * 15 + 2, torch.rand(n) * 15 + 2,
     torch.rand(n) * 360 - 180], -1).double()
xywhr = v2.functional.convert_bounding_box_format(cxcywhr, old_format="CXCYWHR", new_format="XYWHR")

CASES = [
    # (name, transform, its config as the crate's JSON, seeds)
    ("jitter", v2.ScaleJitter((40, 60), scale_range=(0.3, 1.7)),
     {"ScaleJitter": {"target_size": [40, 60], "scale_range": [0.3, 1.7]}}, [0, 1, 2, 3]),
    ("jitter_bicubic_plain", v2.ScaleJitter((64, 48), scale_range=(0.5, 1.5), interpolation="bicubic", antialias=False),
     {"ScaleJitter": {"target_size": [64, 48], "scale_range": [0.5, 1.5], "resample": "bicubic", "antialias": False}},
     [4, 5]),
    ("jitter_nearest", v2.ScaleJitter((30, 30), scale_range=(0.5, 1.0), interpolation="nearest"),
     {"ScaleJitter": {"target_size": [30, 30], "scale_range": [0.5, 1.0], "resample": "nearest"}}, [6]),
    ("shortest", v2.RandomShortestSize([24, 40, 64], max_size=80),
     {"RandomShortestSize": {"min_size": [24, 40, 64], "max_size": 80}}, [7, 8, 9, 10]),
    ("shortest_one", v2.RandomShortestSize(33),
     {"RandomShortestSize": {"min_size": [33]}}, [11]),
    ("zoom_out", v2.RandomZoomOut(fill=0.25, side_range=(1.0, 2.5), p=0.7),
     {"RandomZoomOut": {"fill": [0.25], "side_range": [1.0, 2.5], "p": 0.7}}, [12, 13, 14, 15, 16]),
    ("zoom_out_rgb", v2.RandomZoomOut(fill=[0.1, 0.5, 0.9], p=1.0),
     {"RandomZoomOut": {"fill": [0.1, 0.5, 0.9], "p": 1.0}}, [17, 18]),
]

tensors = {"image": image.contiguous(), "boxes": xywhr.contiguous()}
cases = []
for name, t, spec, seeds in CASES:
    for seed in seeds:
        boxes = tv_tensors.BoundingBoxes(xywhr, format="XYWHR", canvas_size=(h, w), clamping_mode=None)
        leaf = image.clone().requires_grad_(True)
        torch.manual_seed(seed)
        out_image, out_boxes = t(tv_tensors.Image(leaf), boxes)
        out_image = out_image.as_subclass(torch.Tensor)
        key = f"{name}_{seed}"
        # The input gradient of a weighted sum of the output.
        torch.manual_seed(2000 + seed)
        weights = torch.rand(out_image.shape)
        (out_image * weights).sum().backward()
        tensors[f"{key}.image"] = out_image.detach().contiguous()
        if seed == seeds[0]:  # one gradient per setting
            tensors[f"{key}.weights"] = weights.contiguous()
            tensors[f"{key}.grad"] = leaf.grad.contiguous()
        tensors[f"{key}.boxes"] = out_boxes.as_subclass(torch.Tensor).contiguous()
        cases.append({"key": key, "seed": seed, "spec": spec, "size": list(out_image.shape[-2:])})

path = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "torchvision", "sizes.safetensors")
save_file(tensors, path, metadata={
    "cases": json.dumps(cases), "torch": torch.__version__, "torchvision": torchvision.__version__})
print("wrote", os.path.normpath(path), [c["size"] for c in cases])
