"""./run.sh as a newcomer runs it: the demo installs only what the demo runs.

pip, the venv and the digest command are stand-ins that log their arguments (a real install takes
minutes and needs a package index); run.sh itself is the real script.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO

FAKE_PYTHON3 = """#!/bin/sh
# `python3 -m venv .venv`: make a venv whose python and digest only log what they were asked.
mkdir -p "$3/bin"
printf '#!/bin/sh\\necho "python $*" >> "$LOG"\\n' > "$3/bin/python"
printf '#!/bin/sh\\necho "digest $*" >> "$LOG"\\n' > "$3/bin/digest"
printf '#!/bin/sh\\necho "ruff $*" >> "$LOG"\\n' > "$3/bin/ruff"
chmod +x "$3/bin/python" "$3/bin/digest" "$3/bin/ruff"
"""


def test_demo_installs_the_project_without_test_tools_or_system_packages(tmp_path: Path) -> None:
    repo = tmp_path / "clone"
    repo.mkdir()
    for name in ("run.sh", "pyproject.toml"):
        shutil.copy(REPO / name, repo / name)
    (repo / "seeds").mkdir()
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "python3").write_text(FAKE_PYTHON3)
    for name in ("apt-get", "sudo"):
        (tools / name).write_text('#!/bin/sh\necho "' + name + ' $*" >> "$LOG"\n')
    for tool in tools.iterdir():
        tool.chmod(0o755)
    log = tmp_path / "log"
    env = {**os.environ, "PATH": f"{tools}:/usr/bin:/bin", "LOG": str(log)}
    env.pop("DIGEST_DATABASE_URL", None)
    done = subprocess.run(["./run.sh", "demo"], cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    installs = [line for line in calls if " pip install " in f" {line} "]
    assert len(installs) == 1, calls
    assert "-e ." in installs[0] and "[test]" not in installs[0], installs[0]
    assert not [line for line in calls if line.startswith(("apt-get", "sudo", "ruff"))], calls
    assert any(line.startswith("digest build --cadence weekly") for line in calls), calls
