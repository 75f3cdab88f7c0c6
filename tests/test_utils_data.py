"""nabla.utils.data against torch.utils.data: samplers, DataLoader options, workers,
default_collate. Random orders come from different generators, so those are compared
through their semantics (partition, counts, repeatability); deterministic layouts
(sequential order, batching, drop_last, random_split's lengths) are compared exactly."""

from __future__ import annotations

import collections
import importlib
import os

import numpy as np
import pytest

import nabla
import nabla.utils.data as tud
from nabla.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    get_worker_info,
    random_split,
)

torch = pytest.importorskip("torch")
tdata = torch.utils.data


def gen(seed):
    return nabla.random.Generator().manual_seed(seed)


def small_ds(n=10):
    return TensorDataset(np.arange(n * 2, dtype=np.float32).reshape(n, 2), np.arange(n))


class Squares(Dataset):
    """A generic map-style dataset: one Python call per sample."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(2, i, dtype=np.float32), i


class Stream(IterableDataset):
    """A stream that splits itself between workers, as PyTorch's docs advise."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))


def labels(loader):
    return [int(v) for _, y in loader for v in y.numpy().ravel()]


# ------------------------------------------------------------------ the module path

def test_utils_data_re_exports_nabla_data():
    for name in set(tud.__all__) - {"DistributedSampler"}:
        assert getattr(tud, name) is getattr(nabla.data, name)
    assert nabla.utils.data.DataLoader is nabla.data.DataLoader
    dist = importlib.import_module("nabla.utils.data.distributed")
    assert dist.DistributedSampler is tud.DistributedSampler
    assert hasattr(torch.utils.data.distributed, "DistributedSampler")


def test_a_distributed_sampler_drives_a_loader():
    sampler = tud.DistributedSampler(small_ds(10), num_replicas=2, rank=1, shuffle=False)
    theirs = tdata.DistributedSampler(range(10), num_replicas=2, rank=1, shuffle=False)
    assert labels(DataLoader(small_ds(10), batch_size=2, sampler=sampler)) == list(theirs)


def test_every_torch_name_we_promise_exists():
    for name in ("Dataset", "IterableDataset", "TensorDataset", "DataLoader", "random_split",
                 "Subset", "ConcatDataset", "ChainDataset", "Sampler", "SequentialSampler",
                 "RandomSampler", "BatchSampler", "SubsetRandomSampler",
                 "WeightedRandomSampler", "default_collate", "get_worker_info"):
        assert hasattr(tdata, name) and hasattr(tud, name), name


# ------------------------------------------------------------------ samplers

@pytest.mark.parametrize("n,bs,drop_last", [(10, 3, False), (10, 3, True), (9, 3, True),
                                            (2, 5, False), (2, 5, True), (7, 1, False)])
def test_batch_sampler_layout_matches_torch(n, bs, drop_last):
    ours = list(BatchSampler(SequentialSampler(range(n)), bs, drop_last))
    theirs = list(tdata.BatchSampler(tdata.SequentialSampler(range(n)), bs, drop_last))
    assert ours == theirs
    assert len(BatchSampler(SequentialSampler(range(n)), bs, drop_last)) == len(theirs)
    # A plain iterable as the sampler takes the generic path: same layout.
    assert list(BatchSampler(list(range(n)), bs, drop_last)) == theirs


def test_sequential_sampler_matches_torch():
    assert list(SequentialSampler("abcde")) == list(tdata.SequentialSampler("abcde"))
    assert all(type(i) is int for i in SequentialSampler(range(3)))


def test_random_sampler_is_a_permutation_and_repeatable():
    s = RandomSampler(range(50), generator=gen(0))
    a, b = list(s), list(s)
    assert sorted(a) == sorted(b) == list(range(50)) and a != b  # fresh each epoch
    assert list(RandomSampler(range(50), generator=gen(0))) == a
    assert all(type(i) is int for i in a)


@pytest.mark.parametrize("num_samples", [3, 10, 23])
def test_random_sampler_num_samples_without_replacement_like_torch(num_samples):
    ours = list(RandomSampler(range(10), num_samples=num_samples, generator=gen(1)))
    theirs = list(tdata.RandomSampler(range(10), num_samples=num_samples,
                                      generator=torch.Generator().manual_seed(1)))
    assert len(ours) == len(theirs) == num_samples
    # torch chains whole permutations: each block of 10 holds every index once.
    for k in range(0, num_samples - num_samples % 10, 10):
        assert sorted(ours[k:k + 10]) == list(range(10)) == sorted(theirs[k:k + 10])
    assert len(set(ours[num_samples - num_samples % 10:])) == num_samples % 10


