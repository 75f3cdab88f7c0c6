"""Utilities beside the core library (as torch.utils): TensorBoard logging."""
