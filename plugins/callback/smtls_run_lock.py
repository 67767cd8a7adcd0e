# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: smtls_run_lock
type: aggregate
short_description: Release the fleet lock when a run ends early
description:
  - A run that fails (the preflight refuses, a batch fails) never reaches the play that releases
    the fleet lock (the C(smtls_run_lock) action). This callback, loaded without being enabled,
    remembers the lock the run took and releases it when the run ends, however it ends - so the
    next run finds no lock rather than a stale one. A lock another run took over is left alone.
"""

import importlib.util
import os
import sys

from ansible.plugins.callback import CallbackBase


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


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "smtls_run_lock"
    # on in every run: it acts only when the run took the lock
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.held = None

    def v2_runner_on_ok(self, result):
        if result._task.action.split(".")[-1] != "smtls_run_lock":
            return
        run = result._result.get("ansible_facts", {}).get("smtls_run") or {}
        if run.get("held"):
            self.held = (run["path"], run["run_id"])

    def v2_playbook_on_stats(self, stats):
        if self.held:
            try:
                lock.release(*self.held)
            except (lock.LockProblem, OSError) as exc:
                self._display.warning("the fleet lock %s was not released: %s" % (self.held[0], exc))
