"""Next-value regression on noisy sine waves with a one-layer `nn.LSTM`: sliding windows
from a TensorDataset, MSE, Adam with `CosineAnnealingLR`, gradient-norm clipping, early
best-model keeping with `copy.deepcopy(model.state_dict())`, and a rollout at the end.

Run with LIB=torch or LIB=nabla (and SEED=n); prints the final loss on the last line.
"""

import copy
import os

import numpy as np

if os.environ.get("LIB", "torch") == "nabla":
    import nabla as torch
else:
    import torch
nn = torch.nn

torch.manual_seed(int(os.environ.get("SEED", "0")))

window = 16
rs = np.random.RandomState(0)
t = np.arange(0, 400) * 0.1
series = (np.sin(t) + 0.5 * np.sin(2.3 * t) + 0.05 * rs.randn(len(t))).astype(np.float32)
X = np.stack([series[i : i + window] for i in range(len(series) - window)])[:, :, None]
Y = series[window:][:, None]
split = int(0.8 * len(X))
train_ds = torch.utils.data.TensorDataset(torch.tensor(X[:split]), torch.tensor(Y[:split]))
val_x, val_y = torch.tensor(X[split:]), torch.tensor(Y[split:])
train_loader = torch.utils.data.DataLoader(train_ds, batch_size=32, shuffle=True, drop_last=True)


class Forecaster(nn.Module):
    def __init__(self, hidden=24):
        super().__init__()
        self.lstm = nn.LSTM(input_size=1, hidden_size=hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 1)

    def forward(self, x):
        out, (h_n, c_n) = self.lstm(x)
        return self.fc(out[:, -1, :])


model = Forecaster()
criterion = nn.MSELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
epochs = 8
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)

best_loss, best_state = float("inf"), None
for epoch in range(epochs):
    model.train()
    for xb, yb in train_loader:
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
    scheduler.step()
    model.eval()
    with torch.no_grad():
        val_loss = criterion(model(val_x), val_y).item()
    if val_loss < best_loss:
        best_loss, best_state = val_loss, copy.deepcopy(model.state_dict())
    print(f"epoch {epoch + 1}: val mse {val_loss:.5f} lr {scheduler.get_last_lr()[0]:.5f}")

model.load_state_dict(best_state)
model.eval()
with torch.no_grad():
    # feed the model its own predictions for a few steps
    seq = val_x[:1].clone()
    preds = []
    for _ in range(10):
        nxt = model(seq)
        preds.append(nxt.item())
        seq = torch.cat([seq[:, 1:], nxt.unsqueeze(1)], dim=1)
    final = criterion(model(val_x), val_y).item()
print("rollout", " ".join(f"{p:.2f}" for p in preds))
print("final loss", final)
