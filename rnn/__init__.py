"""The seed's vanilla RNN on minigrad: the unrolled graph, the analytic BPTT oracle,
training, drawing and gradient analysis."""
from rnn.model import PARAMETER_NAMES, RNN, Unrolled

__all__ = ["RNN", "Unrolled", "PARAMETER_NAMES"]
