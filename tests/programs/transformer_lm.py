"""A word-level language model that subclasses `nn.Transformer` (as the word language model
example does), written the way GPU-minded code is: a device chosen by `torch.cuda` /
`torch.backends.mps`, cudnn flags, `torch.autocast` and a `GradScaler` that are disabled on
the CPU, `torch.compile`, a square subsequent mask, and a full checkpoint (model, optimizer
and scheduler state dicts plus the epoch) saved and restored with `torch.save`/`torch.load`.

Run with LIB=torch or LIB=nabla (and SEED=n); prints the final loss on the last line.
"""

import math
import os
import tempfile

if os.environ.get("LIB", "torch") == "nabla":
    import nabla as torch
else:
    import torch
nn = torch.nn
F = torch.nn.functional

from names import WORDS  # noqa: E402

torch.manual_seed(int(os.environ.get("SEED", "0")))
if torch.cuda.is_available():
    device = torch.device("cuda")
elif torch.backends.mps.is_available():
    device = torch.device("mps")
else:
    device = torch.device("cpu")
torch.backends.cudnn.benchmark = True
torch.backends.cuda.matmul.allow_tf32 = True
use_amp = device.type == "cuda"

# a toy corpus: "sentences" of four words whose first letters repeat a pattern
words = WORDS[:24]
vocab = {w: i for i, w in enumerate(words)}
corpus = []
for i in range(300):
    corpus += [words[(i + k * 5) % len(words)] for k in range(4)]
ids = torch.tensor([vocab[w] for w in corpus], dtype=torch.long)


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous().to(device)


train_data = batchify(ids[:1000], 8)
val_data = batchify(ids[1000:], 4)
bptt = 12


def get_batch(source, i):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i : i + seq_len]
    target = source[i + 1 : i + 1 + seq_len].reshape(-1)
    return data, target


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, dropout=0.1, max_len=64):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe.unsqueeze(0).transpose(0, 1))

    def forward(self, x):
        return self.dropout(x + self.pe[: x.size(0), :])


class TransformerModel(nn.Transformer):
    def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.1):
        super().__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid,
                         num_encoder_layers=nlayers, dropout=dropout)
        self.src_mask = None
        self.pos_encoder = PositionalEncoding(ninp, dropout)
        self.input_emb = nn.Embedding(ntoken, ninp)
        self.ninp = ninp
        self.decoder = nn.Linear(ninp, ntoken)
        nn.init.uniform_(self.input_emb.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def forward(self, src, has_mask=True):
        if has_mask:
            if self.src_mask is None or self.src_mask.size(0) != len(src):
                self.src_mask = nn.Transformer.generate_square_subsequent_mask(len(src))
        else:
            self.src_mask = None
        src = self.input_emb(src) * math.sqrt(self.ninp)
        src = self.pos_encoder(src)
        output = self.encoder(src, mask=self.src_mask)
        return F.log_softmax(self.decoder(output), dim=-1)


ntokens = len(vocab)
model = TransformerModel(ntokens, 32, 2, 64, 2, dropout=0.0).to(device)
compiled = torch.compile(model, backend="eager")
criterion = nn.NLLLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.8)
scaler = torch.amp.GradScaler("cuda", enabled=use_amp)


def evaluate(data_source):
    model.eval()
    total_loss = 0.0
    with torch.no_grad():
        for i in range(0, data_source.size(0) - 1, bptt):
            data, targets = get_batch(data_source, i)
            output = compiled(data).view(-1, ntokens)
            total_loss += len(data) * criterion(output, targets).item()
    return total_loss / (len(data_source) - 1)


def train_epoch():
    model.train()
    for i in range(0, train_data.size(0) - 1, bptt):
        data, targets = get_batch(train_data, i)
        optimizer.zero_grad()
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
            output = compiled(data).view(-1, ntokens)
            loss = criterion(output, targets)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        scaler.step(optimizer)
        scaler.update()


with tempfile.TemporaryDirectory() as tmp:
    ckpt = os.path.join(tmp, "checkpoint.pt")
    for epoch in range(1, 4):
        train_epoch()
        val_loss = evaluate(val_data)
        scheduler.step()
        print(f"| end of epoch {epoch:3d} | valid loss {val_loss:5.2f} | "
              f"valid ppl {math.exp(val_loss):8.2f}")
        torch.save({"epoch": epoch, "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "val_loss": val_loss}, ckpt)

    state = torch.load(ckpt, map_location=device)
    restored = TransformerModel(ntokens, 32, 2, 64, 2, dropout=0.0).to(device)
    restored.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    assert state["epoch"] == 3 and scheduler.last_epoch == 3
    model = restored
    compiled = model
print("final loss", evaluate(val_data))
