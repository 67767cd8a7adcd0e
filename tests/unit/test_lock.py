"""The fleet lock's engine (module_utils/smtls_lock.py): take, refuse naming the holder, stale
takeover with its warning, release, and two processes racing for it."""

import json
import multiprocessing
import os
import socket
import subprocess
import sys

import pytest

from ansible.module_utils import smtls_lock as lock


def _holder(playbook="site.yml", pid=None):
    return lock.new_holder(playbook, pid=pid)


def _dead_pid():
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_take_writes_the_holder_and_release_removes_it(tmp_path):
    path = str(tmp_path / "smtls-run.lock")
    holder = _holder()
    assert lock.take(path, holder) == (True, None)
    written = json.loads(open(path).read())
    for key in ("run_id", "user", "controller", "pid", "playbook", "since"):
        assert written[key] == holder[key]
    assert written["controller"] == socket.gethostname() and written["pid"] == os.getpid()
    # taken again by the same run (a rotation's phases): no refusal
    assert lock.take(path, holder) == (True, None)
    assert lock.release(path, holder["run_id"]) is True
    assert not os.path.exists(path)
    assert lock.release(path, holder["run_id"]) is False


def test_a_live_holder_is_refused_at_once_naming_it(tmp_path):
    path = str(tmp_path / "smtls-run.lock")
    first = _holder("site.yml")
    lock.take(path, first)
    before = open(path).read()
    with pytest.raises(lock.LockHeld) as refused:
        lock.take(path, _holder("rotate_ca.yml"))
    message = str(refused.value)
    assert "\n" not in message and len(message) < 400
    for part in (first["run_id"], first["user"], first["controller"], "pid %d" % os.getpid(),
                 "site.yml", "since " + first["since"], "Nothing has been written"):
        assert part in message, part
    assert open(path).read() == before, "the refused run changed the lock"
    # check mode is refused too, and changes nothing
    with pytest.raises(lock.LockHeld):
        lock.take(path, _holder(), check_mode=True)
    # a release by another run leaves it
    assert lock.release(path, "someone-else") is False and open(path).read() == before


def test_a_stale_lock_is_taken_over_with_a_warning(tmp_path):
    path = str(tmp_path / "smtls-run.lock")
    dead = _holder("site.yml", pid=_dead_pid())
    with open(path, "w") as handle:
        json.dump(dead, handle)
    assert lock.is_stale(dead)
    # check mode: nothing taken over, nothing removed, not even the guard file created
    taken, previous = lock.take(path, _holder(), check_mode=True)
    assert not os.path.exists(path + ".guard")
    assert not taken and previous["run_id"] == dead["run_id"]
    assert json.loads(open(path).read())["run_id"] == dead["run_id"]
    ours = _holder()
    taken, previous = lock.take(path, ours)
    assert taken and previous["run_id"] == dead["run_id"]
    assert json.loads(open(path).read())["run_id"] == ours["run_id"]
    warning = lock.stale_warning(path, previous)
    assert dead["run_id"] in warning and "process is gone" in warning and "taken over" in warning
    assert sorted(os.listdir(str(tmp_path))) == ["smtls-run.lock", "smtls-run.lock.guard"]


def test_a_reused_pid_is_stale_and_another_controller_is_not(tmp_path):
    me = _holder()
    assert not lock.is_stale(me)
    reused = dict(me, pid_started="1")  # this pid, but a process that started at another time
    assert lock.is_stale(reused)
    elsewhere = dict(me, pid=_dead_pid(), controller="another-controller.invalid")
    assert not lock.is_stale(elsewhere), "a process on another host cannot be judged from here"
    path = str(tmp_path / "smtls-run.lock")
    with open(path, "w") as handle:
        json.dump(elsewhere, handle)
    with pytest.raises(lock.LockHeld, match="another-controller.invalid"):
        lock.take(path, _holder())


