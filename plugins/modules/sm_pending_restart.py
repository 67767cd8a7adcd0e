#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sm_pending_restart
short_description: Remember on the host that a restart is due, and how to roll back
description:
  - A small JSON file on the host records that files a service reads have changed and where
    each one's backup is (the state before the first change). It survives an interrupted run,
    so the next run still restarts the service, and still knows how to roll back.
  - C(present) adds files to the record (the first backup of a file wins) and reports
    C(pending). C(absent) clears it after a restart proved the host. C(rollback) puts every
    recorded file back from its backup (a file that did not exist before is removed) and
    clears the record.
  - With I(probe_record), C(absent) also records on the host the time of the successful
    handshake probes that proved it (for the fleet report's metrics, see M(sm_tls_inventory)).
    Bookkeeping, like arming - not reported as a change.
  - With I(arm), C(present) writes the record before a run starts writing, so a run killed
    between a write and its record still leaves a restart due; the run that armed it clears
    the arming when it wrote nothing. Arming reports no change, being bookkeeping.
version_added: "1.0.0"
author: smtls contributors
options:
  path:
    description: The record file.
    type: path
    required: true
  files:
    description: Changed files, each with its backup (none when the file was created).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The changed file.
        type: path
        required: true
      backup:
        description: Its backup; empty when the file did not exist before.
        type: path
  arm:
    description: Write an empty record marked with I(run) when none exists (before the writes).
    type: bool
    default: false
  run:
    description: This run's id; a record armed by another run is due, one armed by this run is not.
    type: str
  probe_record:
    description:
      - Only with C(absent), given when the probes ran and passed - the file that records the
        time of the host's last successful probe (JSON, UTC, no secret; a new file gets mode
        0640). Written on every call, even when no restart was recorded
        (C(smtls_probe=always)); never counted as a change, and a failure to write it is a
        warning, not an error. Not written in check mode.
    type: path
  state:
    description: C(present), C(absent) or C(rollback).
    type: str
    choices: [present, absent, rollback]
    default: present
notes:
  - Check mode predicts without writing.
seealso:
  - module: sm_tls_probe
"""

EXAMPLES = r"""
- name: Apply | record what changed
  sm_pending_restart:
    path: /opt/sm/Server/RUN/.smtls-restart-pending
    files: "{{ written_files }}"
  register: pending

- name: Apply | proven, nothing pending any more (and when it was proven)
  sm_pending_restart:
    path: /opt/sm/Server/RUN/.smtls-restart-pending
    state: absent
    probe_record: /opt/sm/Server/RUN/.smtls-last-probe

- name: Apply | roll back after a failed probe
  sm_pending_restart:
    path: /opt/sm/Server/RUN/.smtls-restart-pending
    state: rollback
"""

RETURN = r"""
pending:
  description: Whether a restart is due (after this call, for C(present)).
  returned: always
  type: bool
files:
  description: The recorded files and backups.
  returned: always
  type: list
  elements: dict
probe_recorded:
  description: With I(probe_record), the time of the successful probe recorded (ISO 8601 UTC).
  returned: with absent and probe_record, outside check mode
  type: str
  sample: "2030-01-01T12:00:00Z"
restored:
  description: With C(rollback), what was put back (C(restored)) or removed (C(removed)).
  returned: with rollback
  type: list
  elements: str
