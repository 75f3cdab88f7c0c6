"""Classification metrics, computed with NumPy.

The functions take Tensors or NumPy arrays. Predictions may be class indices (N,) or
scores (N, C) (logits or probabilities: the arg-max is the predicted class); a single
score column (N, 1) is a probability of class 1, thresholded at 0.5. Argument order
follows each family's habit: ``accuracy(output, target)`` as in a training loop,
``confusion_matrix(y_true, y_pred)`` and friends as in scikit-learn. A ratio whose
denominator is zero (a class never predicted, say) is 0, as scikit-learn's
``zero_division=0``.

>>> import numpy as np
>>> logits = np.array([[2.0, 0.1], [0.3, 0.9], [1.0, 0.0]])
>>> accuracy(logits, [0, 1, 1])
0.6666666666666666
>>> confusion_matrix([0, 1, 1], logits)
array([[1, 0],
       [1, 1]])

The training loop uses the streaming forms (:class:`Accuracy`, :class:`TopKAccuracy`):
they add up counts batch by batch and divide once at the end of the epoch.
"""

from __future__ import annotations

import copy

import numpy as np


def _np(x) -> np.ndarray:
    if isinstance(x, np.ndarray):  # checked first: an ndarray's .data is a memoryview
        return x
    data = getattr(x, "_data", None)  # a Tensor's array
    return data if isinstance(data, np.ndarray) else np.asarray(x)


def to_labels(x) -> np.ndarray:
    """Class indices from labels (N,), scores (N, C) or one probability column (N, 1).

    >>> to_labels([[0.1, 0.7, 0.2], [0.9, 0.05, 0.05]]).tolist()
    [1, 0]
    >>> to_labels([[0.2], [0.8]]).tolist()
    [0, 1]
    """
    a = _np(x)
    if a.ndim >= 2 and a.shape[-1] > 1:
        return a.argmax(axis=-1)
    if a.dtype.kind == "f":
        a = a.reshape(a.shape[:-1]) if a.ndim >= 2 else a
        return (a > 0.5).astype(np.int64)
    return a.reshape(a.shape[:-1]) if a.ndim >= 2 else a


def _targets(target, output_shape) -> np.ndarray:
    t = _np(target)
    # One-hot targets (as MSE training uses) are turned back into class indices.
    if t.ndim >= 2 and t.shape == tuple(output_shape) and t.shape[-1] > 1:
        return t.argmax(axis=-1)
    return t.reshape(-1) if t.ndim >= 2 and t.shape[-1] == 1 else t


def _correct(output, target) -> tuple[int, int]:
    out = _np(output)
    pred = to_labels(out)
    t = _targets(target, out.shape)
    if pred.shape != t.shape:
        raise ValueError(f"predictions of shape {pred.shape} (from output {out.shape}) do "
                         f"not match targets of shape {t.shape}")
    return int(np.count_nonzero(pred == t)), int(t.size)


def accuracy(output, target) -> float:
    """The fraction of samples whose predicted class equals the target.

    >>> accuracy([[0.2, 0.8], [0.6, 0.4]], [1, 1])
    0.5
    """
    correct, total = _correct(output, target)
    return correct / total if total else 0.0


def top_k_accuracy(output, target, k: int = 5) -> float:
    """The fraction of samples whose target is among the ``k`` highest scores.

    >>> scores = [[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.3, 0.3, 0.4]]
    >>> top_k_accuracy(scores, [1, 0, 0], k=2)
    0.6666666666666666
    """
    correct, total = _top_k_correct(output, target, k)
    return correct / total if total else 0.0