def test_a_lock_cut_short_is_taken_over(tmp_path):
    path = str(tmp_path / "smtls-run.lock")
    with open(path, "w") as handle:
        handle.write('{"format": "smtls-lo')
    taken, previous = lock.take(path, _holder())
    assert taken and previous.get("broken")
    assert "unreadable" in lock.stale_warning(path, previous)


def _race(path, start, done, results):
    start.wait(10)
    holder = lock.new_holder("site.yml")
    try:
        lock.take(path, holder)
        results.put(("taken", holder["run_id"]))
    except lock.LockHeld as exc:
        results.put(("refused", str(exc)))
    done.wait(30)  # alive until every racer has tried: an exited holder would be stale


@pytest.mark.parametrize("stale", [False, True], ids=["no lock", "a stale lock"])
def test_two_processes_racing_one_takes_it(tmp_path, stale):
    """Racing processes (both alive while they race): exactly one takes the lock, the others are
    refused naming it - also when they all find a stale lock to take over."""
    path = str(tmp_path / "smtls-run.lock")
    if stale:
        with open(path, "w") as handle:
            json.dump(_holder(pid=_dead_pid()), handle)
    context = multiprocessing.get_context("fork")
    start, done, results = context.Event(), context.Event(), context.Queue()
    workers = [context.Process(target=_race, args=(path, start, done, results)) for _ in range(6)]
    for worker in workers:
        worker.start()
    start.set()
    try:
        outcomes = [results.get(timeout=30) for _ in workers]
    finally:
        done.set()
    for worker in workers:
        worker.join(30)
    taken = [value for kind, value in outcomes if kind == "taken"]
    refused = [value for kind, value in outcomes if kind == "refused"]
    assert len(taken) == 1 and len(refused) == len(workers) - 1, outcomes
    assert all(taken[0] in message for message in refused)
    assert json.loads(open(path).read())["run_id"] == taken[0]


# The host lock: claimed by the installation read, checked by every writing module.

@pytest.fixture
def host_lock(tmp_path):
    yield str(tmp_path / ".smtls-run-lock")
    lock.release_held()


def test_a_claim_names_the_run_and_a_later_claim_takes_the_host(host_lock):
    first, second = _holder(), _holder()
    assert lock.claim_host(host_lock, first) is None
    lock.guard_host(host_lock, first["run_id"])
    lock.release_held()
    assert lock.claim_host(host_lock, first) is None  # the same run again: nothing to replace
    previous = lock.claim_host(host_lock, second)
    assert previous["run_id"] == first["run_id"]
    with pytest.raises(lock.LockHeld) as refused:
        lock.guard_host(host_lock, first["run_id"])
    message = str(refused.value)
    for part in (second["run_id"], second["user"], second["controller"], host_lock,
                 "Nothing more is written here by this run (%s)" % first["run_id"]):
        assert part in message, part
    lock.guard_host(host_lock, second["run_id"])


def test_a_missing_host_lock_refuses_a_write_and_a_missing_directory_is_not_claimed(tmp_path):
    with pytest.raises(lock.LockHeld, match="is missing"):
        lock.guard_host(str(tmp_path / ".smtls-run-lock"), "abc")
    assert lock.claim_host(str(tmp_path / "gone" / ".smtls-run-lock"), _holder()) is None
    assert not (tmp_path / "gone").exists()


def _write_for_a_while(path, run_id, holding, seconds):
    lock.guard_host(path, run_id)
    holding.set()
    import time
    time.sleep(seconds)


def test_a_claim_waits_for_a_write_in_progress(host_lock):
    """A writing module holds a shared lock until it ends: a claim by another run waits for it,
    so no write of the run it ends lands after the claim."""
    import time
    first = _holder()
    lock.claim_host(host_lock, first)
    context = multiprocessing.get_context("fork")
    holding = context.Event()
    writer = context.Process(target=_write_for_a_while, args=(host_lock, first["run_id"], holding, 1.5))
    writer.start()
    try:
        assert holding.wait(10)
        started = time.time()
        lock.claim_host(host_lock, _holder())
        assert time.time() - started > 1.0, "the claim did not wait for the write"
    finally:
        writer.join(10)
