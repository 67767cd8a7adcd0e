#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sm_webtier_info
short_description: What an SM web tier's Tomcat tells about itself
description:
  - Reads, without changing anything, what the web tier's SSL depends on and no inventory should
    have to guess - whether the web tier webapp is where the inventory says, the JRE Tomcat runs
    (so that the browser-side connector only names protocols that JRE can enable), and Tomcat's
    HTTPS connectors in C(server.xml) with the keystores they serve.
  - A connector is an HTTPS connector when it has C(SSLEnabled="true"); its keystore is the
    default C(SSLHostConfig)'s C(Certificate) (Tomcat 8.5 and later) or the connector's own
    C(keystoreFile) (the older form). Connectors inside XML comments are not connectors.
  - Each keystore is opened with the password C(server.xml) gives it (Tomcat's default
    C(changeit) when none), as Tomcat itself will open it at its next start.
  - The results carry those passwords (the roles need them to manage the keystore), so the task
    that registers them must use C(no_log).
  - Also proves the host answers, so the preflight needs no separate check for a web tier.
  - With I(config_plan) and I(truststore_plan), also what M(sm_webtier_config) and
    M(sm_truststore) would change, in the same call (their check-mode results, nothing written) -
    the preflight plans a web tier's files in this one module run.
version_added: "1.2.0"
author: smtls contributors
extends_documentation_fragment:
  - smtls_liveness
  - smtls_run_lock
  - smtls_truststore_plan
  - smtls_webtier_files.plan
