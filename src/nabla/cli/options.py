"""Argument types of the CLI's options: each rejects bad text with a message
that argparse prints after the option's name."""

from __future__ import annotations

import argparse
import math


def _hidden(text: str) -> list:
    try:
        widths = [int(w) for w in text.split(",")]
    except ValueError:
        widths = []
    if not widths or any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(
            f"expects positive layer widths separated by commas, like 128,64; got {text!r}")
    return widths


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expects a {kind.__name__}, got {text!r}") from None
        if not value > 0 or (kind is float and not math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a number, got {text!r}") from None
    if not 0.0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def _fraction(text: str) -> float:
    value = _non_negative_float(text)
    if value >= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1), got {text!r}")
    return value


# Training options with their defaults. Parsed with default None so that we know which
# ones the user gave: on --resume the checkpoint's values fill in the others. The
# defaults (SGD, momentum 0.9, lr 0.02, 30 epochs of batch 32 on standardised inputs)


def _seed(text: str) -> int:
    # nabla.manual_seed's own message ("expected non-negative integer") would not say
    # which option was wrong; argparse puts "--seed" before this one.
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects an integer, got {text!r}") from None
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to 2**64-1, got {text!r}")
    return value


def _activation_names():
    # The names only: importing nabla.models (and nn) waits until a command runs.
    return ("relu", "tanh", "sigmoid", "leaky_relu", "gelu", "silu", "softplus")
