"""Decoders Python users have, on the files of scripts/make_bench_images.py, in memory, one
thread, to 8-bit RGB (HWC): Pillow, OpenCV, torchvision.io.decode_jpeg (all three use
libjpeg-turbo). Prints milliseconds per image (median of 5 passes); writes
docs/bench/decode_python.json. The Rust side: cargo bench -p tch-dda-data --bench decode.

Run: python3 scripts/bench_decode.py [DIR]
"""
import glob
import io
import json
import os
import sys
import time

import cv2
import numpy as np
import PIL
import torch
import torchvision
from PIL import Image
from torchvision.io import ImageReadMode, decode_jpeg

root = os.path.join(os.path.dirname(__file__), "..")
d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "target", "bench-images")
files = [open(p, "rb").read() for p in sorted(glob.glob(os.path.join(d, "*", "*.jpg")))]
torch.set_num_threads(1)
cv2.setNumThreads(1)
tensors = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in files]


def pil(i):
    return np.asarray(Image.open(io.BytesIO(files[i])).convert("RGB")).size


def opencv(i):
    x = cv2.imdecode(np.frombuffer(files[i], np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(x, cv2.COLOR_BGR2RGB).size


def tvio(i):
    return decode_jpeg(tensors[i], mode=ImageReadMode.RGB).numel()


out = []
print(f"{len(files)} files, one thread")
for name, f in [(f"Pillow {PIL.__version__}", pil), (f"OpenCV {cv2.__version__}", opencv),
                (f"torchvision.io {torchvision.__version__}", tvio)]:
    for i in range(20):
        f(i)
    passes = []
    for _ in range(5):
        t = time.perf_counter()
        for i in range(len(files)):
            f(i)
        passes.append((time.perf_counter() - t) * 1e3 / len(files))
    ms = sorted(passes)[2]
    print(f"{name}: {ms:.2f} ms/image ({1e3 / ms:.0f} images/s)")
    out.append(dict(decoder=name, ms_per_image=ms))
with open(os.path.join(root, "docs", "bench", "decode_python.json"), "w") as fh:
    json.dump(out, fh, indent=1)
print("wrote docs/bench/decode_python.json")
