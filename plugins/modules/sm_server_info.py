#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sm_server_info
short_description: What an SM server installation tells about itself
description:
  - Reads, without changing anything, what the SSL settings of an SM server depend on and
    no inventory should have to guess - today the JRE the server runs, so that
    C(sslEnabledProtocols) only names protocols that JRE can enable.
  - The JRE's vendor and version come from its C(release) file (C(BUILD_TYPE), C(IMPLEMENTOR),
    C(JAVA_VERSION)), else from C(bin/java -version) of that JRE (one JVM start, only when the file
    does not tell the version, or on Java 8 the vendor, which decides TLS 1.3 there).
  - With I(run_dir), the installation model (C(installation)) - the SM release, the start file SM
    uses (C(smstart) on Unix, C(sm.cfg) on Windows) and every process it starts with its role
    (load balancer, servlet, background), the JRE's vendor and version, and C(fipsmode) - so that
    every servlet port is proven after a restart and every SSL decision follows the installation.
  - Also proves the host answers, so the preflight needs no separate ping for a server.
  - With I(ini_plan) and I(truststore_plan), also what M(sm_ini) and M(sm_truststore) would
    change (their check-mode results), in the same call - the preflight's read of a server is
    one module run.
version_added: "1.1.0"
author: smtls contributors
extends_documentation_fragment:
  - smtls_run_lock
  - smtls_truststore_plan
  - smtls_liveness
