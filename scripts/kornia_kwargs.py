"""Kornia's constructor arguments from JSON (benches/families.json): shared by bench_peers.py and bench_device.py."""
import torch


def as_tuples(v):
    """JSON lists -> tuples, recursively (Kornia wants tuples for ranges and sizes)."""
    if isinstance(v, list):
        return tuple(as_tuples(e) for e in v)
    if isinstance(v, dict):
        return {k: as_tuples(e) for k, e in v.items()}
    return v


def kornia_kwargs(cls_name, kwargs):
    """`kwargs` as Kornia's `cls_name` takes them: tuples for lists, tensors for Normalize's mean and std."""
    out = {k: as_tuples(v) for k, v in kwargs.items()}
    if cls_name == "Normalize":
        out.update({k: torch.tensor(kwargs[k]) for k in ("mean", "std") if k in kwargs})
    return out
