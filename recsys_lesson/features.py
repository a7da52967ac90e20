"""Field specifications and encoders for the CTR models of chapter 5 (and the feature chapter, 6).

A CTR model reads one integer per *field* (`recsys_lesson.models.layers`): a row of a table
becomes a vector of indices, column ``f`` in ``[0, field_dims[f])``. This module turns a
DataFrame into that matrix, with vocabularies fitted on the training part only:

- `Categorical`: a column of discrete values (ids, strings). Values seen at least ``min_count``
  times in training get indices ``1 .. V``; **index 0 is the out-of-vocabulary (OOV) index**,
  shared by values never seen in training and values rarer than ``min_count``. Because rare
  training values land there too, the OOV row of an embedding table is trained and stands for
  "a value we know little about", which is what a new user or item is. A missing value (NaN) is
  the category ``"<missing>"``, which gets its own index when it occurs often enough in training.
- `Numeric`: a number cut into buckets at training quantiles (or at given edges); bucket
  ``b`` gets index ``b + 1``, so index 0 stays free. **Missing values are rejected** with a
  ValueError naming the column, unless ``impute="median"``: then they take the training median
  (computed on the training rows that have a value), a rule applied the same way to every split.
- `MultiHot`: a column of lists (genres). By default it becomes one *multi-valued field* (a
  bag, `recsys_lesson.models.layers`): ``slots`` columns holding the indices ``1 .. V`` of the
  row's labels and 0 in empty slots, with the entry ``(V + 1, slots)`` in ``field_dims``; the
  models average the embeddings of the labels present. With ``bag=False`` it becomes one
  two-valued field per label instead, ``"genres=Action"`` with 0 (absent) and 1 (present).
  Labels never seen in training are ignored.
- `Cross`: the product of two or more fields already defined (education × occupation), itself
  a categorical field with its own training vocabulary and OOV index: the hand-made cross
  features of the "wide" part of Wide & Deep.
- `Hashed`: a discrete column mapped to ``num_buckets`` indices by a hash function instead of a
  vocabulary (the hashing trick, chapter 6): nothing to fit, every value (seen or not) gets a
  bucket, and distinct values may share one. `hashed_index` is the mapping, scikit-learn's
  ``FeatureHasher``; `collision_rate` and `expected_collision_rate` measure and predict sharing.

`FieldEncoder(specs).fit(train)` learns everything from the training frame;
``transform(frame)`` then gives an int64 array (n, num_fields). `coverage_report` gives the
missing rates and the test coverage of a frame's columns, and `reencode_task` re-encodes a CTR
task of `recsys_lesson.ctr_data` with other specifications (chapter 6). The mappings are the ones
scikit-learn's ``OrdinalEncoder(handle_unknown="use_encoded_value")`` and ``MultiLabelBinarizer``
compute (the tests check that), done with pandas hash indices because those two sort or loop
over Python objects and take seconds on 100,000 rows. Bucket edges are NumPy quantiles;
``np.unique`` removes the duplicate edges of heavily tied columns (most capital gains are 0),
where scikit-learn's ``KBinsDiscretizer`` warns and whose quantile rule changed across versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence, Union

import numpy as np
import pandas as pd
from sklearn.feature_extraction import FeatureHasher

from .models.layers import field_columns

if TYPE_CHECKING:  # only for type hints: ctr_data imports this module
    from .ctr_data import CTRTask

MISSING = "<missing>"
"""The category a missing categorical value (NaN/None) becomes before encoding."""


@dataclass(frozen=True)
class Categorical:
    """A discrete column. Values seen fewer than `min_count` times in training, and values never
    seen, share the OOV index 0. `name` is the column and the field's name."""

    name: str
    min_count: int = 1


@dataclass(frozen=True)
class Numeric:
    """A numeric column cut into buckets.

    bins: an integer asks for that many buckets at training quantiles (fewer when the column has
        ties); a sequence gives the inner edges ``e_1 < ... < e_m`` directly, so a value x falls in
        bucket ``#{j : e_j <= x}`` (m + 1 buckets).
    impute: None rejects missing values (a ValueError naming the column); ``"median"`` fills
        them with the training median.
    """

    name: str
    bins: Union[int, Sequence[float]] = 10
    impute: Optional[str] = None


