"""Data sets, ids, splits and negative samplers.

- `load_movielens`, `load_adult`: verified loading from the official sources (registry.py,
  download.py) into one documented schema.
- `encode_ids`, `IdMap`: raw ids to contiguous indices and back.
- `random_split`, `leave_one_out_split`, `time_split`, `heldout_user_split`: splits in which no
  interaction lands in two parts (tests prove it). Only `time_split` keeps every training
  interaction before every test one; chapter 7 measures what the others let through.
- `NegativeSampler`, `HardNegativeSampler`, `MixedNegativeSampler`, `sampled_candidates`:
  vectorised negative sampling.
- `make_synthetic`: a generator with known ground truth, for demonstrations and tests only.
"""

from .adult import load_adult
from .download import ChecksumError, DataUnavailableError, UnsafeArchiveError, UnverifiedFileError, data_home, fetch
from .ids import Encoded, IdMap, encode_ids
from .movielens import MovieLens, genre_matrix, load_movielens
from .registry import DATASETS, get_dataset
from .sampling import HardNegativeSampler, MixedNegativeSampler, NegativeSampler, sampled_candidates
from .splits import HeldOutSplit, Split, heldout_user_split, leave_one_out_split, random_split, time_split
from .synthetic import Synthetic, make_synthetic

__all__ = [
    "ChecksumError", "DATASETS", "DataUnavailableError", "Encoded", "HardNegativeSampler", "HeldOutSplit", "IdMap",
    "MixedNegativeSampler", "MovieLens", "NegativeSampler", "Split", "Synthetic", "UnsafeArchiveError", "UnverifiedFileError", "data_home",
    "encode_ids", "fetch", "genre_matrix", "get_dataset", "heldout_user_split", "leave_one_out_split",
    "load_adult", "load_movielens", "make_synthetic", "random_split", "sampled_candidates", "time_split",
]
