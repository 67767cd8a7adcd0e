"""execution-environment.yml: `ansible-builder create` produces the build context (no image is
built or pulled), and the context carries the controller requirements, the collections and
the system packages of this repository.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EE_FILE = ROOT / "execution-environment.yml"


def requirement_lines(path):
    return [line.split("#")[0].strip() for line in Path(path).read_text().splitlines()
            if line.split("#")[0].strip()]


@pytest.fixture(scope="module")
def ee():
    return yaml.safe_load(EE_FILE.read_text())


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    out = tmp_path_factory.mktemp("ee") / "context"
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-builder"), "create",
                           "-f", str(EE_FILE), "-c", str(out), "--output-filename", "Containerfile"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_schema_version_3_and_its_files_exist(ee):
    assert ee["version"] == 3
    for key in ("python", "galaxy", "system"):
        assert (ROOT / ee["dependencies"][key]).is_file(), key


def test_ansible_core_range_is_the_controllers(ee):
    controller = [line for line in requirement_lines(ROOT / "requirements.txt")
                  if line.startswith("ansible-core")]
    assert controller == [ee["dependencies"]["ansible_core"]["package_pip"]]


def test_build_context_has_the_containerfile_and_our_requirements(context, ee):
    containerfile = (context / "Containerfile").read_text()
    assert 'EE_BASE_IMAGE="%s"' % ee["images"]["base_image"]["name"] in containerfile
    assert ee["dependencies"]["python_interpreter"]["python_path"] in containerfile
    assert ee["dependencies"]["ansible_core"]["package_pip"] in containerfile
    assert "introspect" in containerfile and "ansible-galaxy collection install" in containerfile
    # WinRM delivery to Windows clients (the example inventory's sm_windows_clients)
    assert "pip install --no-cache-dir 'pywinrm" in containerfile
    build = context / "_build"
    assert requirement_lines(build / "requirements.txt") == requirement_lines(ROOT / "requirements.txt")
    assert requirement_lines(build / "bindep.txt") == requirement_lines(ROOT / "bindep.txt")
    collections = yaml.safe_load((build / "requirements.yml").read_text())["collections"]
    wanted = yaml.safe_load((ROOT / ee["dependencies"]["galaxy"]).read_text())["collections"]
    assert collections == wanted
    for script in ("assemble", "introspect.py", "install-from-bindep", "check_ansible"):
        assert (build / "scripts" / script).is_file(), script


def test_collections_the_playbooks_use_are_in_the_image(ee):
    """Every collection named in roles/ and playbooks/ (beyond ansible.builtin) is listed."""
    listed = {c["name"] for c in yaml.safe_load((ROOT / ee["dependencies"]["galaxy"]).read_text())
              ["collections"]}
    used = set()
    for path in list((ROOT / "roles").rglob("*.yml")) + list((ROOT / "playbooks").rglob("*.yml")):
        used |= set(re.findall(r"\b(ansible\.(?!builtin\b)[a-z_]+|community\.[a-z_]+)\.[a-z_]+\b",
                               path.read_text()))
    assert used - listed == set()
