"""Affine resampling of images, one 3x3 matrix per sample, as ADA needs it.

All of ADA's geometric augmentations (Karras et al., NeurIPS 2020) compose
into one affine map per image, executed as one resampling in two steps.

Anti-aliasing: a map that shrinks the image (or turns it, so the corners of
its spectrum leave the output's band) would fold the input's highest
frequencies back as aliases, artifacts the discriminator can learn from.
The reference supersamples the output 2x and lowpasses it. Here each image
is band-limited exactly instead: its 2D cosine transform (the DCT-I, the
Fourier series of the image reflected about its edge pixels, the same
extension the sampling uses) is masked to the frequencies whose image under
the sample's map stays within the output's Nyquist band, with a few small
matmuls along each axis. Measured against ideal band-limited resampling over ADA's
transform distribution, this is more accurate than the reference's output
supersampling at a fraction of its cost (README.md, "ADA", has the numbers).

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
shape is static: the resampling is slices, small matmuls, one gather and
elementwise arithmetic; it compiles under XLA and is differentiable with
respect to the images on every Keras backend.
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


def _matrix_entries(inverse_matrices):
    """entry(row, col): that entry of every sample's matrix, float32,
    shaped (N, 1, 1) to broadcast over an image."""
    matrices = ops.cast(inverse_matrices, "float32")
    return lambda row, col: matrices[:, row, col][:, None, None]


def _cosine_bases(size):
    """The DCT-I of one axis: frequencies (rad / pixel), the analysis
    matrix, and the cosine and sine synthesis matrices, each (size, size)
    indexed [frequency, pixel].

    Analysis then cosine synthesis is the identity: the transform is the
    Fourier series of the axis extended by reflection about its end pixels.
    """
    if size == 1:
        return np.zeros(1), np.ones((1, 1)), np.ones((1, 1)), np.zeros((1, 1))
    frequencies = np.pi * np.arange(size) / (size - 1)
    phases = np.outer(frequencies, np.arange(size))
    # The end samples (and the end frequencies) count half: they are not
    # repeated by the reflection.
    halved = np.ones(size)
    halved[[0, -1]] = 0.5
    analysis = np.cos(phases) * halved[None, :] * halved[:, None] * 2 / (size - 1)
    return frequencies, analysis, np.cos(phases), np.sin(phases)


def band_limit(images, inverse_matrices, data_format="channels_last"):
    """Removes from each image the frequencies its affine map would alias.

    Image n is expanded in cosines (its DCT-I). Each product of cosines
    cos(u x) cos(v y) is the sum of two plane waves, of frequencies (u, v)
    and (u, -v); under the map x_in = A x_out + t, with A the top-left 2x2
    of `inverse_matrices[n]`, a wave of input frequency w becomes one of
    output frequency A^T w. Each wave is kept when both components of A^T w
    are within the Nyquist limit pi and dropped otherwise, so the resampled
    image is the ideal band-limited one. Images whose map drops nothing
    (for instance any flip, quarter turn or translation) are returned as
    they are.

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
    spatial = (2, 3) if data_format == "channels_first" else (1, 2)
    height, width = images.shape[spatial[0]], images.shape[spatial[1]]
    row_frequencies, row_analysis, row_cos, row_sin = _cosine_bases(height)
    col_frequencies, col_analysis, col_cos, col_sin = _cosine_bases(width)

    entry = _matrix_entries(inverse_matrices)

    # Output frequencies of the waves (u, sign * v): u along x (columns),
    # v along y (rows); arrays (N, rows' frequencies, columns' frequencies).
    u = col_frequencies.astype("float32")[None, None, :]
    v = row_frequencies.astype("float32")[None, :, None]
    limit = np.pi * (1 + _NYQUIST_TOLERANCE)

    def kept(sign):
        out_x = entry(0, 0) * u + sign * entry(1, 0) * v
        out_y = entry(0, 1) * u + sign * entry(1, 1) * v
        inside = ops.logical_and(ops.abs(out_x) <= limit, ops.abs(out_y) <= limit)
        return ops.cast(inside, "float32")

    kept_sum, kept_difference = kept(1.0), kept(-1.0)
    # cos(ux)cos(vy) = [cos(ux + vy) + cos(ux - vy)] / 2, and
    # cos(ux + vy) - cos(ux - vy) = -2 sin(ux) sin(vy).
    cosine_gain = (kept_sum + kept_difference) / 2
    sine_gain = (kept_difference - kept_sum) / 2
    filters_anything = ops.any(cosine_gain < 1, axis=(1, 2))

    # At least float32: the transforms sum over whole rows, too long for
    # half precision.
    dtype = "float64" if keras.backend.standardize_dtype(images.dtype) == "float64" else "float32"

    def matrix(array):
        return ops.convert_to_tensor(array.astype(dtype))

    x = ops.cast(images, dtype)
    if data_format == "channels_first":
        x = ops.transpose(x, (0, 2, 3, 1))
    coefficients = ops.einsum("vh,nhwc->nvwc", matrix(row_analysis), x)
    coefficients = ops.einsum("uw,nvwc->nvuc", matrix(col_analysis), coefficients)
    cosines = coefficients * ops.cast(cosine_gain, dtype)[..., None]
    sines = coefficients * ops.cast(sine_gain, dtype)[..., None]
    filtered = ops.einsum(
        "vh,nvuc,uw->nhwc", matrix(row_cos), cosines, matrix(col_cos)
    ) + ops.einsum("vh,nvuc,uw->nhwc", matrix(row_sin), sines, matrix(col_sin))
    if data_format == "channels_first":
        filtered = ops.transpose(filtered, (0, 3, 1, 2))
    filtered = ops.cast(filtered, images.dtype)
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


