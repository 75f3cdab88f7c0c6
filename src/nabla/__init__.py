"""nabla: a neural-network library from first principles, in Python over NumPy.

Its API has PyTorch's shape, so what you learn here carries over:

>>> import nabla
>>> x = nabla.tensor([2.0, 3.0], requires_grad=True)
>>> y = (x ** 2).sum()
>>> y.backward()
>>> x.grad
tensor([4., 6.])
"""

from . import autograd, backend, random
from . import out_arg as _out_arg
from .autograd import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .backend import (
    Device,
    DType,
    bfloat16,
    bool_,
    finfo,
    float16,
    float32,
    float64,
    get_default_dtype,
    iinfo,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
    uint16,
    uint32,
    uint64,
)
from .backend import device as device
from .creation import (
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_dlpack,
    from_numpy,
    full,
    full_like,
    linspace,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .functions import (
    cat,
    concatenate,
    hstack,
    linear,
    matmul,
    maximum,
    minimum,
    pad,
    stack,
    vstack,
    where,
)
from .gradcheck import GradcheckError, gradcheck
from .random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from .tensor import ShapeError, Tensor
from .threads import get_num_threads, set_num_threads

bool = bool_  # noqa: A001 - nabla.bool mirrors torch.bool
float = float32  # noqa: A001
double = float64
long = int64
half = float16


def _method_function(name):
    method = getattr(Tensor, name)

    def fn(input, *args, out=None, **kwargs):
        if not isinstance(input, Tensor):
            input = tensor(input)
        result = getattr(input, name)(*args, **kwargs)
        return result if out is None else _out_arg.write(name, result, out)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Function form of ``Tensor.{name}``.\n\n{method.__doc__ or ''}"
    return fn


# Function forms of Tensor methods: nabla.exp(x), nabla.sum(x, dim=1), ...
_FUNCTIONS = (
    "exp log sqrt rsqrt abs sin cos tanh sigmoid relu softplus square log1p expm1 clamp clip "
    "sum mean max min amax amin argmax argmin var std logsumexp prod norm softmax log_softmax "
    "reshape flatten unflatten permute transpose squeeze unsqueeze expand repeat flip split "
    "chunk narrow unbind clone detach numel isnan isinf isfinite all any sign floor ceil round "
    "allclose equal cumsum t eq ne lt le gt ge add sub mul div pow neg"
).split()
for _name in _FUNCTIONS:
    if _name == "neg":
        globals()[_name] = lambda input, *, out=None: _out_arg.write("neg", -input, out)
    else:
        globals()[_name] = _method_function(_name)
del _name

# Ops of issue 20 (ops helper): function forms of the new methods, and free functions.
from .functions import (  # noqa: E402
    baddbmm,
    einsum,
    histogram,
    isclose,
    isin,
    lerp,
    logspace,
    meshgrid,
    multinomial,
    nonzero,
    repeat_interleave,
    tril_indices,
    triu_indices,
)

for _name in ("tril triu roll topk sort argsort histc log10 log2 cumprod gather scatter "
              "scatter_add index_select masked_select unique bincount outer diag bmm "
              # torch.mm and torch.dot of course code, and the other methods that PyTorch
              # also offers as functions (found by comparing the two namespaces)
              "mm dot ger addcmul addcdiv broadcast_to clamp_min clamp_max divide multiply "
              "subtract true_divide reciprocal masked_fill swapaxes "
              "abs_ clamp_ cos_ exp_ log_ neg_ relu_ sigmoid_ sin_ sqrt_ square_ tanh_ "
              "reciprocal_ clip_ negative_ detach_ fill_ zero_ "
              # tensor_special.py's
              "tan asin acos atan sinh cosh asinh acosh atanh arcsin arccos arctan arcsinh "
              "arccosh arctanh erf exp2 atan2 arctan2 hypot logaddexp xlogy fmod remainder "
              "floor_divide logical_and logical_or logical_xor logical_not signbit "
              "count_nonzero nan_to_num "
              # tensor_more.py's (repeat_interleave has its own, for its one-argument form)
              "addmm tile movedim moveaxis diff take_along_dim").split():
    globals()[_name] = _method_function(_name)
del _name

# PyTorch's constants and type tests, which course code uses (torch.inf, torch.is_tensor).
from math import e, inf, nan, pi  # noqa: E402

# PyTorch's older spellings that course code still carries, and its print options.
from .legacy import (  # noqa: E402
    BFloat16Tensor,
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)
from .legacy import Variable as _Variable  # noqa: E402
from .printing import set_printoptions  # noqa: E402

autograd.Variable = _Variable  # torch.autograd.Variable (legacy.py needs Tensor, so not there)


def is_tensor(obj) -> bool:
    """True for a nabla Tensor (Parameters included), as ``torch.is_tensor``."""
    return isinstance(obj, Tensor)


def is_floating_point(input) -> bool:
    """True for a Tensor of a floating dtype, as ``torch.is_floating_point``."""
    return input.is_floating_point()

# The sub-packages a training script reaches through ``nabla.``; they import only
# NumPy, so this keeps ``import nabla`` fast (matplotlib, tqdm, safetensors load lazily).
from . import data, nn, optim  # noqa: E402

__version__ = "0.1.0"

# Sub-modules loaded on first use (PEP 562): ``import nabla`` alone reaches them, and
# pays for them only when a program touches them. One name a line, to merge easily.
_LAZY_MODULES = {
    "accelerator",
    "amp",
    "backends",
    "compiler",
    "cuda",
    "io",
    "linalg",
    "models",
    "onnx",
    "scalar",
    "serialization",
    "train",
    "utils",
    "viz",
}
# Functions that live in a lazily loaded module: name -> (module, attribute).
_LAZY_ATTRS = {
    "autocast": ("amp", "autocast"),
    "compile": ("compiler", "compile"),
    "get_autocast_dtype": ("amp", "get_autocast_dtype"),
    "get_float32_matmul_precision": ("backends", "get_float32_matmul_precision"),
    "is_autocast_enabled": ("amp", "is_autocast_enabled"),
    "load": ("serialization", "load"),
    "save": ("serialization", "save"),
    "set_float32_matmul_precision": ("backends", "set_float32_matmul_precision"),
}


def __getattr__(name):
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_ATTRS:
        module, attr = _LAZY_ATTRS[name]
        value = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
        globals()[name] = value  # later lookups skip this function
        return value
    from .absent import absent_error  # only on a miss: a name left out on purpose says why

    raise absent_error(__name__, name)


def __dir__():
    return sorted(set(globals()) | _LAZY_MODULES | set(_LAZY_ATTRS))
