"""The limited-data report: FID, precision, recall, memorization and leakage per arm.

Trains DCGAN with each arm (`none`, `diffaugment`, `ada`, `dag`: DAG's
rotation heads; `diffaugment_lecam`, `diffaugment_cr`, `ada_apa`: the
regularizers with the augmentation they were published with) on 10 % and 1 % of CIFAR-10 (the shipped
data/cifar10_quickstart.tar.gz, 500 images per class, and a stratified
tenth of it), for the same steps and several seeds, with a classifier-FID
against the CIFAR-10 test images every `--eval_every` steps
(`scripts/train.py`). Each exported generator is then scored by
`scripts/evaluate.py --memorization --leakage --precision_recall
--reference=test`. Writes, into `--out`:

- `report.md`: per data share and arm, the mean and the spread (standard
  deviation) over seeds of the final FID, precision, recall, memorization,
  C_T and the largest leakage over the transform families;
- `fid_vs_steps.png`: FID against steps per arm, the mean over seeds with a
  band from the lowest to the highest seed (needs matplotlib);
- one folder per run with train.py's and evaluate.py's outputs.

Resumable: a finished run (its `diagnostics.json` exists) is skipped and an
interrupted one resumes from its last checkpoint, so run it in the
background and rerun the same command after a stop:

    nohup python benchmarks/limited_data.py --heldout=folder:PATH/cifar10/test \\
        --out=runs/limited_data > runs/limited_data.log 2>&1 &

The defaults (4k steps of batch 32, 3 seeds, 2 shares, 7 arms: 42 runs)
take roughly 10 hours on 2 idle CPU cores; choose with `--arms`, `--shares`,
`--seeds` and `--steps`. Not run in CI.
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
# it is 1 %.
SHARES = {"10%": 1.0, "1%": 0.1}
# The columns of the report: (key in diagnostics.json, heading).
COLUMNS = [("fid", "FID"), ("precision", "precision"), ("recall", "recall"),
           ("memorization", "memorization"), ("data_copying", "C_T"),
           ("max_leakage", "max leakage")]


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


def fid_curve(run_dir, eval_every):
    """{step: FID} of a run, from its TensorBoard logs (which, unlike
    train.py's summary, span every resumption)."""
    import tensorflow as tf

    curve = {}
    for path in sorted(glob.glob(os.path.join(run_dir, "logs", "train", "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == "epoch_fid":
                    # Epochs end every --checkpoint_every (= --eval_every) steps.
                    step = (event.step + 1) * eval_every
                    curve[step] = float(tf.make_ndarray(value.tensor)) if value.HasField(
                        "tensor") else value.simple_value
    return dict(sorted(curve.items()))


def run_arm(args, share, fraction, arm, seed):
    """Trains and scores one run unless it is done; returns its results."""
    run_dir = os.path.join(args.out, share.rstrip("%") + "pct", arm, f"seed{seed}")
    results_path = os.path.join(run_dir, "diagnostics.json")
    if os.path.exists(results_path):
        with open(results_path) as file:
            return json.load(file)
    os.makedirs(run_dir, exist_ok=True)
    log = os.path.join(run_dir, "log.txt")
    print(f"{share} {arm} seed {seed}: training", flush=True)
    run_script("train.py", [
        f"--dataset={args.dataset}", f"--data_fraction={fraction}", "--arch=dcgan",
        "--resolution=32", "--width=32", "--loss=hinge", "--batch_size=32", "--beta_1=0.5",
        "--ema_decay=0.99", f"--steps={args.steps}", f"--checkpoint_every={args.eval_every}",
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
    scores["fid_curve"] = fid_curve(run_dir, args.eval_every)
    with open(results_path, "w") as file:
        json.dump(scores, file)
    return scores


def summary_cell(values):
    values = [value for value in values if value is not None]
    if not values:
        return "n/a"
    return f"{np.mean(values):.3g} ± {np.std(values):.2g}"


def write_report(args, results):
    """report.md: mean ± standard deviation over seeds per share and arm."""
    lines = [f"{args.steps} steps of batch 32, DCGAN, classifier-FID against the CIFAR-10 "
             f"test images, {len(args.seeds)} seed(s) ({', '.join(map(str, args.seeds))}); "
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


def plot_fid(args, results):
    """fid_vs_steps.png: one panel per data share, mean FID per arm with a
    band from the lowest to the highest seed."""
    try:
        import matplotlib
    except ImportError:
        print("limited_data.py: matplotlib is not installed (pip install matplotlib); "
              "no plot.", file=sys.stderr)
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shares = list(dict.fromkeys(share for share, _ in results))
    figure, axes = plt.subplots(1, len(shares), figsize=(5 * len(shares), 4), squeeze=False)
    for axis, share in zip(axes[0], shares):
        for (run_share, arm), runs in results.items():
            if run_share != share:
                continue
            # JSON turned the steps into strings.
            curves = [{int(step): fid for step, fid in run["fid_curve"].items()} for run in runs]
            steps = sorted(set.intersection(*(set(curve) for curve in curves)))
            if not steps:
                continue
            fids = np.array([[curve[step] for step in steps] for curve in curves])
            axis.plot(steps, fids.mean(axis=0), label=arm)
            axis.fill_between(steps, fids.min(axis=0), fids.max(axis=0), alpha=0.2)
        axis.set_title(f"{share} of CIFAR-10")
        axis.set_xlabel("training steps")
        axis.set_ylabel("classifier-FID (test images)")
        axis.legend()
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
    args = parser.parse_args()
    args.seeds = [int(seed) for seed in args.seeds.split(",")]
    for name, chosen, known in (("--arms", args.arms, ARMS), ("--shares", args.shares, SHARES)):
        unknown = set(chosen.split(",")) - set(known)
        if unknown:
            parser.error(f"{name}: unknown {', '.join(sorted(unknown))}; choose from "
                         f"{', '.join(known)}.")
    if args.steps % args.eval_every:
        parser.error("--steps must be a multiple of --eval_every.")
    results = {}
    for share in args.shares.split(","):
        for arm in args.arms.split(","):
            results[share, arm] = [run_arm(args, share, SHARES[share], arm, seed)
                                   for seed in args.seeds]
    print(open(write_report(args, results)).read())
    plot = plot_fid(args, results)
    if plot:
        print(f"plot: {plot}")


if __name__ == "__main__":
    main()