# Upsampling works on blocks of this many input pixels, each block one small
# matmul with its neighbours' edge pixels: far faster on CPU than a sum of
# shifted slices, in graph mode and under XLA, and linear in the image size
# where one dense matrix per axis would be quadratic.
_BLOCK = 16


def _axis_slice(tensor, axis, start, stop):
    index = [slice(None)] * len(tensor.shape)
    index[axis] = slice(start, stop)
    return tensor[tuple(index)]


def _block_upsampling_matrix(block):
    """(2 * block, block + 5) matrix from a block's pixels and 2 + 3
    neighbours to its 2x samples: sample 2i is pixel i, sample 2i + 1 is
    interpolated halfway to pixel i + 1."""
    matrix = np.zeros((2 * block, block + 5), "float32")
    for i in range(block):
        matrix[2 * i, i + 2] = 1.0
        matrix[2 * i + 1, i : i + 6] = HALF_PIXEL_FILTER
    return matrix


def _upsample(images, axis):
    """Doubles the sampling rate along axis 1 or 2 of a channels_last batch:
    sample 2i is pixel i, sample 2i + 1 is interpolated at i + 1/2."""
    size = images.shape[axis]
    block = min(size, _BLOCK)
    num_blocks = -(-size // block)
    # Pixels -2 .. num_blocks * block + 2, reflected into the image, built
    # from slices: under XLA a gather here would make the backward pass a
    # slow scatter.
    before = reflect_coordinates(np.arange(-2, 0), size)
    after = reflect_coordinates(np.arange(size, num_blocks * block + 3), size)
    padded = ops.concatenate(
        [_axis_slice(images, axis, i, i + 1) for i in before]
        + [images]
        + [_axis_slice(images, axis, i, i + 1) for i in after],
        axis=axis,
    )
    windows = ops.stack(
        [
            _axis_slice(padded, axis, start, start + block + 5)
            for start in range(0, num_blocks * block, block)
        ],
        axis=axis,
    )
    matrix = ops.cast(_block_upsampling_matrix(block), images.dtype)
    if axis == 1:
        upsampled = ops.einsum("oj,nbjwc->nbowc", matrix, windows)
    else:
        upsampled = ops.einsum("oj,nhbjc->nhboc", matrix, windows)
    shape = list(images.shape)
    shape[0] = -1
    shape[axis] = 2 * num_blocks * block
    upsampled = ops.reshape(upsampled, shape)
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
            alias. Turning it off saves the three matmuls per axis and lets
            shrinking maps alias, as plain bilinear resampling does.

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
    if data_format == "channels_first":
        images = ops.transpose(images, (0, 2, 3, 1))
    if antialias:
        images = band_limit(images, inverse_matrices)
    _, height, width, _ = images.shape
    upsampled = _upsample(_upsample(images, 1), 2)
    rows, cols = _source_positions(inverse_matrices, height, width)
    outputs = _sample_bilinear(upsampled, rows, cols)
    if data_format == "channels_first":
        outputs = ops.transpose(outputs, (0, 3, 1, 2))
    return outputs
