"""UCI Adult (Census Income), the tabular data set of the CTR and feature chapters (5 and 6).

:func:`load_adult` fetches and verifies the three official files and returns the training and
test tables with the column names of ``adult.names``:

=====================  =======  =====================================================
column                 dtype    values
=====================  =======  =====================================================
age                    int64    years
workclass              str      e.g. "Private"; NaN where the release has "?"
fnlwgt                 int64    census sampling weight
education              str      e.g. "Bachelors"
education-num          int64    education as a number (1-16)
marital-status         str
occupation             str      NaN where the release has "?"
relationship           str
race                   str
sex                    str      "Male" or "Female"
capital-gain           int64
capital-loss           int64
hours-per-week         int64
native-country         str      NaN where the release has "?"
label                  int64    1 when income is ">50K" (">50K." in adult.test), else 0
=====================  =======  =====================================================

The training table has 32,561 rows (24.1% positive), the test table 16,281 rows (23.6%
positive). ``adult.test`` starts with a comment line ("|1x3 Cross validator"), which is skipped.
Whitespace around values is stripped. String columns have pandas' default string dtype (object
before pandas 3, ``str`` from pandas 3 on).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import pandas as pd

from .download import PathLike, fetch

ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week",
    "native-country",
]
"""The 14 attribute names of ``adult.names``, in file order (the label comes after them)."""

ADULT_NUMERIC = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss",
                 "hours-per-week"]
"""The continuous attributes (int64); every other attribute is categorical (str)."""

_LABELS = {">50K": 1, "<=50K": 0}


def _read_adult(path: Path, skiprows: int) -> pd.DataFrame:
    dtype = {c: (np.int64 if c in ADULT_NUMERIC else str) for c in ADULT_COLUMNS}
    frame = pd.read_csv(
        path, header=None, names=ADULT_COLUMNS + ["income"], skiprows=skiprows,
        skipinitialspace=True, na_values=["?"], keep_default_na=False,
        dtype={**dtype, "income": str},
        quoting=csv.QUOTE_NONE, skip_blank_lines=True, encoding="ascii",
    )
    for column in ADULT_COLUMNS:
        if column not in ADULT_NUMERIC:
            frame[column] = frame[column].str.strip()
    income = frame.pop("income").str.strip().str.rstrip(".")
    unknown = sorted(set(income.dropna()) - set(_LABELS))
    if income.isna().any():
        unknown.append("<missing>")
    if unknown:
        raise ValueError(f"{path}: unexpected income values {unknown}; expected '>50K' or '<=50K'")
    frame["label"] = income.map(_LABELS).astype(np.int64)
    return frame


def load_adult(
    data_home: Optional[PathLike] = None, download: bool = True
) -> Tuple[pd.DataFrame, pd.DataFrame]:
    """Return the Adult (train, test) tables: 14 attributes plus ``label`` (see module docstring).

    The files are found in (or downloaded to) ``<data folder>/adult/`` and verified first; see
    :func:`recsys_lesson.data.download.fetch` for the data folder and the errors it raises.
    """
    folder = fetch("adult", data_home=data_home, download=download)
    train = _read_adult(folder / "adult.data", skiprows=0)
    test = _read_adult(folder / "adult.test", skiprows=1)
    return train, test
