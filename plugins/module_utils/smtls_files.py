# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""File handling shared by the smtls modules: clear read errors, atomic writes
with a backup, the mode cap of files that hold secrets, and ownership/mode from the usual
file arguments. A managed file that is a symbolic link is written through it (see
write_target)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import shutil
import stat
import tempfile
import time


class FileProblem(Exception):
    """A file cannot be read or written; the message names it and the fix."""


def write_target(path, what=None):
    """The file a write of path replaces: path itself, or, for a symbolic link (a chain of them,
    relative or absolute), its final target - which is replaced in its own directory, so the
    link stays a link and what it points to gets the new content. A link to nothing (dangling)
    or a loop is refused: writing there would replace the link by a regular file, or make a
    file the link's owner never meant. Every write and every check of one goes through here, so
    check mode judges the file a real run replaces."""
    if not os.path.islink(path):
        return path
    try:
        os.stat(path)  # follows the whole chain
    except OSError as exc:
        prefix = "%s: " % what if what else ""
        if exc.errno == errno.ELOOP:
            raise FileProblem("%s%s is a symbolic link loop, so there is no file to write. Fix: "
                              "point the link at the real file (ln -sfn), or replace it with the "
                              "file" % (prefix, path))
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise FileProblem("%s%s is a symbolic link to %s, which does not exist (a dangling "
                              "link); nothing was written. Fix: point the link at the real file "
                              "(ln -sfn), or remove the link to have the file created there"
                              % (prefix, path, os.readlink(path)))
        raise FileProblem("%s%s is a symbolic link that cannot be followed: %s"
                          % (prefix, path, exc))
    return os.path.realpath(path)


def read_optional(path, what):
    """File bytes, or None when it does not exist. Other problems are errors; a symbolic link
    to nothing, or a loop, is refused here (see write_target), not read as an absent file."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except IOError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP) and os.path.islink(path):
            write_target(path, what)
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


def in_place(path, content=None, mode=None):
    """Whether the file at path holds content (text; None: any file, or a directory) with mode (octal
    text or int; None: any), so a write of the same would change nothing. A link counts as its
    target; a missing or unreadable file is not in place."""
    try:
        found = os.stat(path)
        if not (stat.S_ISREG(found.st_mode) or content is None and stat.S_ISDIR(found.st_mode)):
            return False
        if mode is not None:
            wanted = int(mode, 8) if isinstance(mode, str) else int(mode)
            if stat.S_IMODE(found.st_mode) != wanted:
                return False
        if content is not None:
            with open(path, "rb") as handle:
                return handle.read() == content.encode("utf-8")
        return True
    except (OSError, ValueError):
        return False


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
    backup). The message names the file and the fix. For a symbolic link, all of this is about
    the target the write replaces (write_target), in the target's directory."""
    path = write_target(path, what)
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


def restart_record_pending(path):
    """Whether the record holds anything - read with a host's installation, so a run that then
    writes nothing needs no read of its own. A record that cannot be read counts as pending: the
    restart step reads it again and names the problem."""
    try:
        return bool(load_restart_record(path))
    except (FileProblem, IOError, OSError):
        return True


def _save_restart_record(path, files):
    path = write_target(path, "restart record")
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


# A file that holds secrets (sm.ini, keystores and truststores, webtier.properties, web.xml,
# pending keys) ends no wider than this: nothing for others, read at most for the group. An
# existing file's wider bits are dropped (owner and group stay); a narrower mode is kept.
SECRET_MODE_CAP = 0o640


def wide_mode(path, what):
    """(mode, capped) when path exists with permission bits wider than SECRET_MODE_CAP, else
    None. A stat only, so the modules check it on every run, also when the content stays (the
    rule is about the file, not the write). What would stop the chmod is refused here, before
    any write and in check mode too."""
    try:
        found = os.stat(path)
    except OSError:  # absent; or unreadable, which reading it has refused already
        return None
    mode = stat.S_IMODE(found.st_mode)
    if not mode & ~SECRET_MODE_CAP:
        return None
    capped = mode & SECRET_MODE_CAP
    if _inode_flags(path) & (_FS_IMMUTABLE_FL | _FS_APPEND_FL):
        raise FileProblem("%s: %s has mode %04o, wider than %04o for a file that holds secrets, "
                          "and is immutable or append-only (chattr +i/+a), so its mode cannot be "
                          "tightened. Fix: chattr -i -a %s, or chmod %04o it before protecting it"
                          % (what, path, mode, SECRET_MODE_CAP, path, capped))
    if os.geteuid() not in (0, found.st_uid):
        raise FileProblem("%s: %s has mode %04o, wider than %04o for a file that holds secrets, "
                          "and only its owner or root may tighten it. Fix: become root "
                          "(become: true), or chmod %04o it as its owner"
                          % (what, path, mode, SECRET_MODE_CAP, capped))
    return mode, capped


