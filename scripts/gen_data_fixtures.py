"""Fixtures for tch-dda-data (data/tests/fixtures/), from pinned torch 2.13 and Pillow.

- sampler.json: PyTorch's DistributedSampler order (shuffle, seed, epoch, rank, world size),
  which the loader's shuffle and sharding reproduce (without the sampler's padding).
- cmyk.jpg: a CMYK JPEG (Pillow writes Adobe's inverted CMYK, as Photoshop does), and
  cmyk.json: Pillow's RGB of it, for the decoder's CMYK conversion.
- photo.jpg + photo.json: a small JPEG and libjpeg-turbo's (Pillow's) RGB decode of it, which
  the loader's decoder (zune-jpeg) must match within a few levels.

Run: python3 scripts/gen_data_fixtures.py
"""
import json
import os

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DistributedSampler

OUT = os.path.join(os.path.dirname(__file__), "..", "data", "tests", "fixtures")
os.makedirs(OUT, exist_ok=True)

cases = []
for n, seed, epoch, world in [(10, 3, 1, 1), (10, 3, 2, 3), (37, 0, 0, 4), (1000, 7, 5, 2)]:
    for rank in range(world):
        s = DistributedSampler(list(range(n)), num_replicas=world, rank=rank, shuffle=True, seed=seed)
        s.set_epoch(epoch)
        cases.append(dict(n=n, seed=seed, epoch=epoch, world=world, rank=rank, order=list(s)))
with open(os.path.join(OUT, "sampler.json"), "w") as f:
    json.dump(dict(torch=torch.__version__, cases=cases), f)

# A gradient in CMYK: every channel varies, so a wrong conversion shows.
h, w = 16, 24
yy, xx = np.mgrid[0:h, 0:w]
cmyk = np.stack([xx * 10, yy * 15, (xx + yy) * 6, np.full_like(xx, 40)], -1).astype(np.uint8)
Image.fromarray(cmyk, "CMYK").save(os.path.join(OUT, "cmyk.jpg"), quality=95)
with Image.open(os.path.join(OUT, "cmyk.jpg")) as im:
    rgb = np.asarray(im.convert("RGB"))
with open(os.path.join(OUT, "cmyk.json"), "w") as f:
    json.dump(dict(height=h, width=w, rgb=rgb.reshape(-1).tolist()), f)

rgb = np.stack([xx * 10, yy * 15, 255 - (xx + yy) * 6], -1).astype(np.uint8)
Image.fromarray(rgb, "RGB").save(os.path.join(OUT, "photo.jpg"), quality=90)
with Image.open(os.path.join(OUT, "photo.jpg")) as im:
    dec = np.asarray(im.convert("RGB"))
with open(os.path.join(OUT, "photo.json"), "w") as f:
    json.dump(dict(height=h, width=w, rgb=dec.reshape(-1).tolist()), f)
print("wrote", OUT)