def test_random_sampler_with_replacement_is_uniform():
    draws = list(RandomSampler(range(4), replacement=True, num_samples=8000,
                               generator=gen(2)))
    counts = np.bincount(draws, minlength=4)
    assert len(draws) == 8000 and counts.min() > 1800 and counts.max() < 2200
    assert len(set(draws[:50])) < 50  # repeats happen


@pytest.mark.parametrize("kwargs,exc", [({"num_samples": 0}, ValueError),
                                        ({"num_samples": -3}, ValueError),
                                        ({"replacement": 1}, TypeError)])
def test_random_sampler_bad_arguments_like_torch(kwargs, exc):
    with pytest.raises(exc):
        tdata.RandomSampler(range(3), **kwargs)
    with pytest.raises(exc, match="num_samples|replacement"):
        RandomSampler(range(3), **kwargs)


def test_subset_random_sampler_permutes_the_given_indices():
    idx = [5, 17, 3, 99]
    s = SubsetRandomSampler(idx, generator=gen(3))
    epochs = [list(s) for _ in range(6)]
    assert all(sorted(e) == sorted(idx) for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1
    assert len(s) == len(tdata.SubsetRandomSampler(idx)) == 4


def test_weighted_sampler_frequencies_follow_the_weights():
    w = [1.0, 3.0, 0.0, 6.0]
    draws = list(WeightedRandomSampler(w, 20000, generator=gen(4)))
    freq = np.bincount(draws, minlength=4) / 20000
    np.testing.assert_allclose(freq, np.array(w) / 10, atol=0.015)
    assert freq[2] == 0
    torch_draws = list(tdata.WeightedRandomSampler(w, 20000))
    np.testing.assert_allclose(np.bincount(torch_draws, minlength=4) / 20000, freq, atol=0.02)


def test_weighted_sampler_without_replacement_never_repeats():
    s = WeightedRandomSampler(nabla.tensor([1.0, 1.0, 5.0, 0.5]), 4, replacement=False,
                              generator=gen(5))
    assert sorted(s) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler([1.0, 0.0, 1.0], 3, replacement=False)
    # (torch instead returns the zero-weight index last: nabla refuses, saying why.)


@pytest.mark.parametrize("weights", [[], [[1.0, 2.0]], [-1.0, 2.0], [0.0, 0.0],
                                     [1.0, float("nan")]])
def test_weighted_sampler_bad_weights(weights):
    with pytest.raises(ValueError, match="weights"):
        WeightedRandomSampler(weights, 2)


def test_sampler_base_class_and_a_custom_sampler():
    class Reverse(Sampler):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n - 1, -1, -1))

        def __len__(self):
            return self.n

    assert labels(DataLoader(small_ds(5), batch_size=2, sampler=Reverse(5))) == [4, 3, 2, 1, 0]
    with pytest.raises(NotImplementedError):
        iter(Sampler())


# ------------------------------------------------------------------ DataLoader options

def test_loader_sampler_and_batch_sampler_match_torch_layout():
    tds = tdata.TensorDataset(torch.arange(10))
    sampler = [9, 1, 4, 4, 0]
    ours = DataLoader(small_ds(10), batch_size=2, sampler=sampler)
    theirs = tdata.DataLoader(tds, batch_size=2, sampler=sampler)
    assert labels(ours) == [int(v) for (b,) in theirs for v in b] == sampler
    assert len(ours) == len(theirs) == 3
    batches = [[3, 1], [0], [2, 2, 2]]
    ours = DataLoader(small_ds(10), batch_sampler=batches)
    theirs = tdata.DataLoader(tds, batch_sampler=batches)
    assert [y.numpy().tolist() for _, y in ours] == [b.tolist() for (b,) in theirs]
    assert len(ours) == len(theirs) == 3


@pytest.mark.parametrize("kwargs", [
    {"sampler": [0, 1], "shuffle": True},
    {"batch_sampler": [[0]], "batch_size": 2},
    {"batch_sampler": [[0]], "shuffle": True},
    {"batch_sampler": [[0]], "sampler": [0]},
    {"batch_sampler": [[0]], "drop_last": True},
    {"batch_size": None, "drop_last": True},
    {"num_workers": -1},
    {"persistent_workers": True},
    {"prefetch_factor": 2},
    {"timeout": -1},
])
def test_loader_refuses_what_torch_refuses(kwargs):
    with pytest.raises(ValueError):
        tdata.DataLoader(tdata.TensorDataset(torch.arange(4)), **kwargs)
    with pytest.raises(ValueError):
        DataLoader(small_ds(4), **kwargs)


