"""The explorer's Python side: it records the real pass, changes no gradient, writes safe data."""
import json

import numpy as np
import pytest

import minigrad as mg
from minigrad.explore import Explorer, Recording, embed_json
from minigrad.explore.data import rule_source
from rnn import RNN


def rnn_graph(tau=5, H=3, seed=0):
    rng = np.random.default_rng(seed)
    model = RNN(4, H, 4, seed=seed)
    return model, model.unroll(rng.integers(0, 4, tau), rng.integers(0, 4, tau))


def position(outputs, t):
    """t's number in the page (the nodes are in walk order); by identity, not ==."""
    return next(i for i, v in enumerate(mg.draw.walk(outputs)) if v is t)


def test_explore_is_the_package_and_callable():
    import minigrad.explore as mx
    assert mx is mg.explore and mx.Recording is Recording
    x = mg.tensor(2.0, requires_grad=True)
    assert isinstance(mg.explore(x * x), Explorer)


def test_exploring_gives_every_node_the_gradient_of_a_plain_backward_bit_for_bit():
    _, plain = rnn_graph(tau=6, H=20)     # H >= 16: W collects lazy Outer gradients
    plain.loss.backward()
    _, graph = rnn_graph(tau=6, H=20)     # the same parameters and inputs
    mg.explore(graph.loss)
    expected = [t.grad for t in mg.draw.walk([plain.loss])]
    got = [t.grad for t in mg.draw.walk([graph.loss])]
    assert sum(g is not None for g in got) > 50
    for a, b in zip(got, expected, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)


def test_the_recording_is_the_engines_event_stream_in_order():
    _, graph = rnn_graph(tau=4)
    events, recording = [], Recording()
    with mg.observe_backward(lambda e: (events.append(e), recording(e))):
        graph.loss.backward()
    page = mg.explore(graph.loss, recording=recording)
    nodes = mg.draw.walk([graph.loss])
    kinds = {"visit": 0, "send": 1, "hook": 2}
    assert [(e[0], nodes[e[1]]) for e in page.data["events"]] == [(kinds[e.kind], e.node)
                                                                  for e in events]


