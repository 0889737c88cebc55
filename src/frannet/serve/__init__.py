"""``frannet serve``: a local web page to upscale, denoise and colorize photos.

Why Starlette + uvicorn and a hand-written page rather than Gradio: Gradio is a large
dependency tree whose front end loads fonts and scripts from the web, while this page must
work offline. Starlette, uvicorn and python-multipart are three small pure-Python packages;
the page is three static files (vanilla HTML, CSS and JS, no build step) served from this
package, and the API under it is a few JSON routes over a bounded job queue, easy to test
with Starlette's TestClient and a headless browser.

This module imports nothing of the server, so the command can say what is missing.
"""

from __future__ import annotations

import importlib.util

DEFAULT_MAX_PIXELS = 25_000_000  # per input and per output; results are held in memory as PNG
REQUIRED = {"starlette": "starlette", "uvicorn": "uvicorn", "python_multipart": "python-multipart"}


def missing_packages() -> list[str]:
    """The pip names of the server's packages that are not installed."""
    return [name for module, name in REQUIRED.items() if importlib.util.find_spec(module) is None]
