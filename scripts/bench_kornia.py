#!/usr/bin/env python3
"""Times Kornia 0.9 on the paper pipeline, a volume pipeline and MixUp + CutMix, as benches/paper_pipeline.rs.

RandomAffine(30, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=10, p=1) + ColorJitter(0.2, 0.3, 0.2, 0.3, p=1)
+ Normalize(ImageNet mean/std), float32, inside torch.no_grad() like the Rust bench (which does not build a graph
either). Prints the median of N runs after warm-up, per shape, in ms; on CUDA synchronises before reading the clock.

    bash scripts/bench_kornia.sh [--device cpu|cuda] [--runs N]
"""
import argparse
import statistics
import time

import kornia
import kornia.augmentation as K
import torch

SHAPES = [("b512_32x32", (512, 3, 32, 32)), ("b64_224x224", (64, 3, 224, 224)),
          ("b16_512x512", (16, 3, 512, 512)), ("b1_224x224", (1, 3, 224, 224))]
# Volumes: RandomAffine3D(15, translate 0.1, scale 0.9-1.1) + RandomHorizontalFlip3D + RandomCrop3D (3/4 of
# each side) + RandomMotionBlur3D(3, 30, 0.5), all p = 1 (the flip p = 0.5).
VOLUMES = [("b8_1x32x64x64", (8, 1, 32, 64, 64)), ("b2_1x64x128x128", (2, 1, 64, 128, 128))]
# Mixing: RandomMixUpV2 then RandomCutMixV2, each with the (B,) labels.
MIX = [("b64_224x224", (64, 3, 224, 224))]


def timed(fn, dev, runs):
    times = []
    with torch.no_grad():
        for i in range(runs + 3):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            fn()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            if i >= 3:
                times.append((time.perf_counter() - t) * 1e3)
    return times


def report(group, name, times):
    print(f"{group}/{name}: median {statistics.median(times):.2f} ms "
          f"(min {min(times):.2f}, max {max(times):.2f}, {len(times)} runs)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    dev = torch.device(args.device)
    pipe = torch.nn.Sequential(
        K.RandomAffine(30, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=10, p=1.0),
        K.ColorJitter(0.2, 0.3, 0.2, 0.3, p=1.0),
        K.Normalize(mean=torch.tensor([0.485, 0.456, 0.406]), std=torch.tensor([0.229, 0.224, 0.225])),
    ).to(dev)
    print(f"kornia {kornia.__version__}, torch {torch.__version__}, threads {torch.get_num_threads()}, {dev}")
    for name, shape in SHAPES:
        x = torch.rand(shape, device=dev)
        report("paper_pipeline", name, timed(lambda: pipe(x), dev, args.runs))
    for name, shape in VOLUMES:
        crop = tuple(3 * n // 4 for n in shape[2:])
        vol = torch.nn.Sequential(
            K.RandomAffine3D(15.0, translate=(0.1, 0.1, 0.1), scale=(0.9, 1.1), p=1.0),
            K.RandomHorizontalFlip3D(p=0.5),
            K.RandomCrop3D(crop),
            K.RandomMotionBlur3D(3, 30.0, 0.5, p=1.0),
        ).to(dev)
        x = torch.rand(shape, device=dev)
        report("volume_pipeline", name, timed(lambda: vol(x), dev, args.runs))
    for name, shape in MIX:
        mixup = K.RandomMixUpV2(data_keys=["input", "class"])
        cutmix = K.RandomCutMixV2(data_keys=["input", "class"], use_correct_lambda=True)
        x = torch.rand(shape, device=dev)
        y = torch.randint(0, 10, (shape[0],), device=dev)

        def mix():
            xm, _ = mixup(x, y)
            return cutmix(xm, y)

        report("mix", name, timed(mix, dev, args.runs))


if __name__ == "__main__":
    main()
