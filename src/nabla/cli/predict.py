"""``nabla predict``: read images and .npy arrays as samples and classify them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .data import Normalizer
from .errors import CLIError
from .report import _load_model

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def _read_image(path: str, shape: tuple, max_value: float, invert: str) -> np.ndarray:
    """An image file as one sample in the dataset's raw grey levels (0..max_value)."""
    try:
        from PIL import Image
    except ImportError:
        raise CLIError("reading images needs Pillow: pip install pillow (or give .npy "
                       "arrays)") from None
    try:
        with Image.open(path) as img:
            grey = img.convert("L")
    except OSError as e:
        raise CLIError(f"{path}: cannot read the image ({e})") from None
    height, width = shape[-2], shape[-1]
    if grey.size != (width, height):
        # Area averaging when shrinking is how the UCI digits were made (32x32 bitmaps
        # counted in 4x4 blocks) and what keeps thin strokes visible.
        shrinking = grey.size[0] >= width and grey.size[1] >= height
        grey = grey.resize((width, height),
                           Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR)
    a = np.asarray(grey, dtype=np.float32) / 255.0
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    if invert == "yes" or (invert == "auto" and border.mean() > 0.5):
        a = 1.0 - a  # dark ink on light paper -> the datasets' light ink on black
    return (a * max_value).reshape(shape)


def _read_npy(path: str, shape: tuple) -> np.ndarray:
    try:
        a = np.load(path, allow_pickle=False)  # never unpickle: an .npy may not run code
    except (ValueError, OSError) as e:
        raise CLIError(f"{path}: not a readable .npy array ({e})") from None
    if a.dtype.kind not in "biuf":
        raise CLIError(f"{path}: expected numbers, got dtype {a.dtype}")
    n = int(np.prod(shape))
    if a.size == n:
        return a.reshape((1, *shape)).astype(np.float32)
    if a.ndim >= 2 and a.size % n == 0 and int(np.prod(a.shape[1:])) == n:
        return a.reshape((-1, *shape)).astype(np.float32)
    raise CLIError(f"{path}: array of shape {a.shape} does not hold samples of shape {shape}")


def _predict(args) -> int:
    from ..creation import from_numpy
    from ..train import predict

    model, data_meta, train_meta = _load_model(args.model)
    if data_meta is None:
        raise CLIError(f"{args.model} does not record how its inputs were prepared")
    shape = tuple(data_meta["input_shape"])
    max_value = float(data_meta["max_value"])
    classes = data_meta["classes"]
    norm = Normalizer(data_meta["mean"], data_meta["std"])
    samples, names = [], []
    for path in args.inputs:
        if not os.path.isfile(path):
            raise CLIError(f"input file not found: {path}")
        suffix = Path(path).suffix.lower()
        if suffix == ".npy":
            batch = _read_npy(path, shape) / max_value
            names += [path] if len(batch) == 1 else [f"{path}[{i}]" for i in range(len(batch))]
        elif suffix in _IMAGE_SUFFIXES:
            if data_meta["kind"] != "image":
                raise CLIError(f"{path}: {args.model} was trained on {data_meta['dataset']} "
                               f"points, not images; give an .npy of shape {shape}")
            batch = (_read_image(path, shape, max_value, args.invert) / max_value)[None]
            names.append(path)
        else:
            raise CLIError(f"{path}: unsupported input type {suffix or '(none)'}: give PNG/JPEG "
                           "images or .npy arrays")
        samples.append(batch.astype(np.float32))
    X = norm(np.concatenate(samples))
    out = predict(model, from_numpy(X)).numpy().astype(np.float64)
    if train_meta.get("loss", "cross-entropy") == "cross-entropy":
        shifted = np.exp(out - out.max(axis=1, keepdims=True))
        scores, label = shifted / shifted.sum(axis=1, keepdims=True), "probability"
    else:
        scores, label = out, "score"
    top = min(args.top, scores.shape[1])
    for name, row in zip(names, scores):
        best = np.argsort(-row, kind="stable")[:top]
        parts = [f"{classes[i]} ({label} {row[i]:.4f})" for i in best]
        print(f"{name}: {parts[0]}" + (f"; then {', '.join(parts[1:])}" if top > 1 else ""))
    return 0
