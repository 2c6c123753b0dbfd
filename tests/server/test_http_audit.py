"""graphql-http's own audit of the GraphQL-over-HTTP specification, against a real server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parents[2] / "tools" / "http-audit" / "run.sh"


def test_the_graphql_http_audit_finds_no_error_and_no_warning(tmp_path):
    # The `guichet` command installed next to this interpreter serves the audited app.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(
        ["bash", str(RUN)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "0 warnings, 0 errors" in run.stdout, output
