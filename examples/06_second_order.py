"""Second order: the Hessian of the RNN loss times a vector, three ways, and the graph
of a second derivative.

The engine's rules run on Tensors when asked (``create_graph=True``), so a backward
pass is itself a graph that can be differentiated. H v, the Hessian of the RNN loss
L(U, W, V, b, c) times a direction v, then comes without ever forming H:

* reverse over reverse: ∇⟨∇L, v⟩, a second backward pass through the recorded first;
* forward over reverse: the JVP of ∇L along v (mg.jvp, by the transpose trick);
* Pearlmutter's R-operator (rnn.oracles.rop): forward and backward R-passes written by hand
  in numpy, an oracle that never imports minigrad.

All three are exact, so they agree to round-off. Last, the graph of d²tanh(x)/dx²:
the backward pass of the backward pass, drawn like any graph.

Run: python examples/06_second_order.py [out_dir]   (draws out_dir/d2tanh.svg;
default out/examples)
"""
import sys
from pathlib import Path

import numpy as np

import minigrad as mg
from minigrad.draw import draw, render, walk
from rnn import RNN
from rnn.oracles.rop import hvp as r_operator

D = K = 4                              # 4 token types in, 4 classes out
H, tau = 3, 6
rng = np.random.default_rng(0)
model = RNN(input_size=D, hidden_size=H, output_size=K, seed=0)
x, y = rng.integers(0, D, tau), rng.integers(0, K, tau)


def loss(U, W, V, b, c):
    """L as a function of the parameters (Tensors), through the model's own unroll."""
    model.U, model.W, model.V, model.b, model.c = U, W, V, b, c
    return model.unroll(x, y).loss


params = {name: p.data for name, p in model.parameters().items()}
v = {name: rng.standard_normal(p.shape) for name, p in params.items()}
products = {mode: dict(zip(v, mg.hvp(loss, tuple(params.values()), tuple(v.values()),
                                     mode=mode)))
            for mode in ("rev-rev", "fwd-rev")}
oracle = r_operator(*params.values(), x, y, v).product

print(f"H v of the RNN loss (H = {H}, D = K = {D}, τ = {tau}), v random")
print(f"{'':5}{'‖H v‖∞':>10}{'|rev-rev − R-op|':>19}{'|fwd-rev − R-op|':>19}"
      f"{'|rev-rev − fwd-rev|':>22}")
worst = 0.0
for name in v:
    rr, fr, r = products["rev-rev"][name].data, products["fwd-rev"][name].data, oracle[name]
    gaps = [np.abs(a - b).max() for a, b in ((rr, r), (fr, r), (rr, fr))]
    worst = max(worst, *gaps)
    print(f"{name:5}{np.abs(r).max():10.4f}{gaps[0]:19.1e}{gaps[1]:19.1e}{gaps[2]:22.1e}")
print(f"largest difference between any two: {worst:.1e}")

# d²tanh/dx² = −2 tanh x (1 − tanh² x): the graph of a derivative, differentiated again
t = mg.tensor(0.5, requires_grad=True, name="x")
first = mg.grad(mg.tanh(t), t, create_graph=True).named("dtanh/dx")
second = mg.grad(first, t, create_graph=True).named("d²tanh/dx²")
by_hand = -2 * np.tanh(0.5) * (1 - np.tanh(0.5) ** 2)
print(f"\nd²tanh/dx² at 0.5: {float(second):.15f} (by hand {by_hand:.15f})")
ops = [node.op for node in walk([second]) if node.op]
counts = ", ".join(f"{ops.count(op)} {op}" for op in sorted(set(ops)))
print(f"its graph: {len(ops)} ops ({counts})")
out = Path(sys.argv[1] if len(sys.argv) > 1 else "out/examples")
out.mkdir(parents=True, exist_ok=True)
print("drawn:", render(draw(second, show_values=True), out / "d2tanh.svg"))
