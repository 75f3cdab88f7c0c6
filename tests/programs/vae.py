"""A variational autoencoder in the style of the classic example: an MLP encoder to mean and
log-variance, the reparameterisation trick with `torch.randn_like`, a sigmoid decoder, the
loss as summed `F.binary_cross_entropy` plus the KL term, Adam, and samples drawn from the
prior at the end. The data are 8x8 binary "strokes" (random horizontal and vertical bars).

Run with LIB=torch or LIB=nabla (and SEED=n); prints the final loss on the last line.
"""

import os

import numpy as np

if os.environ.get("LIB", "torch") == "nabla":
    import nabla as torch
else:
    import torch
nn = torch.nn
F = torch.nn.functional

torch.manual_seed(int(os.environ.get("SEED", "0")))


def bars(n, seed):
    rs = np.random.RandomState(seed)
    img = np.zeros((n, 8, 8), dtype=np.float32)
    for i in range(n):
        if rs.rand() < 0.5:
            img[i, rs.randint(8), :] = 1
        else:
            img[i, :, rs.randint(8)] = 1
    return torch.from_numpy(img.reshape(n, 64))


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 48)
        self.fc21 = nn.Linear(48, 4)
        self.fc22 = nn.Linear(48, 4)
        self.fc3 = nn.Linear(4, 48)
        self.fc4 = nn.Linear(48, 64)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 64))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 64), reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


train_loader = torch.utils.data.DataLoader(bars(512, 1), batch_size=64, shuffle=True)
test_data = bars(256, 2)
model = VAE()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

for epoch in range(1, 21):
    model.train()
    train_loss = 0
    for data in train_loader:
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
    print(f"====> Epoch: {epoch} Average loss: {train_loss / len(train_loader.dataset):.4f}")

model.eval()
with torch.no_grad():
    # the test loss uses the posterior means, so it does not depend on the sampling noise
    mu, logvar = model.encode(test_data)
    final = loss_function(model.decode(mu), test_data, mu, logvar).item() / len(test_data)
    sample = model.decode(torch.randn(4, 4)).view(4, 8, 8)
    print((sample > 0.5).int()[0])
print("final loss", final)
