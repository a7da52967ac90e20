"""The two click-through-rate (CTR) tasks of chapter 5, and the protocol that compares models on them.

**MovieLens as CTR** (`movielens_ctr`). MovieLens has no impressions and no clicks, only
ratings of movies people chose to watch. The task treats every rating as an impression and a
rating of 4 or 5 stars as a click (label 1), so the model answers "will this user like this
movie?" among movies they did watch; about 55% of the labels are 1, and a "negative" is a
watched but disliked movie, not an ignored one. Fields: user, item, age bucket, gender,
occupation, zip prefix (first character), the genres (a multi-valued field: up to six genre
indices whose embeddings the models average), release-year bucket, and the hour and weekday of
the rating (UTC). The log is cut by time (`recsys_lesson.data.splits.time_split`):
the oldest 80% of ratings train, the next 10% validate, the newest 10% test, so no future
interaction informs a past prediction. Vocabularies are fitted on the training part only
(`recsys_lesson.features.FieldEncoder`), so values first seen later (most test users joined
after the cut) map to the out-of-vocabulary index 0. Each row also carries the user's history
for DIN: the `history_length` items the user rated strictly before this rating's timestamp,
oldest first, padded with 0 on the left.

**UCI Adult** (`adult_ctr`), the data set of TensorFlow's Wide & Deep tutorial: label 1 when
income exceeds $50K. Categorical columns, numeric columns cut into buckets, and three hand-made
crosses for the wide part (education × occupation, age × education × occupation,
native-country × occupation, as in the tutorial). The official test file is the test part; a
random 10% of the training file validates.

`train_ctr` and `evaluate_ctr` are the protocol of the chapter (Adam, early stopping on
validation AUC, test AUC and LogLoss); `compare_ctr` runs it for several models and seeds, and
`summarise` turns the runs into the measured table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence, Union

import numpy as np
import pandas as pd
import torch
from torch import nn

from .data.adult import load_adult
from .data.movielens import load_movielens
from .data.splits import time_split
from .evaluate import ctr_metrics
from .features import Categorical, Cross, FieldEncoder, MultiHot, Numeric
from .models.layers import num_parameters
from .train import History, fit, get_device

ML_AGE_EDGES = (18, 25, 35, 45, 50, 56)
"""Age bucket edges: MovieLens 1M's age groups (under 18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+).
ML-1M stores the group's lower bound as the age, so the same edges bucket both releases."""

ADULT_AGE_EDGES = (18, 25, 30, 35, 40, 45, 50, 55, 60, 65)
"""Age bucket edges of TensorFlow's Wide & Deep tutorial on Adult."""

ADULT_CATEGORICAL = ("workclass", "education", "marital-status", "occupation", "relationship", "race", "sex", "native-country")


@dataclass
class CTRPart:
    """One split of a CTR task.

    features: (n, num_columns) int64 from the task's encoder (one column per field, several
    for the genres bag); labels: (n,) float32 0/1;
    history: (n, history_length) int64 item-field indices (0 = empty slot) or None;
    frame: the raw rows, in the same order.
    """

    features: np.ndarray
    labels: np.ndarray
    history: Optional[np.ndarray]
    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class CTRTask:
    """A CTR task: an encoder fitted on the training part, three encoded parts, and which fields
    are what. `base_fields` are the positions every model reads; `cross_fields` the hand-made
    crosses (for the wide part of Wide & Deep only); `item_field`/`user_field` the id fields
    (None on Adult)."""

    name: str
    encoder: FieldEncoder
    train: CTRPart
    valid: CTRPart
    test: CTRPart
    base_fields: list[int]
    cross_fields: list[int] = field(default_factory=list)
    user_field: Optional[int] = None
    item_field: Optional[int] = None
    history_length: int = 0
    protocol: str = ""

    @property
    def field_dims(self) -> list[int]:
        return list(self.encoder.field_dims)

    @property
    def field_names(self) -> list[str]:
        return list(self.encoder.field_names)

    def part(self, name: Union[str, CTRPart]) -> CTRPart:
        if isinstance(name, CTRPart):
            return name
        if name not in ("train", "valid", "test"):
            raise ValueError(f"part must be 'train', 'valid' or 'test', got {name!r}")
        return getattr(self, name)

    def dims(self, fields: Optional[Sequence[int]] = None) -> list[int]:
        """field_dims of the chosen field positions (the base fields by default)."""
        fields = self.base_fields if fields is None else fields
        return [self.encoder.field_dims[f] for f in fields]

    def inputs(self, part: Union[str, CTRPart], fields: Optional[Sequence[int]] = None, history: bool = False) -> torch.Tensor:
        """The features tensor a model reads: the columns of the chosen fields (base fields by
        default; the genres bag spans several), then the history columns when `history` (DIN).
        (n, columns [+ L]) int64."""
        chosen = self.part(part)
        fields = self.base_fields if fields is None else list(fields)
        x = chosen.features[:, self.encoder.columns(fields)]
        if history:
            if chosen.history is None:
                raise ValueError(f"the task {self.name!r} has no user history; it exists for MovieLens only")
            x = np.concatenate([x, chosen.history], axis=1)
        return torch.as_tensor(np.ascontiguousarray(x), dtype=torch.long)

    def data(self, part: Union[str, CTRPart] = "train", fields: Optional[Sequence[int]] = None, history: bool = False) -> dict:
        """``{"features", "labels"}`` tensors for `recsys_lesson.train.fit`."""
        return {"features": self.inputs(part, fields, history),
                "labels": torch.tensor(self.part(part).labels, dtype=torch.float32)}  # a copy: pandas arrays are read-only


