"""Trains the CIFAR-10 classifier that keras_dagan ships for offline FID.

    python scripts/train_classifier.py --data=../shared/data/cifar10-jpeg.tar.gz

`--data` is a folder `train/<class>/*.jpg`, `test/<class>/*.jpg` (CIFAR-10
as image files) or a .tar/.tar.gz/.zip of one (unpacked once into
~/.cache/keras_dagan/extracted). The model is written atomically to
`--out` (by default the file the package ships) and its test accuracy is
printed last.
"""

import os

from absl import app, flags

flags.DEFINE_string("data", None, "CIFAR-10 image folder, or a .tar.gz of one, "
                    "holding train/<class>/ and test/<class>/.")
flags.DEFINE_string("out", None, "Where to write the .keras model; defaults to "
                    "the file the package ships.")
flags.DEFINE_integer("epochs", 15, "Training epochs.")
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.mark_flag_as_required("data")
FLAGS = flags.FLAGS


def _image_root(data):
    from keras_dagan.data.archive import extracted_folder, is_archive

    if is_archive(data):
        data = extracted_folder(data)
    if not (os.path.isdir(os.path.join(data, "train")) and os.path.isdir(os.path.join(data, "test"))):
        raise app.UsageError(f"--data={FLAGS.data} holds no train/ and test/ folders.")
    return data


def main(argv):
    del argv
    import keras

    from keras_dagan.augment import RandomTranslation
    from keras_dagan.data import load_image_folder
    from keras_dagan.files import atomic_path
    from keras_dagan.metrics.cifar_classifier import CIFAR10_CLASSIFIER_PATH, cifar_classifier

    keras.utils.set_random_seed(FLAGS.seed)
    out = FLAGS.out or CIFAR10_CLASSIFIER_PATH
    root = _image_root(FLAGS.data)
    train, class_names = load_image_folder(
        os.path.join(root, "train"), batch_size=FLAGS.batch_size, conditional=True,
        flip=True, seed=FLAGS.seed)
    test, _ = load_image_folder(
        os.path.join(root, "test"), batch_size=500, conditional=True, flip=False,
        repeat=False, drop_remainder=False, shuffle_buffer=1)
    translation = RandomTranslation(ratio=0.125, seed=FLAGS.seed)
    train = train.map(lambda images, labels: (translation(images, training=True), labels))
    steps = sum(len(files) for _, _, files in os.walk(os.path.join(root, "train")))
    steps //= FLAGS.batch_size

    model = cifar_classifier(num_classes=len(class_names))
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, FLAGS.epochs * steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(train, epochs=FLAGS.epochs, steps_per_epoch=steps, verbose=2)
    _, accuracy = model.evaluate(test, verbose=0)
    # Shipped without the optimizer state, which would triple the file.
    inference = cifar_classifier(num_classes=len(class_names))
    inference.set_weights(model.get_weights())
    with atomic_path(out) as partial:
        inference.save(partial)
    print(f"test accuracy {accuracy:.4f}; classes {class_names}; wrote {out}")


if __name__ == "__main__":
    app.run(main)
