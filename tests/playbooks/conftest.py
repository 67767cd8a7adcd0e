"""One demo fleet for the playbook tests that only read it after the rollout.

Building a fleet and rolling it out is most of what these tests cost, so test_rollout,
test_fleet_report and test_windows_clients share one (the safety tests, which break and
change theirs, build their own under the same fixture name). The shared rollout is the
sequence an operator runs: report on the fresh fleet, check mode, the rollout at -vvv, a
second run, a check run.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
from demofleet import REPORTS, ROOT, host_files, run_playbook

@pytest.fixture(scope="session")
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("fleet")
    try:
        run_playbook(root, "demo_fleet.yml")
        yield root
    finally:  # the demo's SM servers are stand-in processes: stop them
        for run in root.glob("*/ServiceManager9.61/Server/RUN"):
            subprocess.run(["bash", str(ROOT / "tests/standin/standin-ctl"), "stop", str(run), "-"],
                           check=False)


@pytest.fixture(scope="session")
def rollout(fleet):
    fresh = host_files(fleet)
    report_before = run_playbook(fleet, "report.yml", "-vvv").stdout
    assert host_files(fleet) == fresh, "the report wrote on a host"
    shutil.copytree(Path(fleet) / "report", Path(fleet) / "before-report")
    everything = host_files(fleet, skip=REPORTS)
    checked = run_playbook(fleet, "site.yml", "--check", "--diff").stdout
    assert host_files(fleet, skip=REPORTS) == everything, "check mode wrote a file"
    first = run_playbook(fleet, "site.yml", "-vvv").stdout
    second = run_playbook(fleet, "site.yml").stdout
    after_check = run_playbook(fleet, "site.yml", "--check", "--diff").stdout
    return {"report_before": report_before, "checked": checked, "first": first,
            "second": second, "after_check": after_check}
