"""torchvision 0.28's RandomIoUCrop (tests/fixtures/torchvision/ioucrop.safetensors): for each
case and seed, one image (1,C,H,W) with boxes (XYXY, torchvision's continuous coordinates;
torchvision 0.28's RandomIoUCrop cannot take rotated ones) through
`v2.RandomIoUCrop` after torch.manual_seed(seed): the window it chose (or none: left as it
is), which boxes it kept (their centres inside the window), the cropped image and boxes.
tests/torchvision/ioucrop.rs draws with the same seed (the same window), replays the window, and
compares the image and the kept boxes.

Keys, per case `<key>`: `.image` (1,C,H,W) float32, `.boxes` (N,4) float64 XYXY,
`.out_image`, `.out_boxes` (N,4) (torchvision zeroes the boxes it drops), `.kept` (N,) bool,
and where a window was chosen `.window` (4,) int64 [left, top, width, height] and
`.threshold` (1,) float64, the sampler option it met. The metadata's `cases` gives each
case's key, seed, the crate's spec as JSON, and `rounds`, the sampler options it drew.

Run (pinned torch 2.13.0, torchvision 0.28.0):
    .venv-fixtures/bin/python scripts/gen_torchvision_ioucrop_fixtures.py
"""
import json
import os
import signal

import torch
import torchvision
from safetensors.torch import save_file
from torchvision import tv_tensors
from torchvision.transforms import v2

assert torchvision.__version__.startswith("0.28"), torchvision.__version__


class Recorded(v2.RandomIoUCrop):
    """RandomIoUCrop that keeps the params it made and counts its option draws."""

    def make_params(self, flat_inputs):
        randint = torch.randint
        self.rounds = 0

        def counting(*args, **kwargs):
            if kwargs.get("low") == 0 and kwargs.get("high") == len(self.options):
                self.rounds += 1
            return randint(*args, **kwargs)

        torch.randint = counting
        try:
            self.made = super().make_params(flat_inputs)
        finally:
            torch.randint = randint
        return self.made


CASES = [
    # (name, kwargs, the crate's JSON spec, (C, H, W), boxes, seeds)
    ("default", {}, {"RandomIoUCrop": {}}, (3, 40, 50), 6, list(range(0, 12))),
    ("strict", dict(min_scale=0.5, sampler_options=[0.1, 0.3], trials=10),
     {"RandomIoUCrop": {"min_scale": 0.5, "sampler_options": [0.1, 0.3], "trials": 10}},
     (1, 36, 30), 4, list(range(12, 18))),
    ("wide", dict(min_aspect_ratio=1.0, max_aspect_ratio=3.0, max_scale=0.9),
     {"RandomIoUCrop": {"min_aspect_ratio": 1.0, "max_aspect_ratio": 3.0, "max_scale": 0.9}},
     (3, 30, 60), 3, list(range(18, 22))),
]

tensors, cases = {}, []
for name, kwargs, spec, (c, h, w), n, seeds in CASES:
    for seed in seeds:
        key = f"{name}_{seed}"
        torch.manual_seed(1000 + seed)
        image = torch.rand(1, c, h, w)
        x1, y1 = torch.rand(n) * (w - 3), torch.rand(n) * (h - 3)
        x2 = torch.minimum(x1 + 2 + torch.rand(n) * w / 2, torch.tensor(float(w)))
        y2 = torch.minimum(y1 + 2 + torch.rand(n) * h / 2, torch.tensor(float(h)))
        xyxy = torch.stack([x1, y1, x2, y2], -1).double()
        boxes = tv_tensors.BoundingBoxes(xyxy, format="XYXY", canvas_size=(h, w), clamping_mode=None)
        t = Recorded(**kwargs)
        signal.alarm(20)  # torchvision's sampler loops until it finds a window
        torch.manual_seed(seed)
        out_image, out_boxes = t(tv_tensors.Image(image), boxes)
        signal.alarm(0)
        made = t.made
        tensors[f"{key}.image"] = image.contiguous()
        tensors[f"{key}.boxes"] = xyxy.contiguous()
        tensors[f"{key}.out_image"] = out_image.as_subclass(torch.Tensor).clone()
        tensors[f"{key}.out_boxes"] = out_boxes.as_subclass(torch.Tensor).clone()
        if made:
            tensors[f"{key}.window"] = torch.tensor([made["left"], made["top"], made["width"], made["height"]])
            tensors[f"{key}.kept"] = made["is_within_crop_area"].contiguous()
            # The option it met: the largest one the window satisfies is not recorded by
            # torchvision; the crate's replay needs one it meets, and 0 always is.
            tensors[f"{key}.threshold"] = torch.zeros(1, dtype=torch.float64)
        else:
            tensors[f"{key}.kept"] = torch.ones(n, dtype=torch.bool)
        cases.append({"key": key, "seed": seed, "spec": spec, "rounds": t.rounds, "cropped": bool(made)})

path = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "torchvision", "ioucrop.safetensors")
save_file(tensors, path, metadata={
    "cases": json.dumps(cases), "torch": torch.__version__, "torchvision": torchvision.__version__})
print("wrote", os.path.normpath(path), len(cases), "cases,", sum(c["cropped"] for c in cases), "cropped; rounds",
      [c["rounds"] for c in cases])
