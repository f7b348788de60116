"""torchvision 0.28's AugMix (tests/fixtures/torchvision/augmix.safetensors): for each case and
seed, a float image batch through `v2.AugMix` after torch.manual_seed(seed), what it drew, and
the input gradient of a weighted sum of the output. tests/torchvision/augmix.rs replays the draws (the same
output and gradient) and draws with the same seed (the same draws).

The draws are read off the transform as it runs (a subclass that records its two Dirichlet
draws and each chain's operations), in the crate's params layout:
  <key>.beta           (B,2)  the Dirichlet draw that weighs the image against the chains
  <key>.chain_weights  (B,W)  the Dirichlet draw that weighs the chains
  <key>.ops            (W,3)  int64, each chain's operations as indices into OPS, -1 past its depth
  <key>.magnitudes     (W,3)  float64, their signed magnitudes (0 where none)
  <key>.grad           the input gradient of sum(output * <key>.weights), where torchvision has
                       one (its autocontrast updates in place what its backward needs)

Run (pinned torch 2.13.0, torchvision 0.28.0):
    .venv-fixtures/bin/python scripts/gen_torchvision_augmix_fixtures.py
"""
import json
import os

import torch
import torchvision
from safetensors.torch import save_file
from torchvision.transforms import v2

assert torchvision.__version__.startswith("0.28"), torchvision.__version__

# torchvision's augmentation space, in its order (the last four only with all_ops).
OPS = ["ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Posterize", "Solarize",
       "AutoContrast", "Equalize", "Brightness", "Color", "Contrast", "Sharpness"]
assert list(v2.AugMix._AUGMENTATION_SPACE) == OPS


class Recorded(v2.AugMix):
    """AugMix that records what it draws (and changes nothing)."""

    def forward(self, *inputs):
        self.dirichlet, self.chains = [], []
        randint = torch.randint

        def recording_randint(*args, **kwargs):
            # A chain of random depth starts with its depth draw, randint(low=1, high=4).
            if kwargs.get("low") == 1 and kwargs.get("high") == 4:
                self.chains.append([])
            return randint(*args, **kwargs)

        torch.randint = recording_randint
        try:
            return super().forward(*inputs)
        finally:
            torch.randint = randint

    def _sample_dirichlet(self, params):
        out = super()._sample_dirichlet(params)
        self.dirichlet.append(out.detach().clone())
        return out

    def _apply_image_or_video_transform(self, image, transform_id, magnitude, interpolation, fill):
        if self.chain_depth > 0 and (not self.chains or len(self.chains[-1]) == self.chain_depth):
            self.chains.append([])
        self.chains[-1].append((OPS.index(transform_id), magnitude))
        return super()._apply_image_or_video_transform(image, transform_id, magnitude, interpolation, fill)


CASES = [
    # (name, kwargs, the crate's JSON spec, image shape, seeds)
    ("default", {}, {"AugMix": {}}, (4, 3, 20, 24), list(range(0, 10))),
    ("deep_partial", dict(severity=10, mixture_width=2, chain_depth=3, alpha=0.5, all_ops=False),
     {"AugMix": {"severity": 10, "mixture_width": 2, "chain_depth": 3, "alpha": 0.5, "all_ops": False}},
     (3, 3, 17, 21), [10, 11, 12]),
    ("fill", dict(fill=[0.2, 0.5, 0.8], mixture_width=4), {"AugMix": {"fill": [0.2, 0.5, 0.8], "mixture_width": 4}},
     (2, 3, 16, 16), [13, 14, 15]),
    ("gray", dict(severity=6), {"AugMix": {"severity": 6}}, (3, 1, 18, 15), [16, 17, 18]),
    ("nearest", dict(interpolation="nearest"), {"AugMix": {"resample": "nearest"}}, (2, 3, 15, 19), [19, 20]),
]

tensors, cases, seen = {}, [], set()
for name, kwargs, spec, shape, seeds in CASES:
    for seed in seeds:
        key = f"{name}_{seed}"
        torch.manual_seed(1000 + seed)
        image = torch.rand(shape)
        weights = torch.rand(shape)
        t = Recorded(**kwargs)
        leaf = image.clone().requires_grad_(True)
        torch.manual_seed(seed)
        out = t(leaf)
        try:
            (out * weights).sum().backward()
            grad = leaf.grad
        except RuntimeError as e:
            # torchvision's autocontrast updates the amax it differentiates through in place:
            # no input gradient where a chain draws AutoContrast.
            assert "inplace" in str(e), e
            grad = None
        width = t.mixture_width
        assert len(t.dirichlet) == 2 and len(t.chains) == width, (key, len(t.chains))
        ops = torch.full((width, 3), -1, dtype=torch.int64)
        mags = torch.zeros(width, 3, dtype=torch.float64)
        for i, chain in enumerate(t.chains):
            for j, (op, m) in enumerate(chain):
                ops[i, j], mags[i, j] = op, m
                seen.add(OPS[op])
        tensors.update({
            f"{key}.input": image, f"{key}.weights": weights, f"{key}.output": out.detach().contiguous(),
            f"{key}.beta": t.dirichlet[0].contiguous(),
            f"{key}.chain_weights": t.dirichlet[1].contiguous(), f"{key}.ops": ops, f"{key}.magnitudes": mags,
        })
        if grad is not None:
            tensors[f"{key}.grad"] = grad.contiguous()
        cases.append({"key": key, "seed": seed, "spec": spec, "grad": grad is not None})

assert seen == set(OPS), sorted(set(OPS) - seen)
path = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "torchvision", "augmix.safetensors")
save_file(tensors, path, metadata={
    "cases": json.dumps(cases), "ops": json.dumps(OPS), "torch": torch.__version__,
    "torchvision": torchvision.__version__})
print("wrote", os.path.normpath(path), len(cases), "cases; every operation drawn;",
      sum(c["grad"] for c in cases), "with an input gradient")
