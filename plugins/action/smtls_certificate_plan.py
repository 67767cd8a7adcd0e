# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What sm_certificate would do, worked out on the controller where the CA lives: an action with
no module, so planning (and signing a CSR in memory) costs no host a module run, and happens once
per task - never inside a template, which may be evaluated again (the engine is
module_utils/smtls_ca.py certificate_plan)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: smtls_certificate_plan
short_description: Plan what sm_certificate would do, on the controller, writing nothing
description:
  - Takes sm_certificate's options as one dict (I(request)) and returns what the module would
    return with them - ca_certificate, action, reason, chain, sha256, changed - and
    C(write_due), whether the module must run to write what the plan holds (a new CA or a
    controller-held key, a chain, an exported CSR, newly detected issuers).
  - A CSR the CA can sign is signed here, in memory, once per task; nothing is written, in check
    mode or not. C(changed) is the plan's, as the module would report it.
options:
  request:
    description:
      - sm_certificate's options (ca_dir, ca_passphrase, common_name, csr, ...), each with the
        module's default when absent or null - the same dict the write task's options come from.
    type: dict
    required: true
  errors:
    description:
      - C(raise) fails the task on a CA or file problem; C(return) returns it as C(error) (the
        preflight shows it as one line of its own).
    type: str
    default: raise
  acme:
    description:
      - The certificate comes from an ACME CA, which signs it when the order is finalized - nothing
        is planned here, and the result says an order is due.
    type: bool
    default: false
"""

import importlib.util
import os
import sys

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase


def _module_utils(name):
    """This repository's module_utils on the controller (as the filter plugins load them)."""
    loader = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils",
                          "smtls_controller.py")
    if "smtls_controller" not in sys.modules:
        spec = importlib.util.spec_from_file_location("smtls_controller", loader)
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
        sys.modules["smtls_controller"] = loaded
    return sys.modules["smtls_controller"].module_utils(name)


authority = _module_utils("smtls_ca")
pki = _module_utils("smtls_x509")
files = _module_utils("smtls_files")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(("request", "errors", "acme"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        errors = args.get("errors", "raise")
        if str(args.get("acme", False)).lower() in ("true", "1", "yes"):
            return dict(result, changed=True, action="order", chain="", write_due=False)
        if not isinstance(args.get("request"), dict):
            raise AnsibleActionFail("smtls_certificate_plan: request (sm_certificate's options, a dict) "
                                    "is required")
        try:
            plan = authority.certificate_plan(dict(args["request"]), files.read_optional)
        except ValueError as exc:
            raise AnsibleActionFail("smtls_certificate_plan: %s" % exc)
        except (pki.PkiError, files.FileProblem) as exc:
            if errors == "return":
                return dict(result, changed=False, error=str(exc))
            raise AnsibleActionFail(str(exc))
        return dict(result, **plan)
