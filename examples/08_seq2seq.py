"""Encoder–decoder networks (rnn.seq2seq) on the three tasks with known answers (rnn.tasks):
reverse a string, copy it after a delay, add two numbers written in digits.

Each task trains one model with teacher forcing and reports, on 500 held-out examples
decoded greedily, the exact-match rate and the per-symbol accuracy, with a few examples.

Run: python examples/08_seq2seq.py [--cell lstm] [--hidden 64] [--layers 1] [--steps 1500]
     python examples/08_seq2seq.py --quick      (a few seconds: 60 steps, to check it runs)
"""
import argparse
import time

from rnn.seq2seq import Seq2Seq, evaluate, train
from rnn.tasks import Addition, DelayedCopy, Reverse

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--cell", default="lstm", choices=["rnn", "lstm", "gru"])
parser.add_argument("--hidden", type=int, default=64)
parser.add_argument("--layers", type=int, default=1)
parser.add_argument("--steps", type=int, default=1500)
parser.add_argument("--quick", action="store_true")
args = parser.parse_args()
steps = 60 if args.quick else args.steps

TASKS = [Reverse(min_length=1, max_length=8), DelayedCopy(min_length=1, max_length=8, delay=5),
         Addition(digits=3)]
print(f"{args.cell}, {args.layers} layer(s) of {args.hidden} units, {steps} Adam steps of 32 "
      f"(lr 0.01, clipped at 1); greedy decoding of 500 held-out examples")
print("| task | exact match | per-symbol accuracy | seconds |")
print("|---|---|---|---|")
for task in TASKS:
    start = time.time()
    model = Seq2Seq(args.cell, task.vocabulary, args.hidden, layers=args.layers, seed=0)
    train(model, task, steps=steps, batch=32, lr=0.01, seed=0)
    scores = evaluate(model, task, 500, seed=12345)
    print(f"| {task.name} | {scores['exact_match']:.3f} | {scores['symbol_accuracy']:.3f} | "
          f"{time.time() - start:.0f} |", flush=True)
    sources, answers = task.examples(3, seed=7)
    for source, answer, got in zip(sources, answers, model.decode(sources)):
        print(f"    {source!r} → {got!r} (answer {answer!r})")
