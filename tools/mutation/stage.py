"""Stage a copy of the project for mutmut, rewritten so that mutmut mutates all of its targets.

mutmut (3.8) makes mutants only inside undecorated top-level functions and methods, so it
would leave out every ``@primitive`` rule of the op table, the ``@contextmanager`` grad
modes, and the module-level statements that give Tensor its operators. This script copies
the project into a staging directory (mutmut's input, never the source tree) and rewrites
the copies of the target modules, keeping their behaviour:

* ``@d`` on a top-level ``def f`` becomes ``f = d(f)`` after the undecorated definition;
* a run of module-level assignments to attributes (``Tensor.__add__ = add``...) becomes the
  body of a function ``_module_level_<n>()``, called right there.

Those functions and the module's own decorators (``primitive``) run only while the module is
imported, before mutmut's forked workers choose a mutant; tools/mutation/fresh.py checks
their mutants in fresh processes. ``mutation_stage.json`` records them per module.

Usage: ``python tools/mutation/stage.py STAGING_DIR`` (the directory is replaced).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import libcst as cst

ROOT = Path(__file__).resolve().parents[2]
COPIED = ["minigrad", "rnn", "tests", "examples", "pyproject.toml"]
TARGETS = ["minigrad/tensor.py", "minigrad/ops.py", "minigrad/lazy.py", "minigrad/testing",
           "rnn/oracles/vanilla.py", "rnn/oracles/head.py", "rnn/oracles/lstm.py",
           "rnn/oracles/gru.py", "rnn/oracles/stack.py", "rnn/oracles/rop.py", "rnn/inputs.py"]
LEVEL = "_module_level_"
UNDECORATED_BY_MUTMUT = ("staticmethod", "classmethod")  # mutmut mutates these as they are


def _patches_attributes(statement: cst.CSTNode) -> bool:
    """A line of assignments whose every target is an attribute (``Tensor.T = ...``)."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return False

    def attribute(target: cst.BaseExpression) -> bool:
        if isinstance(target, cst.Tuple):
            return all(attribute(element.value) for element in target.elements)
        return isinstance(target, cst.Attribute)
    return all(isinstance(small, cst.Assign) and all(attribute(t.target) for t in small.targets)
               for small in statement.body)


def rewrite(source: str) -> tuple[str, list[dict], list[str]]:
    """The module's source rewritten as described above, its module-level functions (name,
    first and last original line) and the names of the decorators it defines."""
    wrapper = cst.MetadataWrapper(cst.parse_module(source))
    positions = wrapper.resolve(cst.metadata.PositionProvider)
    module = wrapper.module
    body, levels, run, decorators_used = [], [], [], set()

    def flush():
        if not run:
            return
        name = f"{LEVEL}{len(levels) + 1}"
        levels.append({"function": name, "first_line": positions[run[0]].start.line,
                       "last_line": positions[run[-1]].end.line})
        function = cst.parse_statement(f"def {name}():\n    pass\n")
        statements = [run[0].with_changes(leading_lines=())] + run[1:]
        body.append(function.with_changes(
            leading_lines=run[0].leading_lines,
            body=function.body.with_changes(body=statements)))
        body.append(cst.parse_statement(f"{name}()\n"))
        run.clear()

    seen_definition = False
    for statement in module.body:
        if seen_definition and _patches_attributes(statement):
            run.append(statement)
            continue
        flush()
        seen_definition |= isinstance(statement, (cst.FunctionDef, cst.ClassDef))
        decorators = getattr(statement, "decorators", ())
        if isinstance(statement, cst.FunctionDef) and decorators and not (
                len(decorators) == 1 and isinstance(decorators[0].decorator, cst.Name)
                and decorators[0].decorator.value in UNDECORATED_BY_MUTMUT):
            name = statement.name.value
            decorators_used |= {d.decorator.value for d in decorators
                                if isinstance(d.decorator, cst.Name)}
            applied = name
            for decorator in reversed(decorators):
                applied = f"{module.code_for_node(decorator.decorator)}({applied})"
            body.append(statement.with_changes(decorators=(), leading_lines=(
                *statement.leading_lines, *decorators[0].leading_lines)))
            body.append(cst.parse_statement(f"{name} = {applied}\n"))
        else:
            body.append(statement)
    flush()
    defined = {s.name.value for s in module.body if isinstance(s, cst.FunctionDef)}
    return module.with_changes(body=body).code, levels, sorted(decorators_used & defined)


def _commit() -> str:
    """The staged commit, marked when the work tree differs from it."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, text=True, capture_output=True).stdout
    dirty = git("status", "--porcelain", "--untracked-files=no").strip()
    mark = " (with uncommitted changes)" if dirty else ""
    return git("rev-parse", "--short", "HEAD").strip() + mark


def _target_files(staging: Path) -> list[Path]:
    files = []
    for target in TARGETS:
        path = staging / target
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def stage(staging: Path) -> dict:
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", "*.pyc")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, staging / name, ignore=ignore)
        else:
            shutil.copy2(source, staging / name)
    shutil.copy2(Path(__file__).with_name("pytest_plugin.py"), staging / "mutation_plugin.py")
    record = {}
    for path in _target_files(staging):
        code, levels, decorators = rewrite(path.read_text())
        compile(code, str(path), "exec")  # a rewrite that does not parse stops here
        path.write_text(code)
        relative = path.relative_to(staging)
        record[relative.as_posix()] = {
            "module": ".".join(relative.with_suffix("").parts).removesuffix(".__init__"),
            "module_level": levels,
            "import_time": [f["function"] for f in levels] + decorators}
    (staging / "mutation_stage.json").write_text(json.dumps(record, indent=1) + "\n")
    (staging / "commit.txt").write_text(_commit() + "\n")
    return record


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.rsplit("Usage: ", 1)[1].strip())
    for path, info in stage(Path(sys.argv[1])).items():
        lines = ", ".join(f"{f['function']} (lines {f['first_line']}-{f['last_line']})"
                          for f in info["module_level"])
        print(f"staged {path}" + (f": module level as {lines}" if lines else ""))
