"""Cases 8-11: the shapes of programs people run, written as those programs write them.

Each case is the training (or batching) loop of a well-known kind of course or tutorial
program, kept in its own idiom, not rewritten into nabla's fastest one: the code below
runs unchanged on ``torch`` and on ``nabla`` (``lib`` is the one or the other).

- 8: the MNIST CNN of PyTorch's examples (``examples/mnist/main.py``): two 3x3
  convolutions, ``F.max_pool2d``, two dropouts, ``torch.flatten``, ``F.log_softmax`` +
  ``F.nll_loss``, Adadelta with lr 1.0, batch 64.
- 9: a small GPT training step in minGPT's style: a fused q/k/v projection, heads by
  ``view``/``transpose``, attention written by hand (``q @ k.transpose(-2, -1)``, a
  causal mask from a registered ``tril`` buffer through ``masked_fill``, ``F.softmax``),
  the tanh GELU written out with ``torch.pow(x, 3.0)``, AdamW. 2 blocks, n_embd 64,
  4 heads, block 32, batch 16, vocabulary 65 (a character set).
- 10: ``get_batch`` of character-level language-model courses: random offsets from
  ``randint`` and ``stack`` of 8-long slices of a 100k-token int64 tensor, batch 32.
- 11: a character-level MLP language model (makemore's second part): raw parameter
  tensors, the embedding as ``C[X]``, ``view(-1, 30)``, ``tanh``, ``F.cross_entropy``,
  ``p.grad = None`` and the update by hand with ``p.data += -lr * p.grad``.

Dropout (case 8) and ``randint`` (case 10) draw from each library's own generator, so
their steps differ between the libraries; those cases give a ``reference``: what both
libraries must agree on (case 8: the loss of the first batch with dropout off; case 10:
the batch at fixed offsets).
"""

from __future__ import annotations

import math

import numpy as np

from . import Case, Workload, cycle, import_lib, load, uniform_init

N_BATCHES = 8


# ----------------------------------------------------------------- 8: the MNIST CNN
MNIST_SHAPES = {
    "conv1.weight": (32, 1, 3, 3), "conv1.bias": (32,),
    "conv2.weight": (64, 32, 3, 3), "conv2.bias": (64,),
    "fc1.weight": (128, 9216), "fc1.bias": (128,),
    "fc2.weight": (10, 128), "fc2.bias": (10,),
}


def mnist_cnn(lib_name):
    torch = import_lib(lib_name)
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.dropout2(x)
            x = self.fc2(x)
            output = F.log_softmax(x, dim=1)
            return output

    batch = 64
    rng = np.random.default_rng(8)
    model = Net()
    load(torch, model, uniform_init(rng, MNIST_SHAPES))
    n = batch * N_BATCHES
    # MNIST-like inputs: the example normalises with mean 0.1307, std 0.3081.
    X = torch.from_numpy(((rng.random((n, 1, 28, 28)) - 0.1307) / 0.3081).astype(np.float32))
    Y = torch.from_numpy(rng.integers(0, 10, n))
    batches = [(X[i:i + batch], Y[i:i + batch]) for i in range(0, n, batch)]
    next_batch = cycle(batches)
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)

    def step():  # the example's train() loop body
        data, target = next_batch()
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        return loss

    def reference():  # dropout off: the same arithmetic in both libraries
        model.eval()
        with torch.no_grad():
            value = F.nll_loss(model(batches[0][0]), batches[0][1]).item()
        model.train()
        return [value]

    conv = 2 * batch * (26 * 26 * 9 * 32 + 24 * 24 * 288 * 64)
    fc = 2 * batch * (9216 * 128 + 128 * 10)
    return Workload(step, batch, 3.0 * (conv + fc), reference=reference)


# ----------------------------------------------------------------- 9: a small GPT
def gpt(lib_name):
    torch = import_lib(lib_name)
    nn, F = torch.nn, torch.nn.functional
    vocab_size, block_size, n_layer, n_head, n_embd, batch = 65, 32, 2, 4, 64, 16

    class NewGELU(nn.Module):
        def forward(self, x):
            return 0.5 * x * (1.0 + torch.tanh(
                math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.c_proj = nn.Linear(n_embd, n_embd)
            self.register_buffer("bias", torch.tril(torch.ones(block_size, block_size))
                                 .view(1, 1, block_size, block_size))
            self.n_head = n_head
            self.n_embd = n_embd

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
            att = F.softmax(att, dim=-1)
            y = att @ v
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.c_proj(y)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(n_embd)
            self.mlp = nn.ModuleDict(dict(c_fc=nn.Linear(n_embd, 4 * n_embd),
                                          c_proj=nn.Linear(4 * n_embd, n_embd),
                                          act=NewGELU()))
            m = self.mlp
            self.mlpf = lambda x: m.c_proj(m.act(m.c_fc(x)))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            x = x + self.mlpf(self.ln_2(x))
            return x

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(vocab_size, n_embd),
                wpe=nn.Embedding(block_size, n_embd),
                h=nn.ModuleList([Block() for _ in range(n_layer)]),
                ln_f=nn.LayerNorm(n_embd),
            ))
            self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)

        def forward(self, idx, targets=None):
            b, t = idx.size()
            pos = torch.arange(0, t, dtype=torch.long).unsqueeze(0)
            tok_emb = self.transformer.wte(idx)
            pos_emb = self.transformer.wpe(pos)
            x = tok_emb + pos_emb
            for block in self.transformer.h:
                x = block(x)
            x = self.transformer.ln_f(x)
            logits = self.lm_head(x)
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
            return logits, loss

    model = GPT()
    rng = np.random.default_rng(9)
    # minGPT's initialisation, drawn once in NumPy: N(0, 0.02) weights, zero biases,
    # LayerNorm at ones and zeros.
    weights = {}
    for name, p in model.named_parameters():
        shape = tuple(p.shape)
        if name.endswith("bias"):
            weights[name] = np.zeros(shape, np.float32)
        elif len(shape) == 1:
            weights[name] = np.ones(shape, np.float32)
        else:
            weights[name] = rng.normal(0.0, 0.02, shape).astype(np.float32)
    for name, buf in model.named_buffers():
        weights[name] = buf.numpy().copy()
    load(torch, model, weights)
    tokens = rng.integers(0, vocab_size, (N_BATCHES, batch, block_size + 1))
    batches = [(torch.from_numpy(t[:, :-1].copy()), torch.from_numpy(t[:, 1:].copy()))
               for t in tokens]
    next_batch = cycle(batches)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95),
                                  weight_decay=0.1)

    def step():  # minGPT's trainer loop body
        x, y = next_batch()
        logits, loss = model(x, y)
        model.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss

    return Workload(step, batch)


# ----------------------------------------------------------------- 10: get_batch
def get_batch_case(lib_name):
    torch = import_lib(lib_name)
    rng = np.random.default_rng(10)
    data = torch.from_numpy(rng.integers(0, 65, 100_000))  # int64, as torch.tensor(encode(text))
    block_size, batch_size = 8, 32

    def get_batch():  # the course's function, as written there
        ix = torch.randint(len(data) - block_size, (batch_size,))
        x = torch.stack([data[i:i + block_size] for i in ix])
        y = torch.stack([data[i + 1:i + block_size + 1] for i in ix])
        return x, y

    def step():
        return get_batch()

    def reference():  # the same batch at fixed offsets in both libraries
        ix = torch.from_numpy(rng.integers(0, len(data) - block_size, batch_size))
        x = torch.stack([data[i:i + block_size] for i in ix])
        y = torch.stack([data[i + 1:i + block_size + 1] for i in ix])
        return [float(x.sum().item()), float(y.sum().item())]

    return Workload(step, batch_size, reference=reference)


# ----------------------------------------------------------------- 11: character MLP
def char_mlp(lib_name):
    torch = import_lib(lib_name)
    F = torch.nn.functional
    rng = np.random.default_rng(11)
    batch, lr = 32, 0.1
    C = torch.from_numpy(rng.standard_normal((27, 10)).astype(np.float32))
    W1 = torch.from_numpy(rng.standard_normal((30, 200)).astype(np.float32) * 0.2)
    b1 = torch.from_numpy(rng.standard_normal(200).astype(np.float32) * 0.01)
    W2 = torch.from_numpy(rng.standard_normal((200, 27)).astype(np.float32) * 0.01)
    b2 = torch.from_numpy(np.zeros(27, np.float32))
    parameters = [C, W1, b1, W2, b2]
    for p in parameters:
        p.requires_grad = True
    n = batch * 16
    Xtr = torch.from_numpy(rng.integers(0, 27, (n, 3)))
    Ytr = torch.from_numpy(rng.integers(0, 27, n))
    batches = [(Xtr[i:i + batch], Ytr[i:i + batch]) for i in range(0, n, batch)]
    next_batch = cycle(batches)

    def step():  # makemore's training loop body
        Xb, Yb = next_batch()
        emb = C[Xb]  # (32, 3, 10)
        h = torch.tanh(emb.view(-1, 30) @ W1 + b1)
        logits = h @ W2 + b2
        loss = F.cross_entropy(logits, Yb)
        for p in parameters:
            p.grad = None
        loss.backward()
        for p in parameters:
            p.data += -lr * p.grad
        return loss

    return Workload(step, batch)


CASES = [
    Case("8", "the MNIST CNN of PyTorch's examples (conv 32-64 3x3, max pool, dropout, "
         "fc 9216-128-10, log_softmax + nll_loss, Adadelta), batch 64", ("nabla", "torch"),
         mnist_cnn, target=1.0, steps=3, quick_steps=1),
    Case("9", "a small GPT step (minGPT style: 2 blocks, n_embd 64, 4 heads, block 32, "
         "hand-written attention and tanh GELU, AdamW), batch 16", ("nabla", "torch"),
         gpt, target=1.0, steps=10, quick_steps=1),
    Case("10", "`get_batch`: `stack([data[i:i+8] for i in randint(...)])` for x and y, "
         "100k int64 tokens, batch 32", ("nabla", "torch"), get_batch_case, target=1.0,
         steps=50, quick_steps=2),
    Case("11", "character MLP LM (makemore: `C[X]`, view, tanh, cross-entropy, "
         "`p.data += -lr * p.grad`), batch 32", ("nabla", "torch"), char_mlp, target=1.25,
         steps=50, quick_steps=2),
]
