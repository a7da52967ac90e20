"""Tools for looking inside embedding tables (chapter 2): nearest neighbours by cosine, vectors
for new items built from their features (cold start), and the memory a table needs in training.

The tables themselves are ``nn.Embedding`` weights of shape (num_rows, dim), for example
``model.item_factors.weight`` of `recsys_lesson.models.mf.MF`; every function here accepts such
a tensor or a NumPy array.
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor

Array = Union[np.ndarray, Tensor]

DTYPE_BYTES = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}
"""Bytes per number of the dtypes `memory_bytes` knows."""

OPTIMIZER_BUFFERS = {"sgd": 0, "momentum": 1, "adagrad": 1, "rmsprop": 1, "adam": 2, "adamw": 2}
"""Buffers of the table's shape that each optimizer keeps per parameter: plain SGD none, SGD with
momentum its velocity, Adagrad and RMSprop the running (sum of) squared gradients, Adam and
AdamW the first and second moments."""


def _as_matrix(vectors: Array, name: str = "vectors") -> np.ndarray:
    if isinstance(vectors, Tensor):
        vectors = vectors.detach().cpu().float().numpy()
    matrix = np.asarray(vectors)
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be a 2-D table (num_rows, dim), got shape {matrix.shape}.")
    if not np.issubdtype(matrix.dtype, np.number) or np.issubdtype(matrix.dtype, np.complexfloating):
        raise ValueError(f"{name} must hold real numbers, got dtype {matrix.dtype}.")
    matrix = matrix.astype(np.float64)
    if not np.isfinite(matrix).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    return matrix


def cosine_similarity(vectors: Array) -> np.ndarray:
    """All pairwise cosine similarities cos(a, b) = a·b / (‖a‖ ‖b‖): (num_rows, num_rows), in [-1, 1].

    A zero row has similarity 0 with every row (itself included), rather than NaN.
    """
    matrix = _as_matrix(vectors)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)  # (num_rows, 1)
    unit = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    return np.clip(unit @ unit.T, -1.0, 1.0)  # (num_rows, num_rows)


def nearest_neighbours(
    vectors: Array,
    query_indices,
    k: int = 10,
    candidates: Optional[Array] = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The k rows of `vectors` most similar by cosine to each query row, the query itself excluded.

    vectors: (num_rows, dim), for example an item embedding table.
    query_indices: row indices (q,) to find neighbours for.
    candidates: optional bool mask (num_rows,): only rows where it is True may be returned
        (for example items with enough training interactions, whose vectors are not mostly
        their random initialisation).
    Returns ``(indices, similarities)``, both (q, k), most similar first; ties go to the lower
    row index. A zero vector has similarity 0 with everything.
    """
    matrix = _as_matrix(vectors)
    num_rows = len(matrix)
    queries = np.asarray(query_indices.cpu() if isinstance(query_indices, Tensor) else query_indices)
    if queries.ndim != 1 or (queries.size and not np.issubdtype(queries.dtype, np.integer)):
        raise ValueError(f"query_indices must be a 1-D array of integer row indices, got {queries!r}.")
    queries = queries.astype(np.int64)
    if queries.size and (queries.min() < 0 or queries.max() >= num_rows):
        bad = int(queries.min() if queries.min() < 0 else queries.max())
        raise ValueError(f"query index {bad} is outside [0, {num_rows}): the table has {num_rows} rows.")
    allowed = np.ones(num_rows, dtype=bool)
    if candidates is not None:
        allowed = np.asarray(candidates.cpu() if isinstance(candidates, Tensor) else candidates)
        if allowed.dtype != bool or allowed.shape != (num_rows,):
            raise ValueError(f"candidates must be a bool mask of shape ({num_rows},), got {allowed.dtype} {allowed.shape}.")
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    k = int(k)
    most = int(allowed.sum()) - int(allowed[queries].any()) if queries.size else int(allowed.sum())
    if k > most:
        raise ValueError(f"k={k} but only {most} candidate rows remain once the query itself is excluded.")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)  # (num_rows, dim)
    similarities = np.clip(unit[queries] @ unit.T, -1.0, 1.0)  # (q, num_rows)
    masked = np.where(allowed[None, :], similarities, -np.inf)
    masked[np.arange(len(queries)), queries] = -np.inf  # never the query itself
    order = np.argsort(-masked, axis=1, kind="stable")[:, :k]  # (q, k)
    return order, np.take_along_axis(similarities, order, axis=1)


