"""Cases 12-13: the word language model of PyTorch's examples, as that program writes it.

``examples/word_language_model``: ``main.py``'s training loop with its default sizes
(embedding and hidden 200, two layers, dropout 0.2, batch 20, bptt 35, lr 20) over a
WikiText-2-sized vocabulary (33278 words), with the example's two models:

- 12: ``RNNModel`` with an LSTM (``nn.Embedding``, ``nn.LSTM(200, 200, 2,
  dropout=0.2)``, ``nn.Linear(200, 33278)`` decoder, ``F.log_softmax``), the hidden
  state carried from batch to batch and detached (``repackage_hidden``);
- 13: ``TransformerModel``, a subclass of ``nn.Transformer`` that runs only its encoder
  (2 layers, 2 heads, feed-forward 200) under a causal mask built as
  ``log(tril(ones))``, with sinusoidal positions from a registered buffer.

Each step: ``model.zero_grad()``, forward, ``nn.NLLLoss``, ``backward``,
``clip_grad_norm_(0.25)``, and the example's update by hand,
``p.data.add_(p.grad, alpha=-lr)``. The tokens are random (the timing does not depend
on the text). Dropout draws from each library's own generator, so the reference both
libraries must agree on is the first batch's loss in ``eval()`` mode.
"""

from __future__ import annotations

import math

import numpy as np

from . import Case, Workload, cycle, import_lib

NTOKEN, NINP, NHID, NLAYERS, BSZ, BPTT, LR = 33278, 200, 200, 2, 20, 35, 20.0
N_BATCHES = 4


def _weights(model, seed):
    """The same starting weights for both libraries: every parameter uniform in
    [-0.1, 0.1] (the example's range for its embedding and decoder), layer norms at
    1 and 0; buffers (the positions) as each library computes them."""
    rng = np.random.default_rng(seed)
    params = dict(model.named_parameters())
    out = {}
    for name in sorted(params):
        shape = tuple(params[name].shape)
        if "norm" in name:
            out[name] = np.full(shape, 1.0 if name.endswith("weight") else 0.0, np.float32)
        else:
            out[name] = rng.uniform(-0.1, 0.1, shape).astype(np.float32)
    return out


def _build(lib_name, kind):
    torch = import_lib(lib_name)
    nn, F = torch.nn, torch.nn.functional

    class RNNModel(nn.Module):
        def __init__(self, ntoken, ninp, nhid, nlayers, dropout=0.2):
            super().__init__()
            self.ntoken = ntoken
            self.drop = nn.Dropout(dropout)
            self.encoder = nn.Embedding(ntoken, ninp)
            self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
            self.decoder = nn.Linear(nhid, ntoken)
            self.nhid, self.nlayers = nhid, nlayers

        def forward(self, input, hidden):
            emb = self.drop(self.encoder(input))
            output, hidden = self.rnn(emb, hidden)
            output = self.drop(output)
            decoded = self.decoder(output)
            decoded = decoded.view(-1, self.ntoken)
            return F.log_softmax(decoded, dim=1), hidden

        def init_hidden(self, bsz):
            weight = next(self.parameters())
            return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                    weight.new_zeros(self.nlayers, bsz, self.nhid))

    class PositionalEncoding(nn.Module):
        def __init__(self, d_model, dropout=0.1, max_len=5000):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            pe = torch.zeros(max_len, d_model)
            position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
            div_term = torch.exp(torch.arange(0, d_model, 2).float()
                                 * (-math.log(10000.0) / d_model))
            pe[:, 0::2] = torch.sin(position * div_term)
            pe[:, 1::2] = torch.cos(position * div_term)
            pe = pe.unsqueeze(0).transpose(0, 1)
            self.register_buffer("pe", pe)

        def forward(self, x):
            x = x + self.pe[:x.size(0), :]
            return self.dropout(x)

    class TransformerModel(nn.Transformer):
        def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.2):
            super().__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid,
                             num_encoder_layers=nlayers)
            self.src_mask = None
            self.pos_encoder = PositionalEncoding(ninp, dropout)
            self.input_emb = nn.Embedding(ntoken, ninp)
            self.ninp = ninp
            self.decoder = nn.Linear(ninp, ntoken)

        def _generate_square_subsequent_mask(self, sz):
            return torch.log(torch.tril(torch.ones(sz, sz)))

        def forward(self, src):
            if self.src_mask is None or self.src_mask.size(0) != len(src):
                self.src_mask = self._generate_square_subsequent_mask(len(src))
            src = self.input_emb(src) * math.sqrt(self.ninp)
            src = self.pos_encoder(src)
            output = self.encoder(src, mask=self.src_mask)
            output = self.decoder(output)
            return F.log_softmax(output, dim=-1)

    if kind == "lstm":
        model = RNNModel(NTOKEN, NINP, NHID, NLAYERS)
    else:
        import warnings

        with warnings.catch_warnings():  # PyTorch's note on batch_first and nested tensors
            warnings.simplefilter("ignore")
            model = TransformerModel(NTOKEN, NINP, 2, NHID, NLAYERS)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in _weights(model, 12).items()},
                          strict=False)  # the buffer of positions stays each library's own
    rng = np.random.default_rng(13)
    data = torch.from_numpy(rng.integers(0, NTOKEN, (BPTT * N_BATCHES + 1, BSZ)))
    batches = [(data[i:i + BPTT], data[i + 1:i + 1 + BPTT].reshape(-1))
               for i in range(0, BPTT * N_BATCHES, BPTT)]
    next_batch = cycle(batches)
    criterion = nn.NLLLoss()
    state = {"hidden": model.init_hidden(BSZ) if kind == "lstm" else None}

    def repackage_hidden(h):
        if isinstance(h, torch.Tensor):
            return h.detach()
        return tuple(repackage_hidden(v) for v in h)

    def forward(data):
        if kind == "lstm":
            state["hidden"] = repackage_hidden(state["hidden"])
            output, state["hidden"] = model(data, state["hidden"])
            return output
        return model(data).view(-1, NTOKEN)

    def step():  # main.py's train() loop body
        data, targets = next_batch()
        model.zero_grad()
        loss = criterion(forward(data), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-LR)
        return loss

    def reference():  # dropout off, a fresh hidden state: the same arithmetic
        model.eval()
        saved = state["hidden"]
        state["hidden"] = model.init_hidden(BSZ) if kind == "lstm" else None
        with torch.no_grad():
            value = criterion(forward(batches[0][0]), batches[0][1]).item()
        state["hidden"] = saved
        model.train()
        return [value]

    return Workload(step, BSZ, reference=reference)


def lstm_lm(lib_name):
    return _build(lib_name, "lstm")


def transformer_lm(lib_name):
    return _build(lib_name, "transformer")


CASES = [
    Case("12", "word language model of PyTorch's examples, LSTM (2 x 200, dropout, "
         "33278-word decoder, log_softmax + NLLLoss, clip_grad_norm_, update by hand), "
         "batch 20 x bptt 35", ("nabla", "torch"), lstm_lm, target=1.0, steps=1,
         quick_steps=1),
    Case("13", "word language model of PyTorch's examples, Transformer encoder (2 layers, "
         "2 heads, causal mask, 33278-word decoder), batch 20 x bptt 35",
         ("nabla", "torch"), transformer_lm, target=1.0, steps=1, quick_steps=1),
]
