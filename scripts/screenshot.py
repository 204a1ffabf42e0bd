"""Refresh docs/graph.png, the README's picture of the interactive view, from the seed vault.

    python scripts/screenshot.py [--vault seeds] [--out docs/graph.png] [--focus GPT-4o]

Builds the vault into a temporary folder with kg, opens graph.html in Debian's Chromium (headless,
every network request aborted), clicks the --focus node so the side panel shows, and saves a PNG.
Chinese labels need a CJK font in the system (Debian: `apt-get install fonts-noto-cjk`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vault", type=Path, default=ROOT / "seeds")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "graph.png")
    parser.add_argument("--focus", default="GPT-4o", help="label of the node to click (empty: none)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        subprocess.run([sys.executable, "-m", "kg", "build", str(args.vault), "-o", str(out), "-q", "--no-cache"], check=True, cwd=ROOT)
        html = out / "graph.html"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 760}, bypass_csp=True)
            page.route("**/*", lambda r: r.continue_() if r.request.url == html.as_uri() else r.abort())
            page.goto(html.as_uri())
            page.wait_for_function("window.kg && window.kg.ready")
            if args.focus:
                node = page.evaluate("(label) => (window.kg.data.nodes.find(n => n.label === label) || {}).id", args.focus)
                if node is None:
                    raise SystemExit(f"screenshot: no node labelled {args.focus!r} in {args.vault}")
                page.evaluate(
                    "(id) => { network.fit({animation: false}); window.kg.focusNode(id); network.fit({animation: false}); "
                    "var s = network.getScale(), c = network.getViewPosition(); "
                    "network.moveTo({position: {x: c.x + 210 / s, y: c.y}, scale: s, animation: false}); }",
                    node,
                )
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out))
            browser.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
