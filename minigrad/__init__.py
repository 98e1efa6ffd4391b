"""minigrad: a small, readable reverse-mode autodiff engine over numpy arrays.

>>> import minigrad as mg
>>> W = mg.tensor([[0.5, -1.0], [2.0, 0.0]], requires_grad=True, name="W")
>>> h = mg.tensor([1.0, 2.0], name="h")
>>> loss = mg.tanh(W @ h).sum()
>>> loss.backward()
>>> W.grad.shape
(2, 2)
"""
__version__ = "0.1.0"  # the one place the version is written; pyproject.toml reads it

from minigrad.tensor import (BackwardEvent, LazyGradient, OpError, Tensor, backward,
                             detect_anomaly, enable_grad, grad, is_grad_enabled, no_grad,
                             observe_backward, arange, ones, randn, tensor, zero_grad, zeros)
from minigrad.ops import (RULES, abs, add, div, mul, neg, pow, power, sub, broadcast_to, clip, concat, cross_entropy, exp, getitem,
                          log, log_softmax, matmul, max, mean, min, primitive, relu, reshape,
                          scatter_add, sigmoid, softmax, sqrt, square, stack, sum, tanh,
                          transpose, where)
from minigrad.functional import (gradient, hessian, hvp, jacobian, jvp, value_and_gradient,
                                 vjp)
from minigrad.collector import collection_paused
from minigrad.checkpoint import CheckpointError, checkpoint
from minigrad import explore  # a package, and callable: mg.explore(outputs).save("g.html")

__all__ = [
    "Tensor", "tensor", "zeros", "ones", "arange", "randn", "backward", "zero_grad", "no_grad", "enable_grad", "is_grad_enabled",
    "detect_anomaly", "observe_backward", "collection_paused",
    "checkpoint", "CheckpointError", "BackwardEvent", "OpError", "LazyGradient", "RULES",
    "grad",
    "gradient", "value_and_gradient", "vjp", "jvp", "hvp", "jacobian", "hessian",
    "primitive", "add", "sub", "mul", "div", "neg", "power", "pow", "exp", "log", "tanh", "sigmoid", "relu", "abs", "sqrt", "square", "clip",
    "matmul", "sum", "mean", "max", "min", "reshape", "transpose", "broadcast_to", "getitem",
    "scatter_add", "concat", "stack", "where", "softmax", "log_softmax", "cross_entropy",
]