def test_partial_sums_are_the_running_sums_of_what_the_consumers_sent():
    model, graph = rnn_graph(tau=5)
    sent, recording = [], Recording()
    with mg.observe_backward(lambda e: (e.kind == "send" and e.input is model.W and sent.append(
            np.array(e.grad)), recording(e))):
        graph.loss.backward()
    data = mg.explore(graph.loss, recording=recording).data
    w = position([graph.loss], model.W)
    partial = [data["entries"][e[5]][1] for e in data["events"] if e[0] == 1 and e[3] == w]
    running = np.cumsum(sent, axis=0)
    assert len(partial) == 5 == len(sent)
    for got, want in zip(partial, running):
        np.testing.assert_allclose(got, want.ravel(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(running[-1], model.W.grad, rtol=1e-13, atol=1e-15)


def test_a_list_of_events_and_a_second_pass_show_the_accumulated_grad():
    x = mg.tensor([1.0, -2.0], requires_grad=True, name="x")
    y = (x * 3.0).sum().named("y")
    y.backward()                            # .grad = 3 before the explored pass
    data = mg.explore(y).data               # second pass: .grad = 3 + 3
    i = position([y], x)
    record = data["nodes"][i]
    assert data["entries"][record["pr"]][1] == [3.0, 3.0]
    assert data["entries"][record["st"]][1] == [6.0, 6.0] == x.grad.tolist()
    assert "note" not in record
    events = []
    with mg.observe_backward(events.append):
        y.backward()
    data = mg.explore(y, recording=events).data  # prior unknown: the page says .grad differs
    assert "differs" in data["nodes"][i]["note"]


def test_hooks_nan_and_inf_are_recorded():
    x = mg.tensor([0.0, 1.0], requires_grad=True, name="x")
    with np.errstate(divide="ignore"):
        h = mg.log(x).named("h")
        h.register_hook(lambda g: 2 * g)
        L = h.sum().named("L")
        data = mg.explore(L).data
    hook = [e for e in data["events"] if e[0] == 2]
    assert len(hook) == 1 and data["entries"][hook[0][2]][1] == [2.0, 2.0]
    xi = position([L], x)
    assert data["entries"][data["nodes"][xi]["st"]][1] == ["Infinity", 2.0]
    json.loads(embed_json(data))           # strict JSON: no bare NaN or Infinity


def test_events_from_another_graph_are_refused():
    a = mg.tensor(1.0, requires_grad=True, name="a")
    other = (a * 2.0).named("other")
    recording = Recording()
    with mg.observe_backward(recording):
        other.backward()
    with pytest.raises(ValueError, match="do not depend on"):
        mg.explore(mg.tanh(mg.tensor(1.0, requires_grad=True)), recording=recording)


HOSTILE = ["</script><script>alert(1)</script>", "<img src=x onerror=alert(2)>", "\"'`",
           "a\x00b", "line\nbreak", "\u2028\u2029", "&amp;<!--", "\ud800", "@@JS@@ @@DATA@@"]


def test_user_strings_are_inert_json_inside_the_page():
    x = mg.tensor([1.0], requires_grad=True, name=HOSTILE[0])
    y = x
    for name in HOSTILE[1:]:
        y = (y * 2.0).named(name)
        y.tags = {"role": name, name: name}
    page = mg.explore(y, title=HOSTILE[1])
    text = embed_json(page.data)
    assert not set(text) & set("<>&\u2028\u2029")
    assert json.loads(text)["nodes"][0]["n"] == HOSTILE[0]
    html = page.html()
    assert html.count("<script") == 2 and html.count("</script>") == 2
    assert "<img" not in html
    shown = json.loads(_data_of(html))
    assert [n["n"] for n in shown["nodes"] if n["n"] is not None] == HOSTILE  # untouched by @@


def test_the_rule_shown_is_the_op_tables_source():
    assert "g * y, g * x" in rule_source("mul")
    assert "def _matmul_vjp" in rule_source("matmul")
    assert rule_source("no such op") is None


def test_the_unrolled_steps_are_laid_out_once():
    _, graph = rnn_graph(tau=200)
    data = mg.explore(graph.loss).data
    assert len(data["steps"]) == 201    # h(0) is step 0
    assert data["layouts"] <= 3
    steps = {n["t"] for n in data["nodes"] if "t" in n}
    assert steps == set(range(201))
    assert {data["nodes"][i]["n"] for i in data["shared"]} >= {"U", "W", "V", "b", "c"}


def test_save_is_atomic(tmp_path, monkeypatch):
    x = mg.tensor(1.0, requires_grad=True, name="x")
    page = mg.explore(x * x)
    path = page.save(tmp_path / "g.html")
    before = path.read_text()
    monkeypatch.setattr(Explorer, "html", lambda self: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        page.save(path)
    assert path.read_text() == before and [p.name for p in tmp_path.iterdir()] == ["g.html"]


def test_repr_html_is_a_sandboxed_iframe_with_the_escaped_page():
    x = mg.tensor(1.0, requires_grad=True, name="<b>x</b>")
    html = mg.explore(x * x)._repr_html_()
    assert html.startswith('<iframe sandbox="allow-scripts"') and "<b>" not in html


def test_the_cli_writes_pages_for_a_random_problem_and_a_trained_model(tmp_path):
    from rnn.__main__ import main
    from test_cli import TINY
    assert main(["explore", "--tau", "4", "--out", str(tmp_path / "e.html")]) == 0
    page = (tmp_path / "e.html").read_text(encoding="utf-8")
    assert "unrolled RNN, τ = 4" in json.loads(_data_of(page))["title"]
    assert main(["train", "--grammar", "reber", "--steps", "3", "--eval-every", "3",
                 "--out", str(tmp_path), "--explore", str(tmp_path / "t.html"), *TINY]) == 0
    data = json.loads(_data_of((tmp_path / "t.html").read_text(encoding="utf-8")))
    assert data["title"].startswith("trained RNN on") and data["steps"]


def _data_of(text: str) -> str:
    """The JSON text inside the page's data element."""
    opening = '<script type="application/json" id="data">'
    start = text.index(opening) + len(opening)
    return text[start:text.index("</script>", start)]


def test_the_readme_explorer_example_runs_as_printed(tmp_path, monkeypatch):
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Explorer"):]
    code = section[section.index("```py\n") + 6:section.index("```", section.index("```py\n") + 6)]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"rnn.html", "last_two.html"}
