"""Building blocks of the click-through-rate (CTR) models: multi-field embeddings, the linear
term, an MLP tower, and the `CTRModel` base class.

Inputs are multi-field categorical features: a LongTensor ``features`` of shape
``(batch, num_fields)`` whose column ``f`` holds an index in ``[0, field_dims[f])`` (the
encoders may reserve index 0 of each field for unseen values).

A field may also be *multi-valued* (a bag, such as a movie's genres): its entry in
``field_dims`` is then a pair ``(num_values, slots)``, and it occupies ``slots`` consecutive
columns of ``features``, each holding one of its values or 0 for an empty slot. `FeaturesEmbedding`
and `FeaturesLinear` pool a bag into one vector (one weight) per row, the mean over its non-empty
slots (zeros when all are empty), so every model sees one vector per field whatever the field's
kind. ``features`` then has ``sum(slots)`` columns (1 per single-valued field); see `field_columns`. Chapter 1 builds logistic
regression, the factorisation machine and an MLP from these pieces, chapter 2 looks inside
the embedding tables, and chapter 5 stacks them into Wide & Deep, DeepFM, xDeepFM and DCN.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn


FieldDim = Union[int, tuple[int, int]]


def _check_field_dims(field_dims: Sequence[FieldDim]) -> tuple[FieldDim, ...]:
    """Validate field_dims: a positive int per single-valued field, ``(num_values, slots)`` per bag."""
    dims: list[FieldDim] = []
    for f, given in enumerate(field_dims):
        if isinstance(given, (tuple, list)):
            if len(given) != 2 or any(isinstance(v, bool) or int(v) != v or v < 1 for v in given):
                raise ValueError(
                    f"field_dims[{f}] is {given!r}; a multi-valued field is a pair (num_values, slots) of positive integers."
                )
            dims.append((int(given[0]), int(given[1])))
            continue
        try:
            d = int(given)
        except (TypeError, ValueError):
            d = None
        if d is None or d != given or d < 1:
            raise ValueError(f"field_dims[{f}] is {given!r}; every field needs a positive integer number of values.")
        dims.append(d)
    if len(dims) == 0:
        raise ValueError("field_dims is empty: a CTR model needs at least one field.")
    return tuple(dims)


def _layout(field_dims: Sequence[FieldDim]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(number of values, number of columns) of every field: ``(d, 1)`` for an int d."""
    sizes = tuple(d[0] if isinstance(d, tuple) else d for d in field_dims)
    slots = tuple(d[1] if isinstance(d, tuple) else 1 for d in field_dims)
    return sizes, slots


def field_columns(field_dims: Sequence[FieldDim]) -> list[list[int]]:
    """The columns of ``features`` that each field occupies: ``[[0], [1], [2, 3, 4], ...]``
    (a bag of 3 slots at field 2). Without bags, field f is column f."""
    _, slots = _layout(_check_field_dims(field_dims))
    starts = np.concatenate([[0], np.cumsum(slots)[:-1]])
    return [list(range(int(start), int(start) + k)) for start, k in zip(starts, slots)]


def num_columns(field_dims: Sequence[FieldDim]) -> int:
    """Number of columns of ``features``: one per single-valued field, ``slots`` per bag."""
    return sum(_layout(_check_field_dims(field_dims))[1])


def _check_dim(dim: int) -> int:
    if int(dim) != dim or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}.")
    return int(dim)


def check_features(features: Tensor, field_dims: Sequence[FieldDim]) -> None:
    """Raise a clear ValueError unless `features` is an integer tensor of shape
    ``(batch, len(field_dims))`` whose column ``f`` lies in ``[0, field_dims[f])`` (with bags:
    ``(batch, num_columns(field_dims))``, each bag column within its field's values).

    Without it, a value outside its field silently reads a row of the *next* field in a shared
    table (or raises an IndexError deep inside the lookup when it falls off the end).
    """
    sizes, slots = _layout(field_dims)
    num_fields, columns = len(sizes), sum(slots)
    has_bags = columns != num_fields
    if not isinstance(features, Tensor):
        raise ValueError(f"features must be a torch tensor, got {type(features).__name__}; use torch.as_tensor(x, dtype=torch.long).")
    if features.dim() != 2 or features.shape[1] != columns:
        if has_bags:
            raise ValueError(
                f"features must have shape (batch, num_columns) = (batch, {columns}): one column per field and "
                f"`slots` columns per multi-valued field; got {tuple(features.shape)}."
            )
        raise ValueError(
            f"features must have shape (batch, num_fields) = (batch, {num_fields}), got {tuple(features.shape)}."
        )
    if features.dtype.is_floating_point or features.dtype.is_complex or features.dtype == torch.bool:
        raise ValueError(f"features must hold integer indices (torch.long), got dtype {features.dtype}.")
    if features.numel() == 0:
        return
    field_of_column = np.repeat(np.arange(num_fields), slots)
    column_sizes = torch.as_tensor(np.repeat(sizes, slots), device=features.device)  # (columns,)
    bad = (features < 0) | (features >= column_sizes)  # (batch, columns)
    if bool(bad.any()):
        row, column = (int(i) for i in bad.nonzero()[0])
        f = int(field_of_column[column])
        value = int(features[row, column])
        raise ValueError(
            f"field {f} holds index {value} (row {row}), outside [0, {sizes[f]}): field {f} has "
            f"{sizes[f]} values. Encode every split with the encoder fitted on the training data, "
            f"which maps unseen values to its out-of-vocabulary index."
        )


