"""A GRU character model: embedding, a two-layer `nn.GRU(batch_first=True)`, a linear
decoder; truncated backpropagation through time with the hidden state carried across chunks
and `.detach()`-ed, Adam, gradient-norm clipping, and greedy/temperature sampling.

Run with LIB=torch or LIB=nabla (and SEED=n); prints the final loss on the last line.
"""

import os

if os.environ.get("LIB", "torch") == "nabla":
    import nabla as torch
else:
    import torch
nn = torch.nn
F = torch.nn.functional

from names import WORDS  # noqa: E402

torch.manual_seed(int(os.environ.get("SEED", "0")))

text = " ".join(WORDS)
all_chars = sorted(set(text))
n_chars = len(all_chars)
char_to_ix = {c: i for i, c in enumerate(all_chars)}


def char_tensor(s):
    tensor = torch.zeros(len(s)).long()
    for c in range(len(s)):
        tensor[c] = char_to_ix[s[c]]
    return tensor


class CharRNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size, n_layers=2):
        super().__init__()
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.encoder = nn.Embedding(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, n_layers, batch_first=True)
        self.decoder = nn.Linear(hidden_size, output_size)

    def forward(self, inp, hidden):
        emb = self.encoder(inp)
        output, hidden = self.gru(emb, hidden)
        return self.decoder(output), hidden

    def init_hidden(self, batch_size):
        return torch.zeros(self.n_layers, batch_size, self.hidden_size)


data = char_tensor(text)
batch, chunk = 8, 20
# cut the text into `batch` parallel streams, read `chunk` characters at a time
n = (len(data) - 1) // batch
streams_in = data[: n * batch].view(batch, n)
streams_out = data[1 : n * batch + 1].view(batch, n)

model = CharRNN(n_chars, 48, n_chars)
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
criterion = nn.CrossEntropyLoss()

for epoch in range(1, 7):
    hidden = model.init_hidden(batch)
    total, count = 0.0, 0
    for start in range(0, n - chunk + 1, chunk):
        inp = streams_in[:, start : start + chunk]
        target = streams_out[:, start : start + chunk]
        hidden = hidden.detach()
        optimizer.zero_grad()
        output, hidden = model(inp, hidden)
        loss = criterion(output.reshape(-1, n_chars), target.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        total += loss.item()
        count += 1
    print(f"epoch {epoch} loss {total / count:.4f}")


def evaluate(prime_str="a", predict_len=30, temperature=0.8):
    hidden = model.init_hidden(1)
    prime = char_tensor(prime_str).unsqueeze(0)
    _, hidden = model(prime[:, :-1], hidden)
    inp = prime[:, -1:]
    predicted = prime_str
    for _ in range(predict_len):
        output, hidden = model(inp, hidden)
        output_dist = output.data.view(-1).div(temperature).exp()
        top_i = torch.multinomial(output_dist, 1)[0]
        predicted += all_chars[top_i]
        inp = char_tensor(predicted[-1]).unsqueeze(0)
    return predicted


with torch.no_grad():
    print(evaluate("ma"))
    out, _ = model(streams_in, model.init_hidden(batch))
    final = F.cross_entropy(out.reshape(-1, n_chars), streams_out.reshape(-1)).item()
print("final loss", final)
