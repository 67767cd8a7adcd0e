# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run_lock option (smtls_lock.HOST_LOCK_OPTION): the host lock of the run."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  run_lock:
    description:
      - The host lock of this run (docs/rollout.md "One run at a time") - a file beside the restart
        record naming the run that planned the host last.
      - The installation reads (M(sm_server_info), M(sm_webtier_info)) claim it for I(run_id)
        before they read anything, with I(holder) written into it, and return C(run_lock) (path and
        run id, for the writing modules) and C(run_lock_previous) (the holder of another run whose
        claim this one ended). A writing module refuses to run when the lock names another run,
        and holds a shared lock of the file while it writes, so a claim waits for it.
      - Nothing is claimed or checked in check mode. Unset - no host lock.
    type: dict
    suboptions:
      path:
        description: The host lock file.
        type: path
        required: true
      run_id:
        description: The run's id (from the fleet lock, C(smtls_run.run_id)).
        type: str
        required: true
      holder:
        description: With a claim - who the run is (C(smtls_run)), written into the lock.
        type: dict
"""
