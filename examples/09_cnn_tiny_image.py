"""A convolutional layer on a tiny image: a 3x3 vertical-edge filter, ReLU, max pooling.

Course idea: instead of connecting every pixel to every neuron, a convolutional layer
slides one small filter (here 3x3 weights) over the image; at each position the output
is the sum of the filter's weights times the pixels under it (a cross-correlation,
which deep-learning libraries call convolution). The same weights are shared by every
position, so the filter finds its pattern anywhere. The resulting feature map goes
through ReLU (keep the positive evidence, drop the rest) and 2x2 max pooling (keep the
strongest response in each 2x2 block: a smaller map that still says *where roughly*
the pattern is).

The filter [-1 0 1] in each row responds to "dark on the left, bright on the right": a
vertical edge. On an 8x8 image with a bright vertical bar it gives +3 at the bar's left
edge, -3 at its right edge, 0 elsewhere; ReLU keeps only the left edge.

Filters are not hand-made in a trained CNN: last, a Conv2d starting from random weights
learns this same filter by gradient descent, from examples of images and the feature
maps they should produce.

Run:  python examples/09_cnn_tiny_image.py [--quick] [--out DIR]
"""

import argparse
from pathlib import Path

import numpy as np

import nabla
from nabla import nn, optim
from nabla.nn.layers.conv import Conv2d
from nabla.nn.layers.pooling import MaxPool2d

EDGE = np.array([[-1.0, 0.0, 1.0]] * 3, dtype=np.float32)  # vertical-edge detector


def tiny_image():
    image = np.zeros((8, 8), dtype=np.float32)
    image[:, 3:6] = 1.0  # a bright vertical bar, 3 pixels wide, on a dark background
    return image


def main(quick=False, out_dir=None):
    image = tiny_image()
    conv = Conv2d(1, 1, kernel_size=3, bias=False)  # one 3x3 filter, no padding
    with nabla.no_grad():
        conv.weight.copy_(nabla.tensor(EDGE[None, None]))  # shape (out, in, 3, 3)
    x = nabla.tensor(image[None, None])  # a batch of 1 image with 1 channel
    with nabla.no_grad():
        feature_map = conv(x)                      # (1, 1, 6, 6): 8 - 3 + 1 = 6
        activated = nn.ReLU()(feature_map)
        pooled = MaxPool2d(2)(activated)           # (1, 1, 3, 3)
    fmap, act, pool = (t.numpy()[0, 0] for t in (feature_map, activated, pooled))
    for title, a in (("image", image), ("feature map (3x3 filter, no padding)", fmap),
                     ("after ReLU", act), ("after 2x2 max pooling", pool)):
        print(f"{title}:\n{a.astype(int)}")

    learned, loss = learn_the_filter(steps=150 if quick else 400)
    print(f"filter learned from examples (final MSE {loss:.2e}):\n{np.round(learned, 3) + 0}")

    if out_dir is not None:
        _plot(image, EDGE, fmap, act, pool, Path(out_dir) / "09_cnn_tiny_image.png")
    return {"image": image, "filter": EDGE, "feature_map": fmap, "relu": act,
            "pooled": pool, "learned_filter": learned, "learn_loss": loss}


def learn_the_filter(steps):
    """Fit a randomly initialised 3x3 filter to (image, edge-map) examples."""
    rng = np.random.default_rng(0)
    images = nabla.tensor(rng.random((32, 1, 8, 8), dtype=np.float32))
    teacher = Conv2d(1, 1, 3, bias=False)
    with nabla.no_grad():
        teacher.weight.copy_(nabla.tensor(EDGE[None, None]))
        targets = teacher(images)  # the feature maps the edge filter would produce
    nabla.manual_seed(0)
    student = Conv2d(1, 1, 3, bias=False)
    opt = optim.Adam(student.parameters(), lr=0.05)
    for _ in range(steps):
        loss = nn.functional.mse_loss(student(images), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return student.weight.detach().numpy()[0, 0], float(loss.item())


def _plot(image, kernel, fmap, act, pool, path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 2.8))
    panels = [(image, "image 8x8"), (kernel, "filter 3x3"), (fmap, "feature map 6x6"),
              (act, "ReLU"), (pool, "2x2 max pool 3x3")]
    for i, (a, title) in enumerate(panels):
        ax = fig.add_subplot(1, 5, i + 1)
        m = max(np.abs(a).max(), 1e-9)
        ax.imshow(a, cmap="gray" if i == 0 else "RdBu_r", vmin=0 if i == 0 else -m, vmax=m)
        if a.size <= 36:  # small maps: write the numbers in
            for (r, c), v in np.ndenumerate(a):
                ax.text(c, r, f"{v:g}", ha="center", va="center", fontsize=8,
                        color="white" if abs(v) > m / 2 else "black")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=70, bbox_inches="tight")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps learning the filter")
    parser.add_argument("--out", metavar="DIR", help="save the picture in DIR")
    args = parser.parse_args()
    main(quick=args.quick, out_dir=args.out)
