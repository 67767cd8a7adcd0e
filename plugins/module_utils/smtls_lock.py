# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet lock: one rollout at a time per fleet, taken on the controller before the
preflight's first host read and released at the end (docs/rollout.md "One run at a time").

The lock is a small JSON file naming its holder (run id, user, controller host, pid and its
start time, playbook, since when). Taking and releasing it happen under an exclusive flock of a
guard file beside it, so two runs started at once cannot both see it free (no check-then-create
race); the lock file itself is created with O_CREAT|O_EXCL, and a stale one is removed and
created afresh under the same guard. A holder is stale when it ran on this controller host and
its process is gone (or the pid now belongs to another process: its start time differs). A
holder on another controller host cannot be judged from here, so it counts as live.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import errno
import fcntl
import getpass
import json
import os
import socket
import uuid

FORMAT = "smtls-lock/1"
LOCK_NAME = "smtls-run.lock"


class LockHeld(Exception):
    """Another live run holds the lock; the message names it and since when."""

    def __init__(self, message, holder):
        super(LockHeld, self).__init__(message)
        self.holder = holder


class LockProblem(Exception):
    """The lock file cannot be read or written; the message names it and the fix."""


def process_start(pid):
    """The start time of pid (clock ticks since boot, /proc/<pid>/stat field 22), or None where
    /proc does not tell: with the pid, it tells a live holder from a new process given its pid."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            data = handle.read()
    except (IOError, OSError):
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    return data.rsplit(")", 1)[-1].split()[19]


def pid_alive(pid, started=None):
    """Whether pid runs on this host and, where its start time is known, is the same process."""
    try:
        os.kill(int(pid), 0)
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            return False
        if exc.errno != errno.EPERM:  # EPERM: it runs, as another user
            raise
    except (TypeError, ValueError):
        return False
    if started is not None:
        now = process_start(int(pid))
        if now is not None and now != started:
            return False  # the pid was given to a new process
    return True


def new_holder(playbook, pid=None, at=None):
    """The record a run writes into the lock: who holds it, and since when."""
    pid = os.getpid() if pid is None else pid
    when = (at or datetime.datetime.now(datetime.timezone.utc)).replace(microsecond=0)
    try:
        user = getpass.getuser()
    except Exception:  # no name for this uid (a container's): its number will do
        user = str(os.getuid())
    return dict(format=FORMAT, run_id=uuid.uuid4().hex[:12], user=user,
                controller=socket.gethostname(), pid=pid, pid_started=process_start(pid),
                playbook=playbook, since=when.isoformat().replace("+00:00", "Z"))


def _age(since, now=None):
    """How long ago an ISO UTC time was, as 42s, 5m or 3h; empty when it does not parse."""
    try:
        then = datetime.datetime.strptime(since, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return ""
    seconds = int(((now or datetime.datetime.now(datetime.timezone.utc)) - then).total_seconds())
    if seconds < 120:
        return " (%ds ago)" % seconds
    return " (%dm ago)" % (seconds // 60) if seconds < 7200 else " (%dh ago)" % (seconds // 3600)


def describe(holder):
    """One line naming a holder: run id, user@controller, pid, playbook, since when."""
    return "run %s by %s@%s (pid %s, %s) since %s%s" % (
        holder.get("run_id", "?"), holder.get("user", "?"), holder.get("controller", "?"),
        holder.get("pid", "?"), holder.get("playbook", "?"), holder.get("since", "?"),
        _age(holder.get("since")))


def is_stale(holder, host=None):
    """Whether a holder's run is over: it ran on this controller host and its process is gone.
    A holder from another host is taken as live (its process cannot be seen from here)."""
    if holder.get("controller") != (host or socket.gethostname()):
        return False
    return not pid_alive(holder.get("pid"), holder.get("pid_started"))


def read(path):
    """The holder the lock names, or None when there is no lock. An unreadable or foreign file
    is a problem, named with its fix."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except IOError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise LockProblem("run lock %s cannot be read: %s. Fix its permissions, or remove it "
                          "when no smtls run is going" % (path, exc.strerror))
    # a lock cut short by a full disk or a crash mid-write holds no live run: stale
    return _parse(data) or dict(run_id="?", controller=None, pid=None, broken=True)


