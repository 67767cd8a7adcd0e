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
  - With I(truststore_plan), also what M(sm_truststore) would change in the web tier's
    truststores (its check-mode result, nothing written by it), in the same call - the preflight
    plans a web tier's files in one module run.
version_added: "1.0.0"
author: smtls contributors
extends_documentation_fragment:
  - smtls_run_lock
  - smtls_restart_record
  - smtls_truststore_plan
options:
  properties_file:
    description: The custom webtier.properties (created when absent).
    type: path
  properties:
    description: Properties to set (C(key -> value)) or remove (C(key -> null)).
    type: dict
    default: {}
  passwords:
    description: Password properties (C(keystorePassword)); never shown.
    type: dict
    default: {}
  password_keystores:
    description:
      - For each password property, the keystore it opens. Once the web tier has encrypted
        the value under its C(masterKey), the property counts as in sync when that keystore
        opens with the wanted password.
    type: dict
    default: {}
  web_xml:
    description: The webapp's WEB-INF/web.xml.
    type: path
  context_params:
    description: Context parameters to set or remove (C(null)) in I(web_xml).
    type: dict
    default: {}
  application_context:
    description: WEB-INF/classes/application-context.xml.
    type: path
  pre_authentication:
    description: Whether the C(/**) filter chain has C(preAuthenticationFilter) (trusted sign-on).
    type: bool
  server_xml:
    description: Tomcat's conf/server.xml.
    type: path
  tomcat_authentication:
    description:
      - C(false) sets C(tomcatAuthentication="false") on every AJP connector (trusted sign-on
        behind IIS or Apache); C(true) restores Tomcat's default by removing the attribute.
    type: bool
  https_port:
    description:
      - The browser-side HTTPS connector of I(server_xml) whose protocols I(https_protocols) sets
        (its default C(SSLHostConfig)'s C(protocols), or C(sslEnabledProtocols) in the older form).
    type: int
  https_protocols:
    description:
      - The protocols that connector enables, written comma-separated; a value naming the same
        protocols in Tomcat's C(+) spelling is left as it is.
    type: list
    elements: str
  https_keystore_password:
    description:
      - The password of that connector's keystore as Tomcat reads it (C(certificateKeystorePassword),
        or C(keystorePass) in the older form), set when the keystore is given a password of its
        own; never shown.
    type: str
  owner:
    description:
      - Owner every file named here ends with (a user name or number; omitted - left as it is).
    type: str
  group:
    description:
      - Group every file named here ends with (a group name or number; omitted - left as it is).
        The group Tomcat runs as, so that Tomcat still reads the files once their mode is capped
        at C(0640).
    type: str
  backup:
    description: Keep a timestamped copy of each file before changing it.
    type: bool
    default: false
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
truststore_plan:
  description:
    - With I(truststore_plan) - what M(sm_truststore) returns in check mode (changed, and
      truststores with their actions). A store M(sm_truststore) would refuse fails the call with
      its message.
  returned: when I(truststore_plan) is given
  type: dict
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

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import smtls_lock
from ansible.module_utils import smtls_truststore as trust
from ansible.module_utils import smtls_webtier as web
from ansible.module_utils.smtls_files import (RESTART_RECORD_OPTION, FileProblem, change_ownership,
                                              check_writable, mode_action, owner_names,
                                              ownership_change, read_optional, tighten,
                                              wanted_ids, wide_mode, write_atomic)

ARGUMENT_SPEC = dict(
    **RESTART_RECORD_OPTION,
    properties_file=dict(type="path"),
    properties=dict(type="dict", default={}),
    passwords=dict(type="dict", default={}, no_log=True),
    password_keystores=dict(type="dict", default={}, no_log=False),
    web_xml=dict(type="path"),
    context_params=dict(type="dict", default={}),
    application_context=dict(type="path"),
    pre_authentication=dict(type="bool"),
    server_xml=dict(type="path"),
    tomcat_authentication=dict(type="bool"),
    https_port=dict(type="int"),
    https_protocols=dict(type="list", elements="str"),
    https_keystore_password=dict(type="str", no_log=True),
    owner=dict(type="str"),
    group=dict(type="str"),
    backup=dict(type="bool", default=False),
    truststore_plan=dict(type="dict", options=trust.PLAN_OPTIONS),
)
# the host lock of the run (smtls_lock: a claim by the installation reads, checked by writers)
ARGUMENT_SPEC.update(smtls_lock.HOST_LOCK_OPTION)


def _read_text(path, what, required=True):
    data = read_optional(path, what)
    if data is None:
        if required:
            raise FileProblem("%s: %s does not exist (check the web tier path variables)" % (what, path))
        return None
    return data.decode("utf-8")



def plan_files(p):
    """[(path, old_text, new_text, actions, shown_old, shown_new)] for every file asked for."""
    plans = []
    secret_names = set(p["passwords"])
    if p["properties_file"] and (p["properties"] or p["passwords"]):
        old = _read_text(p["properties_file"], "webtier.properties", required=False)
        wanted = dict((k, None if v is None else str(v)) for k, v in p["properties"].items())
        wanted.update((k, str(v)) for k, v in p["passwords"].items())
        values = web.properties_values(old or "")

        def in_sync(key, current):
            # the web tier encrypts keystorePassword under its masterKey once it has run; the
            # keystore code (and cryptography) is imported only then, not on every run
            from ansible.module_utils.smtls_keystore_state import keystore_file_opens

            return "masterKey" in values and keystore_file_opens(p["password_keystores"].get(key),
                                                                 p["passwords"][key])

        new, actions = web.plan_properties(old or "", wanted, secret_names, in_sync)
        plans.append((p["properties_file"], old, new, actions,
                      web.masked_properties(old or "", secret_names),
                      web.masked_properties(new, secret_names)))
    if p["web_xml"] and p["context_params"]:
        old = _read_text(p["web_xml"], "web.xml")
        web.check_xml(old, p["web_xml"])
        new, actions = web.plan_context_params(old, p["context_params"])
        plans.append((p["web_xml"], old, new, actions, web.masked_xml(old), web.masked_xml(new)))
    if p["application_context"] and p["pre_authentication"] is not None:
        old = _read_text(p["application_context"], "application-context.xml")
        web.check_xml(old, p["application_context"])
        new, actions = web.plan_pre_authentication(old, p["pre_authentication"])
        plans.append((p["application_context"], old, new, actions, web.masked_xml(old),
                      web.masked_xml(new)))
    connector = p["https_protocols"] or p["https_keystore_password"] is not None
    if p["server_xml"] and (p["tomcat_authentication"] is not None or connector):
        old = _read_text(p["server_xml"], "server.xml")
        web.check_xml(old, p["server_xml"])
        new, actions = old, []
        if p["tomcat_authentication"] is not None:
            new, actions = web.plan_tomcat_authentication(new, p["tomcat_authentication"])
        if connector:
            if not p["https_port"]:
                raise web.WebTierError("https_protocols and https_keystore_password need "
                                       "https_port (the connector to set)")
            new, more = web.plan_https_connector(new, p["https_port"], p["https_protocols"],
                                                 p["https_keystore_password"])
            actions += more
        plans.append((p["server_xml"], old, new, actions, web.masked_xml(old), web.masked_xml(new)))
    for path, _old, new, _actions, _shown_old, _shown_new in plans:
        if path.endswith(".xml"):
            web.check_xml(new, path)
    return plans


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    # refused before anything is read or written when another run planned this host since
    smtls_lock.guard_module(module)
    p = module.params
    # the truststores first, as a separate sm_truststore call would have refused them
    truststores = trust.planned(module, p["truststore_plan"]) if p["truststore_plan"] else None
    if truststores and "error" in truststores:
        module.fail_json(msg=truststores["error"])
    wide, owners = {}, {}
    try:
        plans = plan_files(p)
        uid, gid = wanted_ids(p["owner"], p["group"], "sm_webtier_config")
        # every file this call changes can be replaced, every mode capped without locking
        # Tomcat out, and every owner and group given, before the first write
        for path, old, new, _actions, _shown_old, _shown_new in plans:
            what = os.path.basename(path)
            if old != new:
                check_writable(path, what, len(new.encode("utf-8")), p["backup"])
            if old is None:  # created by this call: predicted from who creates it
                owners[path] = ownership_change(path, what, uid, gid)
                continue
            found = os.stat(path)
            wide[path] = wide_mode(path, what)
            if wide[path]:
                web.refuse_tomcat_lockout(path, wide[path][0],
                                          found.st_uid if uid is None else uid, found.st_gid,
                                          bool(p["group"]), owner_names(found.st_uid, found.st_gid))
            owners[path] = ownership_change(path, what, uid, gid,
                                            current=(found.st_uid, found.st_gid))
    except (web.WebTierError, FileProblem) as exc:
        module.fail_json(msg=str(exc))
    files, diffs, changed = [], [], False
    for path, old, new, actions, shown_old, shown_new in plans:
        did = old != new
        capped = wide.get(path)
        owner_actions, target = owners[path]
        entry = dict(path=path, changed=did or bool(capped) or bool(target), written=did,
                     actions=actions + ([mode_action(capped)] if capped else []) + owner_actions)
        changed = changed or entry["changed"]
        if did:
            diffs.append(dict(before=shown_old, after=shown_new, before_header=path,
                              after_header=path))
        if not module.check_mode:
            try:
                if capped:
                    tighten(path, capped)
                # an existing file gets its owner and group before the write, which keeps them
                # (as it keeps the mode); a new one once it exists
                if target and old is not None:
                    change_ownership(path, target)
                if did:
                    backup_file = write_atomic(module, path, new.encode("utf-8"),
                                               backup=p["backup"], mode=0o640,
                                               restart_record=p["restart_record"], secret=True)
                    if backup_file:
                        entry["backup_file"] = backup_file
                if target and old is None:
                    change_ownership(path, target)
            except FileProblem as exc:
                module.fail_json(msg=str(exc))
        files.append(entry)
    result = dict(changed=changed, files=files)
    if module._diff:
        result["diff"] = diffs
    if truststores:
        result["truststore_plan"] = truststores
    module.exit_json(**result)


if __name__ == "__main__":
    main()
