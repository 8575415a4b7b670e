"""The limited-data report: FID, precision, recall, memorization and leakage per arm.

Trains DCGAN with each arm (`none`, `diffaugment`, `ada`, `dag`: DAG's
rotation heads; `diffaugment_lecam`, `diffaugment_cr`, `ada_apa`: the
regularizers with the augmentation they were published with) on 10 %, 1 %
and 0.2 % of CIFAR-10 (the shipped data/cifar10_quickstart.tar.gz, 500
images per class, and stratified subsets of it: 50 and 10 per class), for
the same steps and several seeds, with a classifier-FID
against the CIFAR-10 test images every `--eval_every` steps
(`scripts/train.py`). Each exported generator is then scored by
`scripts/evaluate.py --memorization --leakage --precision_recall
--reference=test`. Writes, into `--out`:

- `report.md`: per data share and arm, the mean and the spread (standard
  deviation) over seeds of the final FID, the best FID of the evaluations
  along the way, precision, recall, memorization, C_T, the largest leakage
  over the transform families and the last r_t;
- `fid_vs_steps.png`: FID and r_t against steps per arm, the mean over
  seeds with a band from the lowest to the highest seed (needs matplotlib);
- one folder per run with train.py's and evaluate.py's outputs.

Resumable: a finished run (its `diagnostics.json` exists) is skipped and an
interrupted one resumes from its last checkpoint, so run it in the
background and rerun the same command after a stop:

    nohup python benchmarks/limited_data.py --heldout=folder:PATH/cifar10/test \\
        --out=runs/limited_data > runs/limited_data.log 2>&1 &

A run of 2,000 steps takes about 4 minutes on 2 idle CPU cores, its
evaluation included (the first evaluation on a data share also trains the
leak detectors, a few minutes, cached after): the defaults (4k steps, 3
seeds, 3 shares, 7 arms: 63 runs) take about 8 hours; choose with `--arms`,
`--shares`, `--seeds` and `--steps`, and make D stronger with `--lr_d` and
`--d_steps` (a different `--out` per configuration: runs are found by data
share, arm and seed alone). Not run in CI.
"""

import argparse
import glob
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Arm -> the train.py flags that make it.
ARMS = {
    "none": ["--augment=none"],
    "diffaugment": ["--augment=diffaugment", "--policy=color,translation,cutout"],
    "ada": ["--augment=ada"],
    "dag": ["--augment=none", "--dag=rotation"],
    # The regularizers of issue 18 on top of the augmentation they were
    # published with: LeCam as google/lecam-gan's BigGAN code configures it
    # (weight 0.3, EMA decay 0.9 from step 1000), CR as the DiffAugment-cr
    # 10 % scripts (weight 10, DiffAugment(x) against x), APA sharing ADA's
    # p as DeceiveD with --with-dataaug.
    "diffaugment_lecam": ["--augment=diffaugment", "--policy=color,translation,cutout",
                          "--lecam_weight=0.3", "--lecam_ema_decay=0.9", "--lecam_start=1000"],
    "diffaugment_cr": ["--augment=diffaugment", "--policy=color,translation,cutout",
                       "--cr_weight_real=10"],
    "ada_apa": ["--augment=ada", "--apa"],
}
# The shipped archive holds 10 % of CIFAR-10's training images; a tenth of
# it is 1 %, a fiftieth 0.2 % (100 images, 10 per class).
SHARES = {"10%": 1.0, "1%": 0.1, "0.2%": 0.02}
# The columns of the report: (key of a run's results, heading).
COLUMNS = [("fid", "FID"), ("best_fid", "best FID"), ("precision", "precision"),
           ("recall", "recall"), ("memorization", "memorization"), ("data_copying", "C_T"),
           ("max_leakage", "max leakage"), ("final_r_t", "r_t")]


