"""Field encoders against scikit-learn and hand-made examples: vocabularies fitted on training
only, the out-of-vocabulary index, buckets, the missing-value rule, multi-hot bags and crosses;
and the CTR tasks' history and time split."""

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import MultiLabelBinarizer, OrdinalEncoder

from recsys_lesson.ctr_data import previous_items
from recsys_lesson.features import MISSING, Categorical, Cross, FieldEncoder, MultiHot, Numeric


def frame():
    return pd.DataFrame({
        "user_id": [10, 11, 10, 12, 10, 11],
        "city": ["b", "a", "b", None, "c", "a"],
        "age": [20.0, 35.0, 50.0, 61.0, 20.0, 35.0],
        "genres": [["Drama"], ["Comedy", "Drama"], [], ["Action", "Comedy", "Drama"], ["Comedy"], ["Drama"]],
    })


def test_categorical_matches_ordinal_encoder_plus_one_with_oov_zero():
    train = frame()
    test = pd.DataFrame({"user_id": [12, 99, 10, 11]})
    encoder = FieldEncoder([Categorical("user_id")]).fit(train)
    reference = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1).fit(train[["user_id"]])
    expected = reference.transform(test[["user_id"]])[:, 0].astype(int) + 1
    assert encoder.transform(test)[:, 0].tolist() == expected.tolist() == [3, 0, 1, 2]
    assert encoder.field_dims == [4]  # three ids + the OOV index


def test_min_count_sends_rare_training_values_to_oov():
    encoder = FieldEncoder([Categorical("user_id", min_count=2)]).fit(frame())
    # 10 appears 3 times, 11 twice, 12 once: only 10 and 11 keep an index.
    assert encoder.field_dims == [3]
    assert encoder.transform(pd.DataFrame({"user_id": [10, 11, 12, 13]}))[:, 0].tolist() == [1, 2, 0, 0]


def test_missing_category_is_its_own_value_when_seen_in_training():
    encoder = FieldEncoder([Categorical("city")]).fit(frame())
    assert encoder.field_dims == [5]  # <missing>, a, b, c + OOV
    out = encoder.transform(pd.DataFrame({"city": [None, "a", "zzz"]}))[:, 0]
    assert out[0] > 0 and out[1] > 0 and out[2] == 0
    assert MISSING == "<missing>"


def test_numeric_buckets_at_given_edges_and_at_quantiles():
    encoder = FieldEncoder([Numeric("age", bins=[25, 40, 60])]).fit(frame())
    ages = pd.DataFrame({"age": [10.0, 25.0, 39.9, 40.0, 60.0, 99.0]})
    # bucket b = number of edges <= x, index b + 1
    assert encoder.transform(ages)[:, 0].tolist() == [1, 2, 2, 3, 4, 4]
    assert encoder.field_dims == [5]
    values = pd.DataFrame({"age": np.arange(100, dtype=float)})
    quartiles = FieldEncoder([Numeric("age", bins=4)]).fit(values)
    counts = np.bincount(quartiles.transform(values)[:, 0])
    assert counts.tolist() == [0, 25, 25, 25, 25]


def test_tied_quantiles_collapse_into_fewer_buckets():
    gains = pd.DataFrame({"gain": [0.0] * 90 + list(np.arange(1.0, 11.0))})
    encoder = FieldEncoder([Numeric("gain", bins=10)]).fit(gains)
    assert encoder.field_dims[0] < 12
    out = encoder.transform(gains)[:, 0]
    assert len(set(out[:90])) == 1 and out[-1] > out[0]


def test_missing_numbers_are_rejected_with_the_column_name_or_imputed_by_the_median():
    train = pd.DataFrame({"year": [1990.0, np.nan, 1994.0, 1996.0]})
    with pytest.raises(ValueError, match=r"column 'year' has 1 missing value.*impute='median'"):
        FieldEncoder([Numeric("year", bins=[1993])]).fit(train)
    encoder = FieldEncoder([Numeric("year", bins=[1993, 1995], impute="median")]).fit(train)
    # the median of the observed 1990, 1994, 1996 is 1994 -> bucket 1 -> index 2
    assert encoder.transform(pd.DataFrame({"year": [np.nan, 1994.0]}))[:, 0].tolist() == [2, 2]
    strict = FieldEncoder([Numeric("year", bins=[1993])]).fit(pd.DataFrame({"year": [1990.0, 1994.0]}))
    with pytest.raises(ValueError, match="column 'year' has 1 missing"):
        strict.transform(pd.DataFrame({"year": [np.nan]}))
    with pytest.raises(ValueError, match="non-numbers"):
        strict.transform(pd.DataFrame({"year": ["nineteen"]}))


def test_multi_hot_indicators_match_multilabel_binarizer():
    train = frame()
    encoder = FieldEncoder([MultiHot("genres", bag=False)]).fit(train)
    assert encoder.field_names == ["genres=Action", "genres=Comedy", "genres=Drama"]
    reference = MultiLabelBinarizer(classes=["Action", "Comedy", "Drama"]).fit(train["genres"])
    assert np.array_equal(encoder.transform(train), reference.transform(train["genres"]))
    unseen = encoder.transform(pd.DataFrame({"genres": [["Western", "Drama"]]}))
    assert unseen.tolist() == [[0, 0, 1]]  # an unseen label is ignored


