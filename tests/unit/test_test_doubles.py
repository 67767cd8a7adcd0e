"""The test doubles stay out of production: the roles_path of ansible.cfg holds the production
roles only, no production playbook names a test double, and the demo fleet's playbook finds the
sample installation role beside it."""

import configparser
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_DOUBLES = ["sm_sample"]


def test_production_roles_path_holds_no_test_double():
    config = configparser.ConfigParser()
    config.read(ROOT / "ansible.cfg")
    paths = config["defaults"]["roles_path"].split(":")
    assert paths == ["roles"]
    assert not [name for name in TEST_DOUBLES if (ROOT / "roles" / name).exists()]


def test_no_production_playbook_or_role_names_a_test_double():
    for path in list((ROOT / "playbooks").rglob("*.yml")) + list((ROOT / "roles").rglob("*.yml")):
        text = path.read_text()
        for name in TEST_DOUBLES:
            assert "role: %s" % name not in text and "name: %s\n" % name not in text, path


def test_the_demo_fleet_playbook_resolves_the_test_double_beside_it():
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "--syntax-check",
                           "-i", str(ROOT / "inventories/demo"), str(ROOT / "tests/demo_fleet.yml")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and the production playbooks cannot: the same role is not found from playbooks/
    probe = ROOT / "playbooks" / ".test-double-probe.yml"
    probe.write_text("- hosts: localhost\n  gather_facts: false\n  roles: [sm_sample]\n")
    try:
        proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "--syntax-check",
                               "-i", "localhost,", str(probe)], capture_output=True, text=True, cwd=ROOT)
    finally:
        probe.unlink()
    assert proc.returncode != 0 and "sm_sample" in proc.stdout + proc.stderr
