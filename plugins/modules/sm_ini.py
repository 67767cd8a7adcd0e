#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sm_ini
short_description: Set or remove SSL parameters in Service Manager's sm.ini, touching nothing else
description:
  - Changes, adds or removes only the named C(name:value) lines of C(sm.ini); every other
    line, comment, the order and the line endings stay as they are.
  - Knows that SM 9.50 and later rewrite C(keystorePass), C(truststorePass) and
    C(ssl_trustedClientsPwd) as C(*name:<hex>) under C(smmasterkey) when they start. An
    encrypted line counts as in sync when its keystore (I(password_keystores)) opens with
    the wanted password; otherwise the wanted password is written back in plain text for SM
    to encrypt at its next start. C(smmasterkey) is never touched.
  - Credentials and the master key are masked in the diff and in every message.
  - Writes atomically, with an optional backup; check mode predicts exactly.
  - sm.ini holds secrets, so it ends no wider than C(0640) - a wider mode is capped (owner and
    group stay), even when no line changes, and reported as a change; the backup gets the
    capped mode too. A narrower mode is kept.
version_added: "1.0.0"
author: smtls contributors
extends_documentation_fragment:
  - smtls_run_lock
  - smtls_restart_record
options:
  path:
    description: The sm.ini file. It must exist (SM's installer creates it).
    type: path
    required: true
  parameters:
    description:
      - Parameters to set (C(name -> value)) or remove (C(name -> null)). Names are matched
        case-insensitively and written in the spelling given here.
    type: dict
    default: {}
  passwords:
    description: Password parameters to set (C(name -> value)); never shown.
    type: dict
    default: {}
  password_keystores:
    description:
      - For each password parameter, the keystore it opens (C(name -> path)), relative to the
        directory of I(path). Used to tell whether an encrypted line already holds the wanted
        password.
    type: dict
    default: {}
  backup:
    description: Keep a timestamped copy of sm.ini before changing it.
    type: bool
    default: false
notes:
  - Restart SM after a change; SM reads these parameters at start.
seealso:
  - module: sm_keystore
"""

EXAMPLES = r"""
- name: sm.ini | trusted clients
  sm_ini:
    path: /opt/sm/Server/RUN/sm.ini
    parameters:
      ssl: 1
      sslConnector: 1
      ssl_reqClientAuth: 2
      keystoreFile: server.keystore
      truststoreFile: cacerts
      ssl_trustedClientsJKS: trustedclients.keystore
      trustedsignon: null
    passwords:
      keystorePass: "{{ sm_server_keystore_password }}"
      truststorePass: "{{ sm_server_truststore_password }}"
      ssl_trustedClientsPwd: "{{ sm_server_trustedclients_password }}"
    password_keystores:
      keystorePass: server.keystore
      truststorePass: cacerts
      ssl_trustedClientsPwd: trustedclients.keystore
    backup: true
"""

RETURN = r"""
actions:
  description: The line changes, credentials masked; and a capped mode (C(cap mode 0644 to 0640 ...)).
  returned: always
  type: list
  elements: str
  sample: ["set ssl_reqClientAuth:2 (was 1)", "add ssl_trustedClientsPwd:********"]
encrypted:
  description: Names of the parameters SM has encrypted (C(*name:) lines), before the change.
  returned: always
  type: list
  elements: str
master_key:
  description: Whether sm.ini has an C(smmasterkey) line (SM 9.50+ has started on it).
  returned: always
  type: bool
parameters:
  description: Plain parameters before the change (credentials masked).
  returned: always
  type: dict
backup_file:
  description: The backup, when one was made.
  returned: changed and backup
  type: str
written:
  description:
    - Whether the content changed (would change) - what a restart is due for; a capped mode
      alone is not.
  returned: always
  type: bool
path:
  description: The sm.ini file.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import smtls_lock
from ansible.module_utils import smtls_smini as smini
from ansible.module_utils.smtls_files import RESTART_RECORD_OPTION, FileProblem, tighten, write_atomic

ARGUMENT_SPEC = dict(**RESTART_RECORD_OPTION, **smini.FILE_OPTIONS)
# the host lock of the run (smtls_lock: a claim by the installation reads, checked by writers)
ARGUMENT_SPEC.update(smtls_lock.HOST_LOCK_OPTION)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    # refused before anything is read or written when another run planned this host since
    smtls_lock.guard_module(module)
    p = module.params
    try:
        plan = smini.FilePlan(p["path"], p["parameters"], p["passwords"], p["password_keystores"],
                              p["backup"])
    except (smini.SmIniError, FileProblem) as exc:
        module.fail_json(msg=str(exc))
    result = dict(plan.result)
    if module._diff:
        result["diff"] = plan.diff()
    if not module.check_mode:
        try:
            if plan.wide:
                tighten(p["path"], plan.wide)
            if plan.written:
                backup_file = write_atomic(module, p["path"], plan.data, backup=p["backup"],
                                           restart_record=p["restart_record"], secret=True)
                if backup_file:
                    result["backup_file"] = backup_file
        except FileProblem as exc:
            module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