def run_script(name, flags, log_path):
    """Runs scripts/<name> with `flags`, appending its output to `log_path`;
    returns its last stdout line parsed as JSON."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    result = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", name), *flags],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    with open(log_path, "a") as log:
        log.write(result.stdout + result.stderr)
    if result.returncode:
        raise RuntimeError(f"{name} failed ({result.returncode}); see {log_path}:\n"
                           f"{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def scalar_curves(run_dir, eval_every, tags=("fid", "r_t")):
    """{tag: {step: value}} of a run's epoch scalars, from its TensorBoard
    logs (which, unlike train.py's summary, span every resumption)."""
    import tensorflow as tf

    curves = {tag: {} for tag in tags}
    for path in sorted(glob.glob(os.path.join(run_dir, "logs", "train", "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                tag = value.tag.removeprefix("epoch_")
                if value.tag.startswith("epoch_") and tag in curves:
                    # Epochs end every --checkpoint_every (= --eval_every) steps.
                    step = (event.step + 1) * eval_every
                    curves[tag][step] = float(tf.make_ndarray(value.tensor)) if value.HasField(
                        "tensor") else value.simple_value
    return {tag: dict(sorted(curve.items())) for tag, curve in curves.items()}


def run_arm(args, share, fraction, arm, seed):
    """Trains and scores one run unless it is done; returns its results."""
    run_dir = os.path.join(args.out, share.rstrip("%") + "pct", arm, f"seed{seed}")
    results_path = os.path.join(run_dir, "diagnostics.json")
    if os.path.exists(results_path):
        with open(results_path) as file:
            return with_curves(json.load(file), run_dir, args.eval_every)
    os.makedirs(run_dir, exist_ok=True)
    log = os.path.join(run_dir, "log.txt")
    print(f"{share} {arm} seed {seed}: training", flush=True)
    run_script("train.py", [
        f"--dataset={args.dataset}", f"--data_fraction={fraction}", "--arch=dcgan",
        "--resolution=32", "--width=32", "--loss=hinge", "--batch_size=32", "--beta_1=0.5",
        "--ema_decay=0.99", f"--lr_d={args.lr_d}", f"--d_steps={args.d_steps}",
        f"--steps={args.steps}", f"--checkpoint_every={args.eval_every}",
        f"--eval_every={args.eval_every}", f"--sample_every={args.steps}",
        f"--num_eval_samples={args.num_samples}", "--extractor=cifar10",
        f"--fid_reference={args.heldout}", "--export=last", f"--seed={seed}",
        f"--out_dir={run_dir}", "--verbose=2", *ARMS[arm]], log)
    print(f"{share} {arm} seed {seed}: evaluating", flush=True)
    scores = run_script("evaluate.py", [
        f"--generator={os.path.join(run_dir, 'generator')}", f"--dataset={args.dataset}",
        f"--data_fraction={fraction}", f"--heldout={args.heldout}", "--reference=test",
        "--extractor=cifar10", f"--num_samples={args.num_samples}", "--memorization",
        "--leakage", "--precision_recall", f"--detector_steps={args.detector_steps}",
        f"--copies_png={os.path.join(run_dir, 'copies.png')}", f"--seed={seed}"], log)
    usable = [value for value in scores["leakage"].values() if value is not None]
    scores["max_leakage"] = max(usable) if usable else None
    with open(results_path, "w") as file:
        json.dump(scores, file)
    return with_curves(scores, run_dir, args.eval_every)


def with_curves(scores, run_dir, eval_every):
    """`scores` with the run's FID and r_t curves, its best FID along the
    way (where an overfitting D shows: the final FID is worse) and its last
    r_t."""
    curves = scalar_curves(run_dir, eval_every)
    r_t = list(curves["r_t"].values())
    return dict(scores, curves=curves, best_fid=min(curves["fid"].values(), default=None),
                final_r_t=r_t[-1] if r_t else None)


def summary_cell(values):
    values = [value for value in values if value is not None]
    if not values:
        return "n/a"
    return f"{np.mean(values):.3g} ± {np.std(values):.2g}"


def write_report(args, results):
    """report.md: mean ± standard deviation over seeds per share and arm."""
    lines = [f"{args.steps} steps of batch 32, DCGAN (width 32), D learning rate "
             f"{args.lr_d:g} and {args.d_steps} D update(s) per step, classifier-FID against "
             f"the CIFAR-10 test images, {len(args.seeds)} seed(s) ({', '.join(map(str, args.seeds))}); "
             "mean ± standard deviation over seeds.", "",
             "| data | arm | " + " | ".join(heading for _, heading in COLUMNS) + " |",
             "|---|---|" + "---|" * len(COLUMNS)]
    for (share, arm), runs in results.items():
        cells = [summary_cell([run.get(key) for run in runs]) for key, _ in COLUMNS]
        lines.append(f"| {share} | {arm} | " + " | ".join(cells) + " |")
    path = os.path.join(args.out, "report.md")
    with open(path, "w") as file:
        file.write("\n".join(lines) + "\n")
    return path


def plot_curves(args, results):
    """fid_vs_steps.png: one column per data share, FID (top) and r_t
    (bottom) against steps, the mean over seeds per arm with a band from the
    lowest to the highest seed."""
    try:
        import matplotlib
    except ImportError:
        print("limited_data.py: matplotlib is not installed (pip install matplotlib); "
              "no plot.", file=sys.stderr)
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shares = list(dict.fromkeys(share for share, _ in results))
    rows = (("fid", "classifier-FID (test images)"), ("r_t", "r_t = E[sign(D(real))]"))
    figure, axes = plt.subplots(len(rows), len(shares), figsize=(5 * len(shares), 7),
                                squeeze=False, sharex="col")
    for column, share in enumerate(shares):
        for row, (tag, label) in enumerate(rows):
            axis = axes[row, column]
            for (run_share, arm), runs in results.items():
                if run_share != share:
                    continue
                curves = [run["curves"][tag] for run in runs]
                steps = sorted(set.intersection(*(set(curve) for curve in curves)))
                if not steps:
                    continue
                values = np.array([[curve[step] for step in steps] for curve in curves])
                axis.plot(steps, values.mean(axis=0), label=arm)
                axis.fill_between(steps, values.min(axis=0), values.max(axis=0), alpha=0.2)
            axis.set_ylabel(label)
            if row == 0:
                axis.set_title(f"{share} of CIFAR-10")
                axis.legend(fontsize="small")
            else:
                axis.set_xlabel("training steps")
    figure.tight_layout()
    path = os.path.join(args.out, "fid_vs_steps.png")
    figure.savefig(path, dpi=100)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", required=True,
                        help="folder:PATH of the CIFAR-10 test images (FID reference, "
                             "memorization threshold, detector rates).")
    parser.add_argument("--dataset", default="folder:data/cifar10_quickstart.tar.gz",
                        help="10 %% of CIFAR-10's training images.")
    parser.add_argument("--out", default="runs/limited_data")
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--shares", default=",".join(SHARES))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--eval_every", type=int, default=500)
    parser.add_argument("--num_samples", type=int, default=2000,
                        help="Generated images per FID and diagnostics.")
    parser.add_argument("--detector_steps", type=int, default=500)
    parser.add_argument("--lr_d", type=float, default=2e-4,
                        help="D's learning rate (G's is 2e-4).")
    parser.add_argument("--d_steps", type=int, default=1, help="D updates per G update.")
    args = parser.parse_args()
    args.seeds = [int(seed) for seed in args.seeds.split(",")]
    for name, chosen, known in (("--arms", args.arms, ARMS), ("--shares", args.shares, SHARES)):
        unknown = set(chosen.split(",")) - set(known)
        if unknown:
            parser.error(f"{name}: unknown {', '.join(sorted(unknown))}; choose from "
                         f"{', '.join(known)}.")
    if args.steps % args.eval_every:
        parser.error("--steps must be a multiple of --eval_every.")
    results = {(share, arm): [] for share in args.shares.split(",")
               for arm in args.arms.split(",")}
    # Seeds outermost, so that a run stopped part-way has every arm at the
    # same seeds.
    for seed in args.seeds:
        for share, arm in results:
            results[share, arm].append(run_arm(args, share, SHARES[share], arm, seed))
    print(open(write_report(args, results)).read())
    plot = plot_curves(args, results)
    if plot:
        print(f"plot: {plot}")


if __name__ == "__main__":
    main()
