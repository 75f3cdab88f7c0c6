"""``nabla train``: train a model and save the run."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from ..train.callbacks import Callback, ModelCheckpoint
from .config import MODELS, _resolve, check_model, make_loss, make_optimizer
from .data import Data, InputRange, Normalizer, load_data
from .distributed import Ranks, under_mpi
from .errors import CLIError, _one_line
from .plots import save_plots
from .report import _report


def _run_dir(cfg: dict, out: str | None) -> Path:
    if out:
        return Path(out)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path("runs") / f"{stamp}-{cfg['dataset']}-{cfg['model']}"
    path, i = base, 1
    while path.exists():
        i += 1
        path = base.with_name(f"{base.name}-{i}")
    return path


def _split_validation(data: Data, fraction: float, seed: int):
    n = len(data.X_train)
    n_val = int(round(n * fraction))
    if fraction and not 0 < n_val < n:
        raise CLIError(f"--val-fraction {fraction} leaves no validation or no training "
                       f"samples out of {n}")
    order = np.random.default_rng(seed).permutation(n)
    val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    return (data.X_train[train], data.y_train[train]), (data.X_train[val], data.y_train[val])


# Files that make a directory a run of `nabla train`.
RUN_FILES = ("model.safetensors", "checkpoint.safetensors", "history.csv")


def _check_out(out: Path, force: bool) -> None:
    """Refuse a run directory that cannot be one, or that holds a run (unless --force)."""
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} is a file, not a directory: name a new directory")
    if out.is_dir() and any((out / f).exists() for f in RUN_FILES):
        if not force:
            raise CLIError(f"--out {out} already holds a run (its model.safetensors would be "
                           "replaced): name another directory, or add --force to replace it")
        # Replacing: the old run's files go first, so nothing of it is mistaken for
        # this run's (stale plots of another model) and a failure removes them all.
        import shutil

        for f in out.iterdir():
            if f.name in RUN_FILES or f.suffix == ".png" or f.name == "tensorboard":
                shutil.rmtree(f) if f.is_dir() else f.unlink()


def _make_run_dir(out: Path) -> Path | None:
    """Create ``out`` (and missing parents); return the topmost directory created, so a
    failed run can remove exactly what it made, or None when ``out`` existed."""
    top = None
    for parent in [*reversed(out.parents), out]:
        if not parent.exists():
            top = parent
            break
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise CLIError(f"--out {out}: a file stands in its path; name a directory") from None
    except OSError as e:
        raise CLIError(f"--out {out}: cannot create the run directory "
                       f"({e.strerror or e})") from None
    return top


def _remove_debris(out: Path, before: set, created: Path | None) -> str:
    """Remove what a failed run wrote; say what was removed."""
    import shutil

    if created is not None:
        shutil.rmtree(created, ignore_errors=True)
        return f"removed the run directory {created} it had created"
    for name in set(os.listdir(out)) - before if out.is_dir() else ():
        path = out / name
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink()
    return f"removed the files it had written in {out}"


def _available_memory() -> int | None:
    """Bytes of memory the system can give this process now, or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


# Per parameter, float32: the weight, its gradient, and each optimizer's state.
_STATE_COPIES = {"sgd": 3, "adam": 4, "adamw": 4, "rmsprop": 4, "adagrad": 3}


def _parameter_count(cfg: dict, data: Data, n_classes: int) -> int:
    """Parameters the model will have, counted from its configuration before building it
    (building a model too big for memory fails slowly, or with a bare MemoryError)."""
    n_in = data.in_features
    if cfg["model"] == "mlp":
        widths = [n_in, *cfg["hidden"], n_classes]
        return sum(a * b + b for a, b in zip(widths, widths[1:]))
    if cfg["model"] == "perceptron":
        return n_in * n_classes + n_classes
    if cfg["model"] == "lstm":
        h, inputs, total = cfg["hidden"][0], data.input_shape[-1], 0
        for _ in cfg["hidden"]:
            total += 4 * h * (inputs + h + 2)
            inputs = h
        return total + h * n_classes + n_classes
    return 0  # LeNet-5: fixed and small


def _check_memory(cfg: dict, data: Data, n_classes: int) -> None:
    n = _parameter_count(cfg, data, n_classes)
    need = 4 * n * _STATE_COPIES.get(cfg["optimizer"], 4)
    if cfg["model"] in ("mlp", "lstm"):  # a batch's activations and their gradients
        need += 4 * 3 * cfg["batch_size"] * sum(cfg["hidden"])
    have = _available_memory()
    if have is not None and need > have:
        raise CLIError(f"the {cfg['model']} model ({n:,} parameters) needs about "
                       f"{_gib(need)} of memory to train (weights, gradients, "
                       f"{cfg['optimizer']}'s state); {_gib(have)} is available: "
                       "choose smaller --hidden widths")


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB"


