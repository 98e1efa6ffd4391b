"""Autodiff through the unrolled RNN equals back-propagation through time by hand.

We unroll the seed's RNN over a short token sequence as a minigrad graph, call
``loss.backward()``, and put each gradient beside the one from rnn.oracles.vanilla, the
analytic BPTT of the book's equations 10.18-10.28 (with the seed's errors fixed)
written in plain numpy. The two computations share nothing but the model's
equations, so they agree to round-off (~1e-16 relative), not to a tolerance.

Run: python examples/02_rnn_gradients.py
"""
import numpy as np

from rnn import RNN
from rnn.oracles.vanilla import bptt

D = K = 4                              # 4 token types in, 4 classes out
H, tau = 3, 5
rng = np.random.default_rng(0)
model = RNN(input_size=D, hidden_size=H, output_size=K, seed=0)
x, y = rng.integers(0, D, tau), rng.integers(0, K, tau)    # targets y(t)
h0 = rng.uniform(-1, 1, H)                                  # given, so ∂L/∂h(0) exists

graph = model.unroll(x, y, h0)        # h(1..τ), o(1..τ), L(1..τ) as named graph nodes
graph.loss.backward()
arrays = {name: p.data for name, p in model.parameters().items()}
oracle = bptt(**arrays, x=x, y=y, h0=h0)
print(f"x = {x}, y = {y}; L = {graph.loss.item():.12f} (autodiff), {oracle.loss:.12f} (BPTT)\n")


def compare(what, auto, analytic):
    """Print both arrays side by side and their largest absolute and relative difference."""
    difference = np.abs(auto - analytic)
    relative = difference.max() / max(np.abs(analytic).max(), np.finfo(float).tiny)
    print(f"{what:<9} max |autodiff − BPTT| = {difference.max():.1e}   "
          f"relative to max |BPTT| = {relative:.1e}")
    for auto_row, analytic_row in zip(np.atleast_2d(auto), np.atleast_2d(analytic)):
        print(f"    {np.array2string(auto_row, precision=6, floatmode='fixed'):<44}"
              f"{np.array2string(analytic_row, precision=6, floatmode='fixed')}")
    return difference.max()


print(f"{'':4}{'autodiff':<44}BPTT (rnn.oracles.vanilla)")
worst = max(compare(f"∂L/∂{name}", p.grad, oracle.grads[name])
            for name, p in model.parameters().items())
worst = max(worst, compare("∂L/∂h(0)", graph.h[0].grad, oracle.grads["h0"]))

print("\n∂L/∂h(t) for each step: through o(t) and, for t < τ, through h(t+1)")
for t in range(1, tau + 1):
    worst = max(worst, compare(f"∂L/∂h({t})", graph.h[t].grad, oracle.dL_dh[t - 1]))
print(f"\nlargest absolute difference anywhere: {worst:.1e}")
