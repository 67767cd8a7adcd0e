# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: smtls_module_runs
type: aggregate
short_description: Count the module runs each host costs
description:
  - Counts, per host, every task result that ran a module on the host or on a host it was
    delegated to - loop items one by one, skipped items and tasks not counted - and leaves out
    what Ansible does on the controller alone (set_fact, assert, debug, fail, includes, argument
    validation, meta).
  - That count, not the number of tasks, is what a run costs at fleet scale (one module run is a
    connection, a transfer and a Python start on the host); the project's benchmark prints it.
  - At the end of the run, writes the counts (a JSON object, host to count) to the file named in
    C(SMTLS_MODULE_RUNS_FILE), and prints a one-line summary.
requirements:
  - enable it with C(ANSIBLE_CALLBACKS_ENABLED=smtls_module_runs)
"""

import json
import os

from ansible.plugins.callback import CallbackBase

# Actions that never start a module on a host: Ansible runs them on the controller.
CONTROLLER_ONLY = frozenset(
    "ansible.builtin." + name if "." not in name else name for name in (
        "set_fact", "assert", "debug", "fail", "include_tasks", "import_tasks", "include_role",
        "import_role", "include_vars", "meta", "add_host", "group_by", "set_stats", "pause",
        "validate_argument_spec", "noop",
        # this project's actions that work on the controller alone (the fleet lock; the
        # certificate plan, which reads and signs with the CA in memory)
        "smtls_run_lock", "smtls_certificate_plan"))


def _controller_only(action):
    return action in CONTROLLER_ONLY or "ansible.builtin." + action in CONTROLLER_ONLY


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "smtls_module_runs"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.runs = {}
        self.tasks = {}  # with SMTLS_MODULE_RUNS_DETAIL: host -> the task names, in order

    def _count(self, result, items=False):
        if _controller_only(result._task.action):
            return
        if not items and result._result.get("results") is not None:
            return  # a loop: its items were counted one by one
        host = result._host.get_name()
        self.runs[host] = self.runs.get(host, 0) + 1
        self.tasks.setdefault(host, []).append(result._task.get_name())

    def v2_runner_on_ok(self, result):
        self._count(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count(result)

    def v2_runner_item_on_ok(self, result):
        self._count(result, items=True)

    def v2_runner_item_on_failed(self, result):
        self._count(result, items=True)

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("SMTLS_MODULE_RUNS_FILE")
        if path:
            with open(path, "w") as handle:
                json.dump(dict(runs=self.runs, tasks=self.tasks) if os.environ.get("SMTLS_MODULE_RUNS_DETAIL")
                          else self.runs, handle, indent=1, sort_keys=True)
        if self.runs:
            self._display.display("smtls module runs per host: %s" % ", ".join(
                "%s=%d" % item for item in sorted(self.runs.items())))
