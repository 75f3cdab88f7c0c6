"""``torch.backends.cuda``: the matmul precision flags, settable and unread on the CPU.

>>> from nabla.backends import cuda
>>> cuda.matmul.allow_tf32 = True; cuda.matmul.allow_tf32
True
>>> cuda.matmul.allow_tf32 = False
"""


class _MatmulFlags:
    """``torch.backends.cuda.matmul``: attributes only (defaults are PyTorch's)."""

    def __init__(self):
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True

    def __repr__(self):
        return f"matmul(allow_tf32={self.allow_tf32})"


matmul = _MatmulFlags()


def is_built() -> bool:
    return False