def mode_action(wide):
    """The action the modules report for a capped mode (see wide_mode)."""
    return "cap mode %04o to %04o (the file holds secrets)" % wide


def tighten(path, wide):
    """Cap path's mode as wide_mode found it; before a write, so new content never sits at the
    old mode (atomic_move gives it the replaced file's)."""
    try:
        os.chmod(path, wide[1])
    except OSError as exc:
        raise FileProblem("%s: cannot change its mode to %04o: %s" % (path, wide[1], exc))


def refuse_wide_mode(module, path, mode, what, new_mode=0o600):
    """Refuse an explicit mode argument that would leave a file that holds secrets wider than
    SECRET_MODE_CAP: capping it behind the argument's back would undo it on every run. A
    symbolic mode is read as Ansible applies it, to the file's mode once capped (a new file's
    when it does not exist yet)."""
    if mode is None:
        return
    if isinstance(mode, int):
        value = mode
    else:
        try:
            value = int(str(mode), 8)
        except ValueError:
            base = new_mode
            if os.path.exists(path):
                base = stat.S_IMODE(os.stat(path).st_mode) & SECRET_MODE_CAP
            try:
                value = module._symbolic_mode_to_octal(
                    os.stat_result((stat.S_IFREG | base,) + (0,) * 9), str(mode))
            except Exception:  # not a mode at all: Ansible names it when it applies the mode
                return
    if value & ~SECRET_MODE_CAP:
        raise FileProblem("%s: mode %s for %s is wider than %04o, and smtls keeps files that hold "
                          "secrets at %04o or narrower. Fix: give %04o or a narrower mode (0600)"
                          % (what, mode, path, SECRET_MODE_CAP, SECRET_MODE_CAP, SECRET_MODE_CAP))


# Owner and group a call is told to give its files (sm_webtier_config's owner/group): names or
# numbers, resolved on the host; checked and predicted like the mode cap, before any write.
def wanted_ids(owner=None, group=None, what="file"):
    """(uid or None, gid or None) for the given owner and group (a name, or a number)."""
    import grp
    import pwd

    uid = gid = None
    if owner not in (None, ""):
        try:
            uid = int(owner) if str(owner).isdigit() else pwd.getpwnam(str(owner)).pw_uid
        except KeyError:
            raise FileProblem("%s: owner %s is no user on this host. Fix: name an existing user "
                              "(sm_webtier_file_owner), or create it first" % (what, owner))
    if group not in (None, ""):
        try:
            gid = int(group) if str(group).isdigit() else grp.getgrnam(str(group)).gr_gid
        except KeyError:
            raise FileProblem("%s: group %s is no group on this host. Fix: name an existing group "
                              "(sm_webtier_file_group: the group the service runs as), or create "
                              "it first" % (what, group))
    return uid, gid


def owner_names(uid, gid):
    """owner:group as names where the host has them, else as numbers."""
    import grp
    import pwd

    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    return "%s:%s" % (user, group)


def _created_ids(path):
    """(uid, gid) a file this process creates at path gets: its own, the directory's group when
    that directory is set-group-ID."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        parent = os.stat(directory)
        if parent.st_mode & stat.S_ISGID:
            return os.geteuid(), parent.st_gid
    except OSError:
        pass
    return os.geteuid(), os.getegid()


def ownership_change(path, what, uid=None, gid=None, current=None):
    """([actions], (uid, gid)) to give path the wanted owner and group (None: leave it), or
    ([], None) when it has them. current: the (uid, gid) it has; by default read from the file,
    or, for a file about to be created, the ones it will be created with - so check mode
    predicts both. What this user may not do is refused here, before any write and in check
    mode too: only root gives a file away, and only a file's owner gives it another group, one
    of the owner's own."""
    if current is None:
        try:
            found = os.stat(path)
            current = found.st_uid, found.st_gid
        except OSError:
            current = _created_ids(path)
    target = (current[0] if uid is None else uid, current[1] if gid is None else gid)
    if target == current:
        return [], None
    names = owner_names(*current).split(":"), owner_names(*target).split(":")
    actions = ["%s %s to %s" % (kind, before, after)
               for kind, before, after in zip(("owner", "group"), names[0], names[1])
               if before != after]
    euid = os.geteuid()
    own_groups = set(os.getgroups()) | {os.getegid()}
    if euid != 0 and (target[0] != current[0] or current[0] != euid
                      or target[1] not in own_groups):
        raise FileProblem("%s: %s is %s; making it %s needs root (only root gives a file away, "
                          "and only its owner gives it another group, one of the owner's own). "
                          "Fix: become root (become: true), or chown %s %s once"
                          % (what, path, owner_names(*current), owner_names(*target),
                             owner_names(*target), path))
    return actions, target


def change_ownership(path, target):
    """Give path the (uid, gid) ownership_change decided."""
    try:
        os.chown(path, target[0], target[1])
    except OSError as exc:
        raise FileProblem("%s: cannot change its owner or group to %s: %s"
                          % (path, owner_names(*target), exc))


