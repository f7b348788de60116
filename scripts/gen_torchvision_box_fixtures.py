"""torchvision 0.28's ClampBoundingBoxes and SanitizeBoundingBoxes on random boxes
(tests/fixtures/torchvision/boxes.json), which Boxes::f_clamp and Boxes::f_sanitize must
equal (tests/annotations.rs).

Run (pinned torch 2.13.0, torchvision 0.28.0): python3 scripts/gen_torchvision_box_fixtures.py
"""
import json
import os

import numpy as np
import torch
import torchvision
from torchvision import tv_tensors
from torchvision.transforms import v2

rng = np.random.default_rng(0)
h, w = 50, 70
# Corners spread past the image on every side, some boxes degenerate or inverted.
xy = rng.uniform(-20, 90, size=(200, 4)).astype(np.float32)
xy[:, 2] = xy[:, 0] + rng.uniform(-2, 40, size=200).astype(np.float32)
xy[:, 3] = xy[:, 1] + rng.uniform(-2, 30, size=200).astype(np.float32)
xy[:20, 2] = xy[:20, 0]  # zero width
xy[20:30] = np.round(xy[20:30])  # whole pixels
boxes = tv_tensors.BoundingBoxes(torch.from_numpy(xy), format="XYXY", canvas_size=(h, w))
clamped = v2.ClampBoundingBoxes()(boxes)
cases = []
for min_size, min_area in [(1.0, 1.0), (3.5, 1.0), (1.0, 40.0), (2.0, 10.0)]:
    for name, b in [("raw", boxes), ("clamped", clamped)]:
        labels = torch.arange(len(b))
        out = v2.SanitizeBoundingBoxes(min_size=min_size, min_area=min_area)(
            {"boxes": b, "labels": labels})
        cases.append(dict(input=name, min_size=min_size, min_area=min_area,
                          kept=out["labels"].tolist()))
out = dict(torchvision=torchvision.__version__, height=h, width=w,
           boxes=xy.reshape(-1).tolist(), clamped=clamped.reshape(-1).tolist(), cases=cases)
path = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "torchvision", "boxes.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", path)
