"""Helpers for the playbook tests on a demo fleet (imported by the tests and conftest)."""

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_HTTP_BASE, DEMO_HTTPS_BASE = 23080, 23443


def playbook_path(name):
    """A playbook of the rollout (playbooks/), or the demo fleet's (tests/demo_fleet.yml, beside the
    test double it uses); a path as it is."""
    if os.path.isabs(str(name)):
        return Path(name)
    candidates = [ROOT / "playbooks" / name, ROOT / "tests" / name]
    return next((p for p in candidates if p.exists()), candidates[0])


def run_playbook(fleet, name, *args, inventory=None, expect_ok=True, env=None):
    """ansible-playbook on a demo fleet; name is a playbook of the repository or a path;
    env: variables to set on top of this environment."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", **(env or {}))
    path = playbook_path(name)
    command = [str(Path(sys.executable).parent / "ansible-playbook"),
               "-i", str(inventory or ROOT / "inventories/demo"), str(path),
               "-e", "smtls_demo_dir=%s" % fleet, "-e", "smtls_demo_http_base=%d" % DEMO_HTTP_BASE,
               "-e", "smtls_demo_https_base=%d" % DEMO_HTTPS_BASE, *args]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    if expect_ok:
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc


REPORTS = ("report", "before-report", "expiring-report")


# bookkeeping, not a host's managed files: each run's installation read claims the host lock
HOST_LOCK = ".smtls-run-lock"


def host_files(fleet, skip=("controller",) + REPORTS):
    """Digest of every file on the demo hosts (the controller's directory, reports, logs and the
    host lock aside)."""
    digests = {}
    for path in sorted(Path(fleet).rglob("*")):
        parts = path.relative_to(fleet).parts
        if (path.is_file() and parts[0] not in skip
                and not path.name.endswith((".log", ".pid")) and path.name != HOST_LOCK):
            digests[str(path.relative_to(fleet))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def recap(output, hosts=None):
    """{host: {ok, changed, unreachable, failed}} from the last PLAY RECAP. A run without a
    recap, or a recap without a host (or without one of hosts), fails the test: "nothing
    changed" must never pass because nothing ran."""
    assert "PLAY RECAP" in output, "no PLAY RECAP: the run did not get to its end\n" + output[-3000:]
    found = {}
    for line in output.split("PLAY RECAP")[-1].splitlines():
        m = re.match(r"(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                     line)
        if m:
            found[m.group(1)] = dict(zip(("ok", "changed", "unreachable", "failed"),
                                         map(int, m.groups()[1:])))
    assert found, "the PLAY RECAP names no host\n" + output[-3000:]
    missing = set(hosts or ()) - set(found)
    assert not missing, "hosts missing from the PLAY RECAP: %s\n%s" % (sorted(missing), output[-3000:])
    return found


def task_results(output, header):
    """The result lines (ok/changed/skipping/fatal) of every task whose header starts so."""
    return [
        line
        for block in output.split(header)[1:]
        for line in block.split("TASK [")[0].splitlines()
        if re.match(r"(ok|changed|skipping|fatal): \[", line)
    ]


def matching(root, pattern):
    """The paths under root matching pattern, sorted; a pattern that matches nothing fails."""
    paths = sorted(Path(root).glob(pattern))
    assert paths, "nothing under %s matches %s" % (root, pattern)
    return paths


def tree_digest(root):
    digests = {}
    for path in sorted(Path(root).rglob("*")):
        skip = (path.name.endswith((".log", ".pid")) or "standin-classes" in path.parts
                or path.name == HOST_LOCK)
        if path.is_file() and not skip:
            digests[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests
