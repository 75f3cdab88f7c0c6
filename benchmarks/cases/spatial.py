"""Cases 4-5: LeNet-5 and an LSTM (``bench_lenet.py`` and ``bench_lstm.py`` time the same
workloads with cProfile, CPU time and a choice of OpenBLAS kernels).

Their kernels (convolution, pooling, the fused recurrent sequence) belong to other
work; here they are only measured, in the suite's harness, next to the other cases.
"""

from __future__ import annotations

import numpy as np

from . import Case, Workload, cycle, import_lib, load, training_step, uniform_init

BATCH, LR, N_BATCHES = 64, 0.05, 8

LENET_SHAPES = {
    "0.weight": (6, 1, 5, 5), "0.bias": (6,), "3.weight": (16, 6, 5, 5), "3.bias": (16,),
    "7.weight": (120, 400), "7.bias": (120,), "9.weight": (84, 120), "9.bias": (84,),
    "11.weight": (10, 84), "11.bias": (10,),
}


def lenet(lib_name):
    lib = import_lib(lib_name)
    nn = lib.nn
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )
    rng = np.random.default_rng(4)
    load(lib, model, uniform_init(rng, LENET_SHAPES))
    n = BATCH * N_BATCHES
    X = lib.from_numpy(rng.random((n, 1, 28, 28), dtype=np.float32))
    Y = lib.from_numpy(rng.integers(0, 10, n))
    batches = [(X[i:i + BATCH], Y[i:i + BATCH]) for i in range(0, n, BATCH)]
    opt = lib.optim.SGD(model.parameters(), lr=LR)
    # conv: 2*B*(out pixels)*(k*k*cin)*cout forward; x3 for backward (input + weight grads,
    # the first conv's input gradient included: it is cheap next to the rest).
    conv = 2 * BATCH * (28 * 28 * 25 * 6 + 10 * 10 * 150 * 16)
    fc = 2 * BATCH * (400 * 120 + 120 * 84 + 84 * 10)
    return Workload(training_step(model, nn.CrossEntropyLoss(), opt, cycle(batches)), BATCH,
                    3.0 * (conv + fc))


T, I, H, C = 28, 28, 128, 10


def lstm(lib_name):
    lib = import_lib(lib_name)
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(I, H, batch_first=True)
            self.fc = nn.Linear(H, C)

        def forward(self, x):
            _, (h_n, _) = self.lstm(x)
            return self.fc(h_n[-1])

    rng = np.random.default_rng(5)
    k = 1 / np.sqrt(H)
    weights = {
        name: rng.uniform(-k, k, shape).astype(np.float32)
        for name, shape in {
            "lstm.weight_ih_l0": (4 * H, I), "lstm.weight_hh_l0": (4 * H, H),
            "lstm.bias_ih_l0": (4 * H,), "lstm.bias_hh_l0": (4 * H,),
            "fc.weight": (C, H), "fc.bias": (C,),
        }.items()
    }
    model = Net()
    load(lib, model, weights)
    n = BATCH * N_BATCHES
    X = lib.from_numpy(rng.random((n, T, I), dtype=np.float32))
    Y = lib.from_numpy(rng.integers(0, C, n))
    batches = [(X[i:i + BATCH], Y[i:i + BATCH]) for i in range(0, n, BATCH)]
    opt = lib.optim.SGD(model.parameters(), lr=LR)
    flops = 3.0 * 2 * BATCH * T * 4 * H * (I + H)  # gate products, forward + backward
    return Workload(training_step(model, nn.CrossEntropyLoss(), opt, cycle(batches)), BATCH,
                    flops)


CASES = [
    # The speed issue asks >= 1.0x for both; the convolutional/recurrent one >= 0.8x.
    Case("4", "LeNet-5, 1x28x28, cross-entropy, SGD, batch 64", ("nabla", "torch"), lenet,
         target=1.0, steps=5, quick_steps=1),
    Case("5", "LSTM 28x28 rows, hidden 128, + Linear, SGD, batch 64", ("nabla", "torch"),
         lstm, target=1.0, steps=2, quick_steps=1),
]
