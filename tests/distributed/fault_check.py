"""Run under mpirun: rank 1 raises at step 3 of a DDP training loop; the job must end."""

import nabla
import nabla.distributed as dist
from nabla import nn, optim
from nabla.nn.parallel import DistributedDataParallel as DDP


def main():
    dist.init_process_group("mpi")
    model = DDP(nn.Linear(4, 1))
    opt = optim.SGD(model.parameters(), lr=0.1)
    for step in range(1000):
        if step == 3 and dist.get_rank() == 1:
            raise RuntimeError("rank 1 fails at step 3")
        opt.zero_grad()
        model(nabla.randn(8, 4)).pow(2).mean().backward()
        opt.step()
    print("finished without the failure: wrong", flush=True)


if __name__ == "__main__":  # pytest imports this file when it collects doctests
    main()
