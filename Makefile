# Everything runs inside $(VENV); a fresh Debian machine needs only python3 (run as root, or
# have python3-venv and Graphviz already installed).
VENV ?= .venv
PY = $(VENV)/bin/python
DEPS = $(VENV)/.minigrad-deps.stamp

DOT_HELP = Graphviz'\''s `dot` program is required: install it with `sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) or see https://graphviz.org/download/

CHROMIUM_HELP = The explorer'\''s browser tests need Debian'\''s chromium at /usr/bin/chromium: install it with `sudo apt-get install chromium` (Debian/Ubuntu)

.PHONY: deps graphviz chromium test demo bench pictures long-range examples docs mutation mutation-kills clean

deps: $(DEPS)

# Re-install whenever pyproject.toml changes. Debian splits venv support into python3-venv.
$(DEPS): pyproject.toml
	@if [ ! -x $(PY) ]; then \
	  python3 -m venv $(VENV) 2>/dev/null || { \
	    rm -rf $(VENV); \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      apt-get update && apt-get install -y python3-venv && python3 -m venv $(VENV); \
	    else \
	      echo "python3 -m venv failed: install python3-venv (Debian/Ubuntu: sudo apt-get install python3-venv)" >&2; exit 1; \
	    fi; }; \
	fi
	$(PY) -m pip install -e '.[dev]'
	touch $@

graphviz:
	@if dot -V >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update && apt-get install -y graphviz; \
	else \
	  echo '$(DOT_HELP)' >&2; exit 1; \
	fi

# The explorer's browser tests (Playwright) drive this browser; Playwright never downloads one.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update && apt-get install -y chromium; \
	else \
	  echo '$(CHROMIUM_HELP)' >&2; exit 1; \
	fi

test: deps graphviz chromium
	$(PY) -m pytest

# The main job: the embedded Reber grammar (out/), then the plain Reber grammar (out/reber/).
# --overwrite: `make demo` means "run the demo again", so it replaces the last demo's checkpoints
# (a bare `python -m rnn demo` refuses to replace a checkpoint).
demo: deps graphviz
	$(PY) -m rnn demo --overwrite
	$(PY) -m rnn demo --overwrite --grammar reber --out out/reber

# PyTorch rows appear when torch is installed in $(VENV) (optional: pip install torch).
bench: deps
	$(PY) -m pip install -q -e '.[bench]'
	$(PY) benchmarks/run.py
	$(PY) benchmarks/higher_order.py

# The README's pictures (docs/img): graph drawings, then the vanishing-gradient study (~2 min).
pictures: deps graphviz
	$(PY) examples/03_draw_graphs.py docs/img
	$(PY) examples/05_vanishing_gradients.py --out docs/img
	$(PY) examples/07_long_range.py plot --out docs/img
	$(PY) examples/09_draw_stacks.py docs/img

# The long-dependency sweeps behind examples/07's pictures (hours on 2 cores; resumable: runs
# already recorded in docs/results/ are skipped, so an interrupted sweep continues).
long-range: deps
	nice $(PY) examples/07_long_range.py run memory
	nice $(PY) examples/07_long_range.py run reber

# Every example script, quick settings where there are any (pictures go to out/examples).
examples: deps graphviz
	$(PY) examples/01_autodiff_basics.py
	$(PY) examples/02_rnn_gradients.py
	$(PY) examples/03_draw_graphs.py out/examples
	$(PY) examples/04_train_reber.py
	$(PY) examples/05_vanishing_gradients.py --quick --out out/examples
	$(PY) examples/06_second_order.py out/examples
	$(PY) examples/07_long_range.py plot --out out/examples
	$(PY) examples/08_seq2seq.py --quick
	$(PY) examples/09_draw_stacks.py out/examples

# The API reference from the docstrings (pdoc): out/api/index.html, rebuilt from scratch.
docs: deps
	rm -rf out/api
	$(PY) docs/api/build.py out/api

# Mutation score of the engine, op table, minigrad.testing and the BPTT oracle (docs/mutation.md):
# mutmut in a rewritten copy in build/mutation (tools/mutation/stage.py says why), then the
# import-time mutants in fresh processes and the page. MUTATION_JOBS workers. Then
# `make mutation-kills` runs the kills table (which tests kill which bugs) in that tree.
MUTATION_JOBS ?= 2
MUTATION = build/mutation

mutation: deps graphviz
	$(PY) -m pip install -q -e '.[mutation]'
	@mkdir -p build && date +%s > $(MUTATION).start
	$(PY) tools/mutation/stage.py $(MUTATION)
	cd $(MUTATION) && $(abspath $(VENV))/bin/mutmut run --max-children $(MUTATION_JOBS) \
	  > mutmut.log 2>&1 || { tail -c 3000 mutmut.log; exit 1; }
	$(PY) tools/mutation/fresh.py $(MUTATION) $(MUTATION_JOBS)
	@echo $$(( $$(date +%s) - $$(cat $(MUTATION).start) )) > $(MUTATION).seconds
	$(PY) tools/mutation/report.py $(MUTATION) docs/mutation.md --jobs $(MUTATION_JOBS) \
	  --seconds $$(cat $(MUTATION).seconds)

mutation-kills: deps
	@test -f $(MUTATION).seconds || { echo "run make mutation first"; exit 1; }
	@date +%s > $(MUTATION).kills-start
	$(PY) tools/mutation/kills.py $(MUTATION) $(MUTATION)/kills.json $(MUTATION_JOBS)
	$(PY) tools/mutation/report.py $(MUTATION) docs/mutation.md --jobs $(MUTATION_JOBS) \
	  --seconds $$(cat $(MUTATION).seconds) --kills $(MUTATION)/kills.json \
	  --kills-seconds $$(( $$(date +%s) - $$(cat $(MUTATION).kills-start) ))

clean:
	rm -rf build/ dist/ out/ *.egg-info .pytest_cache .hypothesis $(DEPS)
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +
