"""Training, evaluation, sampling and checkpoints for every registered cell (rnn.cells.CELLS):
through the model's own steps, not the oracles; checkpoints that say which model they hold and
refuse another one, naming both."""
import dataclasses
import json

import numpy as np
import pytest

import minigrad as mg
import rnn.settings
import rnn.train
from rnn import checkpoint
from rnn.cells import CELLS
from rnn.checkpoint import CheckpointError
from rnn.cli import main
from rnn.data import Corpus
from rnn.train import (TrainConfig, Trainer, ValidationSet, build_model, evaluate,
                       model_from_checkpoint, oracle_of, run, sample)

TINY = TrainConfig(grammar="reber", hidden_size=6, tau=6, batch=3, steps=12, lr=0.03,
                   train_strings=120, validation_strings=30, eval_every=6, checkpoint_every=5,
                   out=None, progress=False)
KINDS = list(CELLS)
WITH_ORACLES = [kind for kind in CELLS if oracle_of(kind) is not None]


def _cell(kind, **changes) -> TrainConfig:
    return dataclasses.replace(TINY, cell=kind, **changes)


@pytest.mark.parametrize("kind", KINDS)
def test_a_short_run_of_every_cell_lowers_the_validation_loss(kind):
    trainer = Trainer(_cell(kind, steps=40))
    before = trainer.evaluate().loss
    trainer.run(log=None)
    assert trainer.model.kind == kind and trainer.evaluate().loss < before
    assert set(trainer.state) == set(trainer.model.state_names)
    assert all(s.shape == (6, 3) for s in trainer.state.values())


@pytest.mark.parametrize("kind", KINDS)
def test_evaluation_runs_the_models_steps_and_matches_its_graph(kind, monkeypatch):
    corpus = Corpus.from_text("the cat sat on the mat, the rat sat on the cat. " * 8, 0.5)
    model = build_model(kind, len(corpus.vocab), 5, len(corpus.vocab), random_seed=3)
    validation = ValidationSet.of(corpus, columns=4)
    with mg.no_grad():
        graph = model.unroll(validation.x, validation.y)
    oracle = oracle_of(kind)
    if oracle is not None:   # evaluation and sampling never call the oracle
        for name in ("forward", "bptt"):
            monkeypatch.setattr(oracle, name, lambda *a, **k: pytest.fail("the oracle ran"))
    assert evaluate(model, validation).loss == pytest.approx(
        graph.loss.item() / validation.x.size, rel=1e-12)
    assert evaluate(model, validation, block=1).loss == pytest.approx(
        evaluate(model, validation).loss, rel=1e-12)
    assert len(sample(model, corpus.vocab, "the", 15, rng=np.random.default_rng(0))) == 15


@pytest.mark.parametrize("kind", KINDS)
def test_run_gives_the_graphs_logits_and_last_state(kind):
    model = build_model(kind, 4, 3, 4, random_seed=1)
    x = np.random.default_rng(0).integers(0, 4, (5, 2))
    state0 = {name: np.random.default_rng(1).normal(size=(3, 2)) for name in model.state_names}
    o, state = run(model, x, state0)
    s0 = tuple(state0[n] for n in model.state_names)
    graph = model.unroll(x, None, s0[0] if len(s0) == 1 else s0)
    np.testing.assert_allclose(o, np.stack([o_t.data for o_t in graph.o[1:]]), rtol=1e-13,
                               atol=1e-15)
    for name in model.state_names:
        np.testing.assert_allclose(state[name], graph.states[name][-1].data, rtol=1e-13)


