import math

import numpy as np
import pytest
import torch

from graders.sandbox.values import ValueTooLarge, decode, encode


def test_tensors_arrays_and_nested_values_survive_the_round_trip():
    value = {"w": torch.tensor([[1.5, -2.0]]), "n": np.int64(3), "pair": (True, "relu"), "none": None}
    back = decode(encode(value))
    assert back["w"].dtype == np.float64 and back["w"].tolist() == [[1.5, -2.0]]
    assert back["n"] == 3 and back["pair"] == [True, "relu"] and back["none"] is None


def test_nan_and_infinity_are_kept_without_breaking_json():
    back = decode(encode([float("nan"), float("inf"), np.array([-np.inf])]))
    assert math.isnan(back[0]) and back[1] == math.inf and back[2][0] == -np.inf


def test_decode_rejects_anything_that_is_not_plain_data():
    for bad in ({"__array__": [1, 2], "dtype": "object", "shape": [2]},
                {"__array__": [1, 2, 3], "dtype": "float64", "shape": [2]},
                {"something": 1}):
        with pytest.raises(ValueError):
            decode(bad)


def test_huge_arrays_are_refused_by_the_probe():
    with pytest.raises(ValueTooLarge):
        encode(np.zeros(2_000_001))


def test_unprobeable_objects_are_refused():
    with pytest.raises(TypeError):
        encode(object())
