"""Neural-network building blocks: ``Module``, layers, losses, initialisation.

>>> import nabla
>>> from nabla import nn
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
>>> model(nabla.zeros(2, 4)).shape
(2, 3)
"""

from . import (
    functional,
    init,
    modules,  # torch.nn.modules import paths (needs the above)
    parallel,  # DistributedDataParallel (mpi4py only imported when used)
    parameter,
    utils,
)
from .layers import (
    GELU,
    ConvergenceWarning,
    Dropout,
    Flatten,
    Heaviside,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    NotLinearlySeparableError,
    Perceptron,
    PerceptronResult,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Step,
    Tanh,
    Unflatten,
)
from .layers.activation import Softmin, Tanhshrink, Threshold
from .layers.conv import (
    Conv1d,
    Conv2d,
    ConvTranspose1d,
    ConvTranspose2d,
    Dropout1d,
    Dropout2d,
)
from .layers.embedding import Embedding
from .layers.instancenorm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from .layers.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    LayerNorm,
    RMSNorm,
)
from .layers.padding import (
    ConstantPad1d,
    ConstantPad2d,
    PixelShuffle,
    PixelUnshuffle,
    ReflectionPad1d,
    ReflectionPad2d,
    ReplicationPad1d,
    ReplicationPad2d,
    ZeroPad1d,
    ZeroPad2d,
)
from .layers.params import ParameterDict, ParameterList
from .layers.pointwise import (
    CELU,
    ELU,
    GLU,
    SELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LogSigmoid,
    Mish,
    PReLU,
    ReLU6,
    Softsign,
)
from .layers.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
)
from .layers.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .layers.transformer import (
    MultiheadAttention,
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CosineSimilarity,
    CrossEntropyLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    MultiLabelSoftMarginLoss,
    NLLLoss,
    PairwiseDistance,
    PoissonNLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    TripletMarginLoss,
)
from .module import Buffer, Module, ModuleDict, ModuleList, Parameter, Sequential