def _train(args) -> int:
    from .. import io

    resume_state = None
    if args.resume:
        if os.path.isdir(args.resume):
            raise CLIError(f"--resume {args.resume} is a directory: give the "
                           "checkpoint.safetensors inside it")
        if not os.path.isfile(args.resume):
            raise CLIError(f"checkpoint not found: {args.resume}")
        resume_state, _, _ = io.read_checkpoint(args.resume)
        extra = resume_state.get("extra") or {}
        if "config" not in extra:
            raise CLIError(f"{args.resume}: not a checkpoint written by 'nabla train' "
                           "(it records no training configuration)")
        cfg = _resolve(args, base=extra["config"])
    else:
        cfg = _resolve(args)

    ranks = Ranks(under_mpi())
    if not ranks.main:  # rank 0 owns the run directory; the others only train
        try:
            return _run(args, cfg, load_data(argparse.Namespace(
                **{**vars(args), "dataset": cfg["dataset"]})), None, resume_state, ranks)
        except BaseException as e:
            print(f"nabla train: rank {ranks.rank}: error: {_one_line(e)}", file=sys.stderr)
            ranks.abort(1)
            raise
    data = load_data(argparse.Namespace(**{**vars(args), "dataset": cfg["dataset"]}))
    n_classes = len(data.classes)
    out = Path(args.out) if args.out else (
        Path(args.resume).parent if args.resume else _run_dir(cfg, None))
    check_model(cfg, data)
    if not args.resume:
        _check_out(out, args.force)
    _check_memory(cfg, data, n_classes)
    created = _make_run_dir(out)
    before = set(os.listdir(out))
    try:
        return _run(args, cfg, data, out, resume_state, ranks)
    except BaseException as e:
        if ranks.world > 1:
            print(f"nabla train: error: {_one_line(e)}", file=sys.stderr)
            _remove_debris(out, before, created) if not args.resume else None
            ranks.abort(1)
        if args.resume or (isinstance(e, CLIError) and e.code == 130):
            raise  # a resumed run's directory, or an interrupted one that can resume
        note = _remove_debris(out, before, created)
        if isinstance(e, CLIError):
            raise CLIError(f"{e}; {note}", e.code) from None
        if isinstance(e, (OSError, ValueError, MemoryError)):
            raise CLIError(f"{_one_line(e)}; {note}") from e
        raise


