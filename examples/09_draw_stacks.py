"""Draw a stacked bidirectional LSTM and an encoder–decoder (rnn.draw_stack).

Writes, into the directory given (default out/examples): stack_unrolled.svg (a 2-layer
bidirectional LSTM over 3 steps, states only, in clusters per step, layer and direction),
stack_folded.svg (the same network folded) and seq2seq_folded.svg (a 2-layer GRU
encoder–decoder folded).

Run: python examples/09_draw_stacks.py docs/img
"""
import sys
from pathlib import Path

import numpy as np

from rnn.deep import StackedModel
from rnn.draw_stack import draw_stack_folded, draw_stack_unrolled
from rnn.seq2seq import Seq2Seq
from rnn.tasks import Reverse

out = Path(sys.argv[1] if len(sys.argv) > 1 else "out/examples")
out.mkdir(parents=True, exist_ok=True)
model = StackedModel("lstm", 3, 2, 3, layers=2, bidirectional=True, seed=0)
graph = model.unroll(np.array([0, 2, 1]), np.array([1, 1, 0]))
task = Reverse(max_length=3)
seq2seq = Seq2Seq("gru", task.vocabulary, 3, layers=2, seed=0)
pictures = {"stack_unrolled": draw_stack_unrolled(graph, cells=False),
            "stack_folded": draw_stack_folded(graph),
            "seq2seq_folded": draw_stack_folded(seq2seq.unroll(task.layout(["abc"], ["cba"])))}
for name, dot in pictures.items():
    (out / f"{name}.svg").write_bytes(dot.pipe(format="svg"))
    print(f"wrote {out / name}.svg")