def _offsets(field_dims: Sequence[FieldDim]) -> Tensor:
    """Row where each field starts in a shared table: (0, d_0, d_0 + d_1, ...)."""
    sizes, _ = _layout(field_dims)
    return torch.as_tensor(np.concatenate([[0], np.cumsum(sizes)[:-1]]), dtype=torch.long)


def lookup(table: Tensor, rows: Tensor) -> Tensor:
    """``table[rows]``: rows (batch, columns) of a (num_rows, dim) table -> (batch, columns, dim).

    The same numbers as ``nn.Embedding``'s forward and backward, through ``index_select``,
    whose backward (an ``index_add``) is several times faster on a CPU than the sort-based
    embedding backward for the tens of thousands of indices of a CTR batch.
    """
    return table.index_select(0, rows.reshape(-1)).reshape(*rows.shape, table.shape[1])


class _Bags(nn.Module):
    """Row offsets per column and the mean pooling of bag columns, shared by the two layers below.

    With no bag, `rows` is ``features + offsets`` and `pool` returns its input, so single-valued
    fields cost nothing extra.
    """

    column_offsets: Tensor

    def __init__(self, field_dims: tuple[FieldDim, ...]):
        super().__init__()
        sizes, slots = _layout(field_dims)
        self.has_bags = sum(slots) != len(sizes)
        field = np.repeat(np.arange(len(sizes)), slots)
        self.register_buffer("column_offsets", _offsets(field_dims)[torch.as_tensor(field)], persistent=False)
        # Segments of consecutive columns: ("single", start, end) runs of single-valued fields and
        # ("bag", start, end) for each bag, in field order; pooling is one slice or mean per segment.
        self.segments: list[tuple[str, int, int]] = []
        column = 0
        for k in slots:
            if k == 1 and self.segments and self.segments[-1][0] == "single":
                kind, start, _ = self.segments[-1]
                self.segments[-1] = (kind, start, column + 1)
            else:
                self.segments.append(("single" if k == 1 else "bag", column, column + k))
            column += k

    def rows(self, features: Tensor) -> Tensor:
        return features + self.column_offsets  # (batch, columns)

    def pool(self, values: Tensor, features: Tensor) -> Tensor:
        """values (batch, columns, k) -> (batch, num_fields, k): bag columns averaged over their
        non-empty slots (index != 0; zeros when all are empty); single-valued columns passed through."""
        if not self.has_bags:
            return values
        pieces = []
        for kind, start, end in self.segments:
            if kind == "single":
                pieces.append(values[:, start:end])  # (batch, end - start, k)
            else:
                mask = (features[:, start:end] != 0).to(values.dtype)  # (batch, slots)
                total = (values[:, start:end] * mask[:, :, None]).sum(dim=1, keepdim=True)  # (batch, 1, k)
                pieces.append(total / mask.sum(dim=1).clamp(min=1.0)[:, None, None])
        return torch.cat(pieces, dim=1)  # (batch, num_fields, k)


def num_parameters(module: nn.Module) -> int:
    """Number of trainable numbers in `module`: ``sum(p.numel() for p in module.parameters())``."""
    return sum(p.numel() for p in module.parameters())