def _run(args, cfg: dict, data: Data, out: Path | None, resume_state, ranks: Ranks) -> int:
    import nabla

    from .. import io
    from ..data import DataLoader, DistributedSampler, TensorDataset
    from ..train import EarlyStopping, History, TerminateOnNaN, fit

    quiet = args.quiet or not ranks.main
    (Xtr, ytr), (Xval, yval) = _split_validation(data, cfg["val_fraction"], cfg["seed"])
    norm = Normalizer.fit(Xtr)
    n_classes = len(data.classes)

    nabla.manual_seed(cfg["seed"])
    builder, _ = MODELS[cfg["model"]]
    model = builder(argparse.Namespace(**cfg), data, n_classes)
    loss_fn = make_loss(cfg["loss"], n_classes)
    optimizer = make_optimizer(cfg, model.parameters())
    generator = nabla.Generator().manual_seed(cfg["seed"])
    train_set = TensorDataset(norm(Xtr), ytr)
    if ranks.world > 1:
        sampler = DistributedSampler(train_set, ranks.world, ranks.rank, shuffle=True,
                                     seed=cfg["seed"])
        train_loader = DataLoader(train_set, batch_size=ranks.batch(cfg["batch_size"]),
                                  sampler=sampler)
    else:
        train_loader = DataLoader(train_set, batch_size=cfg["batch_size"], shuffle=True,
                                  generator=generator)
    val_loader = (DataLoader(TensorDataset(norm(Xval), yval), batch_size=512)
                  if len(Xval) else None)

    initial_epoch, initial_step, history, callback_states = 0, None, None, None
    if resume_state is not None:
        # A data-parallel run's checkpoint has no loader generator (its ranks shuffle by
        # seed and epoch): a single process then shuffles from the seed.
        info = io.load_checkpoint(args.resume, model, optimizer,
                                  generator=generator if "generator" in resume_state else None)
        initial_epoch, initial_step = info["epoch"], info["step"]
        callback_states = info["callbacks"]
        history = History.from_dict(info["extra"]["history"])
        if initial_epoch > cfg["epochs"]:
            raise CLIError(f"the checkpoint has already trained {initial_epoch} epochs; "
                           f"ask for more with --epochs (got {cfg['epochs']})")
    inner = model
    if ranks.world > 1:
        from ..nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(inner)  # rank 0's weights, averaged gradients

    data_meta = {"dataset": data.name, "kind": data.kind, "input_shape": list(data.input_shape),
                 "classes": data.classes, "max_value": data.max_value, **norm.to_json(),
                 # Where the files came from, so `evaluate` and `plot` find them again,
                 # and where the inputs lie, so `predict` can tell an input unlike them.
                 "source": data.source, "input_range": InputRange.fit(Xtr, norm).to_json()}
    n_params = sum(p.numel() for p in model.parameters())
    if not quiet:
        layers = "-".join(map(str, [data.in_features, *cfg.get("hidden", []), n_classes]))
        shape = (f"mlp {layers} ({cfg['activation']})" if cfg["model"] == "mlp"
                 else f"{cfg['model']} {data.in_features}-{n_classes}")
        momentum = f", momentum {cfg['momentum']}" if cfg.get("momentum") is not None else ""
        print(f"nabla train: {data.name}: {len(Xtr)} training, {len(Xval)} validation, "
              f"{len(data.X_test)} test samples; {n_classes} classes")
        print(f"model: {shape}, {n_params:,} parameters; {cfg['loss']} loss, "
              f"{cfg['optimizer']} lr {cfg['lr']:g}{momentum}, batch {cfg['batch_size']}, "
              f"{cfg['epochs']} epochs, seed {cfg['seed']}")
        if initial_epoch:
            print(f"resuming from {args.resume} after epoch {initial_epoch}")
        print(f"run directory: {out}", flush=True)

    # The checkpoint records the configuration too, so --resume needs nothing else, and
    # the data preparation, so `evaluate` and `predict` accept it like a model file.
    checkpoint = out / "checkpoint.safetensors" if ranks.main else None
    callbacks = [TerminateOnNaN()]
    if ranks.main:
        callbacks.append(_InnerModelCheckpoint(
            checkpoint, training_state=True, extra={"config": dict(cfg)},
            metadata={"nabla_data": json.dumps(data_meta), "nabla_train": json.dumps(cfg)}))
    if ranks.world > 1:
        callbacks.append(_SamplerEpoch(train_loader.sampler))
    if cfg.get("patience") is not None:
        # Every rank decides alike: the validation loss is the same on identical replicas.
        callbacks.insert(1, EarlyStopping("val_loss" if val_loader else "loss",
                                          patience=cfg["patience"], restore_best=True))
    if args.diagnostics and ranks.main:
        from ..viz.monitor import DiagnosticsCallback

        callbacks.append(DiagnosticsCallback(
            out, every=args.diagnostics,
            log_dir=out / "tensorboard" / "diagnostics" if args.tensorboard else None))
    if args.tensorboard and ranks.main:
        from ..train.tensorboard import TensorBoard

        callbacks.append(TensorBoard(out / "tensorboard", histogram_freq=args.histogram_freq,
                                     hparams=dict(cfg)))
    t0 = time.perf_counter()
    try:
        history = fit(model, loss_fn, optimizer, train_loader, cfg["epochs"],
                      val_data=val_loader, callbacks=callbacks, verbose=0 if quiet else 1,
                      initial_epoch=initial_epoch, initial_step=initial_step, history=history,
                      callback_states=callback_states)
    except KeyboardInterrupt:
        if checkpoint is not None and checkpoint.is_file():
            raise CLIError(f"interrupted; continue with: nabla train --resume {checkpoint}",
                           code=130) from None
        raise
    elapsed = time.perf_counter() - t0
    if not quiet:
        print(f"trained {len(history) - initial_epoch} epochs in {elapsed:.2f}s")
    if history.stop_reason and history.stop_reason.startswith("TerminateOnNaN"):
        raise CLIError(f"{history.stop_reason}: lower --lr")
    model = inner
    if not ranks.main:
        return 0

    test = _report(model, loss_fn, norm(data.X_test), data.y_test, data.classes, "test", quiet)
    train_meta = {**cfg, "epochs_trained": len(history), "test_accuracy": test["accuracy"],
                  "test_loss": test["loss"]}
    io.save(model, out / "model.safetensors",
            metadata={"nabla_data": json.dumps(data_meta), "nabla_train": json.dumps(train_meta)})
    history.to_csv(out / "history.csv")
    saved = ["model.safetensors", "history.csv", "checkpoint.safetensors"]
    if args.tensorboard:
        saved.append("tensorboard/")
    if args.diagnostics:
        saved += [f"diagnostics_{k}.png" for k in ("activations", "gradients", "update_ratios")]
    if not args.no_plots:
        title = f"{data.name}, {cfg['model']}: test accuracy {test['accuracy']:.4f}"
        saved += save_plots(out, model, data, norm, history, test["confusion"], test["pred"],
                            title)
    print(f"saved to {out}: {', '.join(saved)}")
    return 0


class _InnerModelCheckpoint(ModelCheckpoint):
    """ModelCheckpoint of the model inside DistributedDataParallel (no "module." prefix),
    so that a checkpoint written by N ranks resumes on any number of them."""

    def save(self, path, epoch):
        t = self.trainer
        outer = t.model
        t.model = getattr(outer, "module", outer)
        try:
            super().save(path, epoch)
        finally:
            t.model = outer


class _SamplerEpoch(Callback):
    """Tell the DistributedSampler each epoch, so every epoch shuffles anew, alike on
    every rank."""

    def __init__(self, sampler):
        self.sampler = sampler

    def on_epoch_begin(self, epoch, logs=None):
        self.sampler.set_epoch(epoch)