# ---------------------------------------------------------------------------- MovieLens


def previous_items(users: np.ndarray, timestamps: np.ndarray, items: np.ndarray, length: int) -> np.ndarray:
    """For every row, the `length` items its user interacted with strictly before the row's
    timestamp (latest last, padded with 0 on the left), (n, length) int64.

    Rows of the same user with the same timestamp do not see each other: their order inside
    that second is unknown, and a bulk of ratings given in one second is one session. Among
    earlier rows, ties in time are ordered by item.
    """
    if int(length) != length or length < 1:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    users, timestamps, items = (np.asarray(a, dtype=np.int64) for a in (users, timestamps, items))
    n = len(users)
    if not len(timestamps) == len(items) == n:
        raise ValueError(f"users, timestamps and items differ in length: {n}, {len(timestamps)}, {len(items)}")
    out = np.zeros((n, int(length)), dtype=np.int64)
    if n == 0:
        return out
    order = np.lexsort((items, timestamps, users))  # sorted by user, then time
    u, t, i = users[order], timestamps[order], items[order]
    position = np.arange(n)
    new_user = np.r_[True, u[1:] != u[:-1]]
    new_moment = new_user | np.r_[True, t[1:] != t[:-1]]
    user_start = np.maximum.accumulate(np.where(new_user, position, 0))  # first row of this user
    moment_start = np.maximum.accumulate(np.where(new_moment, position, 0))  # first row of this (user, time)
    slots = moment_start[:, None] - int(length) + np.arange(int(length))  # (n, length), oldest first
    valid = slots >= user_start[:, None]
    history = np.where(valid, i[np.clip(slots, 0, None)], 0)
    out[order] = history
    return out


def movielens_frame(dataset: str = "ml-100k", data_home=None, threshold: float = 4.0) -> pd.DataFrame:
    """One row per rating with the user and item columns joined, the time context and the label
    ``rating >= threshold``, sorted by time (the loader's order)."""
    ml = load_movielens(dataset, data_home=data_home)
    if ml.users is None:
        raise ValueError(f"{dataset} has no user table (age, gender, ...); use 'ml-100k' or 'ml-1m'")
    users = ml.users.assign(zip_prefix=ml.users["zip"].astype(str).str[:1])
    frame = ml.ratings.merge(users, on="user_id", how="left").merge(ml.items[["item_id", "year", "genres"]], on="item_id", how="left")
    when = pd.to_datetime(frame["timestamp"], unit="s", utc=True)
    frame["hour"] = when.dt.hour.astype(np.int64)
    frame["weekday"] = when.dt.weekday.astype(np.int64)
    frame["year"] = frame["year"].astype("float64")  # nullable Int64 -> float with NaN
    frame["label"] = (frame["rating"] >= threshold).astype(np.float32)
    return frame


