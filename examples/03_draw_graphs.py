"""Drawing computation graphs: any graph, then the RNN unrolled, folded and in gradient heat.

1. A single tanh neuron, o = tanh(x1·w1 + x2·w2 + b) (micrograd's example), drawn with
   values and gradients after backward: parameters blue, the output yellow.
2. The seed's RNN unrolled over τ = 4 steps: one box per step, h(t-1) → h(t) along
   the spine, the shared U, W, V, b, c listed once (their names on every step's edges).
3. The same graph folded by role into the recurrent loop x → h → o → L ← y.
4. τ = 36 with a small W, backward from the last loss L(τ) only: coloured by
   log10 ‖∂L(τ)/∂node‖, the hidden states fade from bright (10^0) to dark (~10^-20)
   going back in time: the vanishing gradient of the seed's W^t argument.
5. An LSTM over τ = 3 steps with its gates i, f, g, q and the h and c spines; a GRU over
   τ = 4 with each step's cell collapsed into one box; the LSTM folded by role.

Run: python examples/03_draw_graphs.py [OUTDIR]   (default docs/img; needs Graphviz's `dot`)
"""
import sys
from pathlib import Path

import numpy as np

import minigrad as mg
from minigrad.draw import draw, render
from rnn import RNN, LanguageModel
from rnn.draw import draw_folded, draw_unrolled

out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img")

# 1. any graph ---------------------------------------------------------------------------------
x1, x2 = mg.tensor(2.0, name="x1"), mg.tensor(0.0, name="x2")
w1 = mg.tensor(-3.0, requires_grad=True, name="w1")
w2 = mg.tensor(1.0, requires_grad=True, name="w2")
b = mg.tensor(6.8813735870195432, requires_grad=True, name="b")
n = ((x1 * w1).named("x1·w1") + (x2 * w2).named("x2·w2") + b).named("n")
o = mg.tanh(n).named("o")
o.backward()
written = [render(draw(o, show_values=True, show_grads=True), out / "neuron.png")]

# 2.-3. the RNN of the seed, τ = 4 ---------------------------------------------------------------
model = RNN(input_size=4, hidden_size=3, output_size=4, seed=0)
graph = model.unroll(np.array([0, 2, 1, 3]), np.array([2, 1, 3, 0]))
written.append(render(draw_unrolled(graph), out / "rnn_unrolled.png"))
written.append(render(draw_folded(graph), out / "rnn_folded.png"))

# 4. gradient heat of a long sequence ---------------------------------------------------------------
tau = 36
model = RNN(input_size=4, hidden_size=6, output_size=4, seed=1)
model.set_params(W=0.3 * model.W.data)       # spectral radius well below 1: gradients vanish
rng = np.random.default_rng(0)
long = model.unroll(rng.integers(0, 4, tau), rng.integers(0, 4, tau))
long.L[tau].backward()                       # only the last step's loss
written.append(render(draw_unrolled(long, heat=True), out / "rnn_heat.png"))
for t in (tau, tau - 1, tau - 2, 3, 2, 1):
    print(f"‖∂L({tau})/∂h({t})‖ = {np.linalg.norm(long.h[t].grad):.1e}")

# 5. the gated cells ----------------------------------------------------------------------------------
lstm = LanguageModel("lstm", input_size=4, hidden_size=3, output_size=4, seed=0)
graph = lstm.unroll(np.array([0, 2, 1]), np.array([2, 1, 3]))
written.append(render(draw_unrolled(graph, cell="lstm"), out / "lstm_unrolled.png"))
written.append(render(draw_folded(graph, cell="lstm"), out / "lstm_folded.png"))
gru = LanguageModel("gru", input_size=4, hidden_size=3, output_size=4, seed=0)
graph = gru.unroll(np.array([0, 2, 1, 3]), np.array([2, 1, 3, 0]))
written.append(render(draw_unrolled(graph, collapse_cells=True, cell="gru"),
                      out / "gru_collapsed.png"))
print("wrote", ", ".join(str(p) for p in written))
