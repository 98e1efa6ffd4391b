"""rnn.settings and rnn.cli: each setting is written once and every command's options are made
from it (name, range, default, help); renamed options are refused with their new name; the
cell and its options are chosen and checked the same way for train, demo, render and explore."""
import argparse
import dataclasses
import doctest

import pytest

import rnn.cli
import rnn.settings
from rnn.cells import CELLS
from rnn.cli import Problem, build_parser, config_from, main
from rnn.settings import settings
from rnn.train import ConfigError, TrainConfig

COMMANDS = {"train": TrainConfig, "demo": TrainConfig, "render": Problem, "explore": Problem}


def _subparser(command: str) -> argparse.ArgumentParser:
    parser = build_parser()
    return next(a for a in parser._actions
                if isinstance(a, argparse._SubParsersAction)).choices[command]


def _option(parser: argparse.ArgumentParser, dest: str) -> argparse.Action:
    return next(a for a in parser._actions if a.dest == dest)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_setting_is_an_option_named_after_it_with_its_default_and_help(command):
    cls, parser = COMMANDS[command], _subparser(command)
    for name, (field, setting) in settings(cls).items():
        action = _option(parser, name)
        flag = setting.flag or "--" + name.replace("_", "-")
        assert action.option_strings == [flag], name
        assert action.help.startswith(setting.help), name
        if setting.accepted is bool:
            assert action.default is (field.default if flag != "--quiet" else True), name
        elif (command, name) != ("explore", "tau"):
            assert action.default == field.default, name
        if isinstance(setting.accepted, tuple):
            assert tuple(action.choices) == setting.accepted, name


def test_the_defaults_of_the_command_line_are_the_configurations():
    for command, cls in COMMANDS.items():
        args = build_parser().parse_args([command])
        expected = dataclasses.replace(cls(), tau=8) if command == "explore" else cls()
        assert config_from(args, cls) == expected, command


def test_the_cell_choices_are_the_registered_cells():
    for command in COMMANDS:
        assert tuple(_option(_subparser(command), "cell").choices) == tuple(CELLS)


@pytest.mark.parametrize("command", ["train", "render", "explore", "sample"])
@pytest.mark.parametrize("old, new", list(rnn.cli.RENAMED.items()))
def test_a_renamed_option_is_refused_with_its_new_name(command, old, new, capsys):
    flags = {s for a in _subparser(command)._actions for s in a.option_strings}
    if new not in flags:            # sample has --random-seed only
        return
    with pytest.raises(SystemExit) as exit:
        main([command, old, "3"])
    assert exit.value.code == 2
    assert f"error: argument {old}: renamed: use {new}" in capsys.readouterr().err


def test_the_new_names_reach_the_configuration():
    args = build_parser().parse_args(["train", "--hidden-size", "7", "--random-seed", "5",
                                      "--lr-final-fraction", "0.5", "--clip-norm", "0",
                                      "--quiet"])
    config = config_from(args, TrainConfig)
    assert (config.hidden_size, config.random_seed, config.lr_final_fraction) == (7, 5, 0.5)
    assert config.clip_norm is None and config.progress is False     # 0 turns clipping off


def test_a_cell_option_for_a_cell_that_does_not_take_it_is_refused():
    takers = [kind for kind in CELLS if "forget_bias" in rnn.settings._options_of(kind)]
    message = (f"forget_bias is an option of the {' and '.join(takers)} cell" if takers
               else "forget_bias is an option of no cell here")
    with pytest.raises(ConfigError, match=f"{message}; the rnn cell takes no options"):
        TrainConfig(cell="rnn", forget_bias=1.0)
    with pytest.raises(ConfigError, match=message):
        Problem(cell="rnn", forget_bias=1.0)
    assert TrainConfig(cell="rnn").cell_options() == {}


def test_a_cell_option_given_on_the_command_line_is_an_error_line(tmp_path, capsys):
    assert main(["explore", "--forget-bias", "1", "--out", str(tmp_path / "e.html")]) == 2
    assert "error: forget_bias is an option of" in capsys.readouterr().err


def test_the_forget_bias_reaches_the_cells_that_take_it():
    """Every registered cell that takes forget_bias (the LSTM, once registered) gets it."""
    for cell in [kind for kind in CELLS if "forget_bias" in rnn.settings._options_of(kind)]:
        config = TrainConfig(cell=cell, forget_bias=2.0)
        assert config.cell_options() == {"forget_bias": 2.0}
        model, _, _ = Problem(cell=cell, forget_bias=2.0).build()
        H = model.hidden_size
        forget = slice(H, 2 * H)                              # the blocks are i | f | g | o
        bias = model.parameters()["b_ih"].data[forget] + model.parameters()["b_hh"].data[forget]
        assert bias == pytest.approx([2.0] * H)


