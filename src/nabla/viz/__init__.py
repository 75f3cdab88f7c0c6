"""Pictures: training curves and confusion matrices (matplotlib, imported lazily).

>>> import numpy as np
>>> from nabla import viz
>>> fig = viz.plot_confusion_matrix(np.eye(3, dtype=int))
>>> type(fig).__name__
'Figure'
"""

from .plots import plot_confusion_matrix, plot_history, save_figure

__all__ = ["plot_history", "plot_confusion_matrix", "save_figure"]
