#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sm_tls_inventory
short_description: Read everything TLS on a Service Manager host in one call, for the fleet report
description:
  - Reads all of a host's keystores and truststores, and the SSL settings of C(sm.ini) or of
    the web tier, in one call and without changing anything. The fleet report
    (M(sm_fleet_report)) turns the result into findings.
  - For each store - opened with its configured password, else one of its initial passwords,
    else a well-known default - it says which kind of password opened it (never the password),
    and lists the entries with issuer, SANs and expiry, and whether each is an untrusted CA
    (the vendor's sample CA), was issued by one (the sample certificate), is our CA or was
    issued by it.
  - A store that cannot be opened or read is reported as such; it does not fail the call.
version_added: "1.0.0"
author: smtls contributors
extends_documentation_fragment:
  - smtls_liveness
options:
  stores:
    description: The host's stores.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Keystore file.
        type: path
        required: true
      purpose:
        description:
          - C(identity) holds the host's own key and certificate (server keystore, web tier
            client keystore), C(truststore) the CAs it trusts (a C(cacerts)), C(allowlist) the
            trusted-clients keystore.
        type: str
        required: true
        choices: [identity, truststore, allowlist]
      label:
        description: What the store is, for people (C(server keystore (keystoreFile))).
        type: str
      password:
        description: The password the inventory gives it; tried first.
        type: str
        no_log: true
      initial_passwords:
        description:
          - Passwords it may have now instead of I(password) (the inventory's initial ones, before
            smtls moves it), tried in order after I(password); C(password_used) is then C(initial).
        type: list
        elements: str
        default: []
        no_log: true
      type:
        description: The type the inventory expects; a different file type is reported.
        type: str
        choices: [jks, pkcs12]
      required:
        description: Whether the SSL mode needs this store (a missing one is then a finding).
        type: bool
        default: false
      default_password_expected:
        description:
          - smtls leaves this store's password at a well-known default by design (a bundled
            JRE's C(cacerts), a Windows client's bundle truststore); opening with one is then
            worth a note, not a warning.
        type: bool
        default: false
      entries:
        description:
          - C(all) lists every entry. C(notable) lists only key entries, untrusted CAs and
            what they issued, and our CA and what it issued - for a C(cacerts) of a hundred-odd
            public CAs; C(entry_count) still counts them all.
        type: str
        choices: [all, notable]
        default: all
      fips_path:
        description: The store's file when I(installation) finds C(fipsmode:1) (its PKCS#12 file).
        type: path
      fips_type:
        description: Its type then.
        type: str
        choices: [jks, pkcs12]
  untrusted_cas:
    description: The untrusted CAs (C(smtls_untrusted_cas)); each item matches by any of its keys.
    type: list
    elements: dict
    default: []
    suboptions:
      alias:
        description: Alias (case-insensitive).
        type: str
      sha256:
        description: SHA-256 fingerprint (hex, colons allowed).
        type: str
      subject:
        description: Subject DN, RFC 4514.
        type: str
      issuer:
        description: Issuer DN, RFC 4514.
        type: str
  known_cas:
    description: Our CA certificates (PEM), current and accepted ones.
    type: list
    elements: str
    default: []
  detect_foreign_issuers:
    description:
      - For a server - the issuer of a key entry in an C(identity) store that no I(known_cas)
        signed (on a server smtls never managed, the vendor's sample CA) is listed in that
        store's C(foreign_issuers) and counts as an untrusted CA in every store of the call,
        so a fresh installation's report flags its sample CA with no I(untrusted_cas).
        Identity stores are read first.
    type: bool
    default: false
  well_known_passwords:
    description:
      - Passwords anyone can look up. A store that opens with one of them is reported; the
        password itself never is.
      - When omitted, the JDK's C(changeit) and C(changeme) and the example passwords of the
        vendor's documentation and certificate tool (C(serverkeystore), C(trustedclients),
        C(clientkeystore), C(caroot)) - built in, so that they are not echoed as module
        arguments either.
    type: list
    elements: str
  sm_ini:
    description: The server's C(sm.ini), whose SSL settings are read (credentials masked).
    type: path
  sm_cfg:
    description: The server's C(sm.cfg), whose servlets (and their ports) are listed.
    type: path
  installation:
    description:
      - An SM server's installation model, read as M(sm_server_info) reads it (release, start file
        and its processes, JRE vendor and version, C(fipsmode)) - returned as C(installation); its
        servlets are then the start file's (C(sm_cfg) is given them too). Under C(fipsmode:1) a store
        with I(fips_path) is read there, as I(fips_type).
    type: dict
    suboptions:
      run_dir:
        description: The RUN directory.
        type: path
        required: true
      jre_dir:
        description: The JRE's home.
        type: path
        required: true
      start_file:
        description: C(auto), C(sm.cfg) or C(smstart), as for M(sm_server_info).
        type: str
        choices: [auto, sm.cfg, smstart]
        default: auto
      release:
        description: The SM release, or C(auto).
        type: str
        default: auto
  webtier_properties:
    description: The web tier's custom C(webtier.properties) (it wins over C(web.xml)).
    type: path
  webtier_web_xml:
    description: The web tier's C(WEB-INF/web.xml), whose context parameters are read.
    type: path
  webtier_webapp_properties:
    description:
      - The webapp's own C(WEB-INF/webtier.properties), the middle layer - it wins over
        C(web.xml) and loses to I(webtier_properties).
    type: path
  tomcat_server_xml:
    description:
      - Tomcat's C(server.xml). Its HTTPS connectors are listed (C(tomcat)), and the keystore each
        serves browsers from is read like an identity store, with the password C(server.xml)
        gives it (labelled C(browser connector PORT)).
    type: path
  catalina_base:
    description: Tomcat's C(CATALINA_BASE), where relative keystore names in I(tomcat_server_xml) start.
    type: path
  probe_record:
    description:
      - The file in which the rollout records the time of the host's last successful TLS
        handshake probe (M(sm_pending_restart) with I(probe_record)). Its time is returned
        as C(probe.last_success); an absent file means no successful probe was recorded.
    type: path
  context:
    description:
      - Facts about the host the controller already knows (name, kind, SSL mode, renewal
        window, allowlist clients), returned unchanged as C(context) so that one registered
        result is the host's whole record for the fleet report. No secrets.
    type: dict
    default: {}