def _top_k_correct(output, target, k: int) -> tuple[int, int]:
    s = _np(output)
    if s.ndim != 2:
        raise ValueError(f"top_k_accuracy needs scores of shape (N, C), got {s.shape}")
    t = _targets(target, s.shape)
    k = int(k)
    if not 1 <= k:
        raise ValueError(f"k must be at least 1, got {k}")
    if k >= s.shape[1]:
        return int(t.size), int(t.size)
    # A target is in the top k when fewer than k scores beat it: one comparison per
    # score and no sort; ties go in the target's favour, as in scikit-learn.
    target_score = np.take_along_axis(s, t.reshape(-1, 1).astype(np.intp), axis=1)
    beaten_by = np.count_nonzero(s > target_score, axis=1)
    return int(np.count_nonzero(beaten_by < k)), int(t.size)


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Counts ``cm[i, j]`` of samples of true class ``i`` predicted as class ``j``.

    ``y_pred`` may be labels or scores. ``num_classes`` defaults to one more than the
    largest label seen. One ``np.bincount``: no loop over samples or classes.

    >>> confusion_matrix([0, 0, 1, 2], [0, 1, 1, 2])
    array([[1, 1, 0],
           [0, 1, 0],
           [0, 0, 1]])
    """
    t = np.asarray(_np(y_true)).reshape(-1).astype(np.int64, copy=False)
    p = to_labels(y_pred).reshape(-1).astype(np.int64, copy=False)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} samples but y_pred has {p.size}")
    if t.size and min(t.min(), p.min()) < 0:
        raise ValueError("class labels must be non-negative")
    seen = int(max(t.max(), p.max())) + 1 if t.size else 0
    n = seen if num_classes is None else int(num_classes)
    if seen > n:
        raise ValueError(f"label {seen - 1} is out of range for num_classes={n}")
    return np.bincount(t * n + p, minlength=n * n).reshape(n, n)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros(num.shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)  # 0/0 -> 0 (zero_division=0)
    return out


def precision_recall_f1(y_true, y_pred, num_classes: int | None = None) -> dict:
    """Per-class precision, recall, F1 and support, plus their macro averages.

    precision = TP / (TP + FP), recall = TP / (TP + FN), F1 their harmonic mean; the
    macro average is the plain mean over classes (scikit-learn's ``average="macro"``).

    >>> r = precision_recall_f1([0, 0, 1, 1], [0, 1, 1, 1])
    >>> r["precision"].tolist(), r["recall"].tolist(), round(r["macro_f1"], 4)
    ([1.0, 0.6666666666666666], [0.5, 1.0], 0.7333)
    """
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(cm).astype(np.float64)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision, recall = _ratio(tp, predicted), _ratio(tp, actual)
    f1 = _ratio(2 * precision * recall, precision + recall)
    return {
        "precision": precision, "recall": recall, "f1": f1, "support": actual,
        "macro_precision": float(precision.mean()) if len(tp) else 0.0,
        "macro_recall": float(recall.mean()) if len(tp) else 0.0,
        "macro_f1": float(f1.mean()) if len(tp) else 0.0,
    }


def _averaged(key: str, y_true, y_pred, num_classes, average):
    r = precision_recall_f1(y_true, y_pred, num_classes)
    if average is None:
        return r[key]
    if average == "macro":
        return r["macro_" + key]
    raise ValueError(f"average must be None or 'macro', got {average!r}")


def precision(y_true, y_pred, num_classes: int | None = None, average: str | None = None):
    """Per-class precision (an array), or its macro average with ``average="macro"``.

    >>> precision([0, 1, 1], [1, 1, 1]).tolist()
    [0.0, 0.6666666666666666]
    """
    return _averaged("precision", y_true, y_pred, num_classes, average)


def recall(y_true, y_pred, num_classes: int | None = None, average: str | None = None):
    """Per-class recall (an array), or its macro average with ``average="macro"``.

    >>> recall([0, 1, 1], [1, 1, 1], average="macro")
    0.5
    """
    return _averaged("recall", y_true, y_pred, num_classes, average)


def f1_score(y_true, y_pred, num_classes: int | None = None, average: str | None = None):
    """Per-class F1 (an array), or its macro average with ``average="macro"``.

    >>> f1_score([0, 1, 1], [1, 1, 1]).round(2).tolist()
    [0.0, 0.8]
    """
    return _averaged("f1", y_true, y_pred, num_classes, average)


# --------------------------------------------------------------------- streaming forms

class Metric:
    """A metric accumulated batch by batch: ``reset()``, ``update(output, target)``
    with NumPy arrays, ``compute() -> float``. ``name`` is its column in the history.

    >>> m = Accuracy(); m.update(np.array([[0.1, 0.9]]), np.array([1])); m.compute()
    1.0
    """

    name = "metric"

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, output, target) -> None:
        raise NotImplementedError

    def compute(self) -> float:
        raise NotImplementedError


class Accuracy(Metric):
    """Streaming :func:`accuracy`: counts correct samples, divides at the end."""

    name = "accuracy"

    def __init__(self):
        self.correct = self.total = 0

    def reset(self) -> None:
        self.correct = self.total = 0

    def update(self, output, target) -> None:
        c, n = _correct(output, target)
        self.correct += c
        self.total += n

    def compute(self) -> float:
        return self.correct / self.total if self.total else 0.0


class TopKAccuracy(Accuracy):
    """Streaming :func:`top_k_accuracy`."""

    def __init__(self, k: int = 5):
        super().__init__()
        self.k = int(k)
        self.name = f"top{self.k}_accuracy"

    def update(self, output, target) -> None:
        c, n = _top_k_correct(output, target, self.k)
        self.correct += c
        self.total += n


class FunctionMetric(Metric):
    """Any ``fn(output, target) -> float`` as a streaming metric: the mean of its
    per-batch values weighted by batch size."""

    def __init__(self, fn, name: str | None = None):
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "metric")
        self.reset()

    def reset(self) -> None:
        self.sum = 0.0
        self.count = 0

    def update(self, output, target) -> None:
        n = len(output)
        self.sum += float(self.fn(output, target)) * n
        self.count += n

    def compute(self) -> float:
        return self.sum / self.count if self.count else 0.0


_NAMED = {"accuracy": Accuracy, "acc": Accuracy}


def get_metric(spec) -> Metric:
    """A fresh streaming metric from a name (``"accuracy"``, ``"top5_accuracy"``,
    ``"top_k_accuracy"`` = top 5), a :class:`Metric` or a plain function.

    >>> get_metric("top3_accuracy").name
    'top3_accuracy'
    """
    if isinstance(spec, Metric):
        # A copy: training and validation must not add to the same counts.
        metric = copy.deepcopy(spec)
        metric.reset()
        return metric
    if callable(spec):
        return FunctionMetric(spec)
    if isinstance(spec, str):
        if spec in _NAMED:
            return _NAMED[spec]()
        if spec == "top_k_accuracy":
            return TopKAccuracy(5)
        if spec.startswith("top") and spec.endswith("_accuracy") and spec[3:-9].isdigit():
            return TopKAccuracy(int(spec[3:-9]))
    raise ValueError(f"unknown metric {spec!r}: use 'accuracy', 'topK_accuracy' (e.g. "
                     "'top5_accuracy'), a Metric or a function(output, target) -> float")
