"""``nabla graph`` (a model's drawing) and ``nabla export`` (ONNX)."""

from __future__ import annotations

from pathlib import Path

from .errors import CLIError
from .report import _load_model


def _graph(args) -> int:
    from .. import viz

    model, data_meta, _ = _load_model(args.model)
    shape = (1, *data_meta["input_shape"]) if data_meta else None
    fmt = args.format or (Path(args.out).suffix[1:].lower() if args.out else "") or "dot"
    if fmt not in GRAPH_FORMATS:
        raise CLIError(f"unknown graph format {fmt!r}; choose from {', '.join(GRAPH_FORMATS)}")
    if args.trace:
        if shape is None:
            raise CLIError(f"{args.model} does not record its input shape, so no input can "
                           "be traced through it; drop --trace for the layer graph")
        import nabla

        model.eval()
        output = model(nabla.zeros(*shape))
        graph = viz.draw(output, rankdir=args.rankdir or "LR", max_nodes=args.max_nodes,
                         params=dict(model.named_parameters()), names={output: "output"})
    else:
        graph = viz.draw_model(model, shape, rankdir=args.rankdir or "TB")
    if args.out is None and fmt == "dot":
        print(graph.source)
        return 0
    out = args.out or str(Path(args.model).with_suffix(f".{fmt}"))
    try:
        graph.render(out, fmt)
    except RuntimeError as e:
        raise CLIError(f"{e}; --format dot writes the DOT text without Graphviz") from None
    print(f"saved to {out}")
    return 0


GRAPH_FORMATS = ("dot", "svg", "png", "pdf")


def _export(args) -> int:
    from ..io.onnx import export_main

    return export_main(args.model, args.output, opset=args.opset)
