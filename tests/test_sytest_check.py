"""scripts/sytest-check on a small TAP file: regressions fail the check, newly passing tests are listed, and
``--update`` rewrites the expectations. (CI runs this, not SyTest itself.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "sytest-check"
TAP = """\
# Started test HTTPS Server at 127.0.0.1:21200
ok 1 GET /register yields a set of flows
ok 2 POST /register can create a user
not ok 3 POST /join/:room_id can join a room with custom content
# Expected a 'foo' key at tests/10apidoc/33room-members.pl line 189.
ok 4 Interactive authentication types include SSO # skip failing fixture: no m.login.cas
ok 5 Can add global push rule for content
not ok 6 Can add global push rule for content
ok 7 Notifications can be viewed with GET /notifications
1..7
"""


def _check(tmp_path: Path, expected: list[str], *flags: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "run.tap").write_text(TAP)
    expectations = tmp_path / "expected.txt"
    if not expectations.exists():
        expectations.write_text("# a comment\n\n" + "".join(f"{name}\n" for name in expected))
    return subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "run.tap"), "--expected", str(expectations),
                           *flags], capture_output=True, text=True, check=False)


def test_a_run_passing_every_expected_test_is_clean(tmp_path: Path) -> None:
    result = _check(tmp_path, ["GET /register yields a set of flows", "POST /register can create a user",
                               "Notifications can be viewed with GET /notifications"])
    assert result.returncode == 0, result.stdout
    assert "REGRESSION" not in result.stdout and "NEWLY PASSING" not in result.stdout


def test_every_expected_test_that_did_not_pass_is_a_regression(tmp_path: Path) -> None:
    result = _check(tmp_path, ["GET /register yields a set of flows",
                               "POST /join/:room_id can join a room with custom content",
                               "Interactive authentication types include SSO",
                               "Can add global push rule for content", "A test this run never reached"])
    assert result.returncode == 1
    assert "REGRESSION (fail): POST /join/:room_id can join a room with custom content" in result.stdout
    assert "REGRESSION (skip): Interactive authentication types include SSO" in result.stdout
    assert "REGRESSION (fail): Can add global push rule for content" in result.stdout, "one of its runs failed"
    assert "REGRESSION (not run): A test this run never reached" in result.stdout
    assert "REGRESSION (pass)" not in result.stdout and "yields a set of flows" not in result.stdout


def test_a_partial_run_judges_only_the_tests_it_ran(tmp_path: Path) -> None:
    result = _check(tmp_path, ["GET /register yields a set of flows", "A test of another area"], "--ran-only")
    assert result.returncode == 0, result.stdout


def test_newly_passing_tests_are_listed_and_update_adds_them(tmp_path: Path) -> None:
    result = _check(tmp_path, ["GET /register yields a set of flows"])
    assert result.returncode == 0
    assert "NEWLY PASSING: POST /register can create a user" in result.stdout
    assert "NEWLY PASSING: Notifications can be viewed with GET /notifications" in result.stdout
    assert "NEWLY PASSING: Can add global push rule for content" not in result.stdout
    updated = _check(tmp_path, [], "--update")
    assert updated.returncode == 0
    text = (tmp_path / "expected.txt").read_text()
    assert text.startswith("# "), "the header says how the file is made and used"
    names = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert names == ["GET /register yields a set of flows", "Notifications can be viewed with GET /notifications",
                     "POST /register can create a user"]
    assert _check(tmp_path, []).returncode == 0


def test_a_missing_or_empty_tap_is_an_error_not_a_pass(tmp_path: Path) -> None:
    missing = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "nothing")], capture_output=True,
                             text=True, check=False)
    assert missing.returncode == 2
    (tmp_path / "empty.tap").write_text("# SyTest could not start\n")
    empty = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "empty.tap")], capture_output=True,
                           text=True, check=False)
    assert empty.returncode == 2


def test_with_one_tap_per_shape_a_test_passes_only_if_it_passed_in_each(tmp_path: Path) -> None:
    (tmp_path / "workers.tap").write_text("ok 1 GET /register yields a set of flows\n"
                                          "not ok 2 POST /register can create a user\n")
    result = _check(tmp_path, ["GET /register yields a set of flows", "POST /register can create a user"],
                    str(tmp_path / "workers.tap"))
    assert result.returncode == 1
    assert "REGRESSION (fail): POST /register can create a user" in result.stdout
    assert "yields a set of flows" not in result.stdout
    assert "NEWLY PASSING: Notifications" not in result.stdout, "not run in the worker shape: not passing"


def test_a_test_is_known_by_its_name_whatever_its_subtest_count(tmp_path: Path) -> None:
    """SyTest appends "(N subtests)" to a passing test's name, and N varies between runs of one test."""
    (tmp_path / "run.tap").write_text("ok 1 Presence reaches a new chat (10 subtests)\nok 2 Another test\n1..2\n")
    expectations = tmp_path / "expected.txt"
    expectations.write_text("Presence reaches a new chat (9 subtests)\nAnother test (2 subtests)\n")
    result = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "run.tap"), "--expected", str(expectations)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
    assert "REGRESSION" not in result.stdout and "NEWLY PASSING" not in result.stdout
