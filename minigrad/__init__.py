"""minigrad: a small, readable reverse-mode autodiff engine over numpy arrays.

>>> import minigrad as mg
>>> W = mg.tensor([[0.5, -1.0], [2.0, 0.0]], requires_grad=True, name="W")
>>> h = mg.tensor([1.0, 2.0], name="h")
>>> loss = mg.tanh(W @ h).sum()
>>> loss.backward()
>>> W.grad.shape
(2, 2)
"""
from minigrad.tensor import (OpError, Tensor, backward, detect_anomaly, enable_grad,
                             is_grad_enabled, no_grad, tensor, zero_grad)
from minigrad.ops import (RULES, concat, cross_entropy, exp, log, log_softmax, matmul, max,
                          mean, relu, reshape, sigmoid, softmax, stack, sum, tanh, transpose,
                          where)

__all__ = [
    "Tensor", "tensor", "backward", "zero_grad", "no_grad", "enable_grad", "is_grad_enabled",
    "detect_anomaly", "OpError", "RULES",
    "exp", "log", "tanh", "sigmoid", "relu", "matmul", "sum", "mean", "max", "reshape",
    "transpose", "concat", "stack", "where", "softmax", "log_softmax", "cross_entropy",
]