"""

import datetime
import json
import os
import shutil

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.smtls_files import FileProblem, read_optional, write_atomic

ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    files=dict(type="list", elements="dict", default=[], options=dict(
        path=dict(type="path", required=True),
        backup=dict(type="path"),
    )),
    arm=dict(type="bool", default=False),
    run=dict(type="str"),
    probe_record=dict(type="path"),
    state=dict(type="str", choices=["present", "absent", "rollback"], default="present"),
)


def load(path):
    """(files, armed_by) of the record; (None, None) when there is none."""
    data = read_optional(path, "restart record")
    if data is None:
        return None, None
    try:
        record = json.loads(data.decode("utf-8"))
        files = [dict(path=f["path"], backup=f.get("backup")) for f in record["files"]]
        return files, record.get("armed_by")
    except (ValueError, KeyError, TypeError):
        raise FileProblem("%s is not a smtls restart record; remove it and run again" % path)


def save(module, path, files, armed_by):
    record = {"files": files}
    if armed_by:
        record["armed_by"] = armed_by
    write_atomic(module, path, json.dumps(record, indent=1).encode("utf-8"))


def record_probe(module, path):
    """The time of the host's last successful probe, in its own small file (read back by
    sm_tls_inventory: the format is smtls_inventory.PROBE_FORMAT). No secret in it."""
    when = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    stamp = when.isoformat().replace("+00:00", "Z")
    record = {"format": "smtls-probe/1", "last_success": stamp}
    write_atomic(module, path, (json.dumps(record, indent=1) + "\n").encode("utf-8"), mode=0o640)
    return stamp


def restore(module, files):
    done = []
    for item in files:
        if item["backup"]:
            if not os.path.exists(item["backup"]):
                raise FileProblem("backup %s of %s is missing: restore it by hand"
                                  % (item["backup"], item["path"]))
            with open(item["backup"], "rb") as handle:
                write_atomic(module, item["path"], handle.read())
            shutil.copystat(item["backup"], item["path"])
            done.append("restored %s from %s" % (item["path"], item["backup"]))
        elif os.path.exists(item["path"]):
            os.unlink(item["path"])
            done.append("removed %s (it did not exist before)" % item["path"])
    return done


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    if p["probe_record"] and p["state"] != "absent":
        module.fail_json(msg="probe_record goes with state=absent (the call after the probes "
                             "passed), not with state=%s" % p["state"])
    try:
        recorded, armed_by = load(p["path"])
        files = list(recorded or [])
        if p["state"] == "present" and p["arm"]:
            if recorded is None and p["run"] and not module.check_mode:
                save(module, p["path"], [], p["run"])
            module.exit_json(changed=False, pending=bool(files) or bool(armed_by and armed_by != p["run"]),
                             files=files)
        if p["state"] == "present":
            known = {f["path"] for f in files}
            for item in p["files"]:
                if item["path"] not in known:  # the oldest backup is the state to return to
                    files.append(dict(path=item["path"], backup=item["backup"] or None))
                    known.add(item["path"])
            # armed by a run that was cut off before it recorded its writes: a restart is due
            interrupted = bool(armed_by) and armed_by != p["run"]
            changed = files != (recorded or []) and bool(files)
            if not files and not interrupted:
                if recorded is not None and not module.check_mode:
                    os.unlink(p["path"])  # this run's own arming, and it wrote nothing
            elif changed and not module.check_mode:
                save(module, p["path"], files, armed_by)
            module.exit_json(changed=changed, pending=bool(files) or interrupted, files=files)
        if p["state"] == "absent":
            result = dict(changed=recorded is not None, pending=False, files=files)
            if recorded is not None and not module.check_mode:
                os.unlink(p["path"])
            if p["probe_record"] and not module.check_mode:
                # bookkeeping, not a change: a rerun that only probes stays changed=0; nor
                # may it fail a host its probes just proved (that would roll it back)
                try:
                    result["probe_recorded"] = record_probe(module, p["probe_record"])
                except (FileProblem, IOError, OSError) as exc:
                    module.warn("the time of the successful probe was not recorded in %s: %s"
                                % (p["probe_record"], exc))
            module.exit_json(**result)
        restored = [] if module.check_mode else restore(module, files)
        if recorded is not None and not module.check_mode:
            os.unlink(p["path"])
        module.exit_json(changed=bool(files), pending=False, files=files, restored=restored)
    except (FileProblem, IOError, OSError) as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
