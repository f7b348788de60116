"""The files Table 1 from files and the decoder comparison read: JPEG photographs of
ImageNet's typical size, made from the crate's photos (assets/).

For each of the three photos (one class each), `--per-class` crops of random position and
size, resized to 500x375 (landscape) or 375x500 (portrait), saved as JPEG quality 90
(about ImageNet's median file). Seeded: the same files on every machine.

Run: python3 scripts/make_bench_images.py [--out target/bench-images] [--per-class 200]
"""
import argparse
import os

import numpy as np
from PIL import Image

ap = argparse.ArgumentParser()
root = os.path.join(os.path.dirname(__file__), "..")
ap.add_argument("--out", default=os.path.join(root, "target", "bench-images"))
ap.add_argument("--per-class", type=int, default=200)
a = ap.parse_args()
rng = np.random.default_rng(0)
for name in ["astronaut", "chelsea", "coffee"]:
    photo = Image.open(os.path.join(root, "assets", f"{name}.png")).convert("RGB")
    w, h = photo.size
    d = os.path.join(a.out, name)
    os.makedirs(d, exist_ok=True)
    for k in range(a.per_class):
        s = rng.uniform(0.5, 1.0)
        cw, ch = int(w * s), int(h * s)
        x, y = rng.integers(0, w - cw + 1), rng.integers(0, h - ch + 1)
        size = (500, 375) if rng.uniform() < 0.75 else (375, 500)
        crop = photo.crop((x, y, x + cw, y + ch)).resize(size, Image.BILINEAR)
        crop.save(os.path.join(d, f"{k:04d}.jpg"), quality=90)
print(f"wrote {3 * a.per_class} files under {a.out}")
