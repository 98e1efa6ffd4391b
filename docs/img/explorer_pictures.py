"""Redraw the README's explorer pictures: a screenshot and frames of stepping through backward.

    .venv/bin/python docs/img/explorer_pictures.py        # needs Debian's chromium (make chromium)

Writes docs/img/explorer.png (the unrolled RNN, τ = 4, mid-pass, W selected) and
docs/img/explorer_steps.gif (the pass from L back to the shared weights, every few events).
"""
import io
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import sync_playwright

import minigrad as mg
from rnn import RNN

HERE = Path(__file__).resolve().parent
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main(out: Path = HERE) -> None:
    model = RNN(4, 3, 4, seed=0)
    graph = model.unroll(np.array([0, 2, 1, 3]), np.array([2, 1, 3, 0]))
    explorer = mg.explore(graph.loss, title="unrolled RNN, τ = 4: backward from L")
    nodes = mg.draw.walk([graph.loss])
    w = next(i for i, t in enumerate(nodes) if t is model.W)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1500, "height": 760})
        page.goto(explorer.save(Path(tmp) / "rnn.html").as_uri())
        page.wait_for_selector("body[data-ready=true]")
        sends = [k for k, e in enumerate(explorer.data["events"], start=1)
                 if e[0] == 1 and e[3] == w]
        page.evaluate(f"explorer.go({sends[1]})")
        page.evaluate(f"explorer.select({w})")
        page.screenshot(path=str(out / "explorer.png"))
        page.evaluate("explorer.select(-1)")
        frames = []
        for k in range(1, sends[-1] + 1, 4):
            page.evaluate(f"explorer.go({k})")
            shot = page.screenshot(clip=dict(x=0, y=0, width=1140, height=560))
            frames.append(Image.open(io.BytesIO(shot)).convert("RGB").resize((855, 420)))
        browser.close()
    frames = [f.quantize(colors=128, method=Image.Quantize.MEDIANCUT) for f in frames]
    frames[0].save(out / "explorer_steps.gif", save_all=True, append_images=frames[1:],
                   duration=700, loop=0, optimize=True)
    print(f"wrote {out / 'explorer.png'} and {out / 'explorer_steps.gif'} ({len(frames)} frames)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