def test_loader_defaults_and_attributes_like_torch():
    ours, theirs = DataLoader(small_ds(10), batch_size=4), \
        tdata.DataLoader(tdata.TensorDataset(torch.arange(10)), batch_size=4)
    assert type(ours.sampler).__name__ == type(theirs.sampler).__name__ == "SequentialSampler"
    assert type(ours.batch_sampler).__name__ == "BatchSampler"
    shuffled = DataLoader(small_ds(10), batch_size=4, shuffle=True, pin_memory=True)
    assert isinstance(shuffled.sampler, RandomSampler) and shuffled.pin_memory
    assert len(ours.sampler) == 10 and ours.batch_size == 4


def test_batch_size_none_yields_single_converted_samples():
    ours = list(DataLoader(Squares(3), batch_size=None))
    theirs = list(tdata.DataLoader(_TorchSquares(3), batch_size=None))
    assert len(ours) == len(theirs) == 3
    assert isinstance(ours[0], list) and isinstance(theirs[0], list)  # tuple -> list
    assert isinstance(ours[1][0], nabla.Tensor) and ours[1][0].shape == (2,)
    assert ours[2][1] == theirs[2][1] == 2  # a plain int stays an int


class _TorchSquares(tdata.Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(2, i, dtype=np.float32), i


def test_generator_makes_shuffle_repeatable_and_global_seed_too():
    a = labels(DataLoader(small_ds(30), batch_size=4, shuffle=True, generator=gen(7)))
    b = labels(DataLoader(small_ds(30), batch_size=4, shuffle=True, generator=gen(7)))
    assert a == b and sorted(a) == list(range(30)) and a != list(range(30))


def test_iterable_dataset_is_batched_as_a_stream():
    ours = DataLoader(Stream(7), batch_size=3)
    theirs = tdata.DataLoader(_TorchStream(7), batch_size=3)
    assert [b.numpy().tolist() for b in ours] == [b.tolist() for b in theirs]
    dropped = DataLoader(Stream(7), batch_size=3, drop_last=True)
    assert [b.numpy().tolist() for b in dropped] == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(7), shuffle=True)
    with pytest.raises(TypeError):
        len(DataLoader(Stream(7)))  # a stream of unknown length, as in torch
    assert [int(x) for x in DataLoader(ChainDataset([Stream(2), Stream(3)]),
                                       batch_size=None)] == [0, 1, 0, 1, 2]


class _TorchStream(tdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


def test_concat_dataset_refuses_a_stream():
    with pytest.raises(TypeError, match="ChainDataset"):
        ConcatDataset([small_ds(2), Stream(3)])


def test_random_split_lengths_match_torch():
    for n, fracs in [(10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]), (101, [0.8, 0.1, 0.1]),
                     (5, [0.1, 0.9]), (3, [1 / 3] * 3)]:
        ours = [len(s) for s in random_split(small_ds(n), fracs, generator=gen(0))]
        theirs = [len(s) for s in tdata.random_split(range(n), fracs)]
        assert ours == theirs, (n, fracs)


def test_subset_of_a_split_loads_through_the_fast_path():
    train, _ = random_split(small_ds(20), [15, 5], generator=gen(1))
    assert isinstance(train, Subset)
    seen = labels(DataLoader(train, batch_size=4))
    assert seen == [int(i) for i in train._idx]


# ------------------------------------------------------------------ default_collate

def _to_py(x):
    if isinstance(x, (nabla.Tensor, torch.Tensor)):
        return ("tensor", str(x.dtype).split(".")[-1], x.numpy().tolist())
    if isinstance(x, dict):
        return {k: _to_py(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_to_py(v) for v in x])
    return x


@pytest.mark.parametrize("batch", [
    [1, 2, 3],
    [1.5, 2.0],
    [True, False],
    [np.float32(1.0), np.float32(2.0)],
    ["a", "b"],
    [(1, 2.0), (3, 4.0)],
    [[1, 2], [3, 4]],
    [{"x": 1, "y": (2.0, "s")}, {"x": 3, "y": (4.0, "t")}],
    [np.zeros((2, 2), np.float32), np.ones((2, 2), np.float32)],
    [np.array([1, 2]), np.array([3, 4])],
])
def test_default_collate_matches_torch(batch):
    ours = _to_py(default_collate(batch))
    theirs = _to_py(tdata.default_collate(batch))
    assert ours == theirs


