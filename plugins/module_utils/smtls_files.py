# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""File handling shared by the smtls modules: clear read errors, atomic writes
with a backup, and ownership/mode from the usual file arguments."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
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


def write_atomic(module, path, data, backup=False, mode=0o600):
    """Write via a temp file in the same directory and rename over the target.

    A new file gets `mode` (private by default: keystores and sm.ini hold
    secrets); an existing file keeps its owner and permissions. Returns the
    backup file name, or None.
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