def init_from_features(vectors: Array, features: Array, known: Array) -> Array:
    """Vectors for rows that have none yet (new items), built from the rows that do.

    Row i with ``known[i]`` False gets the mean of the known rows whose feature row is identical
    to its own (for movies: the same set of genres). When no known row has the same features, it
    gets the mean of the known rows weighted by the number of features they share with row i
    (``w_ij = f_i · f_j`` for multi-hot features); when no known row shares any feature (or row i
    has none), the mean of all known rows. Known rows are returned unchanged.

    vectors: (num_rows, dim), the table (the unknown rows' values are ignored).
    features: (num_rows, num_features), non-negative, e.g. the multi-hot genre matrix.
    known: bool mask (num_rows,), True for rows whose vector was learned.
    Returns a new table of the same type (NumPy array or tensor, same dtype and device) as `vectors`.
    """
    table = _as_matrix(vectors)
    feats = _as_matrix(features, "features")
    mask = np.asarray(known.cpu() if isinstance(known, Tensor) else known)
    num_rows = len(table)
    if len(feats) != num_rows:
        raise ValueError(f"features has {len(feats)} rows but vectors has {num_rows}; give one feature row per vector.")
    if mask.dtype != bool or mask.shape != (num_rows,):
        raise ValueError(f"known must be a bool mask of shape ({num_rows},), got {mask.dtype} {mask.shape}.")
    if (feats < 0).any():
        raise ValueError("features must be non-negative (for example a multi-hot matrix).")
    if not mask.any():
        raise ValueError("No row is known: at least one learned vector is needed to build the others from.")
    out = table.copy()
    unknown = np.flatnonzero(~mask)
    if len(unknown):
        known_rows = np.flatnonzero(mask)
        groups = np.unique(feats, axis=0, return_inverse=True)[1].reshape(-1)  # same id = same feature row
        same = groups[unknown][:, None] == groups[known_rows][None, :]  # (num_unknown, num_known)
        overlap = feats[unknown] @ feats[known_rows].T  # (num_unknown, num_known)
        weights = np.where(same.any(1, keepdims=True), same.astype(np.float64), overlap)
        weights[weights.sum(1) == 0] = 1.0  # nothing shared: the mean of all known rows
        weights /= weights.sum(1, keepdims=True)
        out[unknown] = weights @ table[known_rows]  # (num_unknown, dim)
    if isinstance(vectors, Tensor):
        return torch.as_tensor(out, dtype=vectors.dtype, device=vectors.device)
    dtype = np.asarray(vectors).dtype
    return out.astype(dtype if np.issubdtype(dtype, np.floating) else np.float64)


def memory_bytes(
    num_rows: int,
    dim: int,
    dtype: str = "float32",
    optimizer: Optional[str] = "adam",
    gradients: bool = True,
) -> dict[str, int]:
    """Bytes an embedding table of ``num_rows × dim`` numbers occupies while it is trained.

    weights: ``num_rows · dim · bytes(dtype)``; gradients: the same again when the gradient is a
    dense tensor (``nn.Embedding``'s default, ``sparse=False``; pass False for sparse gradients,
    whose size depends on the batch); optimizer: the buffers of the table's shape the optimizer
    keeps (`OPTIMIZER_BUFFERS`: two for Adam), in the same dtype, as PyTorch's optimizers keep
    them for parameters of that dtype. ``optimizer=None`` or "sgd" keeps none.
    Returns ``{"weights", "gradients", "optimizer", "total"}`` in bytes (1 GB = 10⁹ bytes).
    """
    for name, value in (("num_rows", num_rows), ("dim", dim)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    dtype = str(dtype).replace("torch.", "")
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"Unknown dtype {dtype!r}; known: {', '.join(DTYPE_BYTES)}.")
    key = "sgd" if optimizer is None else str(optimizer).lower()
    if key not in OPTIMIZER_BUFFERS:
        raise ValueError(f"Unknown optimizer {optimizer!r}; known: {', '.join(OPTIMIZER_BUFFERS)} or None.")
    table = int(num_rows) * int(dim) * DTYPE_BYTES[dtype]
    grads = table if gradients else 0
    state = OPTIMIZER_BUFFERS[key] * table
    return {"weights": table, "gradients": grads, "optimizer": state, "total": table + grads + state}