@dataclass(frozen=True)
class MultiHot:
    """A column of lists (or tuples/sets) of labels. Labels with fewer than `min_count` training
    rows are ignored, like labels never seen.

    bag=True: one multi-valued field named `name`, entry ``(V + 1, slots)`` in ``field_dims``;
        each row's labels (in vocabulary order) fill its `slots` columns, 0 marks an empty slot.
        ``slots=None`` takes the most labels of any training row; a row with more labels than
        slots keeps the first `slots` of them in vocabulary order.
    bag=False: one 0/1 field per label, named ``f"{name}={label}"``.
    """

    name: str
    min_count: int = 1
    bag: bool = True
    slots: Optional[int] = None


@dataclass(frozen=True)
class Cross:
    """The cross product of fields defined before it in the same encoder (by name).

    Its value is the tuple of the crossed fields' indices; tuples seen at least `min_count` times
    in training get their own index, every other tuple the OOV index 0. The field is named
    ``"a x b"`` unless `name` is given.
    """

    fields: tuple[str, ...]
    min_count: int = 1
    name: Optional[str] = None

    @property
    def field_name(self) -> str:
        return self.name or " x ".join(self.fields)


@dataclass(frozen=True)
class Hashed:
    """A discrete column hashed into `num_buckets` indices (the hashing trick): value ``v`` gets
    ``hashed_index([v], num_buckets, name)``, an index in ``[0, num_buckets)``. No vocabulary is
    fitted and there is no OOV index: a value never seen in training still gets a bucket, which
    it may share with other values (a collision). Missing values hash as ``"<missing>"``."""

    name: str
    num_buckets: int


Spec = Union[Categorical, Numeric, MultiHot, Cross, Hashed]


def hashed_index(values, num_buckets: int, name: str = "") -> np.ndarray:
    """Bucket of every value, ``|murmurhash3_32(f"{name}={value}", seed=0)| mod num_buckets``:
    the column that scikit-learn's ``FeatureHasher(n_features=num_buckets, input_type="string",
    alternate_sign=False)`` gives the string feature ``f"{name}={value}"`` (just ``str(value)``
    when `name` is empty). Values are turned into text with ``str``, so 12 and 12.0 hash
    differently; NaN/None become ``"<missing>"``. Returns an int64 array in ``[0, num_buckets)``.

    Chapter 6 (the hashing trick): the same value always lands in the same bucket, in training
    and in serving, with no vocabulary to store; two values share a bucket with probability
    1 / num_buckets.
    """
    if isinstance(num_buckets, bool) or int(num_buckets) != num_buckets or num_buckets < 1:
        raise ValueError(f"num_buckets must be a positive integer, got {num_buckets!r}")
    column = _as_categories(pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values)
    prefix = f"{name}=" if name else ""
    strings = [[prefix + str(v)] for v in column.tolist()]
    if not strings:
        return np.zeros(0, dtype=np.int64)
    hasher = FeatureHasher(n_features=int(num_buckets), input_type="string", alternate_sign=False)
    matrix = hasher.transform(strings).tocsr()  # (n, num_buckets), one 1 per row
    matrix.sort_indices()
    return matrix.indices.astype(np.int64)


def collision_rate(buckets) -> float:
    """Share of values whose bucket holds at least one other value, given the bucket of every
    *distinct* value (for example ``hashed_index(np.unique(ids), B)``). Range [0, 1]: 0 when
    every value has a bucket of its own. Chapter 6."""
    buckets = np.asarray(buckets, dtype=np.int64)
    if buckets.ndim != 1 or len(buckets) == 0:
        raise ValueError("collision_rate needs a non-empty 1-d array: the bucket of each distinct value")
    if buckets.min() < 0:
        raise ValueError("buckets must be non-negative indices")
    counts = np.bincount(buckets)
    return float((counts[buckets] > 1).mean())


