"""The course examples in examples/: each runs in quick mode and must reproduce the
numbers the course states, checked against the course's values or an independent
NumPy computation (never against nabla's own output alone), and write its picture."""

from __future__ import annotations

import importlib.util
import itertools
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
COURSE = sorted(EXAMPLES.glob("[0-9][0-9]_*.py"))


def load(stem: str):
    path = EXAMPLES / f"{stem}.py"
    spec = importlib.util.spec_from_file_location(f"example_{stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_results: dict = {}


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pictures")


def run(stem: str, out_dir: Path, **kwargs) -> dict:
    """Run an example's quick mode once per test session (several tests share it)."""
    if stem not in _results:
        _results[stem] = load(stem).main(quick=True, out_dir=out_dir, **kwargs)
    return _results[stem]


def assert_png(path: Path) -> None:
    assert path.is_file(), f"{path.name} was not written"
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


# -- the scripts' shape -----------------------------------------------------------------

def test_there_are_eleven_course_examples():
    assert [p.name[:2] for p in COURSE] == [f"{i:02d}" for i in range(1, 12)]


@pytest.mark.parametrize("path", COURSE, ids=lambda p: p.stem)
def test_example_shape(path):
    source = path.read_text()
    module = load(path.stem)
    assert module.__doc__ and len(module.__doc__.split()) > 30, "needs a teaching docstring"
    assert callable(module.main)
    assert 'if __name__ == "__main__":' in source
    assert "--quick" in source and "--out" in source
    assert "import torch" not in source and "pickle" not in source


def test_command_line_writes_the_picture(tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "01_perceptron_decisions.py"), "--quick",
         "--out", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "output 1" in result.stdout
    assert_png(tmp_path / "01_perceptron_decisions.png")


# -- 01 perceptron decisions ------------------------------------------------------------

def test_01_weighted_evidence_follows_the_middle_input(out_dir):
    r = run("01_perceptron_decisions", out_dir)
    inputs = list(itertools.product([0, 1], repeat=3))
    assert sorted(map(tuple, r["inputs"])) == sorted(inputs)  # all 8 binary inputs
    for x, decision in zip(r["inputs"], r["decisions"]):
        assert decision == x[1], f"input {x}: expected the middle input"
        assert decision == int(2 * x[0] + 6 * x[1] + 2 * x[2] > 5)
    assert r["follows_middle_input"] is True
    assert r["threshold"] == 5


def test_01_surfing_decision(out_dir):
    r = run("01_perceptron_decisions", out_dir)
    assert r["surf_z"] == pytest.approx(5 * 1 + 2 * 0 + 4 * 1 - 3) == 6
    assert r["surf_output"] == 1
    assert_png(out_dir / "01_perceptron_decisions.png")


# -- 02 perceptron learning -------------------------------------------------------------

@pytest.mark.parametrize("gate,truth", [("AND", [0, 0, 0, 1]), ("OR", [0, 1, 1, 1])])
def test_02_rule_learns_linearly_separable_gates(out_dir, gate, truth):
    r = run("02_perceptron_learning", out_dir)[gate]
    assert r["converged"] is True and r["linearly_separable"] is True
    assert r["predictions"] == truth
    # The learned line separates the truth table, checked independently.
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    assert ((X @ np.array(r["weights"]) + r["bias"] > 0).astype(int) == truth).all()


def test_02_rule_fails_on_xor_and_a_hidden_layer_solves_it(out_dir):
    r = run("02_perceptron_learning", out_dir)
    assert r["XOR"]["converged"] is False
    assert r["XOR"]["linearly_separable"] is False and r["XOR"]["cycled"] is True
    assert r["XOR"]["predictions"] != [0, 1, 1, 0]
    assert r["XOR_mlp"]["predictions"] == [0, 1, 1, 0]
    assert r["XOR_mlp"]["accuracy"] == 1.0
    assert_png(out_dir / "02_perceptron_learning.png")


# -- 03 sigmoid neuron ------------------------------------------------------------------

def test_03_sigmoid_values_and_saturation(out_dir):
    r = run("03_sigmoid_neuron", out_dir)
    assert r["sigma0"] == 0.5
    assert r["sigma10"] > 0.9999 and r["sigma_minus10"] < 1e-4
    assert r["sigma10"] == pytest.approx(1 / (1 + math.exp(-10)), rel=1e-12)
    assert_png(out_dir / "03_sigmoid_neuron.png")


def test_03_small_weight_change_small_output_change(out_dir):
    r = run("03_sigmoid_neuron", out_dir)
    sigma = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    expected = sigma(r["z"] + r["dw"] * r["x1"]) - sigma(r["z"])
    assert r["delta_sigmoid"] == pytest.approx(expected, rel=1e-9)
    assert r["bound"] == pytest.approx(0.01 * abs(r["x1"]) * 0.25)
    assert 0 < r["delta_sigmoid"] <= r["bound"]
    assert r["first_order_estimate"] == pytest.approx(expected, rel=1e-3)
    # The perceptron with the same weights flips its whole output.
    assert (r["step_before"], r["step_after"]) == (0, 1)


# -- 04 scalar backprop -----------------------------------------------------------------

def test_04_expression_gradients_match_the_course(out_dir):
    r = run("04_scalar_backprop", out_dir)
    assert r["L"] == -8.0
    course = {"a": 6.0, "b": -4.0, "c": -2.0, "e": -2.0, "d": -2.0, "f": 4.0}
    assert r["grads"] == pytest.approx(course, abs=1e-12)
    for name, g in course.items():  # nudging agrees with backpropagation
        assert abs(r["numerical_grads"][name] - g) < 1e-3, name


def test_04_tanh_neuron(out_dir):
    r = run("04_scalar_backprop", out_dir)
    assert r["o"] == pytest.approx(math.sqrt(0.5), abs=1e-6)
    assert round(r["o"], 4) == 0.7071
    expected = {"x1": -1.5, "x2": 0.5, "w1": 1.0, "w2": 0.0}
    for name, g in expected.items():
        assert r["neuron_grads"][name] == pytest.approx(g, abs=1e-6), name
    dot = (out_dir / "04_scalar_backprop.dot").read_text()
    assert dot.startswith("digraph") and "tanh" in (out_dir / "04_tanh_neuron.dot").read_text()
    assert "data -8.0000" in dot
    assert_png(out_dir / "04_scalar_backprop.png")
    assert r["explained"] is True  # nabla.viz.explain printed the chain-rule table


# -- 05 gradient descent ----------------------------------------------------------------

def test_05_stops_by_the_rule_near_the_minimum(out_dir):
    r = run("05_gradient_descent", out_dir)
    d = r["decaying"]
    assert d["converged"] is True and d["steps"] < 1000
    assert d["last_step"] < 0.001
    assert all(s >= 0.001 for s in d["step_sizes"][:-1])  # it did not stop earlier
    assert abs(d["w"] - 3.0) < 0.01 and d["cost"] - 1.0 < 1e-4
    assert d["lrs"][1] < d["lrs"][0]  # the learning rate decays
    assert_png(out_dir / "05_gradient_descent.png")


def test_05_path_is_plain_gradient_descent(out_dir):
    r = run("05_gradient_descent", out_dir)
    for run_ in (r["decaying"], r["constant"]):
        w = run_["path"][0]
        for k, lr in enumerate(run_["lrs"]):  # replay w <- w - lr * C'(w) in NumPy
            step = lr * 2 * (w - 3.0)
            assert abs(step) == pytest.approx(run_["step_sizes"][k], rel=1e-9, abs=1e-15)
            w = w - step
            assert run_["path"][k + 1] == pytest.approx(w, rel=1e-9, abs=1e-12)
    assert r["decaying"]["lrs"] == pytest.approx(
        [0.9 * 0.98**k for k in range(r["decaying"]["steps"])])


# -- 06 house prices --------------------------------------------------------------------

def test_06_learns_the_generators_coefficients(out_dir):
    r = run("06_house_prices", out_dir)
    # The generator: price = 50 + 3 * size + 200 * location + noise (k€).
    assert r["per_m2"] == pytest.approx(3.0, abs=0.05)
    assert r["location"] == pytest.approx(200.0, abs=15.0)
    assert r["base"] == pytest.approx(50.0, abs=15.0)
    assert r["r2"] > 0.9
    # Gradient descent reached the least-squares solution NumPy finds directly.
    A = np.c_[np.ones(len(r["y"])), r["X"]]
    coef = np.linalg.lstsq(A, r["y"], rcond=None)[0]
    assert [r["base"], r["per_m2"], r["location"]] == pytest.approx(coef, rel=1e-3)
    assert_png(out_dir / "06_house_prices.png")


# -- 07 softmax and cross-entropy -------------------------------------------------------

def _softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_07_softmax_is_a_probability_distribution_keeping_the_argmax(out_dir):
    r = run("07_softmax_cross_entropy", out_dir)
    assert r["softmax"] == pytest.approx(_softmax(np.array([2.0, 1.0, 0.1])), rel=1e-12)
    assert r["sum"] == pytest.approx(1.0, abs=1e-12)
    assert r["argmax_logits"] == r["argmax_softmax"] == 0
    top = [r["scaled"][k][0] for k in sorted(r["scaled"])]
    assert top == sorted(top) and top[-1] > 0.999  # scaling up: towards one-hot
    for p in r["scaled"].values():
        assert int(np.argmax(p)) == 0 and sum(p) == pytest.approx(1.0)
    assert_png(out_dir / "07_softmax_cross_entropy.png")


def test_07_cross_entropy_is_minus_log_true_probability(out_dir):
    r = run("07_softmax_cross_entropy", out_dir)
    z, t = np.array(r["batch_logits"]), np.array(r["batch_target"])
    minus_log_p = -np.log(_softmax(z)[np.arange(len(t)), t])
    assert r["cross_entropy_each"] == pytest.approx(minus_log_p, rel=1e-9)
    assert r["cross_entropy"] == pytest.approx(minus_log_p.mean(), rel=1e-9)
    assert r["cross_entropy_each"][0] == pytest.approx(-math.log(0.6590011388859679))
    # Confident and right costs little; confident and wrong costs a lot.
    assert r["cross_entropy_each"][2] < 0.01 < 8 < r["cross_entropy_each"][3]


# -- 08 digit network -------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits(out_dir):
    mnist = Path(__file__).resolve().parents[1].parent / "shared/data/mnist-sample"
    if not (mnist / "train-images-idx3-ubyte.gz").exists() and not (
            mnist / "train-images-idx3-ubyte").exists():
        pytest.skip(f"MNIST sample not found at {mnist}")
    return run("08_digit_network", out_dir, data_dir=mnist)


def test_08_parameter_count_and_accuracy(digits, out_dir):
    assert digits["n_params"] == 784 * 16 + 16 + 16 * 16 + 16 + 16 * 10 + 10 == 13_002
    accuracy = float((digits["predicted"] == digits["y_test"]).mean())
    assert accuracy == pytest.approx(digits["accuracy"])
    assert len(digits["y_test"]) == 1000
    assert accuracy > 0.5  # chance is 0.1
    assert_png(out_dir / "08_digit_network.png")
    assert_png(out_dir / "08_misclassified.png")


def test_08_is_it_a_nine(digits):
    says, nine = digits["says_nine"], digits["y_test"] == 9
    hits = int((says & nine).sum())
    stats = digits["nine"]
    assert stats["precision"] == pytest.approx(hits / says.sum())
    assert stats["recall"] == pytest.approx(hits / nine.sum())
    # Better than never saying "9", which is right about 90 % of the time.
    assert stats["accuracy"] > stats["always_no"] == pytest.approx(1 - nine.mean())
    assert stats["precision"] > 0.6 and stats["recall"] > 0.5


# -- 09 CNN on a tiny image -------------------------------------------------------------

def test_09_feature_map_relu_and_pooling(out_dir):
    r = run("09_cnn_tiny_image", out_dir)
    image, k = r["image"], r["filter"]
    assert image.shape == (8, 8) and k.shape == (3, 3)
    assert (k == np.array([[-1, 0, 1]] * 3)).all()  # a vertical-edge detector
    by_hand = np.array([[np.sum(image[i:i + 3, j:j + 3] * k) for j in range(6)]
                        for i in range(6)])  # cross-correlation, no padding
    np.testing.assert_allclose(r["feature_map"], by_hand, atol=1e-6)
    np.testing.assert_allclose(r["relu"], np.maximum(by_hand, 0), atol=1e-6)
    pooled = np.maximum(by_hand, 0).reshape(3, 2, 3, 2).max(axis=(1, 3))
    np.testing.assert_allclose(r["pooled"], pooled, atol=1e-6)
    assert r["feature_map"].max() == 3 and r["feature_map"].min() == -3  # the two edges
    assert_png(out_dir / "09_cnn_tiny_image.png")


def test_09_gradient_descent_learns_the_edge_filter(out_dir):
    r = run("09_cnn_tiny_image", out_dir)
    np.testing.assert_allclose(r["learned_filter"], [[-1, 0, 1]] * 3, atol=0.02)


# -- 10 RNN and LSTM --------------------------------------------------------------------

def test_10_rnn_beats_repeating_the_last_value(out_dir):
    f = run("10_rnn_lstm", out_dir)["forecast"]
    mse = float(((f["predicted"] - f["actual"]) ** 2).mean())
    baseline = float(((f["last"] - f["actual"]) ** 2).mean())
    assert mse == pytest.approx(f["rnn_mse"], rel=1e-5)
    assert baseline == pytest.approx(f["repeat_last_mse"], rel=1e-5)
    assert mse < 0.5 * baseline
    assert mse > 0.5 * 0.1**2  # nothing beats the noise by much: a sanity check
    assert_png(out_dir / "10_rnn_lstm.png")


def test_10_lstm_remembers_the_first_element(out_dir):
    m = run("10_rnn_lstm", out_dir)["memory"]
    accuracy = float((m["guess"] == m["labels"]).mean())
    assert accuracy == pytest.approx(m["accuracy"])
    assert accuracy > 0.9


def test_11_saturation_and_update_ratios_tell_good_from_bad_starts(out_dir):
    r = run("11_training_diagnostics", out_dir)
    bad, good, bn = r["bad"], r["good"], r["batchnorm"]
    # N(0, 1) weights: most tanh units sit at -1 or +1 from the start
    assert bad["saturated_at_start"] > 0.5 and bad["saturated_at_end"] > 0.5
    assert good["saturated_at_start"] < 0.15 and bn["saturated_at_start"] < 0.15
    # the hidden layers' update ratios are far apart when saturated, close when not
    assert bad["ratio_spread"] > 2 * good["ratio_spread"]
    assert -3.5 < good["update_ratio"] < -2.0  # near the customary 1e-3
    assert good["accuracy"] > bad["accuracy"] + 0.1 and bn["accuracy"] > bad["accuracy"] + 0.1
    assert (out_dir / "11_training_diagnostics.png").stat().st_size > 10_000
