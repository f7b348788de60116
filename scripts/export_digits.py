#!/usr/bin/env python3
"""Writes assets/digits/digits.bin from scikit-learn's bundled copy of the UCI handwritten digits
(1,797 images of 8x8 pixels, values 0..16, CC BY 4.0): one record per image, its 64 pixels
row-major then its label (0..9), one byte each (1,797 x 65 bytes).

    .venv-fixtures/bin/pip install scikit-learn==1.9.1
    .venv-fixtures/bin/python scripts/export_digits.py
"""
import numpy as np
from sklearn.datasets import load_digits

d = load_digits()
rows = np.concatenate([d.data.astype(np.uint8), d.target.astype(np.uint8)[:, None]], axis=1)
assert rows.shape == (1797, 65) and rows[:, :64].max() == 16
rows.tofile("assets/digits/digits.bin")
print(rows.shape, "-> assets/digits/digits.bin")