class _Guard(object):
    """An exclusive flock of <lock>.guard for the length of a take or release: the guard file is
    never removed, so every run serialises on the same inode."""

    def __init__(self, path):
        self.path = path + ".guard"

    def __enter__(self):
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o700)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise LockProblem("run lock: cannot create %s: %s. Fix: make its directory writable "
                              "for this user, or set smtls_lock_file" % (self.path, exc.strerror))
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _write_new(path, holder):
    """Create the lock; O_EXCL: never over a file another run just created."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write((json.dumps(holder, indent=1, sort_keys=True) + "\n").encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())


def _refuse(path, current):
    raise LockHeld("another smtls run holds the fleet lock %s: %s. Nothing has been written. Fix: "
                   "wait for it to end; if it is over (its controller is another host), remove %s"
                   % (path, describe(current), path), current)


def take(path, holder, check_mode=False):
    """Take the lock for holder. Returns (taken, previous): previous is the stale holder taken
    over (or, in check mode, the one that would be), else None. A live holder raises LockHeld,
    naming it. In check mode nothing is written, a stale lock is left as it is, and a live one
    is still refused: a plan made while another run writes is wrong."""
    if check_mode:
        # a read only: not even the guard file is created (a check run writes nothing)
        current = read(path)
        if current is None or current.get("run_id") == holder["run_id"]:
            return False, None
        if not current.get("broken") and not is_stale(current):
            _refuse(path, current)
        return False, current
    with _Guard(path):
        current = read(path)
        if current is not None and current.get("run_id") == holder["run_id"]:
            return True, None  # ours already (a rotation's phases take it once)
        if current is not None and not current.get("broken") and not is_stale(current):
            _refuse(path, current)
        if current is not None:
            # stale: removed under the guard (no other run can look meanwhile), then created
            # afresh as if there were none
            os.unlink(path)
        try:
            _write_new(path, holder)
        except OSError as exc:
            raise LockProblem("run lock: cannot create %s: %s. Fix: make its directory writable "
                              "for this user, or set smtls_lock_file" % (path, exc.strerror))
        return True, current


def release(path, run_id):
    """Remove the lock when it names run_id; a lock another run took over is left alone.
    Returns whether it was removed."""
    with _Guard(path):
        current = read(path)
        if current is None or current.get("run_id") != run_id:
            return False
        os.unlink(path)
        return True


def stale_warning(path, previous):
    """The warning of a stale takeover: whose lock, and that its run is over."""
    if previous.get("broken"):
        return "the fleet lock %s was unreadable (cut short by a crash); taken over" % path
    return ("the fleet lock %s named %s, whose process is gone (killed or failed before it "
            "released it); taken over. Its hosts may hold a restart it left due: this run "
            "finishes it" % (path, describe(previous)))


# The host lock (docs/rollout.md "One run at a time"): a file on each SM server and web tier,
# beside its restart record, naming the run that planned the host last. The preflight's read of
# the host (sm_server_info, sm_webtier_info: no module run of its own) claims it for this run,
# and every writing module refuses to write unless it still names this run - so once a run has
# planned a host, no other run's write lands on it, and a plan is never written over by a run that
# planned before it. A claim is never refused and needs no release: a later plan simply takes
# the host (the run whose claim it ends fails at its next write there, naming the new holder).
HOST_LOCK_NAME = ".smtls-run-lock"
HOST_LOCK_OPTION = dict(run_lock=dict(type="dict", options=dict(
    path=dict(type="path", required=True),
    run_id=dict(type="str", required=True),
    # with a claim: who the run is (smtls_run), written into the lock
    holder=dict(type="dict"))))

# the descriptors whose shared flock a writing module holds until its process ends
_HELD = []


def _parse(data):
    try:
        holder = json.loads(data.decode("utf-8"))
        return holder if holder.get("format") == FORMAT else None
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None


def claim_host(path, holder):
    """Name holder's run in the host lock. Under an exclusive flock of the file, so a claim waits
    for a writing module of another run to finish (it holds a shared one). Returns the holder the
    claim replaced (another run's), or None. A host whose directory is missing is not claimed:
    the preflight names that directory, and nothing can be written there anyway."""
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        return None
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        previous = _parse(os.read(fd, 65536))
        if previous is not None and previous.get("run_id") == holder["run_id"]:
            return None
        data = (json.dumps(dict(holder, format=FORMAT), indent=1, sort_keys=True) + "\n").encode("utf-8")
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, data)
        os.fsync(fd)
        return previous
    finally:
        os.close(fd)


def guard_host(path, run_id):
    """For a writing module: hold a shared flock of the host lock until this process ends, and
    raise LockHeld unless the lock names run_id - another run planned the host since."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise LockProblem("host lock %s cannot be read: %s. Fix its permissions and run again"
                              % (path, exc.strerror))
        raise LockHeld("host lock %s is missing, so this run's plan of the host was not kept "
                       "(removed since the preflight). Nothing has been written here. Fix: run "
                       "again" % path, None)
    fcntl.flock(fd, fcntl.LOCK_SH)
    holder = _parse(os.read(fd, 65536)) or {}
    if holder.get("run_id") != run_id:
        os.close(fd)
        raise LockHeld("another smtls run planned this host after this one and holds its lock "
                       "%s: %s. Nothing more is written here by this run (%s). Fix: let that run "
                       "finish, then run again if it was not meant to"
                       % (path, describe(holder), run_id), holder)
    _HELD.append(fd)