def movielens_ctr(
    dataset: str = "ml-100k",
    history_length: int = 20,
    test_frac: float = 0.1,
    valid_frac: float = 0.1,
    min_count: int = 5,
    threshold: float = 4.0,
    crosses: Sequence[tuple[str, ...]] = (("item_id", "gender"), ("item_id", "age")),
    data_home=None,
) -> CTRTask:
    """MovieLens as a CTR task (see the module docstring).

    min_count: user and item ids (and crosses) with fewer training rows share the OOV index,
        which thereby learns to stand for a little-known user or item.
    crosses: wide-only cross features, as tuples of field names.
    The release year has missing values for a few movies; they get the training median.
    """
    frame = movielens_frame(dataset, data_home=data_home, threshold=threshold)
    frame["user"], frame["item"] = frame["user_id"], frame["item_id"]  # columns time_split checks
    train, valid, test = time_split(frame, test_frac=test_frac, valid_frac=valid_frac)
    specs = [
        Categorical("user_id", min_count=min_count),
        Categorical("item_id", min_count=min_count),
        Numeric("age", bins=ML_AGE_EDGES),
        Categorical("gender"),
        Categorical("occupation"),
        Categorical("zip_prefix"),
        MultiHot("genres"),
        Numeric("year", bins=8, impute="median"),
        Categorical("hour"),
        Categorical("weekday"),
    ]
    specs += [Cross(tuple(names), min_count=min_count) for names in crosses]
    encoder = FieldEncoder(specs).fit(train)
    cross_names = [" x ".join(names) for names in crosses]
    cross_fields = encoder.fields(*cross_names) if cross_names else []
    base_fields = [f for f in range(encoder.num_fields) if f not in cross_fields]
    user_field, item_field = encoder.fields("user_id")[0], encoder.fields("item_id")[0]

    parts = [train, valid, test]
    encoded = [encoder.transform(p) for p in parts]
    everything = pd.concat(parts, ignore_index=True)
    item_column = encoder.columns([item_field])[0]
    all_items = np.concatenate([x[:, item_column] for x in encoded])
    history = previous_items(everything["user_id"], everything["timestamp"], all_items, history_length)
    bounds = np.cumsum([0] + [len(p) for p in parts])
    made = [
        CTRPart(x, p["label"].to_numpy(dtype=np.float32), history[bounds[k] : bounds[k + 1]], p.reset_index(drop=True))
        for k, (x, p) in enumerate(zip(encoded, parts))
    ]
    name = {"ml-100k": "MovieLens 100K", "ml-1m": "MovieLens 1M"}.get(dataset, dataset)
    protocol = (
        f"{name} as CTR (label: rating ≥ {threshold:g}), split by time: oldest "
        f"{100 * (1 - test_frac - valid_frac):.0f}% train, next {100 * valid_frac:.0f}% validation, "
        f"newest {100 * test_frac:.0f}% test"
    )
    return CTRTask(name, encoder, *made, base_fields=base_fields, cross_fields=cross_fields,
                   user_field=user_field, item_field=item_field, history_length=int(history_length), protocol=protocol)


# ---------------------------------------------------------------------------- Adult


def _zero_and_deciles(column: pd.Series) -> list[float]:
    """Bucket edges for a column that is mostly 0 (capital gains: 92% of people): 0 alone, then
    the deciles of the positive values. Plain deciles would all be 0 and leave two buckets."""
    positive = column[column > 0].to_numpy(dtype=np.float64)
    deciles = np.quantile(positive, np.linspace(0, 1, 11)[1:-1]) if len(positive) else np.zeros(0)
    return [float(e) for e in np.unique(np.concatenate([[1e-9], deciles]))]


def adult_ctr(
    valid_frac: float = 0.1,
    seed: int = 0,
    crosses: Sequence[tuple[str, ...]] = (("education", "occupation"), ("age", "education", "occupation"), ("native-country", "occupation")),
    cross_min_count: int = 1,
    data_home=None,
) -> CTRTask:
    """UCI Adult as a CTR task (see the module docstring): 8 categorical columns, 4 numeric
    columns in buckets (age at the tutorial's edges; hours per week at training deciles; capital
    gain and capital loss: 0 alone, then the deciles of the positive values), and the wide-only
    `crosses`.
    ``fnlwgt`` (a census sampling weight, not a trait of the person) and ``education-num`` (the
    same as ``education``) are left out. A missing categorical value ("?") is its own category."""
    if not 0 < valid_frac < 1:
        raise ValueError(f"valid_frac must lie in (0, 1), got {valid_frac}")
    full_train, test = load_adult(data_home=data_home)
    order = np.random.default_rng(seed).permutation(len(full_train))
    num_valid = int(round(valid_frac * len(full_train)))
    valid = full_train.iloc[np.sort(order[:num_valid])].reset_index(drop=True)
    train = full_train.iloc[np.sort(order[num_valid:])].reset_index(drop=True)
    specs = [Categorical(c) for c in ADULT_CATEGORICAL] + [
        Numeric("age", bins=ADULT_AGE_EDGES),
        Numeric("hours-per-week", bins=10),
        Numeric("capital-gain", bins=_zero_and_deciles(train["capital-gain"])),
        Numeric("capital-loss", bins=_zero_and_deciles(train["capital-loss"])),
    ]
    specs += [Cross(tuple(names), min_count=cross_min_count) for names in crosses]
    encoder = FieldEncoder(specs).fit(train)
    cross_names = [" x ".join(names) for names in crosses]
    cross_fields = encoder.fields(*cross_names) if cross_names else []
    base_fields = [f for f in range(encoder.num_fields) if f not in cross_fields]
    made = [CTRPart(encoder.transform(p), p["label"].to_numpy(dtype=np.float32), None, p) for p in (train, valid, test)]
    protocol = (f"UCI Adult (label: income > $50K), official split: adult.data for training "
                f"({100 * valid_frac:.0f}% of it held out at random for validation), adult.test for the test")
    return CTRTask("Adult", encoder, *made, base_fields=base_fields, cross_fields=cross_fields, protocol=protocol)


