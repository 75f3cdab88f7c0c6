"""The 784-16-16-10 network that reads handwritten digits, and an "is it a 9?" detector.

Course idea: a 28x28 image is 784 input neurons (grey levels 0..1). Two hidden layers of
16 sigmoid neurons feed 10 output neurons, one per digit; the brightest output is the
network's answer. Its "knobs" are 784·16 + 16·16 + 16·10 = 12,960 weights and
16 + 16 + 10 = 42 biases: 13,002 in all. Training is stochastic gradient descent on
the cross-entropy cost over mini-batches of 10 images.

Each first-layer neuron weighs every pixel, so its 784 weights can be drawn as a 28x28
picture of what it looks for.

A single sigmoid output is enough for a yes/no question: "is this digit a 9?", trained
with binary cross-entropy (``BCEWithLogitsLoss``). Only about 1 digit in 10 is a 9, so
answering "no" every time is already 90 % accurate: precision (of the images called 9,
how many are 9s) and recall (of the 9s, how many were found) tell more.

Data: MNIST's four IDX files in ``--data-dir DIR`` (``nabla train --dataset mnist
--download`` fetches them into ~/.cache/nabla/mnist); by default the 8,000-image sample
the project's CI provides for the tests (see the README's test section).

Run:  python examples/08_digit_network.py [--quick] [--out DIR] [--data-dir DIR]
"""

import argparse
from pathlib import Path

import numpy as np

import nabla
from nabla import nn, optim, train, viz
from nabla.data.datasets import MNIST

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared/data/mnist-sample"


def digit_network(outputs=10):
    return nn.Sequential(
        nn.Linear(784, 16), nn.Sigmoid(),   # hidden layer 1: 16 neurons
        nn.Linear(16, 16), nn.Sigmoid(),    # hidden layer 2: 16 neurons
        nn.Linear(16, outputs),             # scores (logits); softmax/sigmoid is in the loss
    )


def load(data_dir, n_train):
    X, y = MNIST(data_dir, train=True).arrays()
    X_test, y_test = MNIST(data_dir, train=False).arrays()
    flat = X[:n_train].reshape(-1, 784), X_test.reshape(-1, 784)  # 28x28 -> 784 inputs
    return flat[0], y[:n_train], flat[1], y_test


def main(quick=False, out_dir=None, data_dir=DATA_DIR):
    n_train, epochs = (3000, 5) if quick else (7000, 30)
    X, y, X_test, y_test = load(data_dir, n_train)
    x_test = nabla.tensor(X_test)

    # -- 1. ten digits ----------------------------------------------------------------
    nabla.manual_seed(0)
    model = digit_network()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"784-16-16-10 network: {n_params:,} weights and biases")
    train.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=3.0),
              (nabla.tensor(X), nabla.tensor(y)), epochs=epochs, batch_size=10, verbose=0)
    with nabla.no_grad():
        predicted = model(x_test).numpy().argmax(1)  # the brightest output neuron
    accuracy = float((predicted == y_test).mean())
    print(f"trained on {n_train} images for {epochs} epochs: "
          f"test accuracy {accuracy:.3f} (chance: 0.1)")

    # -- 2. "is it a 9?": one sigmoid output -------------------------------------------
    nabla.manual_seed(0)
    detector = digit_network(outputs=1)
    is_nine = (y == 9).astype(np.float32)[:, None]
    train.fit(detector, nn.BCEWithLogitsLoss(), optim.SGD(detector.parameters(), lr=3.0),
              (nabla.tensor(X), nabla.tensor(is_nine)), epochs=epochs, batch_size=10,
              verbose=0, metrics=())
    with nabla.no_grad():
        says_nine = detector(x_test).numpy()[:, 0] > 0  # σ(z) > 0.5 exactly when z > 0
    nine = y_test == 9
    hits = int((says_nine & nine).sum())
    nine_stats = {
        "accuracy": float((says_nine == nine).mean()),
        "always_no": float(1 - nine.mean()),  # the accuracy of never saying 9
        "precision": hits / max(int(says_nine.sum()), 1),
        "recall": hits / int(nine.sum()),
    }
    print("is it a 9?  accuracy {accuracy:.3f} (saying 'no' always: {always_no:.3f}), "
          "precision {precision:.3f}, recall {recall:.3f}".format(**nine_stats))

    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        # Red: pixels that excite the neuron, blue: pixels that inhibit it.
        viz.plot_first_layer_weights(model, n=16, path=out / "08_digit_network.png",
                                     title="784-16-16-10: what each first-layer neuron "
                                     "looks for")
        viz.plot_misclassified(X_test, y_test, predicted, n=16,
                               path=out / "08_misclassified.png",
                               title="test digits the network got wrong")
    return {"n_params": n_params, "n_train": n_train, "epochs": epochs,
            "accuracy": accuracy, "predicted": predicted, "y_test": y_test,
            "nine": nine_stats, "says_nine": says_nine}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3,000 images, 5 epochs")
    parser.add_argument("--out", metavar="DIR", help="save the picture in DIR")
    parser.add_argument("--data-dir", default=DATA_DIR, type=Path,
                        help=f"directory of the MNIST IDX files (default {DATA_DIR})")
    args = parser.parse_args()
    main(quick=args.quick, out_dir=args.out, data_dir=args.data_dir)
