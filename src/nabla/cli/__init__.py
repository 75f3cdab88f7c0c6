"""The ``nabla`` command line.

``nabla train`` trains a model on a dataset and saves it, with its training history,
plots and a checkpoint, under ``runs/``; ``nabla evaluate`` measures a saved model;
``nabla predict`` classifies images or arrays with it; ``nabla graph`` draws a saved
model; ``nabla plot`` redraws a run's plots; ``nabla demo`` trains a tiny network on
XOR. ``nabla COMMAND --help`` lists each command's options.

Errors (a bad option, a missing file, a damaged model) end the command with exit status
1 or 2 and one line on stderr; set ``NABLA_DEBUG=1`` to see the traceback instead.

>>> main(["train", "--dataset", "xor", "--epochs", "2", "--out", "/nonexistent/x",
...       "--hidden", "8,eight"])
Traceback (most recent call last):
...
SystemExit: 2
"""

from __future__ import annotations

import argparse
import os
import sys

from .config import LOSSES, MODELS, OPTIMIZERS, TRAIN_DEFAULTS, _resolve
from .data import DATASETS, Data, Normalizer
from .demo import _demo
from .errors import CLIError, _one_line
from .evaluate import _evaluate
from .graph import GRAPH_FORMATS, _export, _graph
from .options import (
    _activation_names,
    _fraction,
    _hidden,
    _non_negative_float,
    _positive,
    _seed,
)
from .plots import _plot, save_plots
from .predict import _predict
from .train import _train