# ---------------------------------------------------------------------------- protocol


def evaluate_ctr(model: nn.Module, task: CTRTask, part: Union[str, CTRPart] = "test",
                 fields: Optional[Sequence[int]] = None, history: bool = False) -> dict[str, float]:
    """AUC and LogLoss of `model` on a part of `task` (`recsys_lesson.evaluate.ctr_metrics`)."""
    logits = model.predict_logits(task.inputs(part, fields, history))
    return ctr_metrics(task.part(part).labels, logits.numpy())


def train_ctr(
    model: nn.Module,
    task: CTRTask,
    *,
    fields: Optional[Sequence[int]] = None,
    history: bool = False,
    epochs: int = 10,
    batch_size: int = 2048,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    optimizer: Union[str, torch.optim.Optimizer] = "adam",
    scheduler=None,
    patience: Optional[int] = 2,
    seed: int = 0,
    device=None,
    progress: bool = False,
) -> History:
    """Train `model` on the training part with `recsys_lesson.train.fit`, early-stopping on
    validation AUC (the best epoch's weights are kept). The history's ``seconds`` are training
    seconds per epoch: the validation pass is timed and taken out."""
    device = get_device() if device is None else torch.device(device)
    valid_inputs = task.inputs("valid", fields, history)
    valid_labels = task.valid.labels
    valid_seconds: list[float] = []

    def valid_fn(m):
        start = time.perf_counter()
        metrics = ctr_metrics(valid_labels, m.predict_logits(valid_inputs).numpy())
        valid_seconds.append(time.perf_counter() - start)
        return metrics

    history_ = fit(model, task.data("train", fields, history), epochs=epochs, batch_size=batch_size, lr=lr,
                   weight_decay=weight_decay, optimizer=optimizer, scheduler=scheduler, valid_fn=valid_fn, monitor="auc", mode="max",
                   patience=patience, device=device, seed=seed, progress=progress)
    history_.seconds = [s - v for s, v in zip(history_.seconds, valid_seconds)]
    return history_


@dataclass
class Candidate:
    """A model to compare: `make()` builds a fresh model; `fields` (positions; None: the task's
    base fields) and `history` say what it reads; `optimizer(model)` may return its own
    optimizer (Wide & Deep with FTRL + AdaGrad), else Adam at the common learning rate."""

    make: Callable[[], nn.Module]
    fields: Optional[Sequence[int]] = None
    history: bool = False
    optimizer: Optional[Callable[[nn.Module], torch.optim.Optimizer]] = None


def compare_ctr(task: CTRTask, candidates: dict[str, Candidate], seeds: Sequence[int] = (0, 1, 2),
                models: Optional[dict] = None, **train_kwargs) -> pd.DataFrame:
    """Train and test every candidate once per seed with `train_ctr`; one row per run:
    model, seed, auc, logloss (test), parameters, seconds_per_epoch (median), epochs, best_epoch.

    train_kwargs go to `train_ctr` (a candidate with its own optimizer gets no `scheduler`: its
    optimizers keep their own step sizes). Pass a dict as `models` to keep the trained models,
    keyed by (name, seed).
    """
    rows = []
    for name, candidate in candidates.items():
        for seed in seeds:
            torch.manual_seed(seed)
            model = candidate.make()
            kwargs = dict(train_kwargs)
            if candidate.optimizer is not None:
                kwargs["optimizer"] = candidate.optimizer(model)
                kwargs.pop("scheduler", None)
            history = train_ctr(model, task, fields=candidate.fields, history=candidate.history, seed=seed, **kwargs)
            metrics = evaluate_ctr(model, task, "test", candidate.fields, candidate.history)
            rows.append({"model": name, "seed": seed, "auc": metrics["auc"], "logloss": metrics["logloss"],
                         "parameters": num_parameters(model), "seconds_per_epoch": float(np.median(history.seconds)),
                         "epochs": len(history.epochs), "best_epoch": history.best_epoch})
            if models is not None:
                models[(name, seed)] = model
    return pd.DataFrame(rows)


