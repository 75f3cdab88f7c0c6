"""nabla.distributed's collectives on two real MPI ranks (mpirun), against NumPy."""

from pathlib import Path

import pytest
from mpi_run import mpirun

HERE = Path(__file__).resolve().parent / "distributed"


def test_every_collective_matches_numpy_on_two_ranks():
    out = mpirun(HERE / "collectives_check.py").output
    assert "rank 0 of 2: ok" in out and "rank 1 of 2: ok" in out


def test_using_a_collective_before_init_says_what_to_do():
    import nabla
    import nabla.distributed as dist

    if not dist.is_available():
        pytest.skip("mpi4py is not installed (the distributed extra)")
    with pytest.raises(dist.DistributedError, match="init_process_group"):
        dist.all_reduce(nabla.zeros(2))
    with pytest.raises(ValueError, match="only 'mpi'"):
        dist.init_process_group(backend="gloo")


@pytest.mark.parametrize("n", [1, 7, 10, 11, 12])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_partitions_as_torch(n, replicas, drop_last):
    torch_data = pytest.importorskip("torch.utils.data")
    from nabla.data.distributed import DistributedSampler

    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = torch_data.DistributedSampler(range(n), replicas, rank, shuffle=False,
                                               drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_distributed_sampler_shuffles_by_seed_and_epoch_alike_on_every_rank():
    from nabla.data.distributed import DistributedSampler

    def shares(epoch, seed=0):
        out = []
        for r in range(3):
            s = DistributedSampler(range(10), 3, r, shuffle=True, seed=seed)
            s.set_epoch(epoch)
            out.append(list(s))
        return out

    first = shares(0)
    together = sum(first, [])
    assert len(together) == 12 and set(together) == set(range(10))  # padded by 2 repeats
    assert shares(0) == first  # the same seed and epoch: the same shares
    assert shares(1) != first and shares(0, seed=5) != first
    with pytest.raises(ValueError, match="Invalid rank 3"):
        DistributedSampler(range(10), 3, 3)
