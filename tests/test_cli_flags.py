"""Every flag of every subcommand refuses bad values where it is parsed, with one message
naming the flag and the accepted range; boundary values are accepted; every option has help."""
import argparse

import pytest

from rnn.__main__ import build_parser, main

COUNTS = ["0", "-1", "1.5", "x", "nan", ""]
TRAINING = {                                      # flag: bad values (demo and train share them)
    **{flag: COUNTS for flag in ("--hidden-size", "--tau", "--batch", "--steps", "--train-strings",
                                 "--validation-strings", "--eval-every", "--sample-every",
                                 "--checkpoint-every", "--early-stopping", "--layers")},
    "--lr": ["0", "-0.1", "nan", "inf", "-inf", "x", "1e999"],
    "--lr-final-fraction": ["0", "1.5", "-1", "nan", "inf"],
    "--clip-norm": ["-5", "-1e-9", "nan", "inf", "x"],
    "--clip-value": ["0", "-1", "nan", "inf"],
    "--weight-decay": ["-1", "-1e-9", "nan", "inf", "x"],
    "--random-seed": ["-1", "1.5", "x"],
    "--temperature": ["-1", "-1e-300", "nan", "inf"],
    "--text": [""],
    "--out": [""],
}
SAMPLE = {"--length": ["-1", "x", "2.5"], "--temperature": ["-0.5", "nan", "inf"],
          "--strings": ["-1", "nan"], "--random-seed": ["-1", "x"], "--prime": [""],
          "--checkpoint": [""]}
RENDER = {**{flag: ["0", "-1", "x", "nan"] for flag in ("--input-size", "--hidden-size",
                                                        "--output-size", "--tau")},
          "--random-seed": ["-1"], "--w-scale": ["nan", "inf", "-inf", "x"],
          "--collapse-above": ["-1"],
          "--out": ["g.jpeg", "g", "g.svg.txt"], "--checkpoint": [""]}
EXPLORE = {**{flag: values for flag, values in RENDER.items() if flag not in (
    "--collapse-above", "--out", "--checkpoint")}, "--out": ["g.svg", "g", "g.html.txt"]}
SEQ2SEQ = {**{flag: COUNTS for flag in ("--hidden-size", "--layers", "--steps", "--batch",
                                        "--test-examples", "--min-length", "--max-length",
                                        "--digits")},
           "--delay": ["-1", "1.5", "x"], "--lr": ["0", "-1", "nan", "inf"],
           "--clip-norm": ["0", "-1", "nan"], "--random-seed": ["-1", "x"],
           "--forget-bias": ["nan", "inf", "x"], "--out": [""], "--evaluate": [""]}
DECODE = {"--checkpoint": [""]}
CASES = [(command, flag, value) for command, table in
         [("train", TRAINING), ("demo", TRAINING), ("sample", SAMPLE), ("render", RENDER),
          ("explore", EXPLORE), ("seq2seq", SEQ2SEQ), ("decode", DECODE)]
         for flag, values in table.items() for value in values]


def _tiny(command, tmp_path):
    """Options that keep a run short should a bad value ever get through (the flag under test
    comes last, so it wins)."""
    if command in ("train", "demo"):
        return ["--steps", "1", "--hidden-size", "2", "--tau", "2", "--batch", "1", "--quiet",
                "--train-strings", "20", "--validation-strings", "5", "--out", str(tmp_path)]
    if command == "sample":
        return ["--checkpoint", str(tmp_path / "none.npz")]
    if command == "seq2seq":
        return ["--steps", "1", "--hidden-size", "2", "--batch", "1", "--test-examples", "1",
                "--out", str(tmp_path / "s.npz")]
    if command == "decode":
        return ["--checkpoint", str(tmp_path / "none.npz"), "ab"]
    if command == "explore":
        return ["--out", str(tmp_path / "g.html")]
    return ["--out", str(tmp_path / "g.dot")]


@pytest.mark.parametrize("command, flag, value", CASES)
def test_a_bad_value_is_refused_where_it_is_parsed_naming_flag_and_range(command, flag, value,
                                                                        capsys, tmp_path):
    with pytest.raises(SystemExit) as exit:
        main([command, *_tiny(command, tmp_path), f"{flag}={value}"])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert f"error: argument {flag}: expected " in last and repr(value) in last, err
    assert "Traceback" not in err


@pytest.mark.parametrize("command, flag, value, parsed", [
    ("train", "--clip-norm", "0", 0.0),              # 0 turns clipping off
    ("train", "--lr-final-fraction", "1", 1.0),
    ("train", "--weight-decay", "0", 0.0),           # off
    ("train", "--temperature", "0", 0.0),            # greedy
    ("train", "--random-seed", "0", 0),
    ("sample", "--length", "0", 0),
    ("sample", "--temperature", "0", 0.0),
    ("render", "--w-scale", "-0.5", -0.5),
    ("render", "--collapse-above", "0", 0),
    ("render", "--out", "g.GV", "g.GV"),
    ("train", "--layers", "1", 1),
    ("seq2seq", "--delay", "0", 0),
    ("seq2seq", "--layers", "1", 1),
])
def test_boundary_values_are_accepted(command, flag, value, parsed):
    args = build_parser().parse_args([command, flag, value])
    assert getattr(args, flag.lstrip("-").replace("-", "_")) == parsed


def _options():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in [("", parser), *subparsers.choices.items()]:
        for action in sub._actions:
            if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                yield name, action


@pytest.mark.parametrize("command, action", list(_options()),
                         ids=lambda x: x if isinstance(x, str) else (x.option_strings or
                                                                     [x.dest])[0])
def test_every_option_has_help_text(command, action):
    assert action.help and action.help.strip() not in ("(default: %(default)s)",), \
        f"{command} {action.option_strings}"


def test_lr_final_says_it_is_a_fraction_of_lr():
    help_text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    assert "fraction of --lr" in " ".join(help_text.split())