def test_multi_hot_bag_fills_slots_in_vocabulary_order():
    train = frame()
    encoder = FieldEncoder([MultiHot("genres")]).fit(train)
    assert encoder.field_dims == [(4, 3)]  # Action, Comedy, Drama + the empty index; 3 labels at most
    out = encoder.transform(train)
    assert out.tolist() == [[3, 0, 0], [2, 3, 0], [0, 0, 0], [1, 2, 3], [2, 0, 0], [3, 0, 0]]
    two = FieldEncoder([MultiHot("genres", slots=2)]).fit(train)
    assert two.transform(train)[3].tolist() == [1, 2]  # more labels than slots: the first ones
    with pytest.raises(ValueError, match="list of labels"):
        encoder.transform(pd.DataFrame({"genres": ["Drama"]}))


def test_cross_gets_its_own_vocabulary_and_oov():
    train = pd.DataFrame({"a": ["x", "x", "y", "y", "x"], "b": ["p", "q", "p", "p", "p"]})
    encoder = FieldEncoder([Categorical("a"), Categorical("b"), Cross(("a", "b"), min_count=2)]).fit(train)
    assert encoder.field_names == ["a", "b", "a x b"]
    crossed = encoder.transform(pd.DataFrame({"a": ["x", "y", "x", "z"], "b": ["p", "p", "q", "p"]}))[:, 2]
    # (x, p) and (y, p) occur twice in training; (x, q) once; (z, p) has an OOV part
    assert crossed[0] > 0 and crossed[1] > 0 and crossed[0] != crossed[1]
    assert crossed[2] == 0 and crossed[3] == 0
    assert encoder.field_dims[2] == 3


def test_columns_and_fields_lookups():
    encoder = FieldEncoder([Categorical("user_id"), MultiHot("genres"), Numeric("age", bins=[30])]).fit(frame())
    assert encoder.fields("age") == [2]
    assert encoder.columns([1, 2]) == [1, 2, 3, 4]  # the bag spans columns 1-3
    assert encoder.transform(frame()).shape == (6, 5)
    with pytest.raises(ValueError, match="no field named 'zip'"):
        encoder.fields("zip")


def test_bad_specifications_and_use_before_fit():
    with pytest.raises(ValueError, match="not fields defined before it"):
        FieldEncoder([Cross(("a", "b")), Categorical("a"), Categorical("b")])
    with pytest.raises(ValueError, match="cannot be crossed"):
        FieldEncoder([MultiHot("genres"), Categorical("a"), Cross(("genres", "a"))])
    with pytest.raises(ValueError, match="min_count"):
        FieldEncoder([Categorical("a", min_count=0)])
    with pytest.raises(ValueError, match="impute"):
        FieldEncoder([Numeric("a", impute="mean")])
    with pytest.raises(ValueError, match="two specifications"):
        FieldEncoder([Categorical("a"), Categorical("a")])
    with pytest.raises(ValueError, match="not fitted"):
        FieldEncoder([Categorical("a")]).transform(frame())
    with pytest.raises(ValueError, match="no column 'zip'"):
        FieldEncoder([Categorical("zip")]).fit(frame())
    with pytest.raises(ValueError, match="empty"):
        FieldEncoder([Categorical("a")]).fit(pd.DataFrame({"a": []}))


def slow_previous_items(users, timestamps, items, length):
    out = np.zeros((len(users), length), dtype=np.int64)
    for r in range(len(users)):
        earlier = [(timestamps[s], items[s]) for s in range(len(users)) if users[s] == users[r] and timestamps[s] < timestamps[r]]
        earlier = [item for _, item in sorted(earlier)][-length:]
        out[r, length - len(earlier):] = earlier
    return out


def test_previous_items_equals_the_slow_definition_and_ignores_same_second_rows():
    rng = np.random.default_rng(0)
    n = 60
    users = rng.integers(0, 4, n)
    timestamps = rng.integers(0, 15, n)  # many ties
    items = rng.permutation(n) + 1  # distinct items, so the ordering is unambiguous
    fast = previous_items(users, timestamps, items, length=5)
    assert np.array_equal(fast, slow_previous_items(users, timestamps, items, 5))
    worked = previous_items([0, 0, 0, 1], [5, 1, 5, 1], [7, 8, 9, 4], length=2)
    assert worked.tolist() == [[0, 8], [0, 0], [0, 8], [0, 0]]
    with pytest.raises(ValueError, match="length"):
        previous_items([0], [0], [1], length=0)


def test_decode_maps_indices_back_to_training_values():
    encoder = FieldEncoder([Categorical("user_id"), MultiHot("genres")]).fit(frame())
    assert encoder.decode("user_id", [0, 1, 3]).tolist() == [None, 10, 12]
    with pytest.raises(ValueError, match="Categorical"):
        encoder.decode("genres", [0])
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        encoder.decode("user_id", [4])
