"""The architecture (docs/architecture.md), enforced: import-linter's contracts (pyproject.toml) and the rules a
contract on imports cannot see. Each rule names the one place that owns a question."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP_CODE = [path for package in ("recognizer", "training", "mnistsite") for path in (ROOT / package).rglob("*.py")
            if "tests" not in path.parts and "migrations" not in path.parts]


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_broken_contract_is_caught(tmp_path):
    """The contracts can fail: a copy of the code where the ML core imports Django, and where two modules of an
    app import each other, breaks two of them."""
    copy = tmp_path / "code"
    for package in ("recognizer", "training", "mnistsite", "bench"):
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    reader = copy / "recognizer" / "ml" / "reader.py"
    reader.write_text("import django.conf  # noqa\n" + reader.read_text())
    review = copy / "recognizer" / "review.py"
    review.write_text(review.read_text() + "\n\ndef _circle():\n    from .tasks import samples_score_run  # noqa\n")
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=copy, capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0
    assert "The ML packages import no Django" in result.stdout and "no import circles" in result.stdout
    assert "2 broken" in result.stdout


def _lines_matching(pattern: str, *, but: str = "") -> list[str]:
    return [f"{path.relative_to(ROOT)}:{line}" for path in APP_CODE if str(path.relative_to(ROOT)) != but
            for line, source in enumerate(path.read_text().splitlines(), 1) if re.search(pattern, source)]


@pytest.mark.parametrize("rule, pattern, owner", [
    ("which shared version is active", r"is_active\s*=\s*True", "recognizer/models.py"),
    ("a version's or a run's figures (read them through .figures or .outcome)",
     r"\.metrics\b[^=\n]*?(\.get\(|\[)", "recognizer/ml/figures.py"),
])
def test_one_owner_per_question(rule, pattern, owner):
    """Asked anywhere else, the question gets a second answer (as 'is_active=True' once had eight)."""
    offenders = _lines_matching(pattern, but=owner)
    assert not offenders, f"{rule} is answered in {owner} only; also here: {offenders}"


def test_no_session_scoped_call_falls_back_to_an_empty_owner():
    """Session-scoped services take a Visitor; an empty session key once let an anonymous DELETE reach shared
    versions. Nothing reads the session key and falls back to ''."""
    offenders = _lines_matching(r"(session_key\(request\)|session_key\s*=[^,)]*?)\s+or\s+(\"\"|\'\')")
    assert not offenders, offenders