__all__ = ["CLIError", "Data", "Normalizer", "build_parser", "main", "save_plots"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line, not argparse's usage block: the usage is one --help away.
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _add_train(sub) -> None:
    train = sub.add_parser(
        "train", help="train a model on a dataset and save it (default: an MLP on digits)",
        description="Train a model and save model.safetensors, history.csv, "
                    "checkpoint.safetensors and plots (history.png, confusion_matrix.png, "
                    "misclassified.png, first_layer_weights.png; decision_boundary.png for "
                    "2-D points) in the run directory (runs/<time>-<dataset>-<model> unless "
                    "--out). With no options: an MLP on the bundled 8x8 digits, in seconds.")
    d = TRAIN_DEFAULTS
    train.add_argument("--dataset", choices=list(DATASETS),
                       help=f"what to learn (default {d['dataset']})")
    train.add_argument("--data-dir", metavar="DIR",
                       help="where the MNIST/Fashion-MNIST IDX files are (default "
                            "~/.cache/nabla/<name>)")
    train.add_argument("--download", action="store_true",
                       help="download MNIST/Fashion-MNIST files that are missing")
    train.add_argument("--model", choices=list(MODELS), help=f"default {d['model']}")
    train.add_argument("--hidden", type=_hidden, metavar="W1,W2,...",
                       help="hidden layer widths of the MLP (default 128,64); for lstm, "
                            "its hidden size, one width per stacked layer (default 128)")
    train.add_argument("--activation", choices=sorted(_activation_names()),
                       help=f"activation of the MLP or CNN (default {d['activation']})")
    train.add_argument("--dropout", type=_fraction, help="MLP dropout probability (default 0)")
    train.add_argument("--loss", choices=LOSSES, help=f"default {d['loss']}")
    train.add_argument("--optimizer", choices=list(OPTIMIZERS), help=f"default {d['optimizer']}")
    train.add_argument("--lr", type=_positive(float),
                       help="learning rate (default: sgd 0.02, adam/adamw 0.003, adagrad 0.05, "
                            "rmsprop 0.001)")
    train.add_argument("--momentum", type=_non_negative_float,
                       help="momentum of sgd (default 0.9) or rmsprop (default 0)")
    train.add_argument("--batch-size", type=_positive(int), help=f"default {d['batch_size']}")
    train.add_argument("--epochs", type=_positive(int), help=f"default {d['epochs']}")
    train.add_argument("--val-fraction", type=_fraction,
                       help="share of the training split held out for validation "
                            f"(default {d['val_fraction']})")
    train.add_argument("--patience", type=_positive(int),
                       help="stop early after this many epochs without a better "
                            "validation loss, keeping the best weights (default: off)")
    train.add_argument("--seed", type=_seed, help=f"random seed (default {d['seed']})")
    train.add_argument("--out", metavar="DIR",
                       help="run directory to write to; one that already holds a run is "
                            "refused unless --force")
    train.add_argument("--force", action="store_true",
                       help="let --out replace the run already in that directory")
    train.add_argument("--tensorboard", action="store_true",
                       help="log loss, metrics, learning rate and weight/gradient histograms "
                            "for TensorBoard in RUN_DIR/tensorboard (needs: pip install "
                            "'nabla[tensorboard]'; view with: tensorboard --logdir RUN_DIR)")
    train.add_argument("--histogram-freq", type=_positive(int), default=1, metavar="N",
                       help="with --tensorboard: histograms every N epochs (default 1)")
    train.add_argument("--resume", metavar="CHECKPOINT",
                       help="continue a run from its checkpoint.safetensors (to --epochs); "
                            "the result equals an uninterrupted run bit for bit")
    train.add_argument("--nproc", type=_positive(int), default=1, metavar="N",
                       help="train data-parallel on N processes (MPI ranks; nabla starts "
                            "mpirun itself, needs: pip install 'nabla[distributed]'): each "
                            "rank takes batch-size/N samples of every batch and the ranks "
                            "average their gradients, so --batch-size and --lr mean what "
                            "they mean on one process (default 1)")
    train.add_argument("--diagnostics", type=_positive(int), nargs="?", const=10,
                       metavar="EVERY",
                       help="record per-layer activation, gradient and update statistics "
                            "every EVERY steps (default 10) and save their plots "
                            "(diagnostics_*.png) in the run directory (and to TensorBoard "
                            "with --tensorboard)")
    train.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    train.add_argument("--quiet", "-q", action="store_true",
                       help="print only the results (no progress, no confusion matrix)")
    train.set_defaults(run=_train)


def _add_evaluate(sub) -> None:
    evaluate = sub.add_parser("evaluate", help="measure a saved model on a dataset",
                              description="Print the loss, accuracy and confusion matrix of a "
                                          "model file on its dataset's test split.")
    evaluate.add_argument("model", metavar="MODEL", help="a model.safetensors from nabla train")
    evaluate.add_argument("--dataset", choices=list(DATASETS),
                          help="default: the dataset the model was trained on")
    evaluate.add_argument("--data-dir", metavar="DIR", help="where MNIST-like files are")
    evaluate.add_argument("--download", action="store_true", help="download missing files")
    evaluate.add_argument("--split", choices=("test", "train"), default="test")
    evaluate.add_argument("--quiet", "-q", action="store_true", help="loss and accuracy only")
    evaluate.set_defaults(run=_evaluate)


def _add_predict(sub) -> None:
    pred = sub.add_parser("predict", help="classify images or arrays with a saved model",
                          description="Print each input's predicted class and its probability. "
                                      "Images (PNG, JPEG, ...) are turned grey, resized to the "
                                      "model's input size and scaled like its training data; "
                                      ".npy arrays hold one sample or a batch in the dataset's "
                                      "raw units (grey levels 0..16 for digits, 0..255 for "
                                      "MNIST; features for the point sets).")
    pred.add_argument("model", metavar="MODEL", help="a model.safetensors from nabla train")
    pred.add_argument("inputs", metavar="INPUT", nargs="+", help="image or .npy files")
    pred.add_argument("--top", type=_positive(int), default=1,
                      help="also show the runners-up (default 1)")
    pred.add_argument("--invert", choices=("auto", "yes", "no"), default="auto",
                      help="dark ink on light paper is inverted to the datasets' light ink "
                           "on black; auto decides from the image's border (default)")
    pred.set_defaults(run=_predict)


def _add_demo(sub) -> None:
    demo = sub.add_parser(
        "demo", help="train a tiny network on XOR and print its loss",
        description="Learn XOR with a 2-16-16-1 network written out by hand (tanh hidden "
                    "layer, sigmoid output, mean squared error, plain gradient descent): the "
                    "inputs are the four points (0,0), (0,1), (1,0), (1,1), the targets "
                    "0, 1, 1, 0 (1 where exactly one input is 1). Prints the loss as it "
                    "falls and the four final predictions.")
    demo.add_argument("--steps", type=_positive(int), default=2000,
                      help="gradient-descent steps (default 2000)")
    demo.add_argument("--lr", type=_positive(float), default=1.0,
                      help="learning rate (default 1.0)")
    demo.add_argument("--seed", type=_seed, default=0,
                      help="random seed of the initial weights (default 0)")
    demo.set_defaults(run=_demo)


def _add_graph(sub) -> None:
    graph = sub.add_parser(
        "graph", help="draw a saved model's layers (or a traced forward pass) as a graph",
        description="Draw a model file's layer graph: a box per layer with its parameters' "
                    "shapes and output shape. DOT text (printed, or written to --out) needs "
                    "nothing installed; svg/png/pdf are rendered by Graphviz's `dot`.")
    graph.add_argument("model", metavar="MODEL_FILE", help="a model.safetensors from nabla train")
    graph.add_argument("--out", metavar="FILE",
                       help="where to write (default: print DOT text; for svg/png/pdf, the "
                            "model file's name with that suffix)")
    graph.add_argument("--format", choices=GRAPH_FORMATS,
                       help="default: from --out's suffix, else dot")
    graph.add_argument("--trace", action="store_true",
                       help="draw the backward graph of one forward pass (ops, parameters) "
                            "instead of the layer chain")
    graph.add_argument("--rankdir", choices=("TB", "LR", "BT", "RL"),
                       help="direction of the drawing (default TB, LR with --trace)")
    graph.add_argument("--max-nodes", type=_positive(int), default=200,
                       help="with --trace: draw at most this many nodes (default 200)")
    graph.set_defaults(run=_graph)


def _add_plot(sub) -> None:
    plot = sub.add_parser(
        "plot", help="redraw a training run's plots from its saved files",
        description="Redraw history.png, confusion_matrix.png, misclassified.png and "
                    "first_layer_weights.png (decision_boundary.png for 2-D points) in a "
                    "run directory from its history.csv, its model file and its dataset.")
    plot.add_argument("run_dir", metavar="RUN_DIR", help="a run directory of nabla train")
    plot.add_argument("--data-dir", metavar="DIR", help="where MNIST-like files are")
    plot.add_argument("--download", action="store_true", help="download missing files")
    plot.set_defaults(run=_plot)


def _add_export(sub) -> None:
    export = sub.add_parser(
        "export", help="export a saved model to ONNX",
        description="Write a model file as an ONNX graph (needs the onnx package: "
                    "pip install 'nabla[onnx]'). The graph takes the standardised inputs "
                    "the model was trained on; their mean and std are in its metadata.")
    export.add_argument("model", metavar="MODEL_FILE", help="a model.safetensors from nabla train")
    export.add_argument("output", metavar="OUTPUT", help="the .onnx file to write")
    export.add_argument("--opset", type=_positive(int), default=17,
                        help="ONNX opset version (default 17)")
    export.set_defaults(run=_export)


# The subcommands, in the order --help lists them: each function adds one to the
# subparsers; a new command is a function appended here.
COMMANDS = [_add_train, _add_evaluate, _add_predict, _add_graph, _add_plot, _add_export,
            _add_demo]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nabla", description="nabla: neural networks from first principles")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from ..io import CheckpointError
    from .distributed import launch, strip_nproc, under_mpi

    try:
        if getattr(args, "nproc", 1) > 1 and not under_mpi():
            batch = args.batch_size or TRAIN_DEFAULTS["batch_size"]
            if not args.resume and batch % args.nproc:
                raise CLIError(f"--batch-size {batch} does not split evenly over --nproc "
                               f"{args.nproc} ranks: choose a multiple of {args.nproc}")
            return launch(strip_nproc(argv), args.nproc)
        return args.run(args)
    except KeyboardInterrupt:
        print(f"nabla {args.command}: interrupted", file=sys.stderr)
        return 130
    except (CLIError, CheckpointError, OSError, ValueError, MemoryError) as e:
        if os.environ.get("NABLA_DEBUG"):
            raise
        print(f"nabla {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return getattr(e, "code", 1) if isinstance(e, CLIError) else 1


if __name__ == "__main__":
    sys.exit(main())
