"""A sequence classifier on `nn.TransformerEncoder`: token embedding plus a learned position
table, a two-layer encoder (batch_first), a padding mask for variable-length sequences, mean
pooling over the real tokens, and a linear head; Adam with a warmup `LambdaLR`.

The task: sequences of tokens 1..9 padded with 0; the label says whether token 3 occurs more
often than token 7.

Run with LIB=torch or LIB=nabla (and SEED=n); prints the final loss on the last line.
"""

import math
import os

import numpy as np

if os.environ.get("LIB", "torch") == "nabla":
    import nabla as torch
else:
    import torch
nn = torch.nn
F = torch.nn.functional

torch.manual_seed(int(os.environ.get("SEED", "0")))

PAD, VOCAB, MAXLEN = 0, 10, 12


def make_data(n, seed):
    rs = np.random.RandomState(seed)
    tokens = np.zeros((n, MAXLEN), dtype=np.int64)
    labels = np.zeros(n, dtype=np.int64)
    for i in range(n):
        length = rs.randint(4, MAXLEN + 1)
        seq = rs.randint(1, VOCAB, size=length)
        tokens[i, :length] = seq
        labels[i] = int((seq == 3).sum() > (seq == 7).sum())
    return torch.from_numpy(tokens), torch.from_numpy(labels)


class TransformerClassifier(nn.Module):
    def __init__(self, vocab, d_model=32, nhead=4, num_layers=2, num_classes=2):
        super().__init__()
        self.d_model = d_model
        self.embed = nn.Embedding(vocab, d_model, padding_idx=PAD)
        self.pos = nn.Parameter(torch.zeros(1, MAXLEN, d_model))
        layer = nn.TransformerEncoderLayer(
            d_model, nhead, dim_feedforward=64, dropout=0.1, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=num_layers)
        self.head = nn.Linear(d_model, num_classes)
        nn.init.normal_(self.pos, std=0.02)

    def forward(self, tokens):
        pad_mask = tokens == PAD
        x = self.embed(tokens) * math.sqrt(self.d_model) + self.pos[:, : tokens.size(1)]
        x = self.encoder(x, src_key_padding_mask=pad_mask)
        keep = (~pad_mask).unsqueeze(-1).float()
        pooled = (x * keep).sum(dim=1) / keep.sum(dim=1)
        return self.head(pooled)


xtr, ytr = make_data(512, 1)
xva, yva = make_data(256, 2)
loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(xtr, ytr), batch_size=32, shuffle=True
)

model = TransformerClassifier(VOCAB)
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
warmup = 10
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))

for epoch in range(4):
    model.train()
    running = 0.0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        scheduler.step()
        running += loss.item() * xb.size(0)
    model.eval()
    with torch.no_grad():
        logits = model(xva)
        val_loss = F.cross_entropy(logits, yva).item()
        acc = (logits.argmax(-1) == yva).float().mean().item()
    print(f"epoch {epoch}: train {running / len(xtr):.4f} val {val_loss:.4f} acc {acc:.3f}")

print("final loss", val_loss)
