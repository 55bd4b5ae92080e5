"""Which tests ``pytest -n`` keeps together: those sharing a started server, and nothing else."""

from __future__ import annotations

from tests.scheduling import PROCFILE_UNIT, work_unit


def test_tests_elsewhere_are_scheduled_one_by_one() -> None:
    nodeid = "tests/web/test_login.py::test_login_works[workers]"
    assert work_unit(nodeid) == nodeid


def test_an_e2e_module_travels_together_per_shape() -> None:
    assert work_unit("tests/e2e/test_sync_nio.py::test_a[workers]") == "tests/e2e/test_sync_nio.py[workers]"
    assert work_unit("tests/e2e/test_sync_nio.py::test_b[workers]") == "tests/e2e/test_sync_nio.py[workers]"
    assert work_unit("tests/e2e/test_sync_nio.py::test_a[monolith]") == "tests/e2e/test_sync_nio.py[monolith]"
    assert work_unit("tests/e2e/test_writer_crash.py::test_c") == "tests/e2e/test_writer_crash.py"


def test_every_test_against_the_procfile_deployment_is_one_unit() -> None:
    assert work_unit("tests/e2e/test_sync_nio.py::test_a[procfile]") == PROCFILE_UNIT
    assert work_unit("tests/e2e/test_rooms_nio.py::test_b[procfile]") == PROCFILE_UNIT
    assert work_unit("tests/e2e/test_procfile_deployment.py::test_the_procfile_brings_up_everything") == PROCFILE_UNIT