class FeaturesEmbedding(nn.Module):
    """One embedding table of ``sum(field_dims)`` rows shared by all fields.

    Field ``f``'s value ``x_f`` reads row ``offsets[f] + x_f``, where
    ``offsets = (0, d_0, d_0 + d_1, ...)``: the same result as one-hot encoding every field,
    concatenating the one-hots (a vector of size ``sum(field_dims)`` with ``num_fields`` ones)
    and multiplying by the table, without building the one-hot. One lookup serves all fields,
    which is faster than one table per field (`FieldwiseEmbedding`) when there are many fields.

    A multi-valued field ``(num_values, slots)`` gets ``num_values`` rows like any field, and
    its vector in a row is the mean of the rows of its non-empty slots (see the module docstring).

    Weights start as Normal(0, init_std²), ``init_std = 0.01`` by default.
    forward: features (batch, num_fields) -> (batch, num_fields, dim)
    (with bags: (batch, num_columns) -> (batch, num_fields, dim)).
    """

    offsets: Tensor

    def __init__(self, field_dims: Sequence[FieldDim], dim: int, init_std: float = 0.01):
        super().__init__()
        self.field_dims = _check_field_dims(field_dims)
        self.num_fields = len(self.field_dims)
        self.dim = _check_dim(dim)
        self.embedding = nn.Embedding(sum(_layout(self.field_dims)[0]), self.dim)
        nn.init.normal_(self.embedding.weight, std=init_std)
        self.register_buffer("offsets", _offsets(self.field_dims), persistent=False)
        self.bags = _Bags(self.field_dims)

    @property
    def weight(self) -> Tensor:
        """The shared table, (sum(field_dims), dim)."""
        return self.embedding.weight

    @property
    def num_parameters(self) -> int:
        """``sum(field_dims) * dim``."""
        return num_parameters(self)

    def forward(self, features: Tensor) -> Tensor:
        check_features(features, self.field_dims)
        vectors = lookup(self.embedding.weight, self.bags.rows(features))  # (batch, num_columns, dim)
        return self.bags.pool(vectors, features)  # (batch, num_fields, dim)


class FieldwiseEmbedding(nn.Module):
    """One `nn.Embedding` of ``field_dims[f]`` rows per field, in a `nn.ModuleList`.

    The textbook picture of multi-field embeddings. It computes exactly what `FeaturesEmbedding`
    computes, with the same number of parameters: field ``f``'s table is rows
    ``offsets[f] : offsets[f] + field_dims[f]`` of the shared table (`copy_from` does that copy),
    but it needs one lookup per field.

    Weights start as Normal(0, init_std²). forward: (batch, num_fields) -> (batch, num_fields, dim).
    """

    def __init__(self, field_dims: Sequence[int], dim: int, init_std: float = 0.01):
        super().__init__()
        self.field_dims = _check_field_dims(field_dims)
        if any(isinstance(d, tuple) for d in self.field_dims):
            raise ValueError("FieldwiseEmbedding takes single-valued fields only; use FeaturesEmbedding for multi-valued ones.")
        self.num_fields = len(self.field_dims)
        self.dim = _check_dim(dim)
        self.embeddings = nn.ModuleList(nn.Embedding(d, self.dim) for d in self.field_dims)
        for table in self.embeddings:
            nn.init.normal_(table.weight, std=init_std)

    @property
    def num_parameters(self) -> int:
        """``sum(field_dims) * dim``, as for `FeaturesEmbedding`."""
        return num_parameters(self)

    @torch.no_grad()
    def copy_from(self, shared: FeaturesEmbedding) -> "FieldwiseEmbedding":
        """Copy the weights of a `FeaturesEmbedding` with the same field_dims and dim; returns self."""
        if shared.field_dims != self.field_dims or shared.dim != self.dim:
            raise ValueError(
                f"Cannot copy a table with field_dims={shared.field_dims}, dim={shared.dim} into one with "
                f"field_dims={self.field_dims}, dim={self.dim}."
            )
        for table, block in zip(self.embeddings, torch.split(shared.weight, list(self.field_dims))):
            table.weight.copy_(block)
        return self

    def forward(self, features: Tensor) -> Tensor:
        check_features(features, self.field_dims)
        columns = [table(features[:, f]) for f, table in enumerate(self.embeddings)]  # num_fields x (batch, dim)
        return torch.stack(columns, dim=1)  # (batch, num_fields, dim)


class FeaturesLinear(nn.Module):
    """The linear term of LR and FM: ``b + Σ_f w[offsets[f] + x_f]``.

    One scalar weight per feature value, stored as a one-column table with the same offsets as
    `FeaturesEmbedding`, plus a global bias; a multi-valued field contributes the mean weight of
    its non-empty slots. Weights and bias start at zero.
    forward: features (batch, num_fields) -> (batch,).
    """

    offsets: Tensor

    def __init__(self, field_dims: Sequence[FieldDim]):
        super().__init__()
        self.field_dims = _check_field_dims(field_dims)
        self.num_fields = len(self.field_dims)
        self.weight = nn.Embedding(sum(_layout(self.field_dims)[0]), 1)
        nn.init.zeros_(self.weight.weight)
        self.bias = nn.Parameter(torch.zeros(()))
        self.register_buffer("offsets", _offsets(self.field_dims), persistent=False)
        self.bags = _Bags(self.field_dims)

    def forward(self, features: Tensor) -> Tensor:
        check_features(features, self.field_dims)
        weights = self.bags.pool(lookup(self.weight.weight, self.bags.rows(features)), features).squeeze(-1)  # (batch, num_fields)
        return self.bias + weights.sum(dim=1)  # (batch,)


