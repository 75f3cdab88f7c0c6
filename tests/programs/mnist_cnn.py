"""The MNIST example's network and loop: two convolutions, max-pooling, dropout, a
`log_softmax` head trained with `F.nll_loss`, Adadelta and StepLR, train/test functions with
`argparse`-free settings. The images are synthetic 12x12 digits-like blobs (one template per
class plus noise), so the program runs in a second with nothing to download.

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
optim = torch.optim
StepLR = torch.optim.lr_scheduler.StepLR


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, 10)

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


def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % args["log_interval"] == 0:
            done, size = batch_idx * len(data), len(train_loader.dataset)
            pct = 100.0 * batch_idx / len(train_loader)
            print(f"Train Epoch: {epoch} [{done}/{size} ({pct:.0f}%)]\tLoss: {loss.item():.6f}")


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(test_loader.dataset)
    size = len(test_loader.dataset)
    print(f"\nTest set: Average loss: {test_loss:.4f}, "
          f"Accuracy: {correct}/{size} ({100.0 * correct / size:.0f}%)\n")
    return test_loss


def make_digits(n, seed):
    """Ten fixed 12x12 templates (smoothed noise) and noisy copies of them, normalised."""
    rs = np.random.RandomState(0)
    templates = rs.rand(10, 12, 12)
    templates = (templates + np.roll(templates, 1, 1) + np.roll(templates, 1, 2)) / 3
    rs = np.random.RandomState(seed)
    labels = rs.randint(0, 10, size=n)
    images = templates[labels] + rs.randn(n, 12, 12) * 0.2
    images = (images - 0.5) / 0.3
    return images[:, None].astype(np.float32), labels.astype(np.int64)


def main():
    args = {"batch_size": 32, "test_batch_size": 100, "epochs": 3, "lr": 1.0, "gamma": 0.7,
            "log_interval": 5, "seed": int(os.environ.get("SEED", "0"))}
    use_cuda = torch.cuda.is_available()
    torch.manual_seed(args["seed"])
    device = torch.device("cuda" if use_cuda else "cpu")

    train_kwargs = {"batch_size": args["batch_size"], "shuffle": True}
    test_kwargs = {"batch_size": args["test_batch_size"]}
    if use_cuda:
        cuda_kwargs = {"num_workers": 1, "pin_memory": True}
        train_kwargs.update(cuda_kwargs)
        test_kwargs.update(cuda_kwargs)

    xtr, ytr = make_digits(640, 1)
    xte, yte = make_digits(200, 2)
    dataset1 = torch.utils.data.TensorDataset(torch.from_numpy(xtr), torch.from_numpy(ytr))
    dataset2 = torch.utils.data.TensorDataset(torch.from_numpy(xte), torch.from_numpy(yte))
    train_loader = torch.utils.data.DataLoader(dataset1, **train_kwargs)
    test_loader = torch.utils.data.DataLoader(dataset2, **test_kwargs)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args["lr"])

    scheduler = StepLR(optimizer, step_size=1, gamma=args["gamma"])
    for epoch in range(1, args["epochs"] + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        final = test(model, device, test_loader)
        scheduler.step()
    assert abs(scheduler.get_last_lr()[0] - args["lr"] * args["gamma"] ** args["epochs"]) < 1e-9
    print("final loss", final)


if __name__ == "__main__":
    main()
