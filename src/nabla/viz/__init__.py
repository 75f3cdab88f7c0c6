"""Seeing inside a network: graphs, a backprop walkthrough, and plots.

- ``draw`` / ``draw_model``: the backward graph of a ``Value`` or ``Tensor``, or a
  model's layers, as Graphviz DOT text (SVG/PNG when Graphviz is installed);
- ``explain`` / ``nudge``: the chain rule node by node, and a numerical check of it;
- ``plot_*``: activations, training curves, learning-rate schedules, cost surfaces,
  decision boundaries, confusion matrices, misclassified images, weights, filters and
  feature maps (matplotlib, imported only when a plot is drawn);
- ``TrainingMonitor``: per-layer activation, gradient and update statistics during
  training, from hooks, with their histograms and update-to-data ratio plots.

>>> import numpy as np
>>> from nabla import viz
>>> fig = viz.plot_confusion_matrix(np.eye(3, dtype=int))
>>> type(fig).__name__
'Figure'
"""

from .explain import Explanation, Nudge, explain, nudge
from .graph import Graph, draw, draw_model
from .monitor import DiagnosticsCallback, TrainingMonitor
from .plots import (
    plot_activations,
    plot_confusion_matrix,
    plot_cost_surface,
    plot_decision_boundary,
    plot_feature_maps,
    plot_filters,
    plot_first_layer_weights,
    plot_history,
    plot_lr_schedule,
    plot_misclassified,
    save_figure,
)

__all__ = [
    "Graph", "draw", "draw_model",
    "Explanation", "Nudge", "explain", "nudge",
    "plot_activations", "plot_confusion_matrix", "plot_cost_surface",
    "plot_decision_boundary", "plot_feature_maps", "plot_filters",
    "plot_first_layer_weights", "plot_history", "plot_lr_schedule", "plot_misclassified",
    "save_figure", "TrainingMonitor", "DiagnosticsCallback",
]
