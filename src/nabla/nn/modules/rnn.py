"""``torch.nn.modules.rnn``."""

from ..layers.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell  # noqa: F401
