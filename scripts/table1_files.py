"""Table 1 from files, PyTorch's side: the files of scripts/make_bench_images.py through
PyTorch's DataLoader with torchvision v2 in 2 worker processes (ImageFolder with its PIL
loader; RandomResizedCrop(224) and, for the augmented rows, the paper pipeline:
RandomAffine(30, translate 0.1, scale 0.9-1.1, shear 10) + ColorJitter(0.2, 0.3, 0.2, 0.3)
+ Normalize), batch 32, alone and feeding ResNet18 training steps (1 + --steps batches; the clock starts at the
first) (torchvision's resnet18,
SGD 0.01, momentum 0.9) on 2 torch threads. The Rust side:
cargo bench -p tch-dda-peers -p tch-dda-data --bench table1_files. Writes
target/table1_files_python.json.

Run: python3 scripts/table1_files.py [--steps 6]
"""
import argparse
import json
import os
import time

import torch
import torchvision
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2

ap = argparse.ArgumentParser()
ap.add_argument("--steps", type=int, default=6)
args = ap.parse_args()
root = os.path.join(os.path.dirname(__file__), "..")
d = os.path.join(root, "target", "bench-images")
torch.set_num_threads(2)

decode_only = v2.Compose([v2.PILToTensor(), v2.RandomResizedCrop(224, antialias=True),
                          v2.ToDtype(torch.float32, scale=True),
                          v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
paper = v2.Compose([v2.PILToTensor(), v2.RandomResizedCrop(224, antialias=True),
                    v2.RandomAffine(30, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=10),
                    v2.ToDtype(torch.float32, scale=True),
                    v2.ColorJitter(0.2, 0.3, 0.2, 0.3),
                    v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])


def run(transform, train, steps):
    torch.manual_seed(0)
    loader = DataLoader(ImageFolder(d, transform=transform), batch_size=32, shuffle=True,
                        num_workers=2, drop_last=True)
    net = torchvision.models.resnet18(num_classes=10)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def step(x, y):
        if train:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()

    if train:
        step(torch.zeros(32, 3, 224, 224), torch.zeros(32, dtype=torch.long))
    # The clock starts at the first batch (worker start-up left out, as in Rust): images of
    # the later batches over the time from the first batch to the last step's end.
    n, t = 0, None
    for i, (x, y) in enumerate(loader):
        if steps is not None and i == steps + 1:
            break
        if t is None:
            t = time.perf_counter()
        else:
            n += x.shape[0]
        step(x, y)
    return n / (time.perf_counter() - t)


rows = []
for train in [False, True]:
    for name, tf in [("None", decode_only), ("torchvision v2", paper)]:
        ips = run(tf, train, args.steps if train else None)
        what = "with ResNet18 steps" if train else "data stage alone"
        print(f"{name}, {what}: {ips:.1f} images/s")
        rows.append(dict(aug=name, train=train, images_per_second=ips))
with open(os.path.join(root, "target", "table1_files_python.json"), "w") as fh:
    json.dump(rows, fh, indent=1)
print("wrote target/table1_files_python.json")
