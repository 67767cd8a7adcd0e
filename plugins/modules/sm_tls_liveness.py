#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sm_tls_liveness
short_description: What certificate each SSL port of a host serves, for the liveness check
description:
  - Connects to each port of each target and returns what it serves - the certificate (no client
    certificate offered, nothing verified - a server that insists on one still shows its own), or
    with I(plain_http) whether it answers HTTP - one observation per port. It judges nothing; the
    controller compares each certificate with the one in the host's keystore.
  - The installation reads (M(sm_server_info), M(sm_webtier_info)) and the report read
    (M(sm_tls_inventory)) take the same I(liveness) targets, so a run that changes nothing needs
    no call of its own; this module is for a probing host that makes no such read (the
    controller, when C(sm_server_probe_from) is C(localhost)).
version_added: "1.3.0"
author: smtls contributors
extends_documentation_fragment:
  - smtls_liveness
options:
  timeout:
    description: Seconds for each connection.
    type: float
    default: 10
notes:
  - Supports check mode (it changes nothing).
seealso:
  - module: sm_tls_probe
"""

EXAMPLES = r"""
- name: Liveness | what each servlet of sm1 serves, from the controller
  sm_tls_liveness:
    liveness:
      - name: sm1.example.com
        host: sm1.example.com
        ports: [13443, 14443]
  delegate_to: localhost
"""

RETURN = r"""
liveness:
  description: One observation per port - name, kind, host, port, answered, reason, reason_text,
    message, sha256, subject, not_after, protocol, plain_http, probed_from.
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import smtls_liveness as liveness

ARGUMENT_SPEC = dict(
    liveness=dict(type="list", elements="dict", default=[], options=liveness.TARGET_OPTIONS),
    timeout=dict(type="float", default=10),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(changed=False, liveness=liveness.observe(module.params["liveness"],
                                                              timeout=module.params["timeout"]))


if __name__ == "__main__":
    main()