notes:
  - Reads only; supports check mode (it never changes anything).
  - Needs the Python C(cryptography) library (release 38 or later) on the managed host.
seealso:
  - module: sm_fleet_report
  - module: sm_keystore_info
"""

EXAMPLES = r"""
- name: Report | everything TLS on this SM server
  sm_tls_inventory:
    stores:
      - path: /opt/sm/Server/RUN/server.keystore
        purpose: identity
        label: server keystore (keystoreFile)
        password: "{{ sm_server_keystore_password }}"
        initial_passwords: ["{{ sm_server_keystore_initial_password }}"]
        required: true
      - path: /opt/sm/Server/RUN/cacerts
        purpose: truststore
        label: truststore (truststoreFile)
        password: "{{ sm_server_truststore_password }}"
        entries: notable
    untrusted_cas:
      - subject: "CN=Sample CA (fictitious),O=Service Manager sample"
    known_cas: ["{{ lookup('ansible.builtin.file', smtls_ca_dir ~ '/ca.crt') }}"]
    sm_ini: /opt/sm/Server/RUN/sm.ini
    context:
      name: "{{ inventory_hostname }}"
      kind: server
  register: sm_server_report
"""

RETURN = r"""
liveness:
  description:
    - What each port of I(liveness) serves, one observation per port (see M(sm_tls_liveness)); the
      fleet report compares it with the keystore read here (finding C(not_serving) or C(wrong_certificate)).
  returned: always
  type: list
  elements: dict
