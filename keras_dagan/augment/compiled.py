"""XLA compilation of an augmentation's `transform_images` on TensorFlow.

Why it exists: outside XLA, TensorFlow runs `transform_images` op by op,
each op its own kernel launch and pass over the batch. At the sizes GANs
augment (64x32x32x3) those fixed costs dominate, and XLA fuses the ops
into a few passes. Inside an XLA context (a `jit_compile=True` function,
such as a `keras_dagan.GAN` step with `jit_compile=True`) the ops already
compile with the enclosing function, and a nested compiled function would
only cut that cluster: the function of its second derivative then takes
shapes as arguments, which XLA cannot compile inside a `tf.cond` branch (a
lazy R1 step backpropagates twice through the augmentation). JAX and torch
never get here.
"""

import keras


def compiles_separately():
    """Whether an op run here gains from its own XLA compilation: on the
    TensorFlow backend, in eager or graph mode outside an XLA context."""
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf  # Only on the TensorFlow backend.

    return tf.__internal__.get_enclosing_xla_context() is None


class XlaFunction:
    """`function` compiled with XLA, the `tf.function` made on first call.

    `tf.function` traces and compiles once per input signature (shapes,
    dtypes, dict keys), so pass tensors only: a Python value would retrace
    whenever it changes. A plain object, so the layer that holds it is not
    given a tracked `tf.function` attribute (which a SavedModel export would
    try to save).

    Args:
        function: The Python function to compile, with tensor arguments.
    """

    def __init__(self, function):
        self.python_function = function
        self.function = None

    def __call__(self, *args):
        if self.function is None:
            import tensorflow as tf  # Only on the TensorFlow backend.

            # autograph=False: the transforms are traced as written, with
            # no Python control flow on tensor values to convert.
            self.function = tf.function(
                self.python_function, jit_compile=True, autograph=False
            )
        return self.function(*args)
