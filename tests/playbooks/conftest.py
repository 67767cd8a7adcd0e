"""One demo fleet for the playbook tests that only read it after the rollout.

Building a fleet and rolling it out is most of what these tests cost, so test_rollout,
test_fleet_report and test_windows_clients share one (the safety tests, which break and
change theirs, build their own). The shared rollout is the same sequence an operator runs:
report on the fresh fleet, check mode, the rollout at -vvv, a second run, a check run.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
from demofleet import REPORTS, ROOT, host_files, run_playbook

@pytest.fixture(scope="session")
def demo_fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("fleet")
    try:
        run_playbook(root, "demo_fleet.yml")
        yield root
    finally:  # the demo's SM servers are stand-in processes: stop them
        for run in root.glob("*/ServiceManager9.61/Server/RUN"):
            subprocess.run(["bash", str(ROOT / "tests/standin/standin-ctl"), "stop", str(run), "-"],
                           check=False)


@pytest.fixture(scope="session")
def demo_rollout(demo_fleet):
    fresh = host_files(demo_fleet)
    report_before = run_playbook(demo_fleet, "report.yml", "-vvv").stdout
    assert host_files(demo_fleet) == fresh, "the report wrote on a host"
    shutil.copytree(Path(demo_fleet) / "report", Path(demo_fleet) / "before-report")
    everything = host_files(demo_fleet, skip=REPORTS)
    checked = run_playbook(demo_fleet, "site.yml", "--check", "--diff").stdout
    assert host_files(demo_fleet, skip=REPORTS) == everything, "check mode wrote a file"
    first = run_playbook(demo_fleet, "site.yml", "-vvv").stdout
    second = run_playbook(demo_fleet, "site.yml").stdout
    after_check = run_playbook(demo_fleet, "site.yml", "--check", "--diff").stdout
    return {"report_before": report_before, "checked": checked, "first": first,
            "second": second, "after_check": after_check}
