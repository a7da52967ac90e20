"""One training loop for every chapter.

`fit` keeps the whole training set as index tensors on the device and slices it with a random
permutation each epoch: no per-sample ``Dataset.__getitem__`` and no ``DataLoader`` on the hot
path. Implicit-feedback models get their negatives drawn in bulk once per epoch by
`ImplicitData`. Chapter 7 measures what this buys against a textbook loop.
"""

from __future__ import annotations

import contextlib
import copy
import math
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Union

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

Batch = dict[str, Tensor]
EpochData = Union[Mapping[str, Tensor], Callable[[torch.Generator], Mapping[str, Tensor]]]


def get_device(prefer: Optional[str] = None) -> torch.device:
    """The device every chapter uses: CUDA if present, then Apple MPS, then the CPU.

    `prefer` (for example ``"cpu"``) overrides the choice.
    """
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX), so that bfloat16 matrix
    products run natively, at about twice the float32 rate (`benchmarks/ctr_speed.py` measures
    it). Without them torch emulates bfloat16 on the CPU, which is slower than float32."""
    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    for probe in probes:
        try:
            if probe is not None and probe():
                return True
        except RuntimeError:  # pragma: no cover - a build without the probe's backend
            pass
    return False


def _autocast_for(amp: Union[bool, str], device: torch.device):
    """The autocast context `fit` uses for `amp` on `device` (see `fit`), or a null context."""
    if amp not in (True, False, "bf16"):
        raise ValueError(f"amp must be True (bfloat16 on CUDA only), False or 'bf16' (also on the CPU), got {amp!r}.")
    if not amp:
        return contextlib.nullcontext
    if device.type == "cuda":
        return lambda: torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    if amp == "bf16" and device.type == "cpu":
        if not cpu_has_native_bf16():
            raise ValueError(
                "amp='bf16' asks for bfloat16 autocast on the CPU, but this CPU has no native bfloat16 "
                "instructions (AVX512-BF16 or AMX): torch would emulate them, slower than float32. "
                "Use amp=True (bfloat16 on CUDA only) here."
            )
        return lambda: torch.autocast(device_type="cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch, and return a CPU `torch.Generator` seeded with `seed`."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def as_tensor(values, dtype: torch.dtype = torch.long, device=None) -> Tensor:
    """A column of a DataFrame, a NumPy array or a tensor as a tensor of `dtype` on `device`."""
    if isinstance(values, Tensor):
        return values.to(device=device, dtype=dtype)
    return torch.as_tensor(np.array(values), dtype=dtype, device=device)  # a copy: pandas 3 columns are read-only


class ImplicitData:
    """Epoch data for implicit feedback: positives plus negatives drawn in bulk each epoch.

    With ``pairwise=False`` (binary cross-entropy, as in NCF) an epoch holds every positive with
    label 1 and ``num_negatives`` sampled items per positive with label 0, as the keys
    ``users``, ``items``, ``labels``. With ``pairwise=True`` (BPR) it holds ``users``, ``items``
    (the positives) and ``negatives`` of shape ``(n, num_negatives)``.

    `sampler` is a `recsys_lesson.data.sampling.NegativeSampler` built on the same positives.
    """

    def __init__(self, users, items, sampler, num_negatives: int = 4, pairwise: bool = False):
        if num_negatives < 1:
            raise ValueError(f"num_negatives must be at least 1, got {num_negatives}.")
        self.users = as_tensor(users)
        self.items = as_tensor(items)
        if len(self.users) == 0:
            raise ValueError("ImplicitData got no positive interactions; is the training split empty?")
        if len(self.users) != len(self.items):
            raise ValueError(f"users and items differ in length: {len(self.users)} vs {len(self.items)}.")
        self.sampler = sampler
        self.num_negatives = num_negatives
        self.pairwise = pairwise

    def to(self, device) -> "ImplicitData":
        self.users = self.users.to(device)
        self.items = self.items.to(device)
        return self

    def __call__(self, generator: torch.Generator) -> Batch:
        # A seed drawn from fit's generator, so the sampler may live on another device.
        seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
        negatives = self.sampler.sample(self.users, self.num_negatives, generator=seed)
        negatives = negatives.to(self.users.device)  # (n, num_negatives)
        if self.pairwise:
            return {"users": self.users, "items": self.items, "negatives": negatives}
        n = len(self.users)
        users = torch.cat([self.users, self.users.repeat_interleave(self.num_negatives)])
        items = torch.cat([self.items, negatives.reshape(-1)])
        labels = torch.cat([torch.ones(n), torch.zeros(n * self.num_negatives)]).to(self.users.device)
        return {"users": users, "items": items, "labels": labels}


@dataclass
class History:
    """What `fit` records: one row per epoch, plus the best epoch when a metric was monitored."""

    epochs: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    metrics: list[dict[str, float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: Optional[int] = None
    monitor: Optional[str] = None

    def metric(self, name: str) -> list[float]:
        """The values of validation metric `name`, one per epoch."""
        if not self.metrics or name not in self.metrics[0]:
            known = sorted(self.metrics[0]) if self.metrics else []
            raise KeyError(f"No metric {name!r} in this history; recorded: {known}.")
        return [row[name] for row in self.metrics]

    @property
    def best(self) -> dict[str, float]:
        """Validation metrics of the best epoch (the last epoch when nothing was monitored)."""
        if not self.metrics:
            return {}
        index = self.epochs.index(self.best_epoch) if self.best_epoch is not None else -1
        return self.metrics[index]

    def to_frame(self):
        """The history as a pandas DataFrame, one row per epoch."""
        import pandas as pd

        frame = pd.DataFrame({"epoch": self.epochs, "train_loss": self.train_loss, "seconds": self.seconds})
        if self.metrics:
            frame = frame.join(pd.DataFrame(self.metrics))
        return frame

    def plot(self, metric: Optional[str] = None, ax=None, label: Optional[str] = None):
        """Learning curve: the training loss, or validation `metric`, against the epoch."""
        from .plots import plot_learning_curve

        return plot_learning_curve(self, metric=metric, ax=ax, label=label)


def warmup_cosine(warmup_steps: int, total_steps: int, floor: float = 0.0) -> Callable[[int], float]:
    """Learning-rate factor for ``torch.optim.lr_scheduler.LambdaLR``: linear warm-up, then cosine.

        factor(t) = (t + 1) / warmup_steps                                   for t < warmup_steps
        factor(t) = floor + (1 - floor) (1 + cos(pi * progress)) / 2         afterwards,
        progress  = min(1, (t - warmup_steps) / max(1, total_steps - warmup_steps)),

    so the rate climbs to its full value over the first `warmup_steps` steps and falls to
    ``floor`` times it at `total_steps`. ``warmup_steps = 0`` is a plain cosine schedule. Use it
    with ``fit(..., scheduler_interval="step")`` to count optimiser steps. Chapter 7.
    """
    if int(warmup_steps) != warmup_steps or warmup_steps < 0:
        raise ValueError(f"warmup_steps must be an integer >= 0, got {warmup_steps}.")
    if int(total_steps) != total_steps or total_steps < 1:
        raise ValueError(f"total_steps must be a positive integer, got {total_steps}.")
    if warmup_steps > total_steps:
        raise ValueError(f"warmup_steps={warmup_steps} is longer than total_steps={total_steps}.")
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"floor is a share of the full rate in [0, 1], got {floor}.")
    warmup_steps, total_steps = int(warmup_steps), int(total_steps)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def _fused_adam(cls, params, lr: float, weight_decay: float, device: torch.device) -> torch.optim.Optimizer:
    """Adam(W) with its fused kernel where torch has one for `device` (one kernel for all parameters
    instead of about ten small operations per parameter tensor: several times faster for the
    small models of this book), else the default implementation. The arithmetic is the same."""
    params = list(params)
    if device.type in ("cpu", "cuda"):
        try:
            return cls(params, lr=lr, weight_decay=weight_decay, fused=True)
        except (RuntimeError, TypeError, ValueError):  # older torch, or parameters it cannot fuse
            pass
    return cls(params, lr=lr, weight_decay=weight_decay)


def _make_optimizer(
    name: str, params, lr: float, weight_decay: float, device: torch.device = torch.device("cpu")
) -> torch.optim.Optimizer:
    name = name.lower()
    if name == "adam":
        return _fused_adam(torch.optim.Adam, params, lr, weight_decay, device)
    if name == "adamw":
        return _fused_adam(torch.optim.AdamW, params, lr, weight_decay, device)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"Unknown optimizer {name!r}; use 'adam', 'adamw', 'sgd', 'adagrad' or pass an optimizer.")


def _epoch_tensors(data: EpochData, generator: torch.Generator, device: torch.device) -> Batch:
    tensors = data(generator) if callable(data) else data
    out = {key: value.to(device, non_blocking=True) for key, value in tensors.items()}
    sizes = {key: len(value) for key, value in out.items()}
    if not sizes or min(sizes.values()) == 0:
        raise ValueError("The training data is empty: check the split you passed to fit().")
    if len(set(sizes.values())) != 1:
        raise ValueError(f"Training tensors differ in length: {sizes}.")
    return out


def fit(
    model: nn.Module,
    data: EpochData,
    *,
    epochs: int = 10,
    batch_size: int = 1024,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    optimizer: Union[str, torch.optim.Optimizer] = "adam",
    scheduler: Optional[Callable[[torch.optim.Optimizer], object]] = None,
    scheduler_interval: str = "epoch",
    loss_fn: Optional[Callable[[nn.Module, Batch], Tensor]] = None,
    valid_fn: Optional[Callable[[nn.Module], Mapping[str, float]]] = None,
    monitor: Optional[str] = None,
    mode: str = "max",
    patience: Optional[int] = None,
    device: Optional[Union[str, torch.device]] = None,
    seed: int = 0,
    amp: Union[bool, str] = True,
    progress: bool = True,
    grad_accumulation: int = 1,
) -> History:
    """Train `model` and return its `History`.

    data: a mapping of equal-length tensors (``users``, ``items``, ``labels``/``ratings`` ...)
        or a callable ``data(generator) -> mapping`` called once per epoch (for example
        `ImplicitData`, which draws fresh negatives).
    loss_fn: ``loss_fn(model, batch) -> scalar``; defaults to ``model.loss(batch)``.
    valid_fn: ``valid_fn(model) -> {"name": value}``, called after every epoch in eval mode.
    monitor, mode, patience: early stopping on ``valid_fn``'s metric `monitor` (higher is better
        when mode is "max"); the best weights are restored at the end.
    scheduler: ``scheduler(optimizer) -> torch.optim.lr_scheduler`` stepped once per epoch
        (``ReduceLROnPlateau`` is stepped with the monitored metric), or after every optimiser
        step when ``scheduler_interval="step"`` (for warm-up, see `warmup_cosine`).
    amp: mixed precision (bfloat16 autocast of the forward pass; weights, gradients and the
        optimiser stay in float32). True, the default: on CUDA only (ignored on the CPU and MPS).
        ``"bf16"``: on CUDA and also on a CPU with native bfloat16 instructions
        (`cpu_has_native_bf16`; a ValueError otherwise), where wide layers train about twice as
        fast (`benchmarks/ctr_speed.py`); small models dominated by lookups gain nothing. False: never.
    grad_accumulation: optimizer step every this many batches (chapter 7 shows it equals a
        batch that many times larger for losses that average over the batch).
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    if grad_accumulation < 1:
        raise ValueError(f"grad_accumulation must be at least 1, got {grad_accumulation}.")
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}.")
    if monitor is not None and valid_fn is None:
        raise ValueError("monitor needs a valid_fn that computes it.")
    if scheduler_interval not in ("epoch", "step"):
        raise ValueError(f"scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}.")
    device = get_device() if device is None else torch.device(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    torch.manual_seed(seed)
    model.to(device)
    if hasattr(data, "to"):
        data.to(device)
    opt = optimizer if isinstance(optimizer, torch.optim.Optimizer) else _make_optimizer(
        optimizer, model.parameters(), lr, weight_decay, device
    )
    sched = scheduler(opt) if scheduler is not None else None
    step_each_batch = sched is not None and scheduler_interval == "step"
    if step_each_batch and isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
        raise ValueError("ReduceLROnPlateau reacts to a validation metric: use scheduler_interval='epoch'.")
    compute_loss = loss_fn if loss_fn is not None else (lambda m, batch: m.loss(batch))
    autocast = _autocast_for(amp, device)

    history = History(monitor=monitor)
    best_value, best_state, waited = None, None, 0
    sign = 1.0 if mode == "max" else -1.0
    bar = tqdm(range(1, epochs + 1), desc=type(model).__name__, disable=not progress, leave=True)
    for epoch in bar:
        start = time.perf_counter()
        model.train()
        tensors = _epoch_tensors(data, generator, device)
        n = len(next(iter(tensors.values())))
        order = torch.randperm(n, generator=generator, device=device)
        # Shuffle once per epoch (one gather per tensor); every batch is then a contiguous view.
        tensors = {key: value.index_select(0, order) for key, value in tensors.items()}
        total, count = torch.zeros((), device=device), 0
        opt.zero_grad(set_to_none=True)
        num_batches = math.ceil(n / batch_size)
        for b in range(num_batches):
            start_row = b * batch_size
            batch = {key: value[start_row : start_row + batch_size] for key, value in tensors.items()}
            size = len(next(iter(batch.values())))
            with autocast():
                loss = compute_loss(model, batch)
            # Weight each micro-batch by its share of the accumulated group, so that the summed
            # gradient is the mean over the group, as one batch of that size would give.
            group_start = (b // grad_accumulation) * grad_accumulation * batch_size
            group_size = min(n, group_start + grad_accumulation * batch_size) - group_start
            (loss * (size / group_size)).backward()
            if (b + 1) % grad_accumulation == 0 or b + 1 == num_batches:
                opt.step()
                opt.zero_grad(set_to_none=True)
                if step_each_batch:
                    sched.step()
            total += loss.detach() * size
            count += size
        train_loss = float(total) / count
        if not math.isfinite(train_loss):
            raise FloatingPointError(
                f"The training loss became {train_loss} in epoch {epoch}: lower the learning rate "
                "or check the inputs for extreme values."
            )
        metrics: dict[str, float] = {}
        if valid_fn is not None:
            model.eval()
            with torch.no_grad():
                metrics = {key: float(value) for key, value in valid_fn(model).items()}
            if monitor is not None and monitor not in metrics:
                raise KeyError(f"valid_fn returned {sorted(metrics)}, which lacks the monitored {monitor!r}.")
        if sched is not None and not step_each_batch:
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                sched.step(metrics[monitor] if monitor else train_loss)
            else:
                sched.step()
        history.epochs.append(epoch)
        history.train_loss.append(train_loss)
        history.metrics.append(metrics)
        history.seconds.append(time.perf_counter() - start)
        bar.set_postfix(loss=f"{train_loss:.4f}", **{k: f"{v:.4f}" for k, v in metrics.items()})
        if monitor is not None:
            value = sign * metrics[monitor]
            if best_value is None or value > best_value:
                best_value, waited = value, 0
                history.best_epoch = epoch
                best_state = copy.deepcopy(model.state_dict())
            else:
                waited += 1
                if patience is not None and waited >= patience:
                    break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history
