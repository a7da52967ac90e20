"""Raw ids to contiguous indices and back (chapter 1 onwards, before any embedding table).

Embedding tables are indexed 0..num_users-1 and 0..num_items-1, while data sets carry their own
ids (``user_id``, ``item_id``). :class:`IdMap` is one such mapping; :func:`encode_ids` builds the
user and item maps of a data set and adds the index columns ``user`` and ``item``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

_SHOWN = 5  # how many offending values an error message lists


class IdMap:
    """A bijection between the sorted unique raw ids ``values`` and the indices 0..len-1.

    ``values[i]`` is the raw id of index ``i``; build one with :meth:`IdMap.fit`.
    """

    def __init__(self, values: np.ndarray) -> None:
        values = np.asarray(values)
        if values.ndim != 1:
            raise ValueError(f"IdMap values must be 1-D, got shape {values.shape}")
        if len(values) > 1 and not bool(np.all(values[1:] > values[:-1])):
            raise ValueError("IdMap values must be sorted and unique; build it with IdMap.fit")
        self.values = values

    @classmethod
    def fit(cls, values) -> "IdMap":
        """Map the unique values of ``values`` (any 1-D array-like), in sorted order, to 0..n-1."""
        array = np.asarray(values)
        if array.ndim != 1:
            raise ValueError(f"ids must be 1-D, got shape {array.shape}")
        if len(array) and pd.isna(array).any():
            raise ValueError("ids contain missing values (NaN/None); drop or fill them first")
        try:
            return cls(np.unique(array))
        except TypeError as exc:
            raise ValueError(f"ids must be of one comparable type ({exc})") from None

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        if len(self) == 0:
            return "IdMap(0 ids)"
        return f"IdMap({len(self)} ids, {self.values[0]!r}..{self.values[-1]!r})"

    def index(self, ids) -> np.ndarray:
        """Indices (int64, same shape as ``ids``) of raw ``ids``; ValueError naming unknown ids."""
        array = np.asarray(ids)
        flat = array.reshape(-1)
        if len(self) == 0:
            found = np.zeros(len(flat), dtype=bool)
            positions = np.zeros(len(flat), dtype=np.int64)
        else:
            try:
                positions = np.searchsorted(self.values, flat)
                clipped = np.minimum(positions, len(self) - 1)
                found = np.asarray(self.values[clipped] == flat, dtype=bool)
            except TypeError as exc:
                raise ValueError(
                    f"ids of type {array.dtype} cannot be compared with the map's ids of type "
                    f"{self.values.dtype} ({exc})"
                ) from None
            found &= positions < len(self)
        if not found.all():
            unknown = pd.unique(pd.Series(flat[~found]))
            raise ValueError(
                f"{len(unknown)} unknown id(s), not in the map of {len(self)} ids: "
                f"{np.asarray(unknown[:_SHOWN]).tolist()}{' ...' if len(unknown) > _SHOWN else ''}"
            )
        return positions.astype(np.int64).reshape(array.shape)

    def ids(self, indices) -> np.ndarray:
        """Raw ids of ``indices`` (integers in 0..len-1); ValueError for any out of range."""
        array = np.asarray(indices)
        if array.size and not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"indices must be integers, got dtype {array.dtype}")
        array = array.astype(np.int64)
        bad = (array < 0) | (array >= len(self))
        if bad.any():
            wrong = np.unique(array[bad])
            raise ValueError(
                f"{len(wrong)} index value(s) out of range 0..{len(self) - 1}: "
                f"{wrong[:_SHOWN].tolist()}{' ...' if len(wrong) > _SHOWN else ''}"
            )
        return self.values[array]


@dataclass
class Encoded:
    """A data set with contiguous indices: the result of :func:`encode_ids`.

    ``ratings`` is a copy of the input with int64 columns ``user`` and ``item`` added; ``items``
    and ``users`` are copies of the side tables with ``item`` / ``user`` added (None if not given).
    """

    ratings: pd.DataFrame
    user_map: IdMap
    item_map: IdMap
    num_users: int
    num_items: int
    items: Optional[pd.DataFrame] = None
    users: Optional[pd.DataFrame] = None

    def __repr__(self) -> str:
        return (f"Encoded({len(self.ratings)} ratings, num_users={self.num_users}, "
                f"num_items={self.num_items})")


def _require(frame: pd.DataFrame, column: str, what: str) -> None:
    if column not in frame.columns:
        raise ValueError(f"{what} needs a {column!r} column; it has {list(frame.columns)}")


def _fit_table(table: pd.DataFrame, column: str, what: str) -> IdMap:
    _require(table, column, what)
    duplicated = table[column][table[column].duplicated()]
    if len(duplicated):
        shown = np.asarray(pd.unique(duplicated)[:_SHOWN]).tolist()
        raise ValueError(f"{what}.{column} must be unique; repeated ids: {shown}")
    return IdMap.fit(table[column])


def _index(id_map: IdMap, ids: pd.Series, what: str) -> np.ndarray:
    try:
        return id_map.index(ids)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


def encode_ids(
    ratings: pd.DataFrame,
    items: Optional[pd.DataFrame] = None,
    users: Optional[pd.DataFrame] = None,
) -> Encoded:
    """Add contiguous indices: ``user`` in 0..num_users-1 and ``item`` in 0..num_items-1.

    The item map is fitted on ``items.item_id`` when ``items`` is given (so that an item nobody
    rated still gets an index, and every rated item must be listed there), else on the ratings;
    likewise for users. Indices follow the sorted raw ids. The inputs are not modified.
    """
    _require(ratings, "user_id", "ratings")
    _require(ratings, "item_id", "ratings")
    item_map = (_fit_table(items, "item_id", "items") if items is not None
                else IdMap.fit(ratings["item_id"]))
    user_map = (_fit_table(users, "user_id", "users") if users is not None
                else IdMap.fit(ratings["user_id"]))
    encoded = ratings.copy()
    encoded["user"] = _index(user_map, ratings["user_id"], "ratings.user_id")
    encoded["item"] = _index(item_map, ratings["item_id"], "ratings.item_id")
    items_out = None
    if items is not None:
        items_out = items.copy()
        items_out["item"] = item_map.index(items["item_id"])
    users_out = None
    if users is not None:
        users_out = users.copy()
        users_out["user"] = user_map.index(users["user_id"])
    return Encoded(
        ratings=encoded,
        user_map=user_map,
        item_map=item_map,
        num_users=len(user_map),
        num_items=len(item_map),
        items=items_out,
        users=users_out,
    )
