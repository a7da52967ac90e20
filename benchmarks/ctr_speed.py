"""Seconds per epoch of a CTR model: the package's `fit` against a per-sample DataLoader loop.

    python benchmarks/ctr_speed.py                 # both loops, 5 epochs each, one run
    python benchmarks/ctr_speed.py --repeats 3     # three runs of each (seeds 0, 1, 2), medians

The task (chapter 5's speed check): MovieLens 100K as click-through prediction (label: rating
>= 4), restricted to seven categorical fields (user, item, gender, age bucket, occupation, zip
prefix, first genre), split at random 80/20 (`recsys_lesson.data.splits.random_split`), with
vocabularies fitted on the training part (`recsys_lesson.features.FieldEncoder`). The model:
`recsys_lesson.models.deepfm.DeepFM` with embeddings of 8 and an MLP of 256-128.

The two loops train the same model class from the same initialisation for the same number of
epochs and report, in one table, the median seconds per epoch after the first (the first pays
for one-time allocations) and the test AUC and LogLoss after the last epoch:

- ``package fit``: `recsys_lesson.train.fit` (whole tensors sliced by a random permutation) with
  large batches and a learning rate that decays linearly to zero over the epochs, in float32;
- ``package fit, bf16``: the same, with ``amp="bf16"`` (bfloat16 autocast of the forward pass;
  weights, gradients and Adam in float32), run only on a CPU with native bfloat16 instructions
  (AVX512-BF16 or AMX; `recsys_lesson.train.cpu_has_native_bf16`). Most of an epoch of this model
  is the MLP's matrix products (56-256-128: about 47,000 multiply-adds per row, forward), which
  such a CPU computes about twice as fast in bfloat16 as in float32;
- ``per-sample DataLoader``: the loop of most tutorials: a ``Dataset`` whose ``__getitem__``
  returns one row, a ``DataLoader`` of 256 rows that collates them, and Adam at 1e-3.

Everything runs on one CPU thread (``torch.set_num_threads(1)``). Timings depend on the machine
and on what else runs on it; repeat (``--repeats``) and read the medians. The target of the
chapter's issue: an epoch in 0.25 s or less at an AUC no worse than the per-sample loop's.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from recsys_lesson.ctr_data import ML_AGE_EDGES, movielens_frame
from recsys_lesson.data.splits import random_split
from recsys_lesson.evaluate import ctr_metrics
from recsys_lesson.features import Categorical, FieldEncoder, Numeric
from recsys_lesson.models.deepfm import DeepFM
from recsys_lesson.train import cpu_has_native_bf16, fit

DIM, HIDDEN, EPOCHS = 8, (256, 128), 5


def load_task(seed: int = 0):
    """Seven-field MovieLens CTR data: (field_dims, train features, train labels, test features, test labels)."""
    frame = movielens_frame("ml-100k")
    frame["first_genre"] = frame["genres"].map(lambda genres: genres[0] if len(genres) else "none")
    frame["user"], frame["item"] = frame["user_id"], frame["item_id"]
    train, _, test = random_split(frame, test_frac=0.2, seed=seed)
    encoder = FieldEncoder([
        Categorical("user_id"), Categorical("item_id"), Categorical("gender"), Numeric("age", bins=ML_AGE_EDGES),
        Categorical("occupation"), Categorical("zip_prefix"), Categorical("first_genre"),
    ]).fit(train)
    as_x = lambda part: torch.as_tensor(encoder.transform(part), dtype=torch.long)  # noqa: E731
    as_y = lambda part: torch.tensor(part["label"].to_numpy(dtype=np.float32))  # noqa: E731
    return encoder.field_dims, as_x(train), as_y(train), as_x(test), as_y(test)


def test_metrics(model, features, labels) -> dict:
    return ctr_metrics(labels.numpy(), model.predict_logits(features).numpy())


def package_run(task, seed: int, batch_size: int, lr: float, amp=True) -> dict:
    field_dims, x_train, y_train, x_test, y_test = task
    torch.manual_seed(seed)
    model = DeepFM(field_dims, dim=DIM, hidden=HIDDEN)
    history = fit(model, {"features": x_train, "labels": y_train}, epochs=EPOCHS, batch_size=batch_size, lr=lr,
                  device="cpu", seed=seed, progress=False, amp=amp,
                  scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1 - epoch / EPOCHS))
    return {"seconds": history.seconds, **test_metrics(model, x_test, y_test)}


class RowDataset(Dataset):
    """One (features row, label) pair per __getitem__ call."""

    def __init__(self, features, labels):
        self.features, self.labels = features, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.features[index], self.labels[index]


def per_sample_run(task, seed: int, batch_size: int = 256, lr: float = 1e-3) -> dict:
    field_dims, x_train, y_train, x_test, y_test = task
    torch.manual_seed(seed)
    model = DeepFM(field_dims, dim=DIM, hidden=HIDDEN)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader(RowDataset(x_train, y_train), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    seconds = []
    for _ in range(EPOCHS):
        start = time.perf_counter()
        model.train()
        for features, labels in loader:
            loss = F.binary_cross_entropy_with_logits(model(features), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
    model.eval()
    return {"seconds": seconds, **test_metrics(model, x_test, y_test)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=1, help="runs of each loop (seeds 0, 1, ...)")
    parser.add_argument("--batch-size", type=int, default=4096, help="batch size of the package loop")
    parser.add_argument("--lr", type=float, default=0.015, help="initial learning rate of the package loop")
    parser.add_argument("--skip-per-sample", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    task = load_task()
    native_bf16 = cpu_has_native_bf16()
    print(f"MovieLens 100K CTR, 7 fields, random 80/20 split: {len(task[2])} train / {len(task[4])} test rows; "
          f"DeepFM dim {DIM}, MLP {'-'.join(map(str, HIDDEN))}; {EPOCHS} epochs; 1 thread; "
          f"native bfloat16 on this CPU: {'yes' if native_bf16 else 'no (the bf16 row is skipped)'}")
    settings = f"batch {args.batch_size}, lr {args.lr:g} decaying"
    loops = {f"package fit, float32 ({settings})": lambda s: package_run(task, s, args.batch_size, args.lr)}
    if native_bf16:
        loops[f"package fit, amp='bf16' ({settings})"] = lambda s: package_run(task, s, args.batch_size, args.lr, amp="bf16")
    if not args.skip_per_sample:
        loops["per-sample DataLoader (batch 256, lr 0.001)"] = lambda s: per_sample_run(task, s)
    rows = []
    for name, run in loops.items():
        results = [run(seed) for seed in range(args.repeats)]
        after_first = [s for r in results for s in r["seconds"][1:]]
        rows.append({"loop": name, "s/epoch (median after the first)": statistics.median(after_first),
                     "first epoch s": statistics.median(r["seconds"][0] for r in results),
                     "test AUC": statistics.median(r["auc"] for r in results),
                     "test LogLoss": statistics.median(r["logloss"] for r in results), "runs": args.repeats})
    with pd.option_context("display.width", 250, "display.max_columns", 10, "display.max_colwidth", 80):
        print(pd.DataFrame(rows).set_index("loop").round(4))


if __name__ == "__main__":
    main()
