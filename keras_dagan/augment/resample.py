"""Affine resampling of images, one 3x3 matrix per sample, as ADA needs it.

All of ADA's geometric augmentations (Karras et al., NeurIPS 2020) compose
into one affine map per image, executed as one resampling in two steps.

Anti-aliasing: a map that shrinks the image (or turns it, so the corners of
its spectrum leave the output's band) would fold the input's highest
frequencies back as aliases, artifacts the discriminator can learn from.
The reference supersamples the output 2x and lowpasses it. Here each image
is band-limited in its 2D cosine transform instead (the DCT-I, the Fourier
series of the image reflected about its edge pixels, the same extension the
sampling uses): each product of cosines is scaled by the share of its two
plane waves whose frequency after the sample's map stays within the
output's Nyquist band (`band_limit`). The transform along each axis is
split by symmetry about the axis centre into two half-size ones, so
analysis and synthesis take four large matmuls in all, half the arithmetic
of dense transforms. Measured against ideal band-limited resampling over
ADA's transform distribution, this is more accurate than the reference's
output supersampling at a fraction of its cost (README.md, "ADA", has the
numbers).

Interpolation: the image is upsampled 2x with a Lanczos-3 interpolator (even
samples are the input pixels, odd samples are interpolated halfway between
them), then sampled bilinearly at the transformed pixel centres. Bilinear
interpolation between samples half a pixel apart loses far less detail than
between pixels, so the pair behaves like a higher-order interpolator at the
cost of one upsampling and one gather.

Flips, quarter turns of square images and whole-pixel translations remove
no frequency and land on input pixels exactly: they are lossless. The image
is extended beyond its borders by reflection about the edge pixels (the
reference's reflect padding), folded into the sampling coordinates so every
shape is static: the resampling is slices, matmuls, one gather and
elementwise arithmetic; it compiles under XLA and is differentiable with
respect to the images on every Keras backend. The band limit and the
column upsampling run channels first, as matmuls over the last axis; the
rest channels last, where each gathered neighbour is one contiguous run of
channels.
"""

import keras
import numpy as np
from keras import ops


def _lanczos3(distance):
    return np.sinc(distance) * np.sinc(distance / 3) * (np.abs(distance) < 3)


# Weights of the inputs i - 2 .. i + 3 for the sample halfway between
# pixels i and i + 1, normalised to sum to 1 so flat images stay flat.
HALF_PIXEL_FILTER = _lanczos3(np.arange(-2, 4) - 0.5)
HALF_PIXEL_FILTER = HALF_PIXEL_FILTER / HALF_PIXEL_FILTER.sum()


# Frequencies within this relative tolerance of the output's Nyquist limit
# are kept, so that rounding in composed flips and quarter turns (which map
# the band onto itself) removes nothing.
_NYQUIST_TOLERANCE = 1e-4


def _working_dtype(dtype):
    """float64 for float64 images, else float32: the band limit sums over
    whole rows and the interpolators over several taps, too long for half
    precision."""
    return "float64" if keras.backend.standardize_dtype(dtype) == "float64" else "float32"


def _matrix_entries(inverse_matrices):
    """entry(row, col): that entry of every sample's matrix, float32,
    shaped (N, 1, 1) to broadcast over an image."""
    matrices = ops.cast(inverse_matrices, "float32")
    return lambda row, col: matrices[:, row, col][:, None, None]


def _cosine_bases(size):
    """The DCT-I of one axis: frequencies (rad / pixel), and the analysis and
    synthesis matrices, each (size, size) indexed [frequency, pixel].

    Analysis then synthesis is the identity: the transform is the Fourier
    series of the axis extended by reflection about its end pixels.
    """
    if size == 1:
        return np.zeros(1), np.ones((1, 1)), np.ones((1, 1))
    frequencies = np.pi * np.arange(size) / (size - 1)
    phases = np.outer(frequencies, np.arange(size))
    # The end samples (and the end frequencies) count half: they are not
    # repeated by the reflection.
    halved = np.ones(size)
    halved[[0, -1]] = 0.5
    analysis = np.cos(phases) * halved[None, :] * halved[:, None] * 2 / (size - 1)
    return frequencies, analysis, np.cos(phases)


