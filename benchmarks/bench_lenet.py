"""nabla's LeNet-5 against PyTorch's: one training step at batch 64 on 28x28 inputs.

The model and data are the suite's case 4 (``cases/spatial.py``): conv 1->6 5x5 pad 2,
ReLU, maxpool 2; conv 6->16 5x5, ReLU, maxpool 2; flatten; 400->120->84->10 with ReLUs;
cross-entropy; backward; SGD step; float32. The harness (subprocesses, alternation, the
loss check) is ``pair.py``'s; this script adds cProfile and CPU time to the suite's view.

    python benchmarks/bench_lenet.py             # timed run
    python benchmarks/bench_lenet.py --quick     # a few steps each, a CI smoke test
    python benchmarks/bench_lenet.py --profile   # cProfile of nabla's step, by cumtime
"""

from __future__ import annotations

import pair
from cases import spatial


def make_step(lib, args):
    step = spatial.lenet(lib).step
    return lambda: step().item()


if __name__ == "__main__":
    pair.main(__doc__, "LeNet-5 training step, 1x28x28", spatial.BATCH, make_step)
