"""The analytic oracles the autodiff models are checked against, in plain numpy.

Importing this package (or any module in it) never loads minigrad: tests/
test_oracle_independence.py checks it in a fresh interpreter.

- :mod:`rnn.oracles.vanilla`: back-propagation through time for the vanilla RNN of Deep
  Learning §10.2 (``bptt``, ``forward``).
- :mod:`rnn.oracles.lstm`: back-propagation through time for the LSTM language model
  (PyTorch's ``nn.LSTM`` cell, Greff et al. 2017's backward pass), with ∂L/∂c(t).
- :mod:`rnn.oracles.gru`: back-propagation through time for the GRU language model
  (Cho et al. 2014 in PyTorch's ``nn.GRU`` form, the reset gate on W_hn h + b_hn).
- :mod:`rnn.oracles.stack`: stacked and bidirectional vanilla networks, the vanilla oracle
  composed layer by layer and direction by direction.
- :mod:`rnn.oracles.head`: the softmax output head o = c + V h, its loss and gradients,
  shared by every cell's oracle.
- :mod:`rnn.oracles.seed_formulas`: the back-propagation formulas as printed in the seed
  (the source chapter), to show with numbers where they are wrong.
- :mod:`rnn.oracles.rop`: Hessian- and Gauss-Newton-vector products of the vanilla loss.
"""