def _folded_bases(size):
    """`_cosine_bases`, split by symmetry about the axis centre.

    Cosines of even frequency index are symmetric about the centre and
    those of odd index antisymmetric, so each transform splits into two
    half-size ones, on the symmetric and the antisymmetric part of the axis
    (`_fold`): half the arithmetic.

    Returns, each stacked over [symmetric, antisymmetric] and zero-padded
    to half = ceil(size / 2) along both other axes:
        frequencies (2, half): of the even, then the odd indices;
        analysis (2, half, half) [pixel, frequency];
        synthesis (2, half, half) [frequency, pixel].
    """
    frequencies, analysis, synthesis = _cosine_bases(size)
    half, pairs = -(-size // 2), size // 2

    def block(matrix, first_frequency, pixels):
        padded = np.zeros((half, half))
        rows = matrix[first_frequency::2, :pixels]
        padded[: len(rows), :pixels] = rows
        return padded

    folded_frequencies = np.zeros((2, half))
    folded_frequencies[0] = frequencies[0::2]
    folded_frequencies[1, :pairs] = frequencies[1::2]
    return (
        folded_frequencies,
        np.stack([block(analysis, 0, half).T, block(analysis, 1, pairs).T]),
        np.stack([block(synthesis, 0, half), block(synthesis, 1, pairs)]),
    )


def _axis_slice(tensor, axis, start, stop):
    index = [slice(None)] * len(tensor.shape)
    index[axis] = slice(start, stop)
    return tensor[tuple(index)]


def _fold(x, axis):
    """(..., size, ...) -> (2, ..., half, ...): the parts of `axis`
    symmetric and antisymmetric about its centre, each over the first half
    of the axis (centre pixel included, and zero in the antisymmetric
    part)."""
    size = x.shape[axis]
    pairs = size // 2
    head = _axis_slice(x, axis, 0, pairs)
    tail = ops.flip(_axis_slice(x, axis, size - pairs, size), axis=axis)
    symmetric, antisymmetric = head + tail, head - tail
    if size % 2:
        centre = _axis_slice(x, axis, pairs, pairs + 1)
        symmetric = ops.concatenate([symmetric, centre], axis=axis)
        antisymmetric = ops.concatenate([antisymmetric, ops.zeros_like(centre)], axis=axis)
    return ops.stack([symmetric, antisymmetric])


def _unfold(parts, height, width):
    """The inverse of `_fold` on both axes: (column part, row part, ...,
    half height, half width) -> (..., height, width).

    Each quadrant of the image is one signed sum of the four parts: under
    XLA this takes fewer passes over memory than unfolding one axis after
    the other."""
    row_pairs, column_pairs = height // 2, width // 2
    # (symmetric or antisymmetric along x) by (along y)
    ss, sa, as_, aa = parts[0, 0], parts[0, 1], parts[1, 0], parts[1, 1]
    top_left = ss + sa + as_ + aa
    top_right = ops.flip((ss + sa - as_ - aa)[..., :column_pairs], axis=-1)
    bottom_left = ops.flip((ss - sa + as_ - aa)[..., :row_pairs, :], axis=-2)
    bottom_right = ops.flip((ss - sa - as_ + aa)[..., :row_pairs, :column_pairs], axis=(-2, -1))
    top = ops.concatenate([top_left, top_right], axis=-1)
    bottom = ops.concatenate([bottom_left, bottom_right], axis=-1)
    return ops.concatenate([top, bottom], axis=-2)


def _reshape(x, shape):
    """ops.reshape to a shape that may hold the unknown batch size (None)."""
    return ops.reshape(x, tuple(-1 if size is None else size for size in shape))


def _matmul_last(x, matrices):
    """x (P, ..., K) times matrices (P, K, M) over the leading axis, as P
    large matmuls: the other axes merge into rows."""
    shape = x.shape
    # einsum, not matmul: Keras's torch matmul returns float32 for float64.
    product = ops.einsum("pik,pkj->pij", ops.reshape(x, (shape[0], -1, shape[-1])), matrices)
    return _reshape(product, tuple(shape[:-1]) + (matrices.shape[-1],))


def band_limit(images, inverse_matrices, data_format="channels_last"):
    """Removes from each image the frequencies its affine map would alias.

    Image n is expanded in cosines (its DCT-I). Each product of cosines
    cos(u x) cos(v y) is the sum of two plane waves, of frequencies (u, v)
    and (u, -v); under the map x_in = A x_out + t, with A the top-left 2x2
    of `inverse_matrices[n]`, a wave of input frequency w becomes one of
    output frequency A^T w, which the output can hold when both of its
    components are within the Nyquist limit pi. Each product is scaled by
    the share of its two waves that the output can hold: kept when both
    are, removed when neither is, halved when one is.

    For maps without rotation or shear (scalings, flips, quarter turns,
    translations) the two waves of a product always share their fate, and
    the result is exactly the ideal band-limited image. Otherwise, where
    only one wave survives, the ideal result would need sine terms as well,
    half as much arithmetic again; the halved product is the nearest (least
    squares) filter without them. After resampling the two differ little
    (`benchmarks/resample_quality.py`; README.md, "ADA"). Images whose map
    drops nothing (for instance any flip, quarter turn or translation) are
    returned as they are.

    Args:
        images: Float batch, rank 4, with static height and width.
        inverse_matrices: (N, 3, 3) float matrices mapping output pixel
            coordinates to input pixel coordinates, as in `affine_resample`.
        data_format: "channels_last" or "channels_first".

    Returns:
        The filtered batch, same shape and dtype. Differentiable with
        respect to `images`.

    Example:

    ```python
    images = keras.random.uniform((2, 32, 32, 3))
    halve = np.diag([2.0, 2.0, 1.0]).astype("float32")  # shrinks 2x
    filtered = band_limit(images, np.stack([halve, halve]))
    ```
    """
    images = ops.convert_to_tensor(images)
    x = ops.cast(images, _working_dtype(images.dtype))
    if data_format == "channels_last":
        x = ops.transpose(x, (0, 3, 1, 2))
    filtered = _band_limit_channels_first(x, inverse_matrices)
    if data_format == "channels_last":
        filtered = ops.transpose(filtered, (0, 2, 3, 1))
    return ops.cast(filtered, images.dtype)


def _cosine_gains(inverse_matrices, row_frequencies, col_frequencies):
    """Each cosine product's share of waves kept by its sample's map.

    Args:
        inverse_matrices: (N, 3, 3), as in `band_limit`.
        row_frequencies, col_frequencies: (2, half) folded frequencies of
            each axis, from `_folded_bases`.

    Returns:
        (N, row part, column part, column frequency, row frequency) float32
        gains of 0, 1/2 or 1.
    """
    entry = _matrix_entries(inverse_matrices)

    def entry_5d(row, col):
        return entry(row, col)[..., None, None]

    v = row_frequencies.astype("float32")[None, :, None, None, :]
    u = col_frequencies.astype("float32")[None, None, :, :, None]
    limit = np.pi * (1 + _NYQUIST_TOLERANCE)
    gain = 0.0
    for sign in (1.0, -1.0):
        out_x = entry_5d(0, 0) * u + sign * entry_5d(1, 0) * v
        out_y = entry_5d(0, 1) * u + sign * entry_5d(1, 1) * v
        inside = ops.logical_and(ops.abs(out_x) <= limit, ops.abs(out_y) <= limit)
        gain = gain + ops.cast(inside, "float32") / 2
    return gain


def _band_limit_channels_first(images, inverse_matrices):
    """`band_limit` of a (N, C, H, W) batch of float32 or float64 images."""
    height, width = images.shape[2], images.shape[3]
    row_frequencies, row_analysis, row_synthesis = _folded_bases(height)
    col_frequencies, col_analysis, col_synthesis = _folded_bases(width)
    gain = _cosine_gains(inverse_matrices, row_frequencies, col_frequencies)
    filters_anything = ops.any(gain < 1, axis=(1, 2, 3, 4))
    dtype = keras.backend.standardize_dtype(images.dtype)

    def matrix(array):
        return ops.convert_to_tensor(array.astype(dtype))

    # Parts p (analysis) and q (synthesis) are those of `_fold`, u and v
    # the column and row frequencies. Both axes are folded first, in one
    # pass over the image; every matmul then contracts the last axis with
    # the batch merged into its rows: far faster on CPU than small batched
    # matmuls.
    x = ops.swapaxes(_fold(_fold(images, -1), -2), 0, 1)  # (pu, pv, N, C, H/2, W/2)
    x = _matmul_last(x, matrix(col_analysis))  # (pu, pv, N, C, H/2, u)
    x = ops.transpose(x, (1, 0, 2, 3, 5, 4))  # (pv, pu, N, C, u, H/2)
    coefficients = _matmul_last(x, matrix(row_analysis))  # (pv, pu, N, C, u, v)
    per_channel = ops.cast(ops.transpose(gain, (1, 2, 0, 3, 4)), dtype)[:, :, :, None]
    x = _matmul_last(coefficients * per_channel, matrix(row_synthesis))  # (qy, qx, N, C, u, y)
    x = ops.transpose(x, (1, 0, 2, 3, 5, 4))  # (qx, qy, N, C, y, u)
    filtered = _unfold(_matmul_last(x, matrix(col_synthesis)), height, width)
    return ops.where(ops.reshape(filters_anything, (-1, 1, 1, 1)), filtered, images)


def reflect_coordinates(coordinates, size):
    """Folds pixel coordinates into [0, size - 1] by mirroring about the
    centres of the edge pixels, so -1 maps to 1 and `size` to `size - 2`.

    Works on tensors (float or int) and NumPy arrays alike.

    Args:
        coordinates: Coordinates along one axis, in pixels, 0 being the
            centre of the first pixel.
        size: Number of pixels along that axis.

    Returns:
        The folded coordinates, same shape and dtype.

    Example:

    ```python
    reflect_coordinates(np.arange(-2, 6), 4)  # [2, 1, 0, 1, 2, 3, 2, 1]
    ```
    """
    if size == 1:
        return coordinates * 0
    last = size - 1
    folded = coordinates % (2 * last)
    return last - abs(folded - last)


def _reflect_pad(images, axis, before, after):
    """Extends `axis` by `before` and `after` pixels reflected about the
    edge pixels. Runs of consecutive pixels are taken as one (reversed)
    slice each: under XLA a gather would make the backward pass a slow
    scatter, and a concatenation of few operands fuses with its neighbours."""
    size = images.shape[axis]
    indices = reflect_coordinates(np.arange(-before, size + after), size)
    runs = [[indices[0]]]
    for index in indices[1:]:
        run = runs[-1]
        step = index - run[-1]
        if abs(step) == 1 and (len(run) == 1 or run[-1] - run[-2] == step):
            run.append(index)
        else:
            runs.append([index])
    pieces = []
    for run in runs:
        piece = _axis_slice(images, axis, min(run), max(run) + 1)
        pieces.append(ops.flip(piece, axis=axis) if run[0] > run[-1] else piece)
    return pieces[0] if len(pieces) == 1 else ops.concatenate(pieces, axis=axis)


# An axis is upsampled in blocks of this many pixels, each block together
# with its 2 + 3 neighbours multiplied by one small matrix: on CPU faster
# than shifted slices, forward and backward, and linear in the size where
# one dense matrix would be quadratic.
_BLOCK = 16


def _block_upsampling_matrix(block):
    """(block + 5, 2 * block) matrix from a block's pixels and 2 + 3
    neighbours to its 2x samples: sample 2i is pixel i, sample 2i + 1 is
    interpolated halfway to pixel i + 1."""
    matrix = np.zeros((block + 5, 2 * block), "float32")
    for i in range(block):
        matrix[i + 2, 2 * i] = 1.0
        matrix[i : i + 6, 2 * i + 1] = HALF_PIXEL_FILTER
    return matrix


def _upsample(images, axis):
    """Doubles the sampling rate along `axis`: sample 2i is pixel i, sample
    2i + 1 is interpolated at i + 1/2."""
    size = images.shape[axis]
    block = _BLOCK
    num_blocks = -(-size // block)
    # Window b is padded pixels [b * block, b * block + block + 5): block b
    # and the first 5 pixels of block b + 1, cut by reshapes rather than one
    # slice per window, so that XLA builds all windows in one pass. Past
    # the 2 + 3 reflected pixels, the padding only fills the last block,
    # whose extra samples are cut off.
    padded = _reflect_pad(images, axis, 2, (num_blocks + 1) * block - size - 2)
    outer, inner = tuple(images.shape[1:axis]), tuple(images.shape[axis + 1 :])
    blocks = ops.reshape(padded, (-1,) + outer + (num_blocks + 1, block) + inner)
    head = _axis_slice(blocks, axis, 0, num_blocks)
    tail = _axis_slice(_axis_slice(blocks, axis, 1, num_blocks + 1), axis + 1, 0, 5)
    windows = ops.concatenate([head, tail], axis=axis + 1)
    letters = "acdefghklm"[: len(windows.shape)]
    subscripts = f"{letters},{letters[axis + 1]}z->{letters[: axis + 1]}z{letters[axis + 2 :]}"
    matrix = ops.cast(_block_upsampling_matrix(block), images.dtype)
    upsampled = ops.einsum(subscripts, windows, matrix)
    upsampled = ops.reshape(upsampled, (-1,) + outer + (2 * num_blocks * block,) + inner)
    return _axis_slice(upsampled, axis, 0, 2 * size)


def _source_positions(inverse_matrices, height, width):
    """Where each output pixel samples the 2x-upsampled input.

    Returns (rows, cols), each (N, height, width) float32, in upsampled
    pixels and folded into the image by reflection.
    """
    entry = _matrix_entries(inverse_matrices)
    # Pixel coordinates centred on the image, as the matrices expect.
    y = (np.arange(height) - (height - 1) / 2).astype("float32")[None, :, None]
    x = (np.arange(width) - (width - 1) / 2).astype("float32")[None, None, :]

    source_x = entry(0, 0) * x + entry(0, 1) * y + entry(0, 2)
    source_y = entry(1, 0) * x + entry(1, 1) * y + entry(1, 2)
    cols = 2 * reflect_coordinates(source_x + (width - 1) / 2, width)
    rows = 2 * reflect_coordinates(source_y + (height - 1) / 2, height)
    return rows, cols


def _sample_bilinear(upsampled, rows, cols):
    """Bilinear samples of `upsampled` (N, 2H, 2W, C) at float positions
    (N, R, S) inside [0, 2H - 2] x [0, 2W - 2], by one gather of each
    sample's 2x2 neighbourhood."""
    _, up_height, up_width, channels = upsampled.shape
    # Each row of the table holds a pixel and its right, lower and
    # lower-right neighbours: one gather fetches all four.
    table = ops.concatenate(
        [
            upsampled[:, :-1, :-1],
            upsampled[:, :-1, 1:],
            upsampled[:, 1:, :-1],
            upsampled[:, 1:, 1:],
        ],
        axis=-1,
    )
    table_height, table_width = up_height - 1, up_width - 1
    row0 = ops.minimum(ops.floor(rows), table_height - 1)
    col0 = ops.minimum(ops.floor(cols), table_width - 1)
    row_frac = rows - row0
    col_frac = cols - col0
    batch_size = ops.shape(upsampled)[0]
    first = ops.arange(batch_size, dtype="int32")[:, None, None] * (
        table_height * table_width
    )
    index = first + ops.cast(row0, "int32") * table_width + ops.cast(col0, "int32")
    neighbours = ops.take(
        ops.reshape(table, (-1, 4 * channels)), ops.reshape(index, (-1,)), axis=0
    )
    _, out_height, out_width = rows.shape
    neighbours = ops.reshape(neighbours, (-1, out_height, out_width, 4, channels))
    weights = ops.stack(
        [
            (1 - row_frac) * (1 - col_frac),
            (1 - row_frac) * col_frac,
            row_frac * (1 - col_frac),
            row_frac * col_frac,
        ],
        axis=-1,
    )
    weights = ops.cast(weights, upsampled.dtype)[..., None]
    return ops.sum(neighbours * weights, axis=3)


def affine_resample(
    images, inverse_matrices, data_format="channels_last", antialias=True
):
    """Resamples each image through its own 2D affine map.

    Output pixel p of image n takes the value of the input at
    `inverse_matrices[n] @ [x_p, y_p, 1]`, in pixel units with the origin at
    the image centre, x along the width and y along the height (so a matrix
    that negates x mirrors the image left to right). With `antialias`, each
    image is first band-limited to what its map can represent
    (`band_limit`); it is then upsampled 2x with a Lanczos-3 interpolator
    and sampled bilinearly. Beyond its borders it is extended by reflection
    about the edge pixels. Flips, quarter turns of square images and
    whole-pixel translations are exact.

    Args:
        images: Float batch, rank 4, with static height and width.
        inverse_matrices: (N, 3, 3) float matrices mapping output pixel
            coordinates to input pixel coordinates; the last row is ignored.
        data_format: "channels_last" or "channels_first".
        antialias: Whether to remove the frequencies that each map would
            alias. Turning it off saves the band limit's four matmuls and
            lets shrinking maps alias, as plain bilinear resampling does.

    Returns:
        The resampled batch, same shape and dtype. Differentiable with
        respect to `images`.

    Example:

    ```python
    images = keras.random.uniform((2, 32, 32, 3))
    mirror = np.diag([-1.0, 1.0, 1.0]).astype("float32")
    flipped = affine_resample(images, np.stack([mirror, mirror]))
    ```
    """
    images = ops.convert_to_tensor(images)
    x = ops.cast(images, _working_dtype(images.dtype))
    # Channels first for the band limit and the column upsampling, which
    # run as matmuls over the last axis; channels last for the rest, where
    # each gathered neighbour is one contiguous run of channels.
    if data_format == "channels_last":
        x = ops.transpose(x, (0, 3, 1, 2))
    _, _, height, width = x.shape
    if antialias:
        x = _band_limit_channels_first(x, inverse_matrices)
    x = ops.transpose(_upsample(x, 3), (0, 2, 3, 1))
    upsampled = _upsample(x, 1)
    rows, cols = _source_positions(inverse_matrices, height, width)
    outputs = _sample_bilinear(upsampled, rows, cols)
    if data_format == "channels_first":
        outputs = ops.transpose(outputs, (0, 3, 1, 2))
    return ops.cast(outputs, images.dtype)
