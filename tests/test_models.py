"""nabla.models: builders that record their architecture, and rebuilding from it."""

from __future__ import annotations

import json

import numpy as np
import pytest

import nabla
from nabla import models, nn


def test_mlp_layers_and_shapes():
    m = models.mlp(64, hidden=(128, 64), out_features=10)
    linears = [layer for layer in m if isinstance(layer, nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [(64, 128), (128, 64), (64, 10)]
    assert isinstance(m[0], nn.Flatten) and isinstance(m[2], nn.ReLU)
    assert m(nabla.zeros(3, 1, 8, 8)).shape == (3, 10)  # images are flattened
    assert m(nabla.zeros(3, 64)).shape == (3, 10)


@pytest.mark.parametrize("name,cls", [("relu", nn.ReLU), ("tanh", nn.Tanh),
                                      ("sigmoid", nn.Sigmoid), ("gelu", nn.GELU),
                                      ("leaky_relu", nn.LeakyReLU), ("silu", nn.SiLU)])
def test_mlp_activations(name, cls):
    m = models.mlp(2, hidden=(3, 3), out_features=1, activation=name)
    assert sum(isinstance(layer, cls) for layer in m) == 2


def test_mlp_dropout_and_no_hidden_layers():
    m = models.mlp(4, hidden=(8,), out_features=2, dropout=0.5)
    assert any(isinstance(layer, nn.Dropout) for layer in m)
    m = models.mlp(4, hidden=(), out_features=2)
    assert [type(layer) for layer in m] == [nn.Flatten, nn.Linear]


@pytest.mark.parametrize("kwargs,message", [
    ({"hidden": (0,)}, "each hidden width must be a positive integer"),
    ({"hidden": (3.5,)}, "each hidden width"),
    ({"out_features": 0}, "out_features"),
    ({"activation": "swishy"}, "unknown activation 'swishy'"),
    ({"dropout": 1.0}, "dropout"),
])
def test_mlp_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.mlp(4, **kwargs)


def test_perceptron():
    p = models.perceptron(64, 10)
    assert [type(layer) for layer in p] == [nn.Flatten, nn.Linear]
    assert p(nabla.zeros(2, 1, 8, 8)).shape == (2, 10)
    assert models.perceptron(3)._nabla_arch == {
        "builder": "perceptron", "kwargs": {"in_features": 3, "out_features": 1}}


def test_architecture_record_is_json_and_rebuilds_the_same_model():
    nabla.manual_seed(0)
    m = models.mlp(5, hidden=[7], out_features=2, activation="tanh")
    arch = m._nabla_arch
    assert arch == json.loads(json.dumps(arch))  # plain data: tuples stored as lists
    assert arch == {"builder": "mlp", "kwargs": {"in_features": 5, "hidden": [7],
                                                 "out_features": 2, "activation": "tanh",
                                                 "dropout": 0.0}}
    again = models.build(json.loads(json.dumps(arch)))
    assert again._nabla_arch == arch
    assert [k for k in again.state_dict()] == [k for k in m.state_dict()]
    assert all(a.shape == b.shape for a, b in zip(again.state_dict().values(),
                                                   m.state_dict().values()))


def test_build_refuses_what_is_not_registered():
    with pytest.raises(KeyError, match="unknown model builder 'eval'"):
        models.build({"builder": "eval", "kwargs": {}})
    with pytest.raises(ValueError, match="'builder' name"):
        models.build(["mlp"])
    with pytest.raises(ValueError, match="must be a dict"):
        models.build({"builder": "mlp", "kwargs": [1]})
    with pytest.raises(TypeError):
        models.build({"builder": "mlp", "kwargs": {"in_features": 3, "colour": "red"}})


def test_register_records_non_json_arguments_as_an_error():
    @models.register("_test_builder")
    def builder(obj=None):
        return nn.Linear(1, 1)

    try:
        assert builder()._nabla_arch == {"builder": "_test_builder", "kwargs": {"obj": None}}
        with pytest.raises(TypeError, match="plain data"):
            builder(obj=object())
        assert "_test_builder" in models.available()
    finally:
        models._BUILDERS.pop("_test_builder")


def test_builders_are_seeded_by_the_global_generator():
    nabla.manual_seed(3)
    a = models.mlp(4, hidden=(5,), out_features=2)
    nabla.manual_seed(3)
    b = models.mlp(4, hidden=(5,), out_features=2)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and np.array_equal(va.numpy(), vb.numpy())
