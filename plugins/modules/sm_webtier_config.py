#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sm_webtier_config
short_description: Set the SM web tier's SSL and sign-on settings in place
description:
  - One call for all the web tier files a mode touches, each edited in place - only the
    settings named change; comments, layout and every other setting stay.
  - The custom C(webtier.properties) (which wins over C(WEB-INF/webtier.properties) and
    C(web.xml)) - I(properties) and I(passwords).
  - C(web.xml) context parameters, where a site keeps them there - I(context_params).
  - C(application-context.xml) - the C(preAuthenticationFilter) of trusted sign-on, in the 9.60+
    C(filter-chain) form or the 9.41 C(/**=...) form - I(pre_authentication).
  - Tomcat's C(server.xml) - C(tomcatAuthentication="false") on the AJP connector -
    I(tomcat_authentication); the protocols of the browser-side HTTPS connector - I(https_port),
    I(https_protocols).
  - XML results are parsed before they are written; a file that is not well-formed is
    refused untouched. Writes are atomic with an optional backup; check mode predicts
    exactly; passwords and the web tier C(masterKey) are masked in diffs.
  - The files hold secrets (C(keystorePassword), the C(masterKey)), so each file named here ends
    no wider than C(0640) - a wider mode is capped (owner and group stay), even when no
    setting changes, and reported as a change; a backup gets the capped mode too. A narrower
    mode is kept.
  - Tomcat runs as a user of its own and often reads these files as "other" (an installer's
    C(root:root 0644)). With I(group) (the group Tomcat runs as) every file named here ends with
    that group - and with I(owner), that owner - applied like the mode cap, even when no setting
    changes, predicted in check mode and reported as a change (C(group root to tomcat)). Without
    I(group), a C(root:root) file that others may read is refused before anything is written, in
    check mode too, instead of being capped so that Tomcat could no longer read it.
  - M(sm_webtier_info) plans this step with the same options (its I(config_plan)), in the
    installation read - the preflight and the write share one engine.
version_added: "1.0.0"
author: smtls contributors
extends_documentation_fragment:
  - smtls_webtier_files
  - smtls_run_lock
  - smtls_restart_record
notes:
  - Restart Tomcat after a change.
seealso:
  - module: sm_ini
"""

EXAMPLES = r"""
- name: Web tier | trusted sign-on settings
  sm_webtier_config:
    properties_file: /opt/sm/webtier-customize/config/webtier.properties
    properties:
      ssl: "true"
      serverHost: sm1.example.com
      serverPort: 13443
      cacerts: /WEB-INF/cacerts
      keystore: /WEB-INF/webtier.keystore
      isCustomAuthenticationUsed: "false"
    passwords:
      keystorePassword: "{{ sm_webtier_keystore_password }}"
    password_keystores:
      keystorePassword: /var/lib/tomcat10/webapps/webtier-9.61/WEB-INF/webtier.keystore
    application_context: /var/lib/tomcat10/webapps/webtier-9.61/WEB-INF/classes/application-context.xml
    pre_authentication: true
    server_xml: /etc/tomcat10/server.xml
    tomcat_authentication: false
    owner: root
    group: tomcat
    backup: true
"""

RETURN = r"""
files:
  description: Per file, what changed (or would change).
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    changed:
      description: Whether it changed (its content, mode, owner or group).
      type: bool
    written:
      description:
        - Whether its content changed (would change) - what a restart is due for; a capped mode,
          owner or group alone is not.
      type: bool
    actions:
      description:
        - The edits, passwords masked; a capped mode (C(cap mode 0644 to 0640 ...)); a new owner or
          group (C(group root to tomcat)).
      type: list
      elements: str
    backup_file:
      description: The backup, when one was made.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import smtls_lock
from ansible.module_utils import smtls_webtier as web
from ansible.module_utils import smtls_webtier_files as files
from ansible.module_utils.smtls_files import RESTART_RECORD_OPTION, FileProblem

ARGUMENT_SPEC = dict(
    RESTART_RECORD_OPTION,
    **files.OPTIONS
)
# the host lock of the run (smtls_lock: a claim by the installation reads, checked by writers)
ARGUMENT_SPEC.update(smtls_lock.HOST_LOCK_OPTION)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    # refused before anything is read or written when another run planned this host since
    smtls_lock.guard_module(module)
    p = module.params
    try:
        result = files.apply(module, p, restart_record=p["restart_record"])
    except (web.WebTierError, FileProblem) as exc:
        module.fail_json(msg=str(exc))
    if not module._diff:
        del result["diff"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
