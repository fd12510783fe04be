"""Runs bench/node/reference.js (mjml + juice) on the MJML our pipeline produced."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

NODE_DIR = Path(__file__).resolve().parent / "node"


def ensure_node() -> str | None:
    """`npm ci` from the committed lock file when node_modules is missing; None says why not possible."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node/npm not installed"
    if not (NODE_DIR / "node_modules" / "mjml").is_dir():
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            return "npm ci failed: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    return None


def run_reference(documents: dict[str, tuple[str, str]], warmup: int, repeat: int) -> dict:
    """Median milliseconds per stage for each (MJML, theme CSS) document, after `warmup` untimed runs."""
    job = {
        "documents": [{"name": k, "mjml": m, "css": c} for k, (m, c) in documents.items()],
        "warmup": warmup,
        "repeat": repeat,
    }
    done = subprocess.run(
        ["node", str(NODE_DIR / "reference.js")],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=NODE_DIR,
    )
    if done.returncode != 0:
        raise RuntimeError("node reference failed: " + (done.stderr.strip().splitlines() or ["?"])[-1])
    return json.loads(done.stdout)