def expected_collision_rate(num_values: int, num_buckets: int) -> float:
    """The collision rate to expect when `num_values` distinct values fall into `num_buckets`
    buckets independently and uniformly: a value is alone with probability (1 - 1/B)^(n - 1), so

        rate = 1 - (1 - 1 / num_buckets) ** (num_values - 1)  ≈  (num_values - 1) / num_buckets

    for a small rate. Range [0, 1). Chapter 6."""
    if int(num_values) != num_values or num_values < 1:
        raise ValueError(f"num_values must be a positive integer, got {num_values!r}")
    if int(num_buckets) != num_buckets or num_buckets < 1:
        raise ValueError(f"num_buckets must be a positive integer, got {num_buckets!r}")
    return float(1.0 - (1.0 - 1.0 / num_buckets) ** (num_values - 1))


def _require_column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        raise ValueError(f"the frame has no column {name!r}; it has {list(frame.columns)}")
    return frame[name]


def _as_categories(column: pd.Series) -> pd.Series:
    """The column with NaN/None replaced by `MISSING` (other values keep their type)."""
    if not column.isna().any():
        return column
    return column.astype(object).where(column.notna(), MISSING)


def _check_min_count(spec) -> None:
    if int(spec.min_count) != spec.min_count or spec.min_count < 1:
        raise ValueError(f"{spec}: min_count must be a positive integer, got {spec.min_count!r}")


class _Vocabulary:
    """Training values with at least `min_count` rows -> 1..V in sorted order; everything else
    -> 0 (OOV). The same mapping as scikit-learn's ``OrdinalEncoder(handle_unknown=
    "use_encoded_value", unknown_value=-1)`` fitted on the kept values, plus one (the tests
    check it), through a pandas hash index: several times faster on 100,000 strings."""

    def __init__(self, values: pd.Series, min_count: int):
        counts = values.value_counts(sort=False)
        kept = counts.index[counts.to_numpy() >= min_count]
        try:
            kept = kept.sort_values()
        except TypeError:  # values of mixed types: order them by their text
            kept = pd.Index(sorted(kept, key=str), dtype=object)
        self.index = pd.Index(kept)
        self.size = len(self.index) + 1  # + the OOV index 0

    def __call__(self, values: pd.Series) -> np.ndarray:
        return self.index.get_indexer(values).astype(np.int64) + 1  # unknown -1 -> OOV 0


def _bag_columns(multi_hot: np.ndarray, slots: int) -> np.ndarray:
    """(n, V) 0/1 -> (n, slots): the 1-based positions of each row's ones, in order, 0-padded."""
    n, num_labels = multi_hot.shape
    rank = np.cumsum(multi_hot, axis=1) - 1  # slot of each present label in its row
    keep = (multi_hot == 1) & (rank < slots)
    out = np.zeros((n, slots), dtype=np.int64)
    rows, labels = np.nonzero(keep)
    out[rows, rank[rows, labels]] = labels + 1
    return out