@pytest.mark.parametrize("kind", WITH_ORACLES)
def test_autodiff_and_the_cells_oracle_give_the_same_training_run(kind):
    runs = {}
    for source in ("autodiff", "bptt"):
        trainer = Trainer(_cell(kind, gradients=source, clip_norm=1.0))
        losses = [trainer.train_step(*trainer.next_batch()) for _ in range(10)]
        runs[source] = losses, trainer.arrays(), trainer.state
    (la, pa, sa), (lb, pb, sb) = runs["autodiff"], runs["bptt"]
    np.testing.assert_allclose(la, lb, rtol=1e-10, atol=0)
    for name in pa:
        np.testing.assert_allclose(pa[name], pb[name], rtol=1e-9, atol=1e-12)
    for name in sa:
        np.testing.assert_allclose(sa[name], sb[name], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_a_checkpoint_round_trips_every_cell_and_resumes_to_the_same_run(kind, tmp_path):
    config = _cell(kind, out=str(tmp_path / "whole"), lr_final_fraction=1.0,   # lr constant
                   forget_bias=1.0 if kind == "lstm" else None)
    whole = Trainer(config)
    whole.run(log=None)
    saved = checkpoint.load(config.checkpoint_path)
    assert saved.model["cell"] == kind and saved.model["state"] == list(whole.model.state_names)
    assert saved.model["options"] == config.cell_options()
    assert list(saved.arrays) == list(whole.model.parameters())
    model, vocab, meta = model_from_checkpoint(config.checkpoint_path)
    assert model.kind == kind and vocab.chars == whole.corpus.vocab.chars
    for name, value in whole.arrays().items():
        assert np.array_equal(model.parameters()[name].data, value)
    half = dataclasses.replace(config, steps=5, out=str(tmp_path / "half"))
    Trainer(half).run(log=None)
    resumed = Trainer.resume(half.checkpoint_path, dataclasses.replace(half, steps=config.steps))
    resumed.run(log=None)
    for name, value in whole.arrays().items():
        assert np.array_equal(resumed.arrays()[name], value), name
    for name, value in whole.state.items():
        assert np.array_equal(resumed.state[name], value), name


@pytest.fixture(scope="module")
def saved_runs(tmp_path_factory):
    """A checkpoint of each cell (H = 6) after 2 steps."""
    paths = {}
    for kind in KINDS:
        out = tmp_path_factory.mktemp(kind)
        Trainer(_cell(kind, steps=2, out=str(out))).run(log=None)
        paths[kind] = out / "checkpoint.npz"
    return paths


@pytest.mark.parametrize("saved", KINDS)
@pytest.mark.parametrize("wanted", KINDS)
def test_resuming_with_another_cell_or_size_names_both_models(saved_runs, saved, wanted):
    path = saved_runs[saved]
    other = _cell(wanted, hidden_size=6 if wanted != saved else 5, out=str(path.parent))
    with pytest.raises(CheckpointError) as error:
        Trainer.resume(path, dataclasses.replace(other, steps=4))
    holds = checkpoint.describe(checkpoint.load(path).model)
    H = other.hidden_size
    assert str(error.value) == (f"{path} holds {holds}; the model is a 1-layer {wanted} with "
                                f"H = {H}, D = 7")


def test_resuming_with_other_cell_options_names_them(saved_runs):
    """For every registered cell that takes forget_bias (the LSTM, once registered)."""
    for kind in [k for k in KINDS if "forget_bias" in rnn.settings._options_of(k)]:
        path = saved_runs[kind]
        with pytest.raises(CheckpointError, match=rf"holds a 1-layer {kind} with H = 6, D = 7; "
                                                  rf"the model is a 1-layer {kind} with H = 6, "
                                                  rf"D = 7 \(forget_bias = 1.0\)"):
            Trainer.resume(path, _cell(kind, steps=4, forget_bias=1.0, out=str(path.parent)))


def _edited(path, tmp_path, edit) -> str:
    """The checkpoint at ``path`` with its model record edited, written back as save would."""
    saved = checkpoint.load(path)
    meta = {k: v for k, v in saved.meta.items() if k != "format"}
    edit(meta["model"])
    target = tmp_path / "edited.npz"
    arrays = {n: a for n, a in saved.arrays.items() if n in meta["model"]["parameters"]}
    checkpoint.save(target, arrays, meta, saved.optimizer, saved.carry)
    return target


def test_a_record_naming_an_unknown_cell_is_refused_by_sampling_and_drawing(saved_runs,
                                                                            tmp_path, capsys):
    path = _edited(saved_runs["rnn"], tmp_path, lambda m: m.update(cell="transformer"))
    assert main(["sample", "--checkpoint", str(path)]) == 2
    assert main(["render", "--checkpoint", str(path), "--out", str(tmp_path / "g.dot")]) == 2
    err = capsys.readouterr().err
    assert err.count(f"error: {path} holds a 1-layer transformer with H = 6, D = 7, and the cells "
                     f"known here are {', '.join(CELLS)}") == 2


def test_a_record_that_does_not_fit_its_cell_is_refused(saved_runs, tmp_path):
    def wrong(model):                       # a vanilla record that claims H = 7 for W
        model["parameters"]["W"] = [7, 7]
    saved = checkpoint.load(saved_runs["rnn"])
    meta = {k: v for k, v in saved.meta.items() if k != "format"}
    wrong(meta["model"])
    target = tmp_path / "wrong.npz"
    arrays = {**saved.arrays, "W": np.zeros((7, 7))}
    checkpoint.save(target, arrays, meta)
    with pytest.raises(CheckpointError, match=r"holds a 1-layer rnn with H = 6, D = 7, but its "
                                              r"record does not fit the model that makes \(a "
                                              r"1-layer rnn with "
                                              r"H = 6, D = 7\): W \(7, 7\), expected \(6, 6\)"):
        model_from_checkpoint(target)


def test_a_format_1_checkpoint_of_the_vanilla_rnn_still_samples_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    Trainer(_cell("rnn", steps=3, out=str(out))).run(log=None)
    saved = checkpoint.load(out / "checkpoint.npz")
    old_names = {v: k for k, v in checkpoint.RENAMED.items()}
    config = {old_names.get(k, k): v for k, v in saved.meta["config"].items()
              if k not in ("cell", "forget_bias")}
    meta = {**{k: v for k, v in saved.meta.items() if k != "model"}, "config": config,
            "format": checkpoint.FORMAT_1}
    entries = {f"param/{k}": v for k, v in saved.arrays.items()}
    entries.update({f"optim/{k}": v for k, v in saved.optimizer.items()})
    np.savez(out / "checkpoint.npz", meta=np.array(json.dumps(meta)), **entries,
             **{"carry/h": saved.carry["h"]})
    assert main(["sample", "--checkpoint", str(out / "checkpoint.npz"), "--length", "5",
                 "--random-seed", "0"]) == 0
    resumed = Trainer.resume(out / "checkpoint.npz", _cell("rnn", steps=5, out=str(out)))
    assert resumed.step == 3 and resumed.model.kind == "rnn"
    resumed.run(log=None)
    assert checkpoint.load(out / "checkpoint.npz").meta["format"] == checkpoint.FORMAT


@pytest.mark.parametrize("kind", KINDS)
def test_the_command_line_trains_samples_draws_and_explores_every_cell(kind, tmp_path, capsys):
    tiny = ["--hidden-size", "5", "--tau", "5", "--batch", "2", "--train-strings", "60",
            "--validation-strings", "10", "--quiet", "--eval-every", "3"]
    out = tmp_path / "run"
    assert main(["train", "--cell", kind, "--grammar", "reber", "--steps", "3",
                 "--out", str(out), *tiny]) == 0
    assert checkpoint.load(out / "checkpoint.npz").model["cell"] == kind
    assert main(["sample", "--checkpoint", str(out / "checkpoint.npz"), "--strings", "2",
                 "--random-seed", "1"]) == 0
    assert main(["render", "--checkpoint", str(out / "checkpoint.npz"),
                 "--out", str(tmp_path / "trained.dot")]) == 0
    assert f"unrolled {kind.upper()}, τ = " in (tmp_path / "trained.dot").read_text()
    for collapse in ([], ["--collapse-cells"]):
        assert main(["render", "--cell", kind, "--tau", "3", *collapse,
                     "--out", str(tmp_path / "random.dot")]) == 0
        assert (tmp_path / "random.dot").read_text().count("subgraph cluster_") == 3
    assert main(["explore", "--cell", kind, "--tau", "3",
                 "--out", str(tmp_path / "e.html")]) == 0
    from test_explore import _data_of
    page = json.loads(_data_of((tmp_path / "e.html").read_text(encoding="utf-8")))
    assert page["title"].startswith(f"unrolled {kind.upper()}, τ = 3")
