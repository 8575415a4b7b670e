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


def band_limit(x, inverse_matrices):
    """Each image's cosine series (DCT-I), each product cos(u x) cos(v y)
    scaled by the share of its plane waves (u, v) and (u, -v) whose
    frequency A^T w after the map stays within pi on both axes; float64,
    one dense matrix per axis."""
    n, h, w, _ = x.shape

    def cosine_series(size):
        if size == 1:  # one pixel: a constant
            return np.zeros(1), np.ones((1, 1))
        frequencies = np.pi * np.arange(size) / (size - 1)
        weights = np.ones(size)
        weights[[0, -1]] = 0.5
        analysis = (np.cos(np.outer(frequencies, np.arange(size)))
                    * weights[None, :] * weights[:, None] * 2 / (size - 1))
        return frequencies, analysis

    v, rows = cosine_series(h)
    u, cols = cosine_series(w)
    coefficients = np.einsum("lh,nhwc,kw->nlkc", rows, x.astype("float64"), cols)
    y, xs = np.arange(h)[:, None], np.arange(w)[None, :]
    out = np.zeros((n, h, w, x.shape[-1]))
    for b in range(n):
        transposed = inverse_matrices[b, :2, :2].T
        for l in range(h):
            for k in range(w):
                share = np.mean([
                    np.all(np.abs(transposed @ np.array([u[k], sign * v[l]])) <= np.pi + 1e-6)
                    for sign in (1, -1)
                ])
                product = np.cos(u[k] * xs) * np.cos(v[l] * y)
                out[b] += share * coefficients[b, l, k][None, None, :] * product[..., None]
    return out