options:
  webapp_dir:
    description: The exploded SM web tier webapp (its C(WEB-INF/web.xml) must exist).
    type: path
    required: true
  server_xml:
    description: Tomcat's C(server.xml). Absent - no connectors.
    type: path
  catalina_base:
    description: Tomcat's C(CATALINA_BASE), which relative keystore names start from.
    type: path
  keystore_password:
    description:
      - The password the connector's keystore is to have (when smtls gives it one of its own). A
        keystore that opens with it counts as opening too - a run stopped between writing the
        keystore and C(server.xml) leaves it so.
    type: str
  browser_connector:
    description:
      - The browser-side HTTPS connector, chosen here by one rule for the plan and the roles
        (returned as C(browser_connector)); with I(manage), I(config_plan) also sets its protocols
        (for the JRE read here) and its keystore password (I(keystore_password)) - values the
        roles cannot know before this read.
    type: dict
    suboptions:
      port:
        description: Its port; 0 - the first HTTPS connector serving a Java keystore.
        type: int
        default: 0
      manage:
        description: Whether the settings plan sets the connector's protocols and keystore password.
        type: bool
        default: false
      protocols:
        description:
          - The protocols asked for - C(auto) (TLS 1.2, and TLS 1.3 where the JRE has it) or a
            list, as the roles' C(smtls_ssl_protocols).
        type: raw
        default: auto
  jre_dirs:
    description:
      - Where the JRE Tomcat runs may be, in Tomcat's own search order; glob patterns allowed.
        The first existing directory is read (its C(release) file, else C(bin/java -version)).
        None - C(jre.version) is empty and C(jre.tls13) null, so the roles write C(TLSv1.2) only.
    type: list
    elements: str
    default: []
  client_keystore:
    description:
      - The web tier's client keystore, read in the same call as M(sm_keystore_info) reads it with
        I(return_pem) (the preflight's read, which the rollout then reuses) - returned as
        C(client_keystore). Absent is no error (the rollout creates it).
    type: dict
    suboptions:
      path:
        description: The keystore file.
        type: path
        required: true
      password:
        description: Its password.
        type: str
      writable:
        description: Refuse a keystore that could not be replaced.
        type: bool
        default: false
  restart_record:
    description:
      - The host's restart record (see M(sm_pending_restart)), read in the same call - returned as
        C(restart_pending), so a run that writes nothing on the host needs no read of its own.
    type: path
notes:
  - Supports check mode (it never changes anything).
seealso:
  - module: sm_server_info
  - module: sm_webtier_config
"""

EXAMPLES = r"""
- name: Web tier | the installation
  sm_webtier_info:
    webapp_dir: /var/lib/tomcat10/webapps/webtier-9.61
    server_xml: /etc/tomcat10/server.xml
    catalina_base: /var/lib/tomcat10
    jre_dirs: [/usr/lib/jvm/default-java, /usr/lib/jvm/java-*-openjdk-*]
  register: webtier_info
  no_log: true  # the connectors' keystore passwords
"""

RETURN = r"""
config_plan:
  description:
    - With I(config_plan) - what M(sm_webtier_config) returns in check mode (changed, files with
      their actions), or C(error) - the message it would fail with.
  returned: when I(config_plan) is given
  type: dict
truststore_plan:
  description:
    - With I(truststore_plan) - what M(sm_truststore) returns in check mode (changed, and
      truststores with their actions), or C(error) - the message it would fail with.
  returned: when I(truststore_plan) is given
  type: dict
liveness:
  description:
    - What each port of I(liveness) serves, one observation per port (see M(sm_tls_liveness)); a
      target without ports is probed on the first HTTPS connector with a keystore found here.
  returned: always
  type: list
  elements: dict
run_lock:
  description:
    - With I(run_lock), outside check mode - the host lock this call claimed for the run (C(path),
      C(run_id)) - what the writing modules are given.
  returned: when the host lock was claimed
  type: dict
run_lock_previous:
  description:
    - The holder (run id, user, controller, pid, playbook, since) of another run whose claim of
      the host this call ended; its writes on the host are refused from now on.
  returned: when another run had claimed the host
  type: dict
webapp_found:
  description: Whether C(WEB-INF/web.xml) exists under I(webapp_dir).
  returned: always
  type: bool
jre:
  description:
    - The JRE Tomcat runs, as M(sm_server_info) returns it (home, found, version, source, vendor,
      vendor_source, implementor, tls13).
  returned: always
  type: dict
browser_connector:
  description:
    - The connector of I(browser_connector) (an item of C(https_connectors)), or C({}) when there
      is none.
  returned: when I(browser_connector) is given
  type: dict
https_connectors:
  description: Tomcat's HTTPS connectors, in file order.
  returned: always
  type: list
  elements: dict
  contains:
    port:
      description: The connector's port.
      type: int
    form:
      description: C(SSLHostConfig) or C(Connector) (the older attributes).
      type: str
    keystore:
      description: The keystore as Tomcat resolves its name; null for PEM files or none named.
      type: str
    keystore_password:
      description: Its password as C(server.xml) gives it (secret).
      type: str
    keystore_type:
      description: JKS or PKCS12.
      type: str
    key_alias:
      description: The alias Tomcat serves, or null (Tomcat takes the first key entry).
      type: str
    protocols:
      description: The protocols attribute as it is, or null (Tomcat's default).
      type: str
    keystore_found:
      description: Whether the keystore exists.
      type: bool
    keystore_opens:
      description: Whether the keystore opens with its password (or with I(keystore_password)).
      type: bool
    read:
      description: When it opens - the keystore as M(sm_keystore_info) reads it with I(return_pem).
      type: dict
restart_pending:
  description:
    - With I(restart_record) - whether the record holds anything (a restart left due by an
      interrupted run); true too when it cannot be read (the restart step then names the problem).
  returned: when I(restart_record) is given
  type: bool
client_keystore:
  description:
    - With I(client_keystore) - as M(sm_keystore_info) returns it with I(return_pem), or C(error) -
      the message it would fail with.
  returned: when I(client_keystore) is given
  type: dict
"""

import glob
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import smtls_lock
from ansible.module_utils import smtls_inventory as inv
from ansible.module_utils import smtls_jre as jre
from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_liveness as liveness
from ansible.module_utils import smtls_truststore as trust
from ansible.module_utils import smtls_webtier as web
from ansible.module_utils import smtls_webtier_files as files
from ansible.module_utils import smtls_x509 as pki
from ansible.module_utils.smtls_files import FileProblem, read_optional, restart_record_pending

ARGUMENT_SPEC = dict(
    webapp_dir=dict(type="path", required=True),
    server_xml=dict(type="path"),
    catalina_base=dict(type="path"),
    jre_dirs=dict(type="list", elements="str", default=[]),
    keystore_password=dict(type="str", no_log=True),
    browser_connector=dict(type="dict", options=dict(
        port=dict(type="int", default=0),
        manage=dict(type="bool", default=False),
        protocols=dict(type="raw", default="auto"))),
    client_keystore=dict(type="dict", options=inv.store_read_options()),
    restart_record=dict(type="path"),
    liveness=dict(type="list", elements="dict", default=[], options=liveness.TARGET_OPTIONS),
    # the write steps' plans, from the options the writes take (one engine each)
    config_plan=dict(type="dict", options=files.OPTIONS),
    truststore_plan=dict(type="dict", options=trust.PLAN_OPTIONS),
)
# the host lock of the run (smtls_lock: a claim by the installation reads, checked by writers)
ARGUMENT_SPEC.update(smtls_lock.HOST_LOCK_OPTION)


def first_jre_dir(patterns):
    for pattern in patterns:
        for path in sorted(glob.glob(os.path.expanduser(pattern))):
            if os.path.isdir(path):
                return path
    return patterns[0] if patterns else ""


def connectors(server_xml, catalina_base, wanted_password=None):
    data = read_optional(server_xml, "server.xml") if server_xml else None
    if data is None:
        return []
    text = data.decode("utf-8")
    web.check_xml(text, server_xml)
    found = []
    for connector in web.https_connectors(text, catalina_base or ""):
        del connector["keystore_file"]
        # a keystore (or its directory) that is not there is a finding for the preflight
        connector["keystore_found"] = bool(connector["keystore"]) and os.path.isfile(connector["keystore"])
        connector["keystore_opens"] = False
        if connector["keystore_found"]:
            try:
                # as sm_keystore_info reads it: the identity flow reuses this read
                connector["read"] = inv.keystore_info(
                    connector["keystore"], connector["keystore_password"],
                    [wanted_password] if wanted_password is not None else [], return_pem=True)
                connector["keystore_opens"] = True
            except (ks.KeystoreError, pki.PkiError):
                pass
        found.append(connector)
    return found


def settings_plan_args(p, chosen, jre_read):
    """The settings step's options for its plan: the role's, and - where the connector is managed
    - its port, the protocols for the JRE read here and its keystore password, as the role gives
    the write once it has this read."""
    args = dict(p["config_plan"])
    if p["browser_connector"] and p["browser_connector"]["manage"] and chosen:
        args["https_port"] = chosen["port"]
        args["https_protocols"] = jre.protocols_for(p["browser_connector"]["protocols"], jre_read) or None
        if p["keystore_password"] is not None:
            args["https_keystore_password"] = p["keystore_password"]
    return args


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    # the host lock claimed for this run before anything is read: the plan below is this run's
    claimed = {}
    smtls_lock.claim_module(module, claimed)
    p = module.params

    def run_java(argv):
        rc, out, err = module.run_command(argv)
        return rc, (err or "") + (out or "")

    try:
        found = connectors(p["server_xml"], p["catalina_base"], p["keystore_password"])
    except (web.WebTierError, FileProblem) as exc:
        module.fail_json(msg=str(exc))
    jre_dir = first_jre_dir(p["jre_dirs"])
    result = dict(claimed, changed=False,
                  webapp_found=os.path.isfile(os.path.join(p["webapp_dir"], "WEB-INF", "web.xml")),
                  jre=jre.detect(jre_dir, run_java), https_connectors=found)
    chosen = {}
    if p["browser_connector"]:
        chosen = result["browser_connector"] = web.browser_connector(found, p["browser_connector"]["port"])
    if p["client_keystore"]:
        # its error returned, for the preflight to report
        result["client_keystore"] = inv.keystore_read(p["client_keystore"], return_pem=True)
    if module.params["restart_record"]:
        result["restart_pending"] = restart_record_pending(module.params["restart_record"])
    # the run's liveness check: the servers this web tier probes (sm_server_probe_from), and its
    # browser-side connector, in the read it makes anyway
    result["liveness"] = liveness.observe(p["liveness"], connectors=found)
    # what the settings and truststore steps would change; their errors returned, for the preflight
    if p["config_plan"]:
        result["config_plan"] = files.plan(settings_plan_args(p, chosen, result["jre"]))
    if p["truststore_plan"]:
        result["truststore_plan"] = trust.planned(module, p["truststore_plan"])
    # The connectors' passwords are returned on purpose (the task that registers them is no_log).
    # Ansible masks every value of a no_log option wherever it appears in the result, so a client
    # keystore password or a wanted connector password equal to one (Tomcat's changeit, or the
    # password a rollout gave the connector) would come back as a mask, and the rollout would then
    # open that keystore with the mask. The invocation was logged, masked, when the module started.
    for connector in found:
        module.no_log_values.discard(connector.get("keystore_password"))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
