"""``nabla train``: train a model and save the run."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import time
from pathlib import Path

import numpy as np

from .config import MODELS, _resolve, make_loss, make_optimizer
from .data import Data, Normalizer, load_data
from .errors import CLIError
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


def _train(args) -> int:
    import nabla

    from .. import io
    from ..data import DataLoader, TensorDataset
    from ..train import EarlyStopping, History, ModelCheckpoint, TerminateOnNaN, fit

    resume_state = None
    if args.resume:
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
    quiet = args.quiet

    data = load_data(argparse.Namespace(**{**vars(args), "dataset": cfg["dataset"]}))
    (Xtr, ytr), (Xval, yval) = _split_validation(data, cfg["val_fraction"], cfg["seed"])
    norm = Normalizer.fit(Xtr)
    n_classes = len(data.classes)
    out = Path(args.out) if args.out else (
        Path(args.resume).parent if args.resume else _run_dir(cfg, None))
    out.mkdir(parents=True, exist_ok=True)

    nabla.manual_seed(cfg["seed"])
    builder, _ = MODELS[cfg["model"]]
    model = builder(argparse.Namespace(**cfg), data, n_classes)
    loss_fn = make_loss(cfg["loss"], n_classes)
    optimizer = make_optimizer(cfg, model.parameters())
    generator = nabla.Generator().manual_seed(cfg["seed"])
    train_loader = DataLoader(TensorDataset(norm(Xtr), ytr), batch_size=cfg["batch_size"],
                              shuffle=True, generator=generator)
    val_loader = (DataLoader(TensorDataset(norm(Xval), yval), batch_size=512)
                  if len(Xval) else None)

    initial_epoch, initial_step, history = 0, None, None
    if resume_state is not None:
        info = io.load_checkpoint(args.resume, model, optimizer, generator=generator)
        initial_epoch, initial_step = info["epoch"], info["step"]
        history = History.from_dict(info["extra"]["history"])
        if initial_epoch > cfg["epochs"]:
            raise CLIError(f"the checkpoint has already trained {initial_epoch} epochs; "
                           f"ask for more with --epochs (got {cfg['epochs']})")

    data_meta = {"dataset": data.name, "kind": data.kind, "input_shape": list(data.input_shape),
                 "classes": data.classes, "max_value": data.max_value, **norm.to_json()}
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
    checkpoint = out / "checkpoint.safetensors"
    callbacks = [TerminateOnNaN(),
                 ModelCheckpoint(checkpoint, training_state=True, extra={"config": dict(cfg)},
                                 metadata={"nabla_data": json.dumps(data_meta),
                                           "nabla_train": json.dumps(cfg)})]
    if args.patience is not None:
        callbacks.insert(1, EarlyStopping("val_loss" if val_loader else "loss",
                                          patience=args.patience, restore_best=True))
    t0 = time.perf_counter()
    try:
        history = fit(model, loss_fn, optimizer, train_loader, cfg["epochs"],
                      val_data=val_loader, callbacks=callbacks, verbose=0 if quiet else 1,
                      initial_epoch=initial_epoch, initial_step=initial_step, history=history)
    except KeyboardInterrupt:
        if checkpoint.is_file():
            raise CLIError(f"interrupted; continue with: nabla train --resume {checkpoint}",
                           code=130) from None
        raise
    elapsed = time.perf_counter() - t0
    if not quiet:
        print(f"trained {len(history) - initial_epoch} epochs in {elapsed:.2f}s")
    if history.stop_reason and history.stop_reason.startswith("TerminateOnNaN"):
        raise CLIError(f"{history.stop_reason}: lower --lr")

    test = _report(model, loss_fn, norm(data.X_test), data.y_test, data.classes, "test", quiet)
    train_meta = {**cfg, "epochs_trained": len(history), "test_accuracy": test["accuracy"],
                  "test_loss": test["loss"]}
    io.save(model, out / "model.safetensors",
            metadata={"nabla_data": json.dumps(data_meta), "nabla_train": json.dumps(train_meta)})
    history.to_csv(out / "history.csv")
    saved = ["model.safetensors", "history.csv", "checkpoint.safetensors"]
    if not args.no_plots:
        title = f"{data.name}, {cfg['model']}: test accuracy {test['accuracy']:.4f}"
        saved += save_plots(out, model, data, norm, history, test["confusion"], test["pred"],
                            title)
    print(f"saved to {out}: {', '.join(saved)}")
    return 0
