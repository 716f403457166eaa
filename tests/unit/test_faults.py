"""Kill points: refused in production, refused when misspelt, and a real SIGKILL when hit."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from registry.errors import ConfigurationError
from registry.faults import KILL_POINTS, boundary_hook
from registry.settings import get_settings
from tests.conftest import REPO


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]  # no developer .env here
    for name in ("ENV", "NOW", "ID_HASH_KEY", "KILL_AT", "FAULT_AFTER_STEP"):
        monkeypatch.delenv(f"JOINTCREDIT_{name}", raising=False)


def test_a_kill_point_is_a_rehearsal_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOINTCREDIT_KILL_AT", "deliver-notices:after-send")
    assert get_settings().kill_at == "deliver-notices:after-send"


def test_production_refuses_a_kill_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOINTCREDIT_ENV", "production")
    monkeypatch.setenv("JOINTCREDIT_ID_HASH_KEY", "a-real-key-from-the-vault-0123456789abcdef")
    monkeypatch.setenv("JOINTCREDIT_KILL_AT", "deliver-notices:after-send")
    with pytest.raises(ConfigurationError, match="JOINTCREDIT_KILL_AT") as refused:
        get_settings()
    assert "生产环境不允许" in refused.value.message
    monkeypatch.delenv("JOINTCREDIT_KILL_AT")
    assert get_settings().kill_at is None


def test_no_kill_point_means_no_hook() -> None:
    assert boundary_hook(None, "deliver-notices") is None


def test_a_misspelt_kill_point_is_refused_not_ignored() -> None:
    with pytest.raises(ConfigurationError, match="after-sned"):
        boundary_hook("deliver-notices:after-sned", "deliver-notices")


def test_points_are_named_flow_colon_boundary() -> None:
    flows = {point.partition(":")[0] for point in KILL_POINTS}
    assert flows == {"route-batch", "sweep-sla", "review-removals", "deliver-notices"}
    assert len(set(KILL_POINTS)) == len(KILL_POINTS)


def _crossing(kill_at: str, flow: str, boundaries: list[str]) -> subprocess.CompletedProcess[str]:
    """A process that crosses `boundaries` with the hook of `flow`, then exits normally."""
    code = (
        "from registry.faults import boundary_hook\n"
        f"hook = boundary_hook({kill_at!r}, {flow!r})\n"
        f"for boundary in {boundaries!r}:\n"
        "    hook(boundary)\n"
        "    print(boundary, flush=True)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_named_boundary_kills_the_process_and_nothing_after_it_runs() -> None:
    crossed = _crossing(
        "deliver-notices:after-send",
        "deliver-notices",
        ["after-claim", "after-send", "after-record"],
    )
    assert crossed.returncode == -signal.SIGKILL
    assert crossed.stdout.split() == ["after-claim"]


def test_another_flows_point_does_not_fire() -> None:
    crossed = _crossing("sweep-sla:after-commit", "deliver-notices", ["after-claim"])
    assert (crossed.returncode, crossed.stdout.split()) == (0, ["after-claim"])