options:
  jre_dir:
    description:
      - Home of the JRE the SM server runs (SM bundles one as C(<RUN>/jre)). When it is
        missing or tells no version, C(jre.version) is empty and C(jre.tls13) is null; the
        roles then write C(TLSv1.2) only, the one protocol the vendor documents.
    type: path
    required: true
  run_dir:
    description:
      - The server's C(RUN) directory - read for the installation model (its C(sm.ini),
        C(smstart) and C(sm.cfg)). Absent - no installation model, and C(servlets) is empty.
      - A malformed port on a start file's C(sm) line is an error naming the file and line.
    type: path
  start_file:
    description:
      - The start file SM uses. C(auto) - C(smstart) where it starts an C(sm) process (SM on Unix
        starts from it), else C(sm.cfg).
    type: str
    choices: [auto, sm.cfg, smstart]
    default: auto
  release:
    description:
      - The SM release (C(9.61)). C(auto) - read from the installation directory's name
        (C(ServiceManager9.61), C(Service Manager 9.61)).
    type: str
    default: auto
  keystore:
    description:
      - The server keystore, read in the same call as M(sm_keystore_info) reads it (the preflight's
        read, which the rollout then reuses) - returned as C(keystore).
    type: dict
    suboptions:
      path:
        description: The keystore file.
        type: path
        required: true
      fips_path:
        description: The file under C(fipsmode:1) (PKCS#12), when it differs from I(path).
        type: path
      password:
        description: Its wanted password.
        type: str
      initial_passwords:
        description: Passwords it may have now instead (the vendor's), tried after I(password).
        type: list
        elements: str
        default: []
      known_cas:
        description: CAs that are ours (PEM); a key entry's issuer outside them is its C(foreign_issuer).
        type: list
        elements: str
      writable:
        description: Refuse a keystore that could not be replaced.
        type: bool
        default: false
  trusted_clients:
    description:
      - The trusted-clients keystore (the allowlist), read in the same call - returned as
        C(trusted_clients). Absent is no error (the rollout creates it).
    type: dict
    suboptions:
      path:
        description: The keystore file.
        type: path
        required: true
      fips_path:
        description: The file under C(fipsmode:1) (PKCS#12), when it differs from I(path).
        type: path
      password:
        description: Its password.
        type: str
      writable:
        description: Refuse a keystore that could not be replaced.
        type: bool
        default: false
  client_ca:
    description:
      - The client CA truststore (C(truststoreFile)), read in the same call - returned as
        C(client_ca). Absent is no error (the rollout creates it).
    type: dict
    suboptions:
      path:
        description: The keystore file.
        type: path
        required: true
      fips_path:
        description: The file under C(fipsmode:1) (PKCS#12), when it differs from I(path).
        type: path
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
  ini_plan:
    description:
      - The server's C(sm.ini), planned as M(sm_ini) plans it, nothing written - returned as
        C(ini_plan). The suboptions are M(sm_ini)'s, and I(ssl_protocols).
    type: dict
    suboptions:
      path:
        description: The C(sm.ini) file.
        type: path
        required: true
      parameters:
        description: The parameters to set (null removes one).
        type: dict
        default: {}
      passwords:
        description: Password parameters (never shown).
        type: dict
        default: {}
      password_keystores:
        description: The keystore each password parameter opens (an encrypted line in sync).
        type: dict
        default: {}
      backup:
        description: Whether the write would keep a backup (room for it is checked).
        type: bool
        default: false
      fips_parameters:
        description:
          - Under C(fipsmode:1) (read from I(run_dir)'s C(sm.ini)) - the values that replace those of
            I(parameters) (the PKCS#12 stores' files and types); only parameters I(parameters) sets.
        type: dict
        default: {}
      fips_password_keystores:
        description: Under C(fipsmode:1) - the stores the password parameters open instead.
        type: dict
        default: {}
      ssl_protocols:
        description:
          - C(auto), or a list - C(sslEnabledProtocols) chosen for the JRE read in this call
            (TLSv1.3 beside TLSv1.2 only where it has TLS 1.3), the rule the roles apply too.
            Unset - the parameter as I(parameters) gives it.
        type: raw
notes:
  - Supports check mode (it never changes anything).
seealso:
  - module: sm_ini
"""

EXAMPLES = r"""
- name: Server | the installation
  sm_server_info:
    jre_dir: /opt/MicroFocus/ServiceManager9.61/Server/RUN/jre
  register: server_info

- name: Server | TLS 1.3 only where the JRE has it
  ansible.builtin.debug:
    msg: "{{ ['TLSv1.2', 'TLSv1.3'] if server_info.jre.tls13 else ['TLSv1.2'] }}"
"""

RETURN = r"""
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
jre:
  description: The JRE the server runs.
  returned: always
  type: dict
  contains:
    home:
      description: I(jre_dir).
      type: str
    found:
      description: Whether I(jre_dir) exists.
      type: bool
    version:
      description: Its Java version as the JRE states it; empty when unknown.
      type: str
      sample: 1.8.0_202
    source:
      description: Where the version was read - C(release), C(java -version) or C(none).
      type: str
    tls13:
      description:
        - Whether this JRE can enable TLSv1.3 (Java 11+; Java 8 from 8u261 on Oracle, 8u272 on
          OpenJDK); null when unknown (an unknown vendor's Java 8 from 8u261 included).
      type: bool
    vendor:
      description: C(oracle), C(openjdk), C(ibm) or C(unknown).
      type: str
    vendor_source:
      description: What told the vendor (the release file's field, or C(java -version)).
      type: str
    implementor:
      description: The release file's C(IMPLEMENTOR), as written.
      type: str
keystore:
  description:
    - With I(keystore) - as M(sm_keystore_info) returns it (exists, type, entries with chain_pem,
      password_used), or C(error) - the message M(sm_keystore_info) would fail with.
  returned: when I(keystore) is given
  type: dict
trusted_clients:
  description:
    - With I(trusted_clients) - as M(sm_keystore_info) returns it (exists, type, entries), or
      C(error) - the message it would fail with.
  returned: when I(trusted_clients) is given
  type: dict
client_ca:
  description:
    - With I(client_ca) - as M(sm_keystore_info) returns it (exists, type, entries), or C(error) -
      the message it would fail with.
  returned: when I(client_ca) is given
  type: dict
ini_plan:
  description:
    - With I(ini_plan) - what M(sm_ini) returns in check mode (changed, written, actions,
      parameters, encrypted, master_key, path), or C(error) - the message it would fail with.
  returned: when I(ini_plan) is given
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
      target without ports is probed on every servlet of the I(sm_cfg) read here.
  returned: always
  type: list
  elements: dict
restart_pending:
  description:
    - With I(restart_record) - whether the record holds anything (a restart left due by an
      interrupted run); true too when it cannot be read (the restart step then names the problem).
  returned: when I(restart_record) is given
  type: bool
installation:
  description:
    - With I(run_dir) - the installation model (module_utils/smtls_installation.py) - C(platform),
      C(release) (version, source, encrypts_passwords), C(start_file) (path, name, why, ignored),
      C(processes) (each C(line), C(role), C(http_port), C(https_port)), C(jre), C(fips)
      (enabled), C(outbound_hints) and C(problems) (what the preflight refuses).
  returned: when I(run_dir) is given
  type: dict
servlets:
  description: The processes of the start file that listen on a port (servlets and the load balancer), in
    file order; empty without I(run_dir).
  returned: always
  type: list
  elements: dict
  contains:
    line:
      description: Line number in the start file.
      type: int
    role:
      description: C(load_balancer) (HTTP only) or C(servlet).
      type: str
    http_port:
      description: Its C(-httpPort), or null.
      type: int
    https_port:
      description: Its C(-httpsPort), or null.
      type: int
    load_balancer:
      description: Whether the line starts the load balancer (C(-loadBalancer)).
      type: bool
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import smtls_lock
from ansible.module_utils import smtls_installation as installation
from ansible.module_utils import smtls_inventory as inv
from ansible.module_utils import smtls_jre as jre
from ansible.module_utils import smtls_liveness as liveness
from ansible.module_utils import smtls_smcfg as smcfg
from ansible.module_utils import smtls_smini as smini
from ansible.module_utils import smtls_truststore as trust
from ansible.module_utils.smtls_files import FileProblem, read_optional, restart_record_pending

ARGUMENT_SPEC = dict(
    jre_dir=dict(type="path", required=True),
    run_dir=dict(type="path"),
    start_file=dict(type="str", choices=["auto"] + list(smcfg.START_FILES), default="auto"),
    release=dict(type="str", default="auto"),
    keystore=dict(type="dict", options=inv.store_read_options(
        initial_passwords=dict(type="list", elements="str", default=[], no_log=True),
        known_cas=dict(type="list", elements="str"), fips_path=dict(type="path"))),
    trusted_clients=dict(type="dict", options=inv.store_read_options(fips_path=dict(type="path"))),
    client_ca=dict(type="dict", options=inv.store_read_options(fips_path=dict(type="path"))),
    restart_record=dict(type="path"),
    ini_plan=dict(type="dict", options=dict(smini.FILE_OPTIONS, ssl_protocols=dict(type="raw"),
                                            fips_parameters=dict(type="dict", default={}),
                                            fips_password_keystores=dict(type="dict", default={}))),
    truststore_plan=dict(type="dict", options=trust.PLAN_OPTIONS),
    liveness=dict(type="list", elements="dict", default=[], options=liveness.TARGET_OPTIONS),
)
# the host lock of the run (smtls_lock: a claim by the installation reads, checked by writers)
ARGUMENT_SPEC.update(smtls_lock.HOST_LOCK_OPTION)


def ini_plan(options, found_jre, fips=False):
    """sm_ini's check-mode result for these options, or {'error': message}; under fipsmode:1 the
    parameters (and the stores passwords open) as the FIPS variants give them."""
    parameters, keystores = dict(options["parameters"]), dict(options["password_keystores"])
    if fips:
        parameters.update((k, v) for k, v in options["fips_parameters"].items()
                          if parameters.get(k) is not None)
        keystores.update((k, v) for k, v in options["fips_password_keystores"].items() if k in keystores)
    if options["ssl_protocols"] is not None:
        protocols = jre.protocols_for(options["ssl_protocols"], found_jre)
        if protocols:
            parameters["sslEnabledProtocols"] = ",".join(protocols)
    try:
        return smini.FilePlan(options["path"], parameters, options["passwords"],
                              keystores, options["backup"]).result
    except (smini.SmIniError, FileProblem) as exc:
        return {"error": str(exc)}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    # the host lock claimed for this run before anything is read: the plan below is this run's
    claimed = {}
    smtls_lock.claim_module(module, claimed)

    def run_java(argv):
        rc, out, err = module.run_command(argv)
        return rc, (err or "") + (out or "")

    model, servlets = None, []
    run_dir = module.params["run_dir"]
    if run_dir:
        # a missing RUN directory is sm_ini's to name, with its fix
        def read(path):
            return read_optional(path, os.path.basename(path)) if os.path.isdir(run_dir) else None
        try:
            model = installation.read(run_dir, module.params["jre_dir"], read, run_java,
                                      start_file=module.params["start_file"],
                                      given_release=module.params["release"])
        except (smcfg.SmCfgError, FileProblem) as exc:
            module.fail_json(msg=str(exc))
        servlets = model["servlets"]
    found_jre = model["jre"] if model else jre.detect(module.params["jre_dir"], run_java)
    result = dict(claimed, changed=False, jre=found_jre, servlets=servlets)
    if model:
        result["installation"] = model
    fips = bool(model and model["fips"]["enabled"])
    # the stores in the same call, under fipsmode:1 their PKCS#12 files (errors returned, for the
    # preflight to report)
    for store in ("keystore", "trusted_clients", "client_ca"):
        options = module.params[store]
        if not options:
            continue
        options = dict(options, path=(fips and options["fips_path"]) or options["path"])
        result[store] = dict(inv.keystore_read(options, return_pem=store == "keystore"), path=options["path"])
    if module.params["restart_record"]:
        result["restart_pending"] = restart_record_pending(module.params["restart_record"])
    # what sm_ini and sm_truststore would change, planned by their engines in this call
    if module.params["ini_plan"]:
        result["ini_plan"] = ini_plan(module.params["ini_plan"], found_jre, fips)
    if module.params["truststore_plan"]:
        result["truststore_plan"] = trust.planned(module, module.params["truststore_plan"])
    # the run's liveness check where the server probes itself (sm_server_probe_from), in this call
    result["liveness"] = liveness.observe(module.params["liveness"], servlets=servlets)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
