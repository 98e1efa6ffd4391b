"""``python -m rnn explore``: the explorer page of an unrolled RNN's backward pass.

``explore_rnn`` builds the graph (a random token problem, or a trained model's
parameters on a string of its grammar) and writes the page; ``add_explore_command``
adds the subcommand, ``add_explore_option`` the ``--explore FILE`` option of
train and demo, and ``explore_trained`` writes that page after training.

>>> import numpy as np, tempfile, os
>>> from rnn import RNN
>>> path = explore_rnn(RNN(4, 3, 4), np.array([0, 2, 1]), np.array([2, 1, 3]),
...                    os.path.join(tempfile.mkdtemp(), "rnn.html"))
>>> path.read_text(encoding="utf-8").count('type="application/json"')
1
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import minigrad as mg
from rnn.model import RNN

__all__ = ["explore_rnn", "add_explore_command", "add_explore_option", "explore_trained",
           "explore_command"]


def explore_rnn(model: RNN, x, y, path, *, loss: str = "total", title: str | None = None) -> Path:
    """Unroll ``model`` on tokens ``x`` with targets ``y``, run the backward pass from
    L = Σ L(t) (or L(τ) alone with ``loss="last"``) under the explorer, write ``path``.
    The model's parameter gradients are left as they were."""
    params = list(model.parameters().values())
    before = [p.grad for p in params]
    graph = model.unroll(x, y)
    out = graph.loss if loss == "total" else graph.L[graph.tau]
    try:
        page = mg.explore(out, title=title or f"unrolled RNN, τ = {graph.tau}, "
                          f"H = {model.hidden_size}, backward from {out.name}")
    finally:
        for p, g in zip(params, before):
            p.grad = g
    return page.save(path)


def explore_command(args: argparse.Namespace) -> Path:
    """A random token problem of the given sizes (as ``render``) in the explorer."""
    D, H = args.input_size, args.hidden
    K = args.output_size or D
    model = RNN(D, H, K, seed=args.seed)
    model.set_params(W=model.W.data * args.w_scale)
    rng = np.random.default_rng(args.seed)
    path = explore_rnn(model, rng.integers(0, D, args.tau), rng.integers(0, K, args.tau),
                       args.out, loss=args.loss)
    print(f"wrote {path} (open it in a browser; it needs no server or network)")
    return path


def add_explore_command(commands) -> argparse.ArgumentParser:
    """``explore``: sizes, τ, seed, W scale, which loss, the output file."""
    p = commands.add_parser(
        "explore", help="an interactive page that steps through the backward pass",
        description="Write one self-contained HTML page that steps through the backward pass "
                    "of a small RNN on random tokens, in the engine's order. Example:\n"
                    "  python -m rnn explore --tau 12 --out out/explore.html",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input-size", type=int, default=4, help="token types D (default: %(default)s)")
    p.add_argument("--hidden", type=int, default=3, help="hidden units H (default: %(default)s)")
    p.add_argument("--output-size", type=int, default=None, help="classes K (default: D)")
    p.add_argument("--tau", type=int, default=8, help="time steps τ (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    p.add_argument("--w-scale", type=float, default=1.0,
                   help="multiply W by this (default: %(default)s)")
    p.add_argument("--loss", choices=["total", "last"], default="total",
                   help="backward from L = Σ L(t) or from L(τ) alone (default: %(default)s)")
    p.add_argument("--out", default="out/explore.html", help="(default: %(default)s)")
    p.set_defaults(run=explore_command)
    return p


def add_explore_option(parser: argparse.ArgumentParser) -> None:
    """``--explore FILE`` for train and demo: the trained model's page, written at the end."""
    parser.add_argument("--explore", metavar="FILE", default=None,
                        help="after training, write the explorer page of the trained model's "
                             "backward pass on one short string of its grammar")


def explore_trained(trainer, path) -> Path:
    """The trained model on one short string of its grammar (as the demo's pictures), or
    on the first 12 characters of its validation text, in the explorer."""
    from rnn import grammar
    corpus = trainer.corpus
    if corpus.grammar is None:
        ids = np.asarray(corpus.validation[:13])
        string = corpus.vocab.decode(ids)
    else:
        embedded = corpus.grammar == "embedded"
        string = next(s for s in grammar.generate(100, seed=1, embedded=embedded) if len(s) <= 12)
        ids = corpus.vocab.encode(string)
    path = explore_rnn(trainer.model, ids[:-1], ids[1:], path,
                       title=f"trained RNN on {string!r}: backward from L")
    print(f"wrote {path}")
    return path
