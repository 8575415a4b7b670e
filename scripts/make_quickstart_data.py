"""Builds data/cifar10_quickstart.tar.gz, the images the quickstart trains on,
and data/cifar10_cat100.tar.gz, the 100 images of configs/lowshot_cpu.cfg.

    python scripts/make_quickstart_data.py --source=../shared/data/cifar10-jpeg.tar.gz
    python scripts/make_quickstart_data.py --source=../shared/data/cifar10-jpeg.tar.gz \
        --classes=cat --per_class=100 --out=data/cifar10_cat100.tar.gz

Takes a class-stratified subset of the CIFAR-10 training images
(`--per_class` per class, chosen with a fixed seed) from an archive laid out
as train/<class>/*.jpg and writes the original JPEG files, unchanged, into
one gzipped tar as <class>/<file>.jpg.
"""

import io
import os
import tarfile

from absl import app, flags

flags.DEFINE_string("source", None, "CIFAR-10 JPEG archive (train/<class>/*.jpg).")
flags.DEFINE_string("out", os.path.join("data", "cifar10_quickstart.tar.gz"), "Output archive.")
flags.DEFINE_integer("per_class", 500, "Images per class.", lower_bound=1)
flags.DEFINE_list("classes", [], "Keep only these classes (folder names); empty: all ten.")
flags.mark_flag_as_required("source")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import numpy as np

    from keras_dagan.data.subset import stratified_indices
    from keras_dagan.files import atomic_path

    with tarfile.open(FLAGS.source) as source:
        members = sorted((m for m in source.getmembers()
                          if m.isfile() and "/train/" in f"/{m.name}" and m.name.endswith(".jpg")),
                         key=lambda m: m.name)
        if FLAGS.classes:
            unknown = set(FLAGS.classes) - {m.name.split("/")[-2] for m in members}
            if unknown:
                raise app.UsageError(f"--classes: no images of {sorted(unknown)} in {FLAGS.source}.")
            members = [m for m in members if m.name.split("/")[-2] in FLAGS.classes]
        classes = [m.name.split("/")[-2] for m in members]
        names = sorted(set(classes))
        labels = np.array([names.index(c) for c in classes])
        fraction = FLAGS.per_class / np.bincount(labels).min()
        chosen = [members[i] for i in stratified_indices(labels, fraction)]
        with atomic_path(FLAGS.out) as partial, tarfile.open(partial, "w:gz") as out:
            for member in chosen:
                data = source.extractfile(member).read()
                info = tarfile.TarInfo("/".join(member.name.split("/")[-2:]))
                info.size = len(data)
                out.addfile(info, io.BytesIO(data))
    print(f"wrote {FLAGS.out}: {len(chosen)} images, {len(names)} classes, "
          f"{os.path.getsize(FLAGS.out) / 1e6:.1f} MB")


if __name__ == "__main__":
    app.run(main)
