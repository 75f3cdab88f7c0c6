"""``torch.utils.data.distributed``: the home of ``DistributedSampler``.

The module path exists so that ``import nabla.utils.data.distributed`` works; the
sampler that splits a dataset between processes is added here by the distributed work.
"""
