"""The newcomer's path: a fresh clone with a fresh virtualenv runs the README's `make demo`.

Nothing of the test tool chain may help: the clone gets its own `.venv` with the controller
requirements only (requirements.txt: ansible-core, no collections), and the environment is
cleaned of this virtualenv, of ANSIBLE_* settings and of every collection path outside the
clone. Then, as the README says: `make demo` (rc 0), `make demo` again (rc 0, every play
recap with changed=0 on every host), and `make demo-reset`, which must leave no process of
the clone running.

In CI the repository is itself a clean clone of main. On a developer's machine the clone is
topped up with the working tree's tracked and untracked (not ignored) files, so what is
tested is what `git add -A` would commit.
"""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "playbooks"))
from demofleet import recap  # noqa: E402

# the demo's default ports (inventories/demo/group_vars/all/vars.yml): two stand-ins
DEMO_PORTS = (13080, 13081, 13443, 13444)
DEMO_HOSTS = {"sm1.demo.invalid", "sm2.demo.invalid", "web1.demo.invalid", "web2.demo.invalid",
              "win1.demo.invalid", "win2.demo.invalid"}
STEP_TIMEOUT = 1200


def fresh_clone(dest):
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True)
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, check=True, capture_output=True).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source, target = ROOT / name, dest / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        elif not source.exists() and target.exists():
            target.unlink()  # deleted in the working tree, not yet committed


def clean_environment(empty_collections):
    """The environment of a person who has just cloned: no virtualenv, no Ansible settings."""
    ours = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANSIBLE_", "MOLECULE_", "PYTEST_"))
           and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "MAKEFLAGS", "MAKELEVEL",
                         "MFLAGS")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and p != ours)
    # hides ~/.ansible/collections and /usr/share/ansible/collections: only what the clone's
    # own virtualenv carries can be found
    env["ANSIBLE_COLLECTIONS_PATH"] = str(empty_collections)
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


def processes_under(path):
    """(pid, command line) of every process whose command line names path."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(path) in cmdline:
            found.append((int(proc.name), cmdline.strip()))
    return found


def port_in_use(port):
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def make(target, clone, env):
    proc = subprocess.run(["make", target], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=STEP_TIMEOUT)
    assert proc.returncode == 0, "make %s: rc %d\n%s\n%s" % (
        target, proc.returncode, proc.stdout[-6000:], proc.stderr[-3000:])
    return proc.stdout


def play_recaps(output):
    """One recap per playbook run, in order; a run without a recap is not a run."""
    return [recap("PLAY RECAP" + part) for part in output.split("PLAY RECAP")[1:]]


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    busy = [port for port in DEMO_PORTS if port_in_use(port)]
    assert not busy, ("ports %s on 127.0.0.1 are in use - another demo fleet is running? "
                      "Stop it (make demo-reset) and run again" % busy)
    base = tmp_path_factory.mktemp("newcomer")
    dest = base / "smtls"
    fresh_clone(dest)
    (base / "no-collections").mkdir()
    env = clean_environment(base / "no-collections")
    try:
        yield dest, env
    finally:
        subprocess.run(["make", "demo-reset"], cwd=dest, env=env, capture_output=True,
                       timeout=300, check=False)
        for pid, _ in processes_under(dest):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        shutil.rmtree(base, ignore_errors=True)


def test_make_demo_twice_then_reset_from_a_fresh_clone(clone):
    dest, env = clone
    first = make("demo", dest, env)

    # the clone's own virtualenv, controller requirements only: no collection came with it
    pip = subprocess.run([str(dest / ".venv/bin/python"), "-m", "pip", "list",
                          "--format=freeze"], capture_output=True, text=True, check=True).stdout
    installed = {line.split("==")[0].lower() for line in pip.splitlines()}
    assert "ansible-core" in installed
    assert "ansible" not in installed, "the fresh virtualenv carries the full ansible package"

    first_recaps = play_recaps(first)
    assert len(first_recaps) == 3, "make demo runs demo_fleet, site and report: %s" % first[-3000:]
    assert set(first_recaps[1]) == DEMO_HOSTS, first_recaps[1]
    assert (dest / ".demo/report/smtls-report.html").is_file()

    second = make("demo", dest, env)
    second_recaps = play_recaps(second)
    assert len(second_recaps) == 3, second[-3000:]
    assert set(second_recaps[1]) == DEMO_HOSTS, second_recaps[1]
    for play in second_recaps:
        assert play, "a playbook run without hosts in its recap:\n%s" % second[-3000:]
        changed = {host: r for host, r in play.items() if r["changed"] or r["failed"]}
        assert not changed, "the second make demo changed something: %s" % changed

    assert processes_under(dest), "make demo left no stand-in running - nothing to reset?"
    make("demo-reset", dest, env)
    assert not (dest / ".demo").exists()
    left = processes_under(dest)
    assert not left, "make demo-reset left processes behind: %s" % left
