"""NumPy versions of the DiffAugment semantics the layers must match.

Written from the paper's definitions, one loop per pixel where that is the
clearest, so the tests compare the vectorized layers with something
obviously right. All take channels_last batches.
"""

import numpy as np


def brightness(x, shift):
    return x + shift[:, None, None, None]


def saturation(x, factor):
    mean = x.mean(axis=-1, keepdims=True)
    return (x - mean) * factor[:, None, None, None] + mean


def contrast(x, factor):
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return (x - mean) * factor[:, None, None, None] + mean


def translate(x, shift_height, shift_width):
    out = np.zeros_like(x)
    n, h, w, _ = x.shape
    for b in range(n):
        for i in range(h):
            for j in range(w):
                si, sj = i + shift_height[b], j + shift_width[b]
                if 0 <= si < h and 0 <= sj < w:
                    out[b, i, j] = x[b, si, sj]
    return out


def cutout(x, center_height, center_width, side_height, side_width):
    out = x.copy()
    n, h, w, _ = x.shape
    for b in range(n):
        top = center_height[b] - side_height // 2
        left = center_width[b] - side_width // 2
        out[b, max(top, 0):max(top + side_height, 0),
            max(left, 0):max(left + side_width, 0)] = 0
    return out
