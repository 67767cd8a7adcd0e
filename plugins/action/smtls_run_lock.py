# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet lock, on the controller: an action with no module, so it costs no host a module run
(the engine is module_utils/smtls_lock.py; docs/rollout.md "One run at a time")."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: smtls_run_lock
short_description: Take or release the fleet lock on the controller
description:
  - C(present) takes the lock for this run (its holder - run id, user, controller host, the pid of
    ansible-playbook, playbook, since when - written to I(path)) and sets the fact C(smtls_run);
    another live run's lock fails the task at once with one line naming it; a stale lock (its
    process gone on this controller host) is taken over with a warning.
  - C(absent) removes the lock when it names I(run_id).
  - In check mode nothing is written and no lock is taken over or removed; a live holder is
    still refused, since a plan made while another run writes is wrong.
options:
  path:
    description: The lock file (smtls_lock_file).
    type: path
    required: true
  state:
    description: C(present) or C(absent).
    type: str
    default: present
  playbook:
    description: The playbook taking it, named in the holder.
    type: str
  run_id:
    description: With C(absent), the run whose lock to remove.
    type: str
"""

import importlib.util
import os
import sys

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase


def _module_utils(name):
    """This repository's module_utils on the controller (as the filter plugins load them)."""
    qualified = "ansible.module_utils." + name
    if qualified not in sys.modules:
        path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "module_utils", name + ".py")
        spec = importlib.util.spec_from_file_location(qualified, path)
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
        sys.modules[qualified] = loaded
    return sys.modules[qualified]


lock = _module_utils("smtls_lock")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(("path", "state", "playbook", "run_id"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        path = os.path.expanduser(str(args.get("path") or ""))
        state = args.get("state", "present")
        if not path or state not in ("present", "absent"):
            raise AnsibleActionFail("smtls_run_lock: give path, and state present or absent")
        check_mode = bool(self._task.check_mode)
        try:
            if state == "absent":
                released = False if check_mode else lock.release(path, str(args.get("run_id") or ""))
                return dict(result, changed=False, released=released)
            # this worker is forked from ansible-playbook: the holder is that process, whose
            # exit (or kill) makes the lock stale
            holder = lock.new_holder(args.get("playbook") or "ansible-playbook", pid=os.getppid())
            taken, previous = lock.take(path, holder, check_mode=check_mode)
        except (lock.LockHeld, lock.LockProblem) as exc:
            raise AnsibleActionFail(str(exc))
        if previous is not None:
            warning = lock.stale_warning(path, previous)
            if check_mode:
                warning = "check mode, nothing taken over: " + warning.replace("; taken over", "")
            result["warnings"] = [warning]
        # bookkeeping on the controller, never a change: a rerun stays changed=0
        return dict(result, changed=False, ansible_facts=dict(
            smtls_run=dict(holder, path=path, held=taken)))