def test_bad_settings_name_the_setting_and_the_accepted_values():
    with pytest.raises(ConfigError, match="hidden_size: expected an integer ≥ 1, got 0"):
        TrainConfig(hidden_size=0)
    with pytest.raises(ConfigError, match=r"cell: expected one of \("):
        TrainConfig(cell="transformer")
    with pytest.raises(ConfigError, match="progress: expected True or False, got 1"):
        TrainConfig(progress=1)
    with pytest.raises(ConfigError, match="random_seed: expected an integer ≥ 0, got -1"):
        Problem(random_seed=-1)


def test_the_bptt_gradients_are_refused_for_a_cell_without_an_oracle(monkeypatch):
    monkeypatch.setattr(rnn.train, "oracle_of", lambda cell: None)
    with pytest.raises(ConfigError, match="gradients='bptt' needs the analytic oracle of the "
                                          "rnn cell, and it has none"):
        TrainConfig(gradients="bptt")


@pytest.mark.parametrize("module", [rnn.settings, rnn.cli])
def test_docstring_examples_run(module):
    failed, attempted = doctest.testmod(module)
    assert attempted > 0 and failed == 0


# -- --w-scale: the recurrent weights the cell declares, every layer's ---------------------------

RECURRENT = {("rnn", 1): {"W"}, ("lstm", 1): {"W_hh"}, ("gru", 1): {"W_hh"},
             ("rnn", 2): {"W_l0", "W_l1"}, ("lstm", 2): {"W_hh_l0", "W_hh_l1"},
             ("gru", 2): {"W_hh_l0", "W_hh_l1"}}


@pytest.mark.parametrize("cell, layers", RECURRENT)
def test_w_scale_multiplies_every_recurrent_weight_and_nothing_else(cell, layers):
    """W (vanilla) or W_hh (LSTM, GRU), in every layer of a stack, times S; the rest as drawn."""
    plain = Problem(cell=cell, layers=layers).build()[0].arrays()
    scaled = Problem(cell=cell, layers=layers, w_scale=0.3).build()[0].arrays()
    assert plain.keys() == scaled.keys()
    for name in plain:
        factor = 0.3 if name in RECURRENT[cell, layers] else 1.0
        assert (scaled[name] == factor * plain[name]).all(), name


def test_w_scale_scales_what_a_cell_declares_as_recurrent(monkeypatch):
    """The names come from Cell.recurrent, not from a list of names: a cell declaring its
    input weight U recurrent (wrongly, on purpose) gets U scaled and W left alone."""
    monkeypatch.setattr(CELLS["rnn"], "recurrent", ("U",))
    plain = Problem().build()[0].arrays()
    scaled = Problem(w_scale=2.0).build()[0].arrays()
    assert (scaled["U"] == 2.0 * plain["U"]).all() and (scaled["W"] == plain["W"]).all()


def test_w_scale_is_refused_for_a_cell_without_a_recurrent_weight(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(CELLS["gru"], "recurrent", ())
    message = "--w-scale 0.5: the gru cell declares no recurrent weight"
    with pytest.raises(ConfigError, match=message):
        Problem(cell="gru", w_scale=0.5).build()
    with pytest.raises(ConfigError, match=message):
        Problem(cell="gru", layers=2, w_scale=0.5).build()
    assert Problem(cell="gru").build()[0].recurrent() == ()      # S = 1 changes nothing
    assert main(["render", "--cell", "gru", "--w-scale", "0.5",
                 "--out", str(tmp_path / "g.svg")]) == 2
    assert message in capsys.readouterr().err


def test_render_and_explore_draw_a_random_stack(tmp_path, capsys):
    """--layers 2 on a random problem: drawn per step and layer (rnn.draw_stack), explored;
    the one-layer drawing's options refused with the reason."""
    svg = tmp_path / "stack.svg"
    assert main(["render", "--cell", "lstm", "--layers", "2", "--w-scale", "0.5", "--tau", "2",
                 "--out", str(svg)]) == 0
    assert "layer 2" in svg.read_text()
    assert main(["explore", "--cell", "gru", "--layers", "2", "--tau", "2",
                 "--out", str(tmp_path / "e.html")]) == 0
    assert main(["render", "--layers", "2", "--heat", "--out", str(svg)]) == 2
    assert "--layers 2 is a 2-layer stack, drawn per step and layer without --heat" in (
        capsys.readouterr().err)
