# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""File handling shared by the smtls modules: clear read errors, atomic writes
with a backup, and ownership/mode from the usual file arguments."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import tempfile


class FileProblem(Exception):
    """A file cannot be read or written; the message names it and the fix."""


def read_optional(path, what):
    """File bytes, or None when it does not exist. Other problems are errors."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except IOError as exc:
        if exc.errno == errno.ENOENT:
            parent = os.path.dirname(path) or "."
            if not os.path.isdir(parent):
                raise FileProblem("%s: directory %s does not exist (check the installation "
                                  "path variables)" % (what, parent))
            return None
        if exc.errno == errno.EISDIR:
            raise FileProblem("%s: %s is a directory, not a file" % (what, path))
        if exc.errno == errno.EACCES:
            raise FileProblem("%s: %s is not readable by this user (become root, or fix its "
                              "permissions)" % (what, path))
        raise FileProblem("%s: cannot read %s: %s" % (what, path, exc))


_FS_IOC_GETFLAGS = 0x80086601  # linux/fs.h, as on every 64-bit Linux
_FS_IMMUTABLE_FL, _FS_APPEND_FL = 0x10, 0x20
# room kept free on top of the new file and its backup
_SPARE_BYTES = 1024 * 1024


def _inode_flags(path):
    """chattr flags of path, or 0 where the file system does not say."""
    try:
        import fcntl
        import struct

        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            return struct.unpack("l", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, struct.pack("l", 0)))[0]
        finally:
            os.close(fd)
    except (ImportError, OSError, IOError):
        return 0


def check_writable(path, what, size=0, backup=False):
    """Refuse, before any write, what an atomic write of path would trip on: a directory
    that cannot take the temp file, an immutable or append-only file or directory (root is
    refused too), a read-only file system, too little free space for the new file (and its
    backup). The message names the file and the fix."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileProblem("%s: directory %s does not exist (check the installation path "
                          "variables)" % (what, directory))
    for target in (path, directory):
        if os.path.exists(target) and _inode_flags(target) & (_FS_IMMUTABLE_FL | _FS_APPEND_FL):
            raise FileProblem("%s: %s is immutable or append-only (chattr +i/+a), so it cannot "
                              "be replaced. Fix: chattr -i -a %s, or leave it out of the "
                              "rollout" % (what, target, target))
    if not os.access(directory, os.W_OK | os.X_OK):
        raise FileProblem("%s: this user cannot create files in %s (needed to replace %s "
                          "atomically). Fix: become root (become: true) or fix its permissions"
                          % (what, directory, os.path.basename(path)))
    try:
        stats = os.statvfs(directory)
    except OSError:
        return
    if stats.f_flag & getattr(os, "ST_RDONLY", 1):
        raise FileProblem("%s: %s is on a read-only file system. Fix: remount it read-write"
                          % (what, directory))
    needed = size * (2 if backup and os.path.exists(path) else 1) + _SPARE_BYTES
    if stats.f_bavail * stats.f_frsize < needed:
        raise FileProblem("%s: not enough free space in %s for %s and its backup (%d bytes "
                          "needed). Fix: free space on that file system" % (what, directory,
                                                                         os.path.basename(path), needed))


# The restart record: the files a service reads that were replaced since it last started,
# each with the backup to roll back to. Every writing module that is given one notes its file
# there *before* the rename, so a run cut off anywhere after a write still finds the restart
# (and the rollback) due next time, and a run that wrote nothing leaves no record behind.
RESTART_RECORD_OPTION = dict(restart_record=dict(type="path"))


def load_restart_record(path):
    """[{path, backup}] of the record, or None when there is none."""
    data = read_optional(path, "restart record")
    if data is None:
        return None
    try:
        record = json.loads(data.decode("utf-8"))
        return [dict(path=f["path"], backup=f.get("backup") or None) for f in record["files"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise FileProblem("%s is not a smtls restart record; remove it and run again" % path)


def _save_restart_record(path, files):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(json.dumps({"files": files}, indent=1).encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def note_restart(record, path, backup_file):
    """Add path (and the backup that holds its state before this run) to the record; the
    first backup of a file is the one to return to."""
    files = load_restart_record(record) or []
    if path not in [item["path"] for item in files]:
        files.append(dict(path=path, backup=backup_file or None))
        _save_restart_record(record, files)


def write_atomic(module, path, data, backup=False, mode=0o600, restart_record=None):
    """Write via a temp file in the same directory and rename over the target.

    A new file gets `mode` (private by default: keystores and sm.ini hold
    secrets); an existing file keeps its owner and permissions. With
    restart_record, the file is noted there before the rename (see above).
    Returns the backup file name, or None.
    """
    directory = os.path.dirname(os.path.abspath(path))
    creating = not os.path.exists(path)
    backup_file = None
    if backup and os.path.exists(path):
        backup_file = module.backup_local(path)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if restart_record:
            note_restart(restart_record, path, backup_file)
        module.atomic_move(tmp, path, unsafe_writes=False)
        if creating:  # atomic_move gives new files 0666 & ~umask: too open for secrets
            os.chmod(path, mode)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return backup_file


def apply_file_args(module, path, changed):
    """owner/group/mode from the module's file arguments; True when changed."""
    file_args = module.load_file_common_arguments(module.params, path=path)
    return module.set_fs_attributes_if_different(file_args, changed)


def apply_attributes(module, path, changed, owner=None, group=None, mode=None):
    """owner/group/mode given per file (a list of files in one module call)."""
    file_args = {"path": path, "owner": owner, "group": group, "mode": mode,
                 "secontext": None, "attributes": None}
    return module.set_fs_attributes_if_different(file_args, changed)