class MLP(nn.Module):
    """A tower of ``Linear -> [BatchNorm1d] -> ReLU -> [Dropout]`` blocks, one per entry of
    `hidden`, then a final ``Linear(hidden[-1], output_dim)``.

    output_dim: 1 (the default) gives one logit per row, squeezed to shape (batch,); an integer
        above 1 gives (batch, output_dim); None drops the final layer, so the tower returns its
        last hidden layer, (batch, hidden[-1]) (DeepFM and DCN put their own head on it).
    forward: x (batch, input_dim) -> (batch,), (batch, output_dim) or (batch, hidden[-1]).
    `out_features` is the width of the output (1 when it is squeezed).
    """

    def __init__(
        self,
        input_dim: int,
        hidden: Sequence[int] = (64, 32),
        dropout: float = 0.0,
        batch_norm: bool = False,
        output_dim: Optional[int] = 1,
    ):
        super().__init__()
        if int(input_dim) != input_dim or input_dim < 1:
            raise ValueError(f"input_dim must be a positive integer, got {input_dim!r}.")
        hidden = tuple(hidden)
        if any(int(h) != h or h < 1 for h in hidden):
            raise ValueError(f"hidden must hold positive integer layer widths, got {hidden}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout is a probability in [0, 1), got {dropout}.")
        if output_dim is not None and (int(output_dim) != output_dim or output_dim < 1):
            raise ValueError(f"output_dim must be a positive integer or None, got {output_dim!r}.")
        if output_dim is None and not hidden:
            raise ValueError("An MLP with no hidden layers and output_dim=None would return its input unchanged.")
        self.input_dim, self.hidden, self.output_dim = int(input_dim), tuple(int(h) for h in hidden), output_dim
        layers: list[nn.Module] = []
        width = self.input_dim
        for h in self.hidden:
            layers.append(nn.Linear(width, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.ReLU(inplace=True))  # in place: one (batch, h) buffer less per layer
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        if output_dim is not None:
            layers.append(nn.Linear(width, int(output_dim)))
            width = int(output_dim)
        self.layers = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.input_dim:
            raise ValueError(f"MLP expects input of shape (batch, {self.input_dim}), got {tuple(x.shape)}.")
        out = self.layers(x)  # (batch, out_features)
        return out.squeeze(-1) if self.output_dim == 1 else out


class CTRModel(nn.Module):
    """Base class of the CTR models: ``forward(features)`` returns one logit per row.

    ``features`` is a LongTensor (batch, num_fields); the logit s gives the click probability
    σ(s). `loss` is what `recsys_lesson.train.fit` minimises for a batch
    ``{"features": (batch, num_fields), "labels": (batch,)}``: the binary cross-entropy
    ``-[y log σ(s) + (1 - y) log(1 - σ(s))]`` averaged over the batch.
    """

    field_dims: tuple[int, ...]

    @property
    def num_fields(self) -> int:
        return len(self.field_dims)

    @property
    def num_parameters(self) -> int:
        """``sum(p.numel() for p in self.parameters())``."""
        return num_parameters(self)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        if "features" not in batch or "labels" not in batch:
            raise KeyError(f"A CTR batch needs 'features' and 'labels'; this one has {sorted(batch)}.")
        return F.binary_cross_entropy_with_logits(self(batch["features"]), batch["labels"].float())

    @torch.no_grad()
    def predict_logits(self, features: Union[Tensor, np.ndarray], batch_size: int = 65536) -> Tensor:
        """Logits for every row of `features` (batch, num_fields), computed in eval mode in
        chunks of `batch_size` rows on the model's device; a float32 tensor (batch,) on the CPU.

        Apply ``torch.sigmoid`` for click probabilities. The model's train/eval mode is restored.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        if not isinstance(features, Tensor):
            features = np.asarray(features)
            if features.dtype.kind not in "iu":
                raise ValueError(f"features must hold integer indices, got dtype {features.dtype}.")
            features = torch.as_tensor(features, dtype=torch.long)
        param = next(self.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        was_training = self.training
        self.eval()
        try:
            chunks = [
                self(features[start : start + batch_size].to(device)).float().cpu()  # (chunk,)
                for start in range(0, len(features), batch_size)
            ]
        finally:
            self.train(was_training)
        return torch.cat(chunks) if chunks else torch.zeros(0)
