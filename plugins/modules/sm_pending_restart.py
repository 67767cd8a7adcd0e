#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sm_pending_restart
short_description: Whether a restart is due on the host, and how to roll back
description:
  - A small JSON file on the host records that files a service reads have changed and where
    each one's backup is (the state before the first change). The writing modules
    (M(sm_ini), M(sm_keystore), M(sm_truststore), M(sm_webtier_config)) note each file there
    before they replace it, so the record survives a run cut off anywhere after a write; the
    next run still restarts the service, and still knows how to roll back. A run that writes
    nothing leaves no record.
  - C(present) reads the record and reports C(pending); it never writes. In check mode the
    writing modules wrote nothing, so the files they would have written (I(files)) count too.
    C(absent) clears the record after a restart proved the host. C(rollback) puts every
    recorded file back from its backup (a file that did not exist before is removed) and
    clears the record.
  - With I(probe_record), C(absent) also records on the host the time of the successful
    handshake probes that proved it (for the fleet report's metrics, see M(sm_tls_inventory)).
    Bookkeeping - not reported as a change.
  - With I(backup_keep), C(absent) also prunes the backups of the recorded files - it reads the
    record before clearing it - and of I(files), keeping the newest I(backup_keep) of each.
    Bookkeeping too.
version_added: "1.0.0"
author: smtls contributors
extends_documentation_fragment:
  - smtls_run_lock
options:
  path:
    description: The record file.
    type: path
    required: true
  files:
    description:
      - Files this step's modules report as changed, each with its backup (none when the file
        was created). Only check mode needs them (to predict the restart); a real run's writes
        are in the record already.
      - With C(absent) and I(backup_keep), their backups are pruned too - files no record names,
        as in a Windows client bundle, which nothing restarts.
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
  probe_record:
    description:
      - Only with C(absent), given when the probes ran and passed - the file that records the
        time of the host's last successful probe (JSON, UTC, no secret; a new file gets mode
        0640). Written on every call, even when no restart was recorded
        (C(smtls_probe=always)); never counted as a change, and a failure to write it is a
        warning, not an error. Not written in check mode.
    type: path
  backup_keep:
    description:
      - Only with C(absent) (the call after the probes passed) - for every file in the record,
        and in I(files), keep the newest I(backup_keep) backups
        (C(<file>.<pid>.<YYYY-MM-DD@HH:MM:SS>~) in its directory - a symbolic link's in its
        target's, named after the target - newest by the time in the name) and remove the older
        ones. Other files are never touched (C(sm.ini.bak), another file's backups). C(0) removes them all.
      - The record is cleared first, so the backup it names for a rollback is no longer needed
        when it goes. Never counted as a change; a backup that cannot be removed is a warning,
        not an error. Nothing is removed in check mode. Unset - no pruning.
    type: int
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
- name: Apply | is a restart due (the writing modules recorded what they changed)
  sm_pending_restart:
    path: /opt/sm/Server/RUN/.smtls-restart-pending
    files: "{{ changed_files }}"
  register: pending

- name: Apply | proven, nothing pending any more (and when it was proven)
  sm_pending_restart:
    path: /opt/sm/Server/RUN/.smtls-restart-pending
    state: absent
    probe_record: /opt/sm/Server/RUN/.smtls-last-probe
    backup_keep: 3

- name: Apply | roll back after a failed probe
  sm_pending_restart:
    path: /opt/sm/Server/RUN/.smtls-restart-pending
    state: rollback
"""

RETURN = r"""
pending:
  description: Whether a restart is due (for C(present)).
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
pruned:
  description: With I(backup_keep), the old backups removed.
  returned: with absent and backup_keep, outside check mode
  type: list
  elements: str
  sample: ["/opt/sm/Server/RUN/sm.ini.4711.2030-01-01@12:00:00~"]
restored:
  description: With C(rollback), what was put back (C(restored)) or removed (C(removed)).
  returned: with rollback
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import smtls_lock
from ansible.module_utils import smtls_restart as restart
from ansible.module_utils.smtls_files import FileProblem

ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    files=dict(type="list", elements="dict", default=[], options=dict(
        path=dict(type="path", required=True),
        backup=dict(type="path"),
    )),
    probe_record=dict(type="path"),
    backup_keep=dict(type="int"),
    state=dict(type="str", choices=["present", "absent", "rollback"], default="present"),
)
# the host lock of the run (smtls_lock: a claim by the installation reads, checked by writers)
ARGUMENT_SPEC.update(smtls_lock.HOST_LOCK_OPTION)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    # refused before anything is read or written when another run planned this host since
    smtls_lock.guard_module(module)
    p = module.params
    for option in ("probe_record", "backup_keep"):
        if p[option] not in (None, "") and p["state"] != "absent":
            module.fail_json(msg="%s goes with state=absent (the call after the probes passed), "
                                 "not with state=%s" % (option, p["state"]))
    if (p["backup_keep"] or 0) < 0:
        module.fail_json(msg="backup_keep is %d: give the number of backups of each file to keep "
                             "(0 or more)" % p["backup_keep"])
    try:
        if p["state"] == "present":
            pending, files = restart.status(p["path"], p["files"] if module.check_mode else [])
            module.exit_json(changed=False, pending=pending, files=files)
        if p["state"] == "absent":
            files = restart.status(p["path"])[1]
            result = dict(changed=restart.clear(p["path"], module.check_mode), pending=False,
                          files=files)
            if p["probe_record"] and not module.check_mode:
                # bookkeeping, not a change: a rerun that only probes stays changed=0; nor
                # may it fail a host its probes just proved (that would roll it back)
                try:
                    result["probe_recorded"] = restart.record_probe(module, p["probe_record"])
                except (FileProblem, IOError, OSError) as exc:
                    module.warn("the time of the successful probe was not recorded in %s: %s"
                                % (p["probe_record"], exc))
            if p["backup_keep"] is not None and not module.check_mode:
                # after the clear, from the record read before it: pruning may take the backup
                # the record names for a rollback, so the record goes first - a failure here
                # leaves extra backups, never a record that names a removed one. Bookkeeping as
                # above: a warning, never a failure of a proven host
                result["pruned"], problems = restart.prune_backups(files + p["files"],
                                                                   p["backup_keep"])
                for problem in problems:
                    module.warn("an old backup was not removed: %s" % problem)
            module.exit_json(**result)
        files, restored = restart.rollback(module, p["path"], module.check_mode)
        module.exit_json(changed=bool(files), pending=False, files=files, restored=restored)
    except (FileProblem, IOError, OSError) as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
