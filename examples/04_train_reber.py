"""Train the seed's RNN on the Reber grammar and compare it with the best possible model.

The grammar is a small probabilistic automaton, so the lowest achievable loss
(its entropy rate) is known exactly. We train with truncated BPTT, gradients
from minigrad's autodiff through the unrolled graph, and check three things:
the validation loss against the entropy rate, whether sampled strings are
grammatical, and what the model predicts after each prefix of one string.

Run: python examples/04_train_reber.py   (about 15 seconds)
"""
import numpy as np

from rnn import grammar
from rnn.train import LN2, TrainConfig, Trainer, grammatical_fraction, run, sample_strings

config = TrainConfig(grammar="reber", hidden_size=32, tau=32, batch=32, steps=2000,
                     train_strings=20000, out=None, progress=False)
trainer = Trainer(config)
trainer.run(log=None)

ev = trainer.evaluate()
bound = grammar.entropy_rate()
print(f"validation loss {ev.bits:.4f} bits/char; the grammar's entropy rate is "
      f"{bound / LN2:.4f} ({100 * (ev.loss / bound - 1):+.2f}%)")

fraction, _ = grammatical_fraction(trainer.model, trainer.corpus, n=1000)
print(f"{fraction:.1%} of 1000 sampled strings are grammatical; five of them:")
for s in sample_strings(trainer.model, trainer.corpus.vocab, ["BTXSE"] * 5,
                        rng=np.random.default_rng(1)):
    print(f"  {s:<20} {'ok' if grammar.is_grammatical(s) else 'NOT grammatical'}")

# What the model expects next after each prefix of one string, beside the truth.
string, vocab = "BPTVPXTVVE", trainer.corpus.vocab
o = run(trainer.model, vocab.encode("BTXSE" + string)[:, None])[0][4:, :, 0]  # after "...E"
p = np.exp(o - o.max(axis=1, keepdims=True))
p /= p.sum(axis=1, keepdims=True)
print(f"\nnext-character probabilities along {string!r} (model / grammar):")
for i in range(len(string) - 1):
    prefix = string[:i + 1]
    truth = grammar.next_symbols(prefix)
    model = {ch: p[i + 1, k] for k, ch in enumerate(vocab.chars) if p[i + 1, k] > 0.02}
    shown = ", ".join(f"{ch} {model.get(ch, 0):.2f}/{truth.get(ch, 0):.2f}"
                      for ch in sorted(set(model) | set(truth)))
    print(f"  after {prefix:<10} {shown}")
