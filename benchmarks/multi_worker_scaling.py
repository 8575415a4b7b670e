"""Steps per second of one process against two loopback workers of a
MultiWorkerMirroredStrategy cluster, at the same global batch.

DCGAN-32 (width 64) with DiffAugment at a global batch of 64, trained with
`fit_distributed`: once as one process (default strategy), once as two
workers started by scripts/launch_local_cluster.py, each with one CPU device
and half the batch. On one machine the two workers share its cores, so the
ratio measures the overhead of the cluster (all-reduce over gRPC, the
duplicated input pipeline), not a speed-up.
Run: python benchmarks/multi_worker_scaling.py [--steps=30]
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WARMUP = 3
BATCH = 64


def measure(steps):
    """Trains WARMUP + `steps` steps here (as one worker when TF_CONFIG is
    set) and prints, on the chief, the milliseconds per step after warm-up."""
    from keras_dagan.cluster import is_chief, multi_worker_strategy

    strategy = None
    if "TF_CONFIG" in os.environ:
        strategy = multi_worker_strategy(120)
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_dagan.augment import DiffAugment
    from keras_dagan.models import GAN, dcgan_discriminator, dcgan_generator
    from keras_dagan.models.distributed_fit import fit_distributed

    strategy = strategy or tf.distribute.get_strategy()
    keras.utils.set_random_seed(0)
    with strategy.scope():
        gan = GAN(dcgan_generator(128, 32, width=64), dcgan_discriminator(32, width=64), 128,
                  augment=DiffAugment(seed=0), ema_decay=0.999, seed=0)
        gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.0),
                    g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.0))
    x = np.random.default_rng(0).uniform(-1, 1, (BATCH * 4, 32, 32, 3)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(BATCH).repeat()

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            # The logs are tensors of the finished step: reading them waits.
            float(logs["d_loss"])
            if batch + 1 == WARMUP:
                self.start = time.perf_counter()
            self.end = time.perf_counter()

    clock = Clock()
    fit_distributed(gan, dataset, steps_per_epoch=WARMUP + steps, callbacks=[clock], verbose=0)
    if is_chief(strategy):
        print(json.dumps({"ms_per_step": 1000 * (clock.end - clock.start) / steps}), flush=True)


def run(command):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    output = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout
    lines = [line.split("] ", 1)[-1] for line in output.splitlines() if '"ms_per_step"' in line]
    return json.loads(lines[0])["ms_per_step"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="Timed steps after warm-up.")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.steps)
        return
    me = [sys.executable, os.path.abspath(__file__), "--measure", f"--steps={args.steps}"]
    one = run(me)
    two = run([sys.executable, os.path.join(ROOT, "scripts", "launch_local_cluster.py"),
               "--num_workers=2", "--", *me])
    print("| setup | ms per step | steps per second | vs one process |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| 1 process | {one:.1f} | {1000 / one:.2f} | 1.00x |")
    print(f"| 2 workers | {two:.1f} | {1000 / two:.2f} | {one / two:.2f}x |")


if __name__ == "__main__":
    main()
