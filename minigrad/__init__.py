"""minigrad: a small, readable reverse-mode autodiff engine over numpy arrays.

>>> import minigrad as mg
>>> W = mg.tensor([[0.5, -1.0], [2.0, 0.0]], requires_grad=True, name="W")
>>> h = mg.tensor([1.0, 2.0], name="h")
>>> loss = mg.tanh(W @ h).sum()
>>> loss.backward()
>>> W.grad.shape
(2, 2)
"""
from minigrad.tensor import (BackwardEvent, LazyGradient, OpError, Tensor, backward,
                             detect_anomaly, enable_grad, grad, is_grad_enabled, no_grad,
                             observe_backward, tensor, zero_grad)
from minigrad.ops import (RULES, broadcast_to, concat, cross_entropy, exp, log, log_softmax,
                          matmul, max, mean, relu, reshape, scatter_add, sigmoid, softmax, stack,
                          sum, tanh, transpose, where)
from minigrad.functional import (gradient, hessian, hvp, jacobian, jvp, value_and_gradient,
                                 vjp)

__all__ = [
    "Tensor", "tensor", "backward", "zero_grad", "no_grad", "enable_grad", "is_grad_enabled",
    "detect_anomaly", "observe_backward", "BackwardEvent", "OpError", "LazyGradient", "RULES",
    "grad",
    "gradient", "value_and_gradient", "vjp", "jvp", "hvp", "jacobian", "hessian",
    "exp", "log", "tanh", "sigmoid", "relu", "matmul", "sum", "mean", "max", "reshape",
    "transpose", "broadcast_to", "scatter_add", "concat", "stack", "where", "softmax", "log_softmax", "cross_entropy",
]
