"""Primitive ops: one file per family, each op a Function with forward and backward.

Backward functions may return gradients in the broadcast shape of the output: the
engine sums them back to each input's shape (``autograd.unbroadcast``) in one place.
"""
