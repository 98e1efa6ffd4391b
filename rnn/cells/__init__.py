"""Recurrent cells behind one protocol (:class:`rnn.cells.base.Cell`), by kind.

``CELLS`` maps each kind, the name the command line (``--cell``) and checkpoints use, to
its class.

>>> from rnn.cells import CELLS
>>> CELLS["rnn"](input_size=4, hidden_size=3).state_names
('h',)
"""
from rnn.cells.base import Cell
from rnn.cells.gru import GRUCell
from rnn.cells.lstm import LSTMCell
from rnn.cells.vanilla import VanillaCell

__all__ = ["CELLS", "Cell", "GRUCell", "LSTMCell", "VanillaCell"]

CELLS: dict[str, type[Cell]] = {"rnn": VanillaCell, "lstm": LSTMCell, "gru": GRUCell}