stores:
  description: One result per store, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    purpose:
      description: C(identity), C(truststore) or C(allowlist).
      type: str
    exists:
      description: Whether the file exists.
      type: bool
    type:
      description: Detected type, C(jks) or C(pkcs12).
      type: str
    password_used:
      description:
        - Which password opened it - C(configured), C(initial), C(well_known) - or C(unknown)
          (none did; listed without the integrity check) or C(none) (no password given).
      type: str
    well_known_password:
      description: Whether the password that opened it is a well-known one.
      type: bool
    entry_count:
      description: Entries in the file.
      type: int
    entries:
      description: The entries listed (see I(entries)), as M(sm_keystore_info) returns them
        plus C(not_before), C(self_signed), C(untrusted), C(issued_by_untrusted), C(known_ca)
        and C(issued_by_known_ca).
      type: list
      elements: dict
    foreign_issuers:
      description:
        - With I(detect_foreign_issuers), in an C(identity) store - the issuers no known CA
          is, each as C(subject) and, when the chain carries it, C(sha256).
      type: list
      elements: dict
    error:
      description: Why the file could not be read or opened.
      type: str
    problem:
      description: With I(error) - C(password) (no password given opens it) or C(unreadable).
      type: str
sm_ini:
  description: SSL settings of C(sm.ini) (credentials masked), the encrypted and the plain
    text credential names, and the SSL mode they put in effect.
  returned: when I(sm_ini) is given
  type: dict
  sample:
    path: /opt/sm/Server/RUN/sm.ini
    exists: true
    settings: {ssl: "1", ssl_reqClientAuth: "2", keystorePass: "********"}
    encrypted: [keystorePass]
    plain_passwords: []
    mode: trusted_clients
sm_cfg:
  description:
    - The servlets of C(sm.cfg) - C(path), C(exists), C(servlets) (each C(line), C(http_port),
      C(https_port), C(load_balancer)) and C(error) when it cannot be read.
  returned: when I(sm_cfg) is given
  type: dict
webtier:
  description: The web tier's connection settings in effect (credentials masked), where
    each came from, and what they put in effect (C(none), C(encryption),
    C(client_certificate), C(trusted_signon)).
  returned: when I(webtier_properties) or I(webtier_web_xml) is given
  type: dict
tomcat:
  description:
    - Tomcat's HTTPS connectors - C(path), C(exists), C(connectors) (each C(port), C(form),
      C(keystore), C(protocols); no password) and C(error) when C(server.xml) cannot be read.
  returned: when I(tomcat_server_xml) is given
  type: dict
probe:
  description:
    - The last successful TLS handshake probe of the host, from I(probe_record) - C(path),
      C(exists), C(last_success) (ISO 8601 UTC, or null when none is recorded) and C(error)
      when the file cannot be read.
  returned: when I(probe_record) is given
  type: dict
  sample: {path: /opt/sm/Server/RUN/.smtls-last-probe, exists: true,
           last_success: "2030-01-01T12:00:00Z"}
context:
  description: I(context), unchanged.
  returned: always
  type: dict
known_ca_count:
  description: Certificates in I(known_cas) (0 when our CA does not exist yet).
  returned: always
  type: int
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import smtls_inventory as inv
from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_liveness as liveness
from ansible.module_utils import smtls_webtier as webtier
from ansible.module_utils import smtls_x509 as pki
from ansible.module_utils import smtls_installation as installation
from ansible.module_utils import smtls_smcfg as smcfg
from ansible.module_utils.smtls_files import FileProblem, read_optional


