"""Training: the ``fit`` loop, evaluation, prediction, callbacks, metrics, history.

>>> import nabla
>>> from nabla import nn, optim, train
>>> from nabla.data import datasets
>>> _ = nabla.manual_seed(0)
>>> X, y = datasets.xor(200, noise=0.05)
>>> model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
>>> h = train.fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05),
...               (X, y), epochs=20, batch_size=20, verbose=0)
>>> h["accuracy"][-1]
1.0
"""

from . import metrics
from .callbacks import Callback, CSVLogger, EarlyStopping, ModelCheckpoint, TerminateOnNaN
from .history import History
from .loop import Trainer, evaluate, fit, predict

__all__ = [
    "fit", "evaluate", "predict", "Trainer", "History", "metrics",
    "Callback", "EarlyStopping", "ModelCheckpoint", "TerminateOnNaN", "CSVLogger",
]
