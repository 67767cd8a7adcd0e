# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restart record's other half: whether a restart is due, rolling back, clearing, and
pruning the old backups of the files a proven restart took in.

The writing modules note each file in the record before they replace it
(smtls_files.write_atomic with restart_record); this engine only reads the record
and acts on it, so no task ever "arms" or "records" anything.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import re
import stat

from ansible.module_utils.smtls_files import (SECRET_MODE_CAP, FileProblem, load_restart_record,
                                              write_atomic)

# The file the post-probe call leaves on the host (read by smtls_inventory.read_probe_record):
# {"format": PROBE_FORMAT, "last_success": ISO time}.
PROBE_FORMAT = "smtls-probe/1"


def status(record_path, predicted=None):
    """(pending, files): the record's files, and in check mode the files this step's modules
    said they would write (nothing is recorded then: they wrote nothing)."""
    files = load_restart_record(record_path) or []
    known = {item["path"] for item in files}
    for item in predicted or []:
        if item["path"] not in known:
            files.append(dict(path=item["path"], backup=item.get("backup") or None))
            known.add(item["path"])
    return bool(files), files


def clear(record_path, check_mode=False):
    """Remove the record; True when there was one (its content was read by the caller)."""
    exists = os.path.exists(record_path)
    if exists and not check_mode:
        os.unlink(record_path)
    return exists


def rollback(module, record_path, check_mode=False):
    """Put every recorded file back from its backup (remove one that did not exist before),
    then clear the record. Returns (files, what was done). A file is recorded under the path
    its module was given: one that is a symbolic link is restored through it (write_atomic),
    as it was written, and the mode and times below follow the link too."""
    files = load_restart_record(record_path) or []
    if check_mode:
        return files, []
    done = []
    for item in files:
        if item["backup"]:
            if not os.path.exists(item["backup"]):
                raise FileProblem("backup %s of %s is missing: restore it by hand"
                                  % (item["backup"], item["path"]))
            saved = os.stat(item["backup"])
            with open(item["backup"], "rb") as handle:
                write_atomic(module, item["path"], handle.read(), secret=True)
            # the backup's mode and times; capped, as a backup made before smtls capped modes
            # may be wider
            os.chmod(item["path"], stat.S_IMODE(saved.st_mode) & SECRET_MODE_CAP)
            os.utime(item["path"], ns=(saved.st_atime_ns, saved.st_mtime_ns))
            done.append("restored %s from %s" % (item["path"], item["backup"]))
        elif os.path.exists(item["path"]):
            os.unlink(item["path"])
            done.append("removed %s (it did not exist before)" % item["path"])
    clear(record_path)
    return files, done


# The time in a backup's name (smtls_files.backup_copy: <file>.<pid>.<YYYY-MM-DD@HH:MM:SS>~).
_BACKUP_NAME = r"\.\d+\.(\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d)~\Z"


def backups_of(path):
    """The backups of path in its directory, newest first: by the time in the name (a backup's
    mtime is its source's), then by when the backup itself was made. Only regular files
    named exactly so - not sm.ini.bak, nor the backups of another file. For a symbolic link,
    its target's: a write through the link backs the target up beside itself."""
    directory, name = os.path.split(os.path.realpath(path))
    pattern = re.compile(re.escape(name) + _BACKUP_NAME)
    try:
        entries = os.listdir(directory)
    except OSError:  # the directory is gone: no backups to prune
        return []
    found = []
    for entry in entries:
        match = pattern.match(entry)
        if match:
            full = os.path.join(directory, entry)
            try:
                info = os.lstat(full)
            except OSError:  # gone meanwhile
                continue
            if stat.S_ISREG(info.st_mode):
                found.append((match.group(1), info.st_ctime_ns, full))
    return [full for _stamp, _made, full in sorted(found, reverse=True)]


def prune_backups(files, keep):
    """Remove all but the newest `keep` backups of each file of a cleared record. Returns
    (removed, problems): a backup that cannot be removed is named and the others still go."""
    removed, problems = [], []
    for path in sorted({item["path"] for item in files}):
        for backup in backups_of(path)[keep:]:
            try:
                os.unlink(backup)
                removed.append(backup)
            except OSError as exc:
                problems.append("%s: %s" % (backup, exc))
    return removed, problems


def record_probe(module, path, at=None):
    """The time of the host's last successful probe, in its own small file (read back by
    smtls_inventory.read_probe_record). No secret in it."""
    when = (at or datetime.datetime.now(datetime.timezone.utc)).replace(microsecond=0)
    stamp = when.isoformat().replace("+00:00", "Z")
    record = {"format": PROBE_FORMAT, "last_success": stamp}
    write_atomic(module, path, (json.dumps(record, indent=1) + "\n").encode("utf-8"), mode=0o640)
    return stamp