class FieldEncoder:
    """Turn a DataFrame into the (n, num_fields) int64 matrix of a CTR model.

    Build it from specifications, `fit` it on the training frame, then `transform` every split::

        encoder = FieldEncoder([Categorical("user_id"), Numeric("age", bins=[18, 25, 35, 45, 50, 56]),
                                MultiHot("genres"), Cross(("user_id", "age"))]).fit(train)
        X_train, X_test = encoder.transform(train), encoder.transform(test)

    After `fit`: ``field_names``, ``field_dims`` (number of indices of each field, OOV
    included; ``(num_values, slots)`` for a multi-valued field, which spans `slots` columns of
    the output) and ``spec_of_field``. Index 0 of a categorical or cross field is its OOV index;
    see the module docstring for every rule.
    """

    def __init__(self, specs: Sequence[Spec]):
        specs = list(specs)
        if not specs:
            raise ValueError("FieldEncoder needs at least one field specification.")
        seen: set[str] = set()
        multi_valued = {spec.name for spec in specs if isinstance(spec, MultiHot)}
        for spec in specs:
            if not isinstance(spec, (Categorical, Numeric, MultiHot, Cross, Hashed)):
                raise ValueError(f"unknown field specification {spec!r}; use Categorical, Numeric, MultiHot, Cross or Hashed")
            if isinstance(spec, Cross):
                if len(spec.fields) < 2:
                    raise ValueError(f"{spec}: a cross needs at least two fields")
                missing = [f for f in spec.fields if f not in seen]
                if missing:
                    raise ValueError(f"{spec}: cross of {missing}, which are not fields defined before it")
                multi = [f for f in spec.fields if f in multi_valued]
                if multi:
                    raise ValueError(f"{spec}: {multi} are multi-valued (MultiHot) fields, which cannot be crossed")
                _check_min_count(spec)
                key = spec.field_name
            else:
                key = spec.name
                if isinstance(spec, (Categorical, MultiHot)):
                    _check_min_count(spec)
                if isinstance(spec, Hashed) and (isinstance(spec.num_buckets, bool) or int(spec.num_buckets) != spec.num_buckets
                                                 or spec.num_buckets < 1):
                    raise ValueError(f"{spec}: num_buckets must be a positive integer")
                if isinstance(spec, MultiHot) and spec.slots is not None and (int(spec.slots) != spec.slots or spec.slots < 1):
                    raise ValueError(f"{spec}: slots must be a positive integer or None")
                if isinstance(spec, Numeric):
                    if spec.impute not in (None, "median"):
                        raise ValueError(f"{spec}: impute must be None (reject missing values) or 'median'")
                    if isinstance(spec.bins, (int, np.integer)) and spec.bins < 1:
                        raise ValueError(f"{spec}: bins must be at least 1")
            if key in seen:
                raise ValueError(f"two specifications define the field {key!r}")
            seen.add(key)
        self.specs = specs
        self.fitted = False

    # ------------------------------------------------------------------ fitting

    def _numeric_values(self, spec: Numeric, frame: pd.DataFrame) -> np.ndarray:
        column = _require_column(frame, spec.name)
        try:
            values = pd.to_numeric(column).to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as error:
            raise ValueError(f"column {spec.name!r} is declared Numeric but holds non-numbers ({error})") from None
        missing = np.isnan(values)
        if missing.any():
            if spec.impute is None:
                raise ValueError(
                    f"column {spec.name!r} has {int(missing.sum())} missing value(s); declare "
                    f"Numeric({spec.name!r}, impute='median') to fill them with the training median, "
                    f"or drop those rows"
                )
            values = np.where(missing, self._state[spec.name]["median"], values)
        return values

    def fit(self, frame: pd.DataFrame) -> "FieldEncoder":
        """Learn vocabularies, bucket edges and medians from the training `frame`; returns self."""
        if len(frame) == 0:
            raise ValueError("cannot fit a FieldEncoder on an empty frame")
        self._state: dict[str, dict] = {}
        self.field_names: list[str] = []
        self.field_dims: list[int] = []
        self.spec_of_field: list[Spec] = []
        encoded: dict[str, np.ndarray] = {}
        for spec in self.specs:
            if isinstance(spec, Categorical):
                values = _as_categories(_require_column(frame, spec.name))
                vocabulary = _Vocabulary(values, spec.min_count)
                self._state[spec.name] = {"vocabulary": vocabulary}
                encoded[spec.name] = vocabulary(values)
                self._add(spec.name, vocabulary.size, spec)
            elif isinstance(spec, Hashed):
                encoded[spec.name] = hashed_index(_require_column(frame, spec.name), spec.num_buckets, spec.name)
                self._state[spec.name] = {}
                self._add(spec.name, int(spec.num_buckets), spec)
            elif isinstance(spec, Numeric):
                column = pd.to_numeric(_require_column(frame, spec.name), errors="coerce")
                observed = column.dropna().to_numpy(dtype=np.float64)
                if len(observed) == 0:
                    raise ValueError(f"column {spec.name!r} has no values in the training frame")
                self._state[spec.name] = {"median": float(np.median(observed))}
                values = self._numeric_values(spec, frame)
                if isinstance(spec.bins, (int, np.integer)):
                    quantiles = np.quantile(observed, np.linspace(0, 1, int(spec.bins) + 1)[1:-1])
                    edges = np.unique(quantiles)
                else:
                    edges = np.asarray(spec.bins, dtype=np.float64)
                    if edges.ndim != 1 or np.any(np.diff(edges) <= 0):
                        raise ValueError(f"{spec}: bin edges must be a strictly increasing list of numbers")
                self._state[spec.name]["edges"] = edges
                encoded[spec.name] = np.searchsorted(edges, values, side="right").astype(np.int64) + 1
                self._add(spec.name, len(edges) + 2, spec)  # len(edges) + 1 buckets, index 0 unused
            elif isinstance(spec, MultiHot):
                rows, labels_of_rows = self._exploded(spec, frame)
                pairs = pd.DataFrame({"row": rows, "label": labels_of_rows}).drop_duplicates()
                counts = pairs["label"].value_counts()
                labels = sorted(counts.index[counts.to_numpy() >= spec.min_count], key=str)
                self._state[spec.name] = {"labels": pd.Index(labels, dtype=object)}
                if spec.bag:
                    kept = pairs[pairs["label"].isin(labels)]
                    most = int(kept["row"].value_counts().max()) if len(kept) else 1
                    slots = int(spec.slots) if spec.slots is not None else most
                    self._state[spec.name]["slots"] = slots
                    self._add(spec.name, (len(labels) + 1, slots), spec)
                else:
                    for label in labels:
                        self._add(f"{spec.name}={label}", 2, spec)
            else:
                keys = self._cross_keys(spec, encoded)
                vocabulary = _Vocabulary(keys, spec.min_count)
                self._state[spec.field_name] = {"vocabulary": vocabulary}
                encoded[spec.field_name] = vocabulary(keys)
                self._add(spec.field_name, vocabulary.size, spec)
        self.fitted = True
        return self

    def _add(self, name: str, size, spec: Spec) -> None:
        self.field_names.append(name)
        self.field_dims.append(size if isinstance(size, tuple) else int(size))
        self.spec_of_field.append(spec)

    @staticmethod
    def _exploded(spec: MultiHot, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(row position, label) for every label of every row; None/NaN count as no label."""
        column = _require_column(frame, spec.name)
        is_list = column.map(lambda v: isinstance(v, (list, tuple, set, frozenset, np.ndarray))).to_numpy(dtype=bool)
        bad = ~is_list & column.notna().to_numpy(dtype=bool)
        if bad.any():
            value = column.iloc[int(np.flatnonzero(bad)[0])]
            raise ValueError(f"column {spec.name!r} is declared MultiHot, so each value must be a list of labels; got {value!r}")
        exploded = column.reset_index(drop=True).explode().dropna()
        return exploded.index.to_numpy(dtype=np.int64), exploded.to_numpy(dtype=object)

    def _cross_keys(self, spec: Cross, encoded: dict[str, np.ndarray]) -> np.ndarray:
        """One int64 key per row: the mixed-radix number of the crossed indices."""
        key = np.zeros(len(encoded[spec.fields[0]]), dtype=np.int64)
        for name in spec.fields:
            size = self.field_dims[self.field_names.index(name)]
            key = key * size + encoded[name]
        return pd.Series(key)

    # ------------------------------------------------------------------ transforming

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode `frame` with what `fit` learned: an int64 array (len(frame), num_columns), one
        column per field and `slots` columns per multi-valued field."""
        if not self.fitted:
            raise ValueError("this FieldEncoder is not fitted yet: call fit(train_frame) first")
        columns: list[np.ndarray] = []
        encoded: dict[str, np.ndarray] = {}
        for spec in self.specs:
            if isinstance(spec, Categorical):
                values = self._state[spec.name]["vocabulary"](_as_categories(_require_column(frame, spec.name)))
                encoded[spec.name] = values
                columns.append(values[:, None])
            elif isinstance(spec, Hashed):
                values = hashed_index(_require_column(frame, spec.name), spec.num_buckets, spec.name)
                encoded[spec.name] = values
                columns.append(values[:, None])
            elif isinstance(spec, Numeric):
                values = self._numeric_values(spec, frame)
                buckets = np.searchsorted(self._state[spec.name]["edges"], values, side="right").astype(np.int64) + 1
                encoded[spec.name] = buckets
                columns.append(buckets[:, None])
            elif isinstance(spec, MultiHot):
                labels = self._state[spec.name]["labels"]
                rows, labels_of_rows = self._exploded(spec, frame)
                position = labels.get_indexer(labels_of_rows)  # -1: a label unseen in training, ignored
                multi_hot = np.zeros((len(frame), len(labels)), dtype=np.int64)
                multi_hot[rows[position >= 0], position[position >= 0]] = 1
                if spec.bag:
                    columns.append(_bag_columns(multi_hot, self._state[spec.name]["slots"]))
                else:
                    columns.append(multi_hot)
            else:
                values = self._state[spec.field_name]["vocabulary"](self._cross_keys(spec, encoded))
                encoded[spec.field_name] = values
                columns.append(values[:, None])
        out = np.concatenate(columns, axis=1) if columns else np.zeros((len(frame), 0), dtype=np.int64)
        return np.ascontiguousarray(out, dtype=np.int64)  # (n, num_columns)

    def fit_transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.fit(frame).transform(frame)

    # ------------------------------------------------------------------ reading

    @property
    def num_fields(self) -> int:
        return len(self.field_names)

    def columns(self, fields: Sequence[int]) -> list[int]:
        """The output columns of the fields at positions `fields` (a bag spans several)."""
        layout = field_columns(self.field_dims)
        return [c for f in fields for c in layout[f]]

    def fields(self, *names: str) -> list[int]:
        """Positions of the named fields (in ``field_names``); a MultiHot name with ``bag=False``
        stands for all of its 0/1 fields. `columns` turns field positions into output columns."""
        if not self.fitted:
            raise ValueError("this FieldEncoder is not fitted yet: call fit(train_frame) first")
        out: list[int] = []
        for name in names:
            hits = [f for f, field in enumerate(self.field_names)
                    if field == name or (isinstance(self.spec_of_field[f], MultiHot) and self.spec_of_field[f].name == name)]
            if not hits:
                raise ValueError(f"no field named {name!r}; the fields are {self.field_names}")
            out.extend(hits)
        return out

    def decode(self, name: str, indices) -> np.ndarray:
        """The training values behind indices of the Categorical field `name` (an object array;
        None for the OOV index 0)."""
        spec = self.spec_of_field[self.fields(name)[0]]
        if not isinstance(spec, Categorical):
            raise ValueError(f"decode works on Categorical fields; {name!r} is {type(spec).__name__}")
        values = np.concatenate([[None], self._state[name]["vocabulary"].index.to_numpy(dtype=object)])
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= len(values)):
            raise ValueError(f"indices of field {name!r} lie in [0, {len(values)}), got {indices.min()}..{indices.max()}")
        return values[indices]

    def vocabulary_size(self, name: str) -> int:
        """Number of indices of field `name` (OOV included; for a bag, its number of values)."""
        size = self.field_dims[self.fields(name)[0]]
        return size[0] if isinstance(size, tuple) else size

    def __repr__(self) -> str:
        state = f"{self.num_fields} fields" if self.fitted else "not fitted"
        return f"FieldEncoder({len(self.specs)} specifications, {state})"