def ctr_candidates(task: CTRTask, dim: int = 8, hidden: Sequence[int] = (64, 32), cin_layers: Sequence[int] = (16, 16),
                   cross_layers: int = 2, attention_hidden: Sequence[int] = (36,)) -> dict[str, Candidate]:
    """The models of chapter 5's measured table, built for `task` with one embedding size and
    one MLP tower for all:

    - ``LR``, ``FM``, ``DNN``, ``DeepFM``, ``xDeepFM``, ``DCN``, ``DCN-V2`` on the base fields;
    - ``Wide & Deep``: the wide part on the base fields and the task's hand-made crosses, the
      deep part on the base fields (Adam for both parts here; `FTRL` is shown separately);
    - on MovieLens also ``MF``: a factorisation machine on the user and item fields only, that
      is b + w_u + w_i + <v_u, v_i>, biased matrix factorisation with a logistic output, and
      ``DIN`` and ``DIN (mean pooling)``, which read the user's history besides the base fields.
    """
    from .models.dcn import DCN
    from .models.deepfm import DeepFM
    from .models.din import DIN
    from .models.dnn import DNN
    from .models.fm import FactorizationMachine, LogisticRegression
    from .models.wide_deep import WideDeep
    from .models.xdeepfm import XDeepFM

    base = task.dims()
    wide = task.base_fields + task.cross_fields
    num_base = len(task.base_fields)
    out: dict[str, Candidate] = {"LR": Candidate(lambda: LogisticRegression(base))}
    if task.user_field is not None and task.item_field is not None:
        ids = [task.user_field, task.item_field]
        out["MF"] = Candidate(lambda: FactorizationMachine(task.dims(ids), dim=dim), fields=ids)
    out.update({
        "FM": Candidate(lambda: FactorizationMachine(base, dim=dim)),
        "DNN": Candidate(lambda: DNN(base, dim=dim, hidden=hidden)),
        "Wide & Deep": Candidate(lambda: WideDeep(task.dims(wide), dim=dim, hidden=hidden, deep_fields=list(range(num_base))),
                                 fields=wide),
        "DeepFM": Candidate(lambda: DeepFM(base, dim=dim, hidden=hidden)),
        "xDeepFM": Candidate(lambda: XDeepFM(base, dim=dim, cin_layers=cin_layers, hidden=hidden)),
        "DCN": Candidate(lambda: DCN(base, dim=dim, num_cross_layers=cross_layers, hidden=hidden)),
        "DCN-V2": Candidate(lambda: DCN(base, dim=dim, num_cross_layers=cross_layers, hidden=hidden, cross="matrix")),
    })
    if task.history_length and task.item_field is not None:
        item = task.base_fields.index(task.item_field)
        for name, pooling in (("DIN", "attention"), ("DIN (mean pooling)", "mean")):
            out[name] = Candidate(
                lambda pooling=pooling: DIN(base, item_field=item, history_length=task.history_length, dim=dim, hidden=hidden,
                                            attention_hidden=attention_hidden, pooling=pooling),
                history=True)
    return out


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """The measured table: per model (in the order of `runs`), mean and standard deviation over
    seeds of test AUC and LogLoss, parameters, and median training seconds per epoch."""
    if len(runs) == 0:
        raise ValueError("no runs to summarise")
    grouped = runs.groupby("model", sort=False)
    table = pd.DataFrame({
        "AUC": grouped["auc"].mean(),
        "AUC sd": grouped["auc"].std(ddof=1),
        "LogLoss": grouped["logloss"].mean(),
        "LogLoss sd": grouped["logloss"].std(ddof=1),
        "parameters": grouped["parameters"].first(),
        "s/epoch": grouped["seconds_per_epoch"].median(),
        "seeds": grouped["seed"].nunique(),
    })
    table.index.name = "model"
    return table