def test_default_collate_of_tensors_matches_torch():
    ours = default_collate([nabla.tensor([1.0, 2.0]), nabla.tensor([3.0, 4.0])])
    theirs = tdata.default_collate([torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])])
    assert _to_py(ours) == _to_py(theirs)


def test_default_collate_keeps_namedtuples_and_mapping_types():
    Point = collections.namedtuple("Point", "x y")
    out = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(out, Point) and out.x.dtype == nabla.int64
    od = default_collate([collections.OrderedDict(a=1), collections.OrderedDict(a=2)])
    assert type(od) is collections.OrderedDict


# ------------------------------------------------------------------ worker processes

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="worker tests use fork")


class Pids(Dataset):
    def __len__(self):
        return 12

    def __getitem__(self, i):
        return i, os.getpid(), int(np.random.randint(0, 2**30))


@needs_fork
def test_workers_are_processes_and_keep_the_order():
    loader = DataLoader(Pids(), batch_size=2, num_workers=2, generator=gen(0))
    batches = list(loader)
    idx = [int(v) for b in batches for v in b[0].numpy()]
    pids = {int(v) for b in batches for v in b[1].numpy()}
    assert idx == list(range(12))
    assert os.getpid() not in pids and len(pids) == 2


@needs_fork
def test_workers_match_the_in_process_batches_and_shuffle():
    ds = Squares(23)
    inproc = list(DataLoader(ds, batch_size=4, shuffle=True, generator=gen(3)))
    workers = list(DataLoader(ds, batch_size=4, shuffle=True, generator=gen(3),
                              num_workers=2))
    # The workers' base seed is drawn after the permutation, from the same generator.
    assert len(inproc) == len(workers) == 6
    for (xa, ya), (xb, yb) in zip(inproc, workers):
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        assert xa.dtype == xb.dtype


@needs_fork
def test_worker_seeds_and_init_fn():
    calls = []

    def init(worker_id):
        info = get_worker_info()
        assert info is not None and info.id == worker_id and info.num_workers == 2
        np.random.seed(1000 + worker_id)  # an init_fn may reseed; it runs after seeding
        calls.append(worker_id)  # in the worker's memory only

    a = list(DataLoader(Pids(), batch_size=3, num_workers=2, worker_init_fn=init,
                        generator=gen(1)))
    b = list(DataLoader(Pids(), batch_size=3, num_workers=2, worker_init_fn=init,
                        generator=gen(1)))
    draws_a = [int(v) for x in a for v in x[2].numpy()]
    draws_b = [int(v) for x in b for v in x[2].numpy()]
    assert draws_a == draws_b and calls == []  # init ran in the workers, not here
    assert get_worker_info() is None


@needs_fork
def test_persistent_workers_survive_epochs():
    loader = DataLoader(Pids(), batch_size=4, num_workers=2, persistent_workers=True)
    first = {int(v) for b in loader for v in b[1].numpy()}
    second = {int(v) for b in loader for v in b[1].numpy()}
    assert first == second and len(first) == 2
    loader._pool.shutdown()


class Failing(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise KeyError(f"sample {i} is missing")
        return i


@needs_fork
def test_a_worker_error_reaches_the_main_process_with_its_traceback():
    with pytest.raises(KeyError, match="worker process .*sample 5 is missing"):
        list(DataLoader(Failing(), batch_size=2, num_workers=2))


@needs_fork
def test_iterable_dataset_with_workers_splits_the_stream():
    got = [int(v) for b in DataLoader(Stream(11), batch_size=2, num_workers=2)
           for v in b.numpy()]
    theirs = [int(v) for b in tdata.DataLoader(_TorchSplitStream(11), batch_size=2,
                                               num_workers=2) for v in b]
    assert sorted(got) == list(range(11))
    assert got == theirs  # the same round-robin interleaving of the two workers


class _TorchSplitStream(tdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = tdata.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))


@needs_fork
def test_breaking_out_of_an_epoch_shuts_the_workers_down():
    loader = DataLoader(Pids(), batch_size=1, num_workers=2)
    it = iter(loader)
    next(it)
    pool_procs = it.gi_frame.f_locals["pool"].procs
    it.close()
    assert all(not p.is_alive() for p in pool_procs)