# ---------------------------------------------------------------------------- reports and re-encoding


def _is_list(value) -> bool:
    return isinstance(value, (list, tuple, set, frozenset, np.ndarray))


def coverage_report(train: pd.DataFrame, test: pd.DataFrame, columns: Optional[Sequence[str]] = None,
                    numeric: Sequence[str] = ()) -> pd.DataFrame:
    """The data-quality table of chapter 6, one row per column of `train` (or per name in `columns`):

    - ``kind``: ``numeric`` for the columns named in `numeric`, ``multi-valued`` for a column of
      lists, ``categorical`` for every other column (ids stored as integers are categories);
    - ``distinct (train)``: distinct non-missing training values (labels, for lists);
    - ``top share %``: share of training rows holding the most frequent value (a column that is
      nearly constant carries little);
    - ``missing train %`` / ``missing test %``: rows without a value (NaN/None; an empty list
      counts as missing);
    - ``test coverage %``: test rows whose value the training data knows: a categorical value
      seen in training, every label of a list seen in training, a number inside the training
      range [min, max]. A missing value is not covered.

    Every share is a percentage of the rows of its part.
    """
    if len(train) == 0 or len(test) == 0:
        raise ValueError("coverage_report needs non-empty training and test frames")
    columns = list(train.columns) if columns is None else list(columns)
    unknown = [name for name in numeric if name not in columns]
    if unknown:
        raise ValueError(f"numeric names columns that are not reported: {unknown}; the columns are {columns}")
    rows = []
    for name in columns:
        a, b = _require_column(train, name), _require_column(test, name)
        listed = a.map(_is_list).to_numpy(dtype=bool)
        if listed.any():
            kind = "multi-valued"
            missing_a = a.map(lambda v: not _is_list(v) or len(v) == 0).to_numpy(dtype=bool)
            missing_b = b.map(lambda v: not _is_list(v) or len(v) == 0).to_numpy(dtype=bool)
            exploded = a[~missing_a].explode()
            known = set(exploded.tolist())
            counts = a[~missing_a].map(lambda v: tuple(sorted(map(str, v)))).value_counts()
            distinct = len(known)
            covered = b.map(lambda v: _is_list(v) and len(v) > 0 and all(x in known for x in v)).to_numpy(dtype=bool)
        elif name in numeric:
            kind = "numeric"
            missing_a, missing_b = a.isna().to_numpy(), b.isna().to_numpy()
            observed = pd.to_numeric(a[~missing_a])
            counts = observed.value_counts()
            distinct = int(observed.nunique())
            low, high = (observed.min(), observed.max()) if len(observed) else (np.inf, -np.inf)
            values = pd.to_numeric(b, errors="coerce")
            covered = ((values >= low) & (values <= high)).to_numpy(dtype=bool) & ~missing_b
        else:
            kind = "categorical"
            missing_a, missing_b = a.isna().to_numpy(), b.isna().to_numpy()
            counts = a[~missing_a].value_counts()
            distinct = len(counts)
            covered = b.isin(counts.index).to_numpy(dtype=bool) & ~missing_b
        rows.append({
            "column": name, "kind": kind, "distinct (train)": distinct,
            "top share %": 100 * (counts.iloc[0] / len(a) if len(counts) else 0.0),
            "missing train %": 100 * missing_a.mean(), "missing test %": 100 * missing_b.mean(),
            "test coverage %": 100 * covered.mean(),
        })
    return pd.DataFrame(rows).set_index("column")


def reencode_task(task: "CTRTask", specs: Sequence[Spec], name: Optional[str] = None) -> "CTRTask":
    """The CTR `task` (`recsys_lesson.ctr_data`) with its three parts encoded anew: a
    `FieldEncoder` of `specs` fitted on the task's training frame, the same rows and labels.

    Every new field is a base field (no wide-only crosses); ``user_field``/``item_field`` point
    at the fields named ``"user_id"``/``"item_id"`` when there are such fields. The user history
    is dropped (its indices belong to the old item vocabulary). Chapter 6 uses it to compare
    encodings (minimum counts, hashing, extra columns) under the same split.
    """
    from .ctr_data import CTRPart, CTRTask  # ctr_data imports this module

    encoder = FieldEncoder(specs).fit(task.train.frame)
    parts = [CTRPart(encoder.transform(p.frame), p.labels, None, p.frame) for p in (task.train, task.valid, task.test)]
    position = {field: f for f, field in enumerate(encoder.field_names)}
    return CTRTask(name or task.name, encoder, *parts, base_fields=list(range(encoder.num_fields)),
                   user_field=position.get("user_id"), item_field=position.get("item_id"), protocol=task.protocol)
