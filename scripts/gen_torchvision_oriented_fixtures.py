"""torchvision 0.28's oriented (rotated) boxes on random boxes
(tests/fixtures/torchvision/oriented.json): the conversions between XYWHR, CXCYWHR and
XYXYXYXY, and the boxes through a horizontal and a vertical flip, a rotation, an affine
map without shear, a resize that changes the aspect ratio and a crop, each with the
boxes' clamping mode None (nothing clamped) and "soft" (torchvision's default: the
smallest box of the same angle around the part inside the image), and the boxes through
ClampBoundingBoxes. tests/oriented_boxes.rs replays them through the crate's operators and
Boxes::f_clamp.

Run (pinned torch 2.13.0, torchvision 0.28.0):
    python3 scripts/gen_torchvision_oriented_fixtures.py
"""
import json
import os

import numpy as np
import torch
import torchvision
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as F

assert torchvision.__version__.startswith("0.28"), torchvision.__version__
rng = np.random.default_rng(0)
h, w = 50, 70
n = 40
# Centres spread past the image on every side, some boxes thin, angles all round.
cx = rng.uniform(-10, w + 10, n)
cy = rng.uniform(-10, h + 10, n)
bw = rng.uniform(1, 30, n)
bh = rng.uniform(1, 30, n)
r = rng.uniform(-180, 180, n)
r[:4] = [0.0, 90.0, -90.0, 180.0]
cxcywhr = torch.from_numpy(np.stack([cx, cy, bw, bh, r], 1))  # float64

formats = ["XYWHR", "CXCYWHR", "XYXYXYXY"]
data = {
    f: F.convert_bounding_box_format(cxcywhr, old_format="CXCYWHR", new_format=f)
    for f in formats
}


def boxes(fmt, mode):
    return tv_tensors.BoundingBoxes(
        data[fmt], format=fmt, canvas_size=(h, w), clamping_mode=mode
    )


angle = 33.0
affine = dict(angle=-21.0, translate=[4.0, -3.0], scale=1.25, shear=[0.0, 0.0])
resize = [35, 91]
crop = dict(top=6, left=-4, height=40, width=60)
steps = {
    "hflip": lambda b: F.horizontal_flip(b),
    "vflip": lambda b: F.vertical_flip(b),
    "rotate": lambda b: F.rotate(b, angle),
    "affine": lambda b: F.affine(b, **affine),
    "resize": lambda b: F.resize(b, resize),
    "crop": lambda b: F.crop(b, **crop),
}
out = {
    "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__},
    "height": h,
    "width": w,
    "boxes": {f: data[f].tolist() for f in formats},
    "angle": angle,
    "affine": affine,
    "resize": resize,
    "crop": crop,
    "steps": {},
}
for name, step in steps.items():
    out["steps"][name] = {
        mode or "none": {f: step(boxes(f, mode)).as_subclass(torch.Tensor).tolist() for f in formats}
        for mode in [None, "soft"]
    }

out["clamped"] = {
    f: F.clamp_bounding_boxes(boxes(f, "soft")).as_subclass(torch.Tensor).tolist() for f in formats
}

path = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "torchvision", "oriented.json")
with open(path, "w") as fh:
    json.dump(out, fh)
print("wrote", os.path.normpath(path))