ARGUMENT_SPEC = dict(
    stores=dict(type="list", elements="dict", default=[], options=dict(
        path=dict(type="path", required=True),
        purpose=dict(type="str", required=True, choices=["identity", "truststore", "allowlist"]),
        label=dict(type="str"),
        password=dict(type="str", no_log=True),
        initial_passwords=dict(type="list", elements="str", default=[], no_log=True),
        type=dict(type="str", choices=list(ks.STORE_TYPES)),
        required=dict(type="bool", default=False),
        default_password_expected=dict(type="bool", default=False),
        entries=dict(type="str", choices=["all", "notable"], default="all"),
        fips_path=dict(type="path"),
        fips_type=dict(type="str", choices=list(ks.STORE_TYPES)),
    )),
    untrusted_cas=dict(type="list", elements="dict", default=[], options=dict(
        alias=dict(type="str"),
        sha256=dict(type="str"),
        subject=dict(type="str"),
        issuer=dict(type="str"),
    )),
    known_cas=dict(type="list", elements="str", default=[]),
    detect_foreign_issuers=dict(type="bool", default=False),
    well_known_passwords=dict(type="list", elements="str", no_log=True),
    sm_ini=dict(type="path"),
    sm_cfg=dict(type="path"),
    installation=dict(type="dict", options=dict(
        run_dir=dict(type="path", required=True), jre_dir=dict(type="path", required=True),
        start_file=dict(type="str", choices=["auto"] + list(smcfg.START_FILES), default="auto"),
        release=dict(type="str", default="auto"))),
    webtier_properties=dict(type="path"),
    webtier_web_xml=dict(type="path"),
    webtier_webapp_properties=dict(type="path"),
    tomcat_server_xml=dict(type="path"),
    catalina_base=dict(type="path"),
    probe_record=dict(type="path"),
    context=dict(type="dict", default={}),
    liveness=dict(type="list", elements="dict", default=[], options=liveness.TARGET_OPTIONS),
)


def read_file(path, what, result):
    """The file's bytes, or None when absent (its directory too: a bundle not built yet);
    a read problem is recorded in result."""
    try:
        data = read_optional(path, what) if os.path.isdir(os.path.dirname(path) or ".") else None
    except FileProblem as exc:
        result.update(error=str(exc), problem="unreadable")
        return None
    result["exists"] = data is not None
    return data