def release_held():
    """Let go of the shared locks guard_host holds (a module's process ends instead; tests that
    run modules in one process call this)."""
    while _HELD:
        os.close(_HELD.pop())


def guard_module(module):
    """A writing module's first step: refuse when the host lock names another run (see
    guard_host). Without run_lock, or in check mode (nothing is written), no check."""
    lock = module.params.get("run_lock") or {}
    if module.check_mode or not lock.get("path"):
        return
    try:
        guard_host(lock["path"], lock["run_id"])
    except (LockHeld, LockProblem) as exc:
        module.fail_json(msg=str(exc))


def claim_module(module, result):
    """An installation read's claim (sm_server_info, sm_webtier_info): the host lock names this
    run from now on; result gets run_lock (path, run_id: what the writing modules are given) and
    run_lock_previous (the holder whose claim this one ended, when another run's). Not in check
    mode: a check run writes nothing, and its writers check nothing."""
    lock = module.params.get("run_lock") or {}
    if module.check_mode or not lock.get("path"):
        return
    holder = dict(lock.get("holder") or {}, run_id=lock["run_id"])
    try:
        previous = claim_host(lock["path"], holder)
    except (IOError, OSError) as exc:
        module.fail_json(msg="host lock %s cannot be written: %s. Fix: become root (become: true), "
                             "or fix the permissions of its directory" % (lock["path"], exc.strerror))
    result["run_lock"] = dict(path=lock["path"], run_id=lock["run_id"])
    if previous is not None:
        result["run_lock_previous"] = previous
        if (previous.get("controller"), previous.get("path")) != (holder.get("controller"),
                                                                  holder.get("path")):
            # from this controller and fleet lock the previous run is over (this run holds the
            # fleet lock); from elsewhere it may still be going
            module.warn("%s was planned by %s from another controller or fleet lock; if that run "
                        "is still going, its writes here are refused from now on"
                        % (lock["path"], describe(previous)))
