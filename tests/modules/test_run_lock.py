"""The host lock through the modules: the installation read claims it for the run; a writing
module of another run is refused, naming the holder, with nothing written; check mode neither
claims nor checks."""

import hashlib

import pytest

import sm_ini
import sm_pending_restart
import sm_server_info
from ansible.module_utils import smtls_lock as lock
from conftest import module_result


@pytest.fixture
def server(tmp_path):
    run = tmp_path / "RUN"
    run.mkdir()
    (run / "sm.ini").write_text("# sm.ini\nssl:0\n")
    yield run
    lock.release_held()


def _run_lock(run, holder):
    return {"path": str(run / ".smtls-run-lock"), "run_id": holder["run_id"], "holder": holder}


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_installation_read_claims_the_host_and_an_earlier_run_is_refused(server):
    earlier, later = lock.new_holder("site.yml"), lock.new_holder("site.yml")
    read = module_result(sm_server_info, {"jre_dir": str(server / "jre"),
                                          "run_lock": _run_lock(server, earlier)})
    assert read["run_lock"] == {"path": str(server / ".smtls-run-lock"), "run_id": earlier["run_id"]}
    assert "run_lock_previous" not in read
    # a second run plans the host: the first one's writes there are refused from now on
    read = module_result(sm_server_info, {"jre_dir": str(server / "jre"),
                                          "run_lock": _run_lock(server, later)})
    assert read["run_lock_previous"]["run_id"] == earlier["run_id"]
    before = _digest(server / "sm.ini")
    for module, args in ((sm_ini, {"path": str(server / "sm.ini"), "parameters": {"ssl": "1"}}),
                         (sm_pending_restart, {"path": str(server / ".smtls-restart-pending"),
                                               "state": "rollback"})):
        refused = module_result(module, dict(args, run_lock=dict(
            path=str(server / ".smtls-run-lock"), run_id=earlier["run_id"])))
        assert refused.get("failed") and later["run_id"] in refused["msg"], refused
        assert "another smtls run planned this host" in refused["msg"]
    assert _digest(server / "sm.ini") == before
    # check mode: nothing written, so nothing checked
    planned = module_result(sm_ini, {"path": str(server / "sm.ini"), "parameters": {"ssl": "1"},
                                     "run_lock": {"path": str(server / ".smtls-run-lock"),
                                                  "run_id": earlier["run_id"]}}, check_mode=True)
    assert planned["changed"] and not planned.get("failed")
    # the run that holds the host writes
    written = module_result(sm_ini, {"path": str(server / "sm.ini"), "parameters": {"ssl": "1"},
                                     "run_lock": {"path": str(server / ".smtls-run-lock"),
                                                  "run_id": later["run_id"]}})
    assert written["changed"] and "ssl:1" in (server / "sm.ini").read_text()


def test_check_mode_claims_nothing(server):
    read = module_result(sm_server_info, {"jre_dir": str(server / "jre"),
                                          "run_lock": _run_lock(server, lock.new_holder("site.yml"))},
                         check_mode=True)
    assert "run_lock" not in read and not (server / ".smtls-run-lock").exists()
