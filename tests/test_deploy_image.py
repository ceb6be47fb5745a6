"""The Dockerfile's promises, read from the file (building it needs the network): two stages,
the model exported at build time, a non-root user, offline at start, the probe on /healthz."""

from __future__ import annotations

import re
from pathlib import Path

DOCKERFILE = (Path(__file__).resolve().parents[1] / "Dockerfile").read_text()


def _stages() -> list[str]:
    return re.split(r"(?m)^FROM ", DOCKERFILE)[1:]


def test_multi_stage_with_the_model_exported_in_the_build_stage():
    build, runtime = _stages()
    assert build.split()[2] == "build" and runtime.split()[2] == "runtime"
    assert "python -m knowledge.onnx_export" in build
    assert "pip install" not in runtime and "onnx_export" not in runtime  # nothing fetched
    assert "COPY --from=build" in runtime


def test_runs_as_a_non_root_user_offline():
    runtime = _stages()[1]
    users = re.findall(r"(?m)^USER (\S+)", runtime)
    assert users and not users[-1].startswith(("root", "0"))
    for offline in ("HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1"):
        assert offline in runtime


def test_the_probe_and_port_are_the_servers():
    from bot.slack.asgi import HEALTH_PATH
    from infra.settings import SlackSettings

    runtime = _stages()[1]
    port = SlackSettings().port
    assert f"EXPOSE {port}" in runtime
    assert f"127.0.0.1:{port}{HEALTH_PATH}" in runtime
