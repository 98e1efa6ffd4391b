"""Reverse-mode autodiff in one screen: record an expression, run backward, check it.

A tiny layer L = Σ tanh(W x + b)² is recorded as a graph of named nodes; one
backward pass fills ``.grad`` of every node with ∂L/∂node; central differences
(L(θ + ε) − L(θ − ε)) / 2ε, computed here by hand for W and then by
minigrad.testing.gradcheck for everything, agree to about 1e-10.

Run: python examples/01_autodiff_basics.py
"""
import numpy as np

import minigrad as mg
from minigrad.tensor import topological_order
from minigrad.testing import gradcheck

W = mg.tensor([[0.5, -1.0, 0.3], [2.0, 0.0, -0.7]], requires_grad=True, name="W")
b = mg.tensor([0.1, -0.2], requires_grad=True, name="b")
x = mg.tensor([1.0, 2.0, -1.0], name="x")          # data: no gradient wanted


def layer(W, b):
    a = ((W @ x).named("Wx") + b).named("a")
    h = mg.tanh(a).named("h")
    return (h * h).named("h²").sum().named("L")


L = layer(W, b)
nodes = {node.name: node for node in topological_order([L])}  # the nodes that need a gradient
print("The recorded graph, each node after its inputs (x is a constant):")
for name, node in nodes.items():
    print(f"  {name:>2} = {node.op or 'leaf'}({', '.join(t.name for t in node.inputs)})"
          f"  shape {node.shape}")

L.backward()                                         # one pass, every ∂L/∂node
h = np.tanh(W.data @ x.data + b.data)
print(f"\nL = {L.item():.6f}")
print(f"∂L/∂h = {nodes['h'].grad}   (by hand: 2h = {2 * h})")
print(f"∂L/∂b = {b.grad}   (by hand: 2h(1 − h²) = {2 * h * (1 - h * h)})")
print(f"∂L/∂W =\n{W.grad}")

eps, numerical = 1e-6, np.zeros_like(W.data)
for i in np.ndindex(W.shape):                        # central differences, one entry at a time
    plus, minus = W.data.copy(), W.data.copy()
    plus[i] += eps
    minus[i] -= eps
    with mg.no_grad():
        L_plus, L_minus = layer(mg.tensor(plus), b).item(), layer(mg.tensor(minus), b).item()
    numerical[i] = (L_plus - L_minus) / (2 * eps)
print(f"central differences for ∂L/∂W =\n{numerical}")
print(f"largest difference: {np.abs(numerical - W.grad).max():.1e}")

print(f"\ngradcheck on W and b (the whole Jacobian): {gradcheck(layer, W, b)}")
