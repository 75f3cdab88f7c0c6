"""``nabla predict``: read images and .npy arrays as samples and classify them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from .data import InputRange, Normalizer
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
    a = _open_grey(path, Image)
    height, width = shape[-2], shape[-1]
    if a.shape != (height, width):
        # Area averaging when shrinking is how the UCI digits were made (32x32 bitmaps
        # counted in 4x4 blocks) and what keeps thin strokes visible.
        shrinking = a.shape[1] >= width and a.shape[0] >= height
        resized = Image.fromarray(a, mode="F").resize(
            (width, height), Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR)
        a = np.asarray(resized, dtype=np.float32)
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    if invert == "yes" or (invert == "auto" and border.mean() > 0.5):
        a = 1.0 - a  # dark ink on light paper -> the datasets' light ink on black
    return (a * max_value).reshape(shape)


def _open_grey(path: str, Image) -> np.ndarray:
    """The image as grey levels in [0, 1] (float32, H x W)."""
    import warnings

    try:
        with warnings.catch_warnings():
            # Pillow only warns below twice its pixel limit; an image that large is no
            # digit either, and the warning would print several lines.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                return _to_grey(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        import re

        pixels = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{int(pixels.group(1)):,} pixels" if pixels else "too many pixels"
        raise CLIError(f"{path}: the image has {size}, more than the "
                       f"{Image.MAX_IMAGE_PIXELS:,} read safely (a guard against "
                       "decompression bombs); shrink it first") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise CLIError(f"{path}: cannot read the image ({e})") from None


def _to_grey(img) -> np.ndarray:
    """Grey levels in [0, 1]: high-bit-depth images scaled by their real range, not
    clipped to 8 bits; transparent ones composited on a background that contrasts with
    their ink (what a viewer shows them on), not on the black their transparent pixels
    happen to hold."""
    if img.mode.startswith("I;16") or img.mode == "I":
        raw = np.asarray(img, dtype=np.float64)
        # PNG's 16-bit greys open as I;16 (or, in older Pillow, as I): full scale is
        # 65535. A 32-bit integer image has no such convention: use its own range.
        top = 65535.0 if img.mode.startswith("I;16") or raw.max() <= 65535 else raw.max()
        return (raw / top).astype(np.float32)
    if img.mode == "F":
        raw = np.asarray(img, dtype=np.float64)
        lo, hi = raw.min(), raw.max()
        return ((raw - lo) / (hi - lo) if hi > lo else raw * 0).astype(np.float32)
    if "A" in img.getbands() or "transparency" in img.info:
        la = np.asarray(img.convert("RGBA").convert("LA"), dtype=np.float32) / 255.0
        grey, alpha = la[..., 0], la[..., 1]
        if alpha.min() < 1.0:
            # The ink is what is opaque: dark ink goes on white paper, light on black.
            ink = float((grey * alpha).sum() / alpha.sum()) if alpha.sum() else 0.0
            background = 1.0 if ink < 0.5 else 0.0
            return alpha * grey + (1.0 - alpha) * background
        return grey
    return np.asarray(img.convert("L"), dtype=np.float32) / 255.0


def _read_npy(path: str, shape: tuple) -> np.ndarray:
    a = _load_npy(path)
    if a.dtype.kind not in "biuf":
        raise CLIError(f"{path}: expected numbers, got dtype {a.dtype}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        bad = int(a.size - np.isfinite(a).sum())
        raise CLIError(f"{path}: {bad:,} of its {a.size:,} values are NaN or infinite; "
                       "predict needs finite inputs")
    n = int(np.prod(shape))
    if a.size == n:
        return a.reshape((1, *shape)).astype(np.float32)
    if a.ndim >= 2 and a.size % n == 0 and int(np.prod(a.shape[1:])) == n:
        return a.reshape((-1, *shape)).astype(np.float32)
    raise CLIError(f"{path}: array of shape {a.shape} does not hold samples of shape {shape}")


def _load_npy(path: str) -> np.ndarray:
    """The array in an .npy file, after checking that its header is sound and that the
    file holds as many bytes as the header promises (a damaged or hostile header could
    otherwise ask for any amount of memory before the read fails)."""
    fmt = np.lib.format
    size = os.path.getsize(path)
    if size == 0:
        raise CLIError(f"{path}: empty file, not an .npy array")
    readers = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}
    with open(path, "rb") as f:
        try:
            version = fmt.read_magic(f)
            if version not in readers:
                raise ValueError(f"format version {version[0]}.{version[1]} is not supported")
            claimed, _, dtype = readers[version](f)
        except (ValueError, EOFError, OSError) as e:
            raise CLIError(f"{path}: not a readable .npy array ({e})") from None
        offset = f.tell()
    if dtype.hasobject:
        raise CLIError(f"{path}: holds Python objects (dtype {dtype}), which are never "
                       "unpickled; save numbers")
    need = int(np.prod(claimed, dtype=object)) * dtype.itemsize
    if need != size - offset:
        raise CLIError(f"{path}: its header declares an array of shape {claimed} ({dtype}, "
                       f"{need:,} bytes), but the file holds {size - offset:,} bytes after "
                       "the header: damaged or not an .npy file")
    try:
        return np.load(path, allow_pickle=False)  # never unpickle: an .npy may not run code
    except (ValueError, OSError, EOFError) as e:
        raise CLIError(f"{path}: not a readable .npy array ({e})") from None


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
        if os.path.isdir(path):
            raise CLIError(f"{path} is a directory; give image or .npy files")
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
    raw = np.concatenate(samples)
    if data_meta.get("input_range"):
        limits = InputRange(**data_meta["input_range"])
        for name, why in zip(names, limits.outside(raw, norm)):
            if why:
                print(f"nabla predict: warning: {name} lies far outside the training data "
                      f"({why}); its prediction means little", file=sys.stderr)
    X = norm(raw)
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