def read_tomcat(path, catalina_base, stores, selectors, known_cas, well_known):
    """Tomcat's HTTPS connectors; the keystore of each is read into stores as an identity."""
    tomcat = {"path": path, "exists": False, "connectors": []}
    data = read_file(path, "server.xml", tomcat)
    if data is None:
        return tomcat
    try:
        text = data.decode("utf-8")
        webtier.check_xml(text, path)
        connectors = webtier.https_connectors(text, catalina_base)
    except (UnicodeDecodeError, webtier.WebTierError) as exc:
        tomcat["error"] = "%s: %s" % (path, exc)
        return tomcat
    for connector in connectors:
        keystore = connector["keystore"]
        tomcat["connectors"].append({"port": connector["port"], "form": connector["form"],
                                     "keystore": keystore, "protocols": connector["protocols"]})
        if not keystore:
            continue
        store = {"path": keystore, "purpose": "identity", "required": True,
                 "label": "browser connector %d (server.xml)" % connector["port"],
                 "password": connector["keystore_password"]}
        found = {"exists": False}
        facts = inv.read_store(store, read_file(keystore, store["label"], found), selectors,
                               known_cas, well_known)
        facts.update(found, browser_connector=connector["port"])
        stores.append(facts)
    return tomcat


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    try:
        known_cas = inv.parse_known_cas(p["known_cas"])
    except pki.PkiError as exc:
        module.fail_json(msg=str(exc))
    selectors = inv.Selectors(p["untrusted_cas"])
    well_known = p["well_known_passwords"] or inv.WELL_KNOWN_PASSWORDS
    result = dict(changed=False, stores=[None] * len(p["stores"]), context=p["context"],
                  known_ca_count=len(known_cas))
    model = None
    if p["installation"]:
        def run_java(argv):
            rc, out, err = module.run_command(argv)
            return rc, (err or "") + (out or "")

        spec = p["installation"]
        try:
            model = installation.read(spec["run_dir"], spec["jre_dir"], lambda path: read_optional(
                path, os.path.basename(path)) if os.path.isdir(spec["run_dir"]) else None, run_java,
                start_file=spec["start_file"], given_release=spec["release"])
        except (smcfg.SmCfgError, FileProblem) as exc:
            model = {"error": str(exc), "servlets": [], "fips": {"enabled": False}}
        result["installation"] = model
    fips = bool(model and model["fips"]["enabled"])
    # identity stores first: a foreign issuer found there is judged in every other store
    order = sorted(range(len(p["stores"])), key=lambda i: p["stores"][i]["purpose"] != "identity")
    for index in order:
        store = p["stores"][index]
        if fips and store.get("fips_path"):  # fipsmode:1: the store's PKCS#12 file
            store = dict(store, path=store["fips_path"], type=store.get("fips_type") or store.get("type"))
        found = {"exists": False}
        data = read_file(store["path"], store.get("label") or "keystore", found)
        facts = inv.read_store(store, data, selectors, known_cas, well_known,
                               detect=p["detect_foreign_issuers"])
        facts.update(found)
        result["stores"][index] = facts
    if p["tomcat_server_xml"]:
        result["tomcat"] = read_tomcat(p["tomcat_server_xml"], p["catalina_base"] or "", result["stores"],
                                       selectors, known_cas, well_known)
    if p["sm_ini"]:
        ini = {"path": p["sm_ini"], "exists": False}
        data = read_file(p["sm_ini"], "sm.ini", ini)
        if data is not None:
            ini.update(inv.read_sm_ini(data))
        result["sm_ini"] = ini
    if model is not None:
        start = model.get("start_file") or {}
        result["sm_cfg"] = {"path": start.get("path"), "exists": bool(start.get("exists")),
                            "servlets": model.get("servlets") or [], "error": model.get("error")}
        if not result["sm_cfg"]["error"]:
            del result["sm_cfg"]["error"]
    elif p["sm_cfg"]:
        cfg = {"path": p["sm_cfg"], "exists": False, "servlets": []}
        data = read_file(p["sm_cfg"], "sm.cfg", cfg)
        if data is not None:
            try:
                cfg["servlets"] = smcfg.parse(data, p["sm_cfg"])
            except smcfg.SmCfgError as exc:
                cfg["error"] = str(exc)
        result["sm_cfg"] = cfg
    if p["webtier_properties"] or p["webtier_web_xml"]:
        tier = {"properties_file": p["webtier_properties"], "web_xml": p["webtier_web_xml"],
                "webapp_properties_file": p["webtier_webapp_properties"]}
        files = {}
        for key in ("webtier_properties", "webtier_web_xml", "webtier_webapp_properties"):
            files[key] = read_file(p[key], key, tier) if p[key] else None
        tier["exists"] = any(v is not None for v in files.values())
        try:
            tier.update(inv.read_webtier(files["webtier_properties"], files["webtier_web_xml"],
                                         files["webtier_webapp_properties"]))
        except webtier.WebTierError as exc:
            tier["error"] = "%s: %s" % (p["webtier_web_xml"], exc)
        result["webtier"] = tier
    if p["probe_record"]:
        probe = {"path": p["probe_record"], "exists": False, "last_success": None}
        data = read_file(p["probe_record"], "probe record", probe)
        if data is not None:
            try:
                probe.update(inv.read_probe_record(data))
            except ValueError as exc:
                probe["error"] = "%s: %s" % (p["probe_record"], exc)
        result["probe"] = probe
    # the report's liveness check, from this host (sm_server_probe_from): ports left open are
    # those of the sm.cfg or server.xml read above
    result["liveness"] = liveness.observe(
        p["liveness"], servlets=result.get("sm_cfg", {}).get("servlets") if p["sm_cfg"] else None,
        connectors=result.get("tomcat", {}).get("connectors") if p["tomcat_server_xml"] else None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