def backup_copy(module, path, cap=0o7777):
    """A copy of path named as module.backup_local names it - <path>.<pid>.<YYYY-MM-DD@HH:MM:SS>~,
    which rollback and pruning rely on - with path's owner, times and mode & cap. It is written
    to a temp file that has that mode before it holds a byte, then renamed: unlike copy2 and a
    chmod after, no moment when the copy is readable wider than cap allows. For a symbolic link,
    the copy is of its target, beside the target and named after it: where a write through the
    link replaces the file, and where pruning (smtls_restart.backups_of) looks."""
    path = write_target(path)
    source = os.stat(path)
    name = "%s.%s.%s" % (path, os.getpid(),
                         time.strftime("%Y-%m-%d@%H:%M:%S~", time.localtime(time.time())))
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        try:
            os.fchown(fd, source.st_uid, source.st_gid)  # before fchmod: chown clears set-id bits
        except OSError as exc:
            if exc.errno != errno.EPERM:
                raise
        os.fchmod(fd, stat.S_IMODE(source.st_mode) & cap)
        with os.fdopen(fd, "wb") as handle, open(path, "rb") as original:
            shutil.copyfileobj(original, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.utime(tmp, ns=(source.st_atime_ns, source.st_mtime_ns))
        if module.selinux_enabled():
            module.set_context_if_different(tmp, module.selinux_context(path), False)
        os.rename(tmp, name)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return name


def write_atomic(module, path, data, backup=False, mode=0o600, restart_record=None, secret=False,
                 backup_cap=0o7777):
    """Write via a temp file in the same directory and rename over the target.

    A new file gets `mode` (private by default: keystores and sm.ini hold
    secrets); an existing file keeps its owner and permissions - with secret, capped at
    SECRET_MODE_CAP first, so neither the new content nor the backup is ever wider; backup_cap
    narrows the backup further (a copy no service reads: 0600). With restart_record, the file is
    noted there before the rename (see above), under the path given - a rollback writes it back
    through the same link. A symbolic link is written through (write_target): its target is
    replaced, the link stays. Returns the backup file name, or None.
    """
    given, path = path, write_target(path)
    directory = os.path.dirname(os.path.abspath(path))
    creating = not os.path.exists(path)
    cap = SECRET_MODE_CAP if secret else 0o7777
    if secret and not creating:
        current = stat.S_IMODE(os.stat(path).st_mode)
        if current & ~cap:
            os.chmod(path, current & cap)
    backup_file = None
    if backup and not creating:
        backup_file = backup_copy(module, path, cap & backup_cap)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        os.fchmod(fd, mode & cap)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if restart_record:
            note_restart(restart_record, given, backup_file)
        # atomic_move gives a new file 0666 & ~umask after the rename: too open for secrets,
        # so the umask says `mode` meanwhile and no moment is wider
        umask = os.umask(0o777 & ~(mode & cap)) if creating else None
        try:
            module.atomic_move(tmp, path, unsafe_writes=False)
        finally:
            if umask is not None:
                os.umask(umask)
        if creating:
            os.chmod(path, mode & cap)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return backup_file


# Ansible's attribute helpers act on a link itself (lchown, lstat): given the target, they act
# on the file a write through the link replaced.
def apply_file_args(module, path, changed):
    """owner/group/mode from the module's file arguments; True when changed."""
    path = write_target(path)
    file_args = module.load_file_common_arguments(module.params, path=path)
    return module.set_fs_attributes_if_different(file_args, changed)


def apply_attributes(module, path, changed, owner=None, group=None, mode=None):
    """owner/group/mode given per file (a list of files in one module call)."""
    path = write_target(path)
    file_args = {"path": path, "owner": owner, "group": group, "mode": mode,
                 "secontext": None, "attributes": None}
    return module.set_fs_attributes_if_different(file_args, changed)


def predict_attributes(module, path, changed, owner=None, group=None, mode=None):
    """Whether apply_attributes would change owner, group or mode - run in check mode, so that a
    module that only plans (an installation read) never changes them."""
    check_mode = module.check_mode
    module.check_mode = True
    try:
        return apply_attributes(module, path, changed, owner, group, mode)
    finally:
        module.check_mode = check_mode


def written(results):
    """[{path, backup}] of the files the given module results (registered on the controller)
    wrote: sm_ini and sm_keystore (one file), sm_truststore (truststores) and sm_webtier_config
    (files); skipped and unchanged results contribute nothing, nor does a file whose content
    stays (`written` false: only its mode or owner changed - no restart)."""
    found = []
    for result in results or []:
        if not isinstance(result, dict) or result.get("skipped") or not result.get("changed"):
            continue
        for item in result.get("truststores") or result.get("files") or [result]:
            if item.get("written", item.get("changed")) and item.get("path"):
                found.append({"path": item["path"], "backup": item.get("backup_file") or ""})
    return found
