# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One model of an SM server installation, read from its files (docs/defaults.md "The
installation read"): the SM release, the start file SM uses and the processes it starts (load
balancer, servlets, background processes), the JRE (vendor, version, TLS 1.3), FIPS mode, and the
platform. Every SSL decision that depends on the installation is taken from this model, and the
preflight plan shows it per host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible.module_utils import smtls_jre as jre
from ansible.module_utils import smtls_smcfg as smcfg
from ansible.module_utils import smtls_smini as smini

# The vendor's install paths carry the release: /opt/MicroFocus/ServiceManager9.61/Server/RUN,
# C:\Program Files\Micro Focus\Service Manager 9.61\Server\RUN (older: HP, HPE).
_RELEASE_DIR = re.compile(r"^service\s?manager\s?(?P<release>[0-9]+\.[0-9]{2})$", re.I)
# SM 9.50 and later encrypt the sm.ini passwords at start (reference S16, S17); 9.4x does not.
ENCRYPTS_FROM = (9, 50)



def parse_release(text):
    """(major, minor) of a release such as 9.61, or None."""
    match = re.match(r"^\s*([0-9]+)\.([0-9]{2})\b", str(text or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def release(run_dir, given="auto"):
    """{version, source, encrypts_passwords}: the inventory's (sm_server_release) unless auto, else
    the nearest directory above RUN named like the vendor's (ServiceManager9.61); encrypts_passwords
    is None when the release is unknown."""
    version, source = "", "none"
    if given not in (None, "", "auto"):
        version, source = str(given), "sm_server_release"
    else:
        path = os.path.normpath(run_dir.replace("\\", "/"))
        while path and path not in ("/", "."):
            match = _RELEASE_DIR.match(os.path.basename(path))
            if match:
                version, source = match.group("release"), "the installation directory %s" % path
                break
            parent = os.path.dirname(path)
            if parent == path:
                break
            path = parent
    parsed = parse_release(version)
    return dict(version=version, source=source,
                encrypts_passwords=None if not parsed else parsed >= ENCRYPTS_FROM)


def ini_lines(data):
    """{lower-case name: its line} of sm.ini's plain lines, the first of each name (as SM reads it)."""
    if data is None:
        return {}
    text = data.decode("utf-8-sig", "replace") if isinstance(data, bytes) else data
    lines = {}
    for line in smini.parse(text):
        if line.name and not line.encrypted and line.key not in lines:
            lines[line.key] = line
    return lines


def _value(lines, key):
    return (lines[key].value or "").strip() if key in lines else ""


def outbound_hints(lines):
    """sm.ini lines that suggest SM makes outbound TLS connections with the store truststoreFile
    names now (name:value, no secret among them): a JVM trust option (JVMOption<n> with
    -Djavax.net.ssl.trustStore), and truststoreFile itself when it names a cacerts (a bundle of
    public CAs, trusted for more than client certificates)."""
    hints = ["%s:%s" % (line.name, _value(lines, key)) for key, line in sorted(lines.items())
             if key.startswith("jvmoption") and "javax.net.ssl" in _value(lines, key).lower()]
    current = _value(lines, "truststorefile")
    if os.path.basename(current.replace("\\", "/")).lower() == "cacerts":
        hints.append("truststoreFile:%s" % current)
    return hints


def read(run_dir, jre_dir, read_file, run_java, windows=False, start_file="auto", given_release="auto"):
    """The installation model of the SM server in run_dir: {platform, release, start_file,
    processes, servlets, jre, fips, outbound_hints, problems}. read_file(path) gives bytes or None
    when absent; run_java(argv) gives (rc, text). problems: what no rollout can fix, one
    sentence each with its fix (the preflight refuses them)."""
    lines = ini_lines(read_file(os.path.join(run_dir, "sm.ini")))
    chosen = smcfg.choose(run_dir, windows=windows, choice=start_file, read=read_file)
    found_jre = jre.detect(jre_dir, run_java)
    fips = _value(lines, "fipsmode") == "1"
    # a missing RUN directory is sm.ini's to name (the installation read's sm.ini plan), with its fix
    problems = [chosen.pop("problem")] if chosen.get("problem") and os.path.isdir(run_dir) else []
    chosen.pop("problem", None)
    if fips:
        problems.append(jre.fips_problem(found_jre))
    return dict(
        platform="windows" if windows else "posix",
        release=release(run_dir, given_release),
        start_file=dict((k, v) for k, v in chosen.items() if k != "processes"),
        processes=chosen["processes"],
        servlets=smcfg.listening(chosen["processes"]),
        jre=found_jre,
        fips=dict(enabled=fips, value=_value(lines, "fipsmode")),
        outbound_hints=outbound_hints(lines),
        problems=[p for p in problems if p],
    )


def summary(model):
    """The model in a few lines, as the preflight plan shows it."""
    counts = {}
    for process in model.get("processes") or []:
        counts[process["role"]] = counts.get(process["role"], 0) + 1
    jre_info = model.get("jre") or {}
    rel = model.get("release") or {}
    start = model.get("start_file") or {}
    return {
        "release": ("%s (%s)" % (rel.get("version"), rel.get("source")) if rel.get("version")
                    else "unknown (no ServiceManager<x.xx> directory above RUN; set sm_server_release)"),
        "start_file": "%s - %s%s" % (start.get("path"), start.get("why"), (
            "; not used: %s" % ", ".join(start["ignored"]) if start.get("ignored") else "")),
        "processes": ", ".join("%d %s" % (counts[r], r.replace("_", " ")) for r in
                               ("load_balancer", "servlet", "background") if counts.get(r)) or "none",
        "jre": "%s %s (%s; vendor from %s)" % (
            jre_info.get("vendor"), jre_info.get("version") or "version unknown", jre_info.get("source"),
            jre_info.get("vendor_source")),
        "fips": "fipsmode:1 - every SM store PKCS#12" if (model.get("fips") or {}).get("enabled") else "off",
    }


# The stores SM opens, as sm.ini names them: (parameter, type parameter, file, FIPS file). Under
# fipsmode:1 every one is PKCS#12 (the vendor's FIPS pages: smcacerts.p12, trustedclients.p12,
# a .p12 server keystore); `auto` takes these file names and types.
STORES = {
    "keystore": ("keystoreFile", "keystoreType", "server.keystore", "server.p12"),
    "client_ca": ("truststoreFile", "truststoreType", "smcacerts.jks", "smcacerts.p12"),
    "trusted_clients": ("ssl_trustedClientsJKS", None, "trustedclients.keystore", "trustedclients.p12"),
}
# the inventory's variables for each store's file and type
STORE_VARIABLES = {
    "keystore": ("sm_server_keystore_file", "sm_server_keystore_type"),
    "client_ca": ("sm_server_client_ca_file", "sm_server_client_ca_type"),
    "trusted_clients": ("sm_server_trustedclients_file", "sm_server_trustedclients_type"),
    # sm_server_client_ca_trust: cacerts - truststoreFile is the server's cacerts
    "cacerts": ("sm_server_truststore_file", "sm_server_truststore_type"),
}
CLIENT_CA_TRUST = ("exact", "cacerts")


def sm_stores(inputs, fips, client_ca_trust="exact"):
    """{store: {file, type, parameter, variables}} of the stores SM opens. inputs: {keystore,
    client_ca, trusted_clients, cacerts: [file, type]} as the inventory gives them (auto or a
    value); fips: sm.ini's fipsmode:1. With client_ca_trust cacerts, truststoreFile is the
    server's cacerts (the JRE's CAs and ours) instead of a store of exactly the client CAs."""
    stores = {}
    for store, (parameter, _type_parameter, standard, fips_file) in STORES.items():
        source = "cacerts" if store == "client_ca" and client_ca_trust == "cacerts" else store
        name, kind = inputs[source]
        stores[store] = dict(
            file=(fips_file if fips else standard) if name in (None, "", "auto") else name,
            type=("pkcs12" if fips else "jks") if kind in (None, "", "auto") else kind,
            parameter=parameter, variables=STORE_VARIABLES[source])
    return stores


def fips_store_problems(stores, used):
    """Under fipsmode:1, a store of the mode (used: the store names) that would not be PKCS#12,
    one line each naming its variable and the fix."""
    problems = []
    for store in used:
        found = stores[store]
        if found["type"] != "pkcs12":
            problems.append(
                "%s=%s, but sm.ini has fipsmode:1, and in FIPS mode SM's stores are PKCS#12 (the vendor's "
                "FIPS mode pages), so SM would not open %s (%s). Fix: %s: auto (or pkcs12)%s" % (
                    found["variables"][1], found["type"], found["file"], found["parameter"],
                    found["variables"][1],
                    ", or sm_server_client_ca_trust: exact"
                    if found["variables"][0] == "sm_server_truststore_file" else ""))
    return problems


def installation_problems(model, stores, mode):
    """What the installation model refuses for this mode (mode: what it asks - ssl, client_auth,
    ...), one sentence each with its fix: the model's own problems (a start file without a
    servlet, FIPS on OpenJDK) and, under fipsmode:1, a store of the mode FIPS would not open."""
    model = model or {}
    problems = list(model.get("problems") or [])
    if (model.get("fips") or {}).get("enabled"):
        used = [store for store, key in (("keystore", "ssl"), ("client_ca", "client_auth"),
                                         ("trusted_clients", "trusted_clients")) if mode.get(key)]
        problems += fips_store_problems(stores, used)
    return problems


def preflight_plan(model, mode, client_ca_trust="exact"):
    """The model as the preflight plan shows it (summary()), with the warnings it leads to for
    this mode: passwords SM leaves in plain text, FIPS on a JRE of unknown vendor, an exact
    client CA store SM may use for outbound TLS too. {} without a model."""
    if not model:
        return {}
    plan = summary(model)
    warnings = []
    encrypts = (model.get("release") or {}).get("encrypts_passwords")
    if mode.get("ssl"):
        if encrypts is False:
            warnings.append("SM %s does not encrypt sm.ini passwords (9.50 and later do, at start): the "
                            "keystore passwords smtls writes stay in plain text - keep sm.ini readable by "
                            "the SM account only (sm_server_file_mode), or upgrade SM"
                            % model["release"]["version"])
        elif encrypts:
            plan["passwords"] = ("SM %s encrypts the sm.ini passwords at its next start"
                                 % model["release"]["version"])
        else:
            plan["passwords"] = "SM release unknown: whether SM encrypts the sm.ini passwords is not known"
    if (model.get("fips") or {}).get("enabled") and (model.get("jre") or {}).get("vendor") == "unknown":
        warnings.append("fipsmode:1 on a JRE whose vendor is not known (%s): the vendor supports FIPS on the "
                        "Oracle and IBM JREs only" % model["jre"].get("vendor_source"))
    if mode.get("client_auth") and client_ca_trust == "exact" and model.get("outbound_hints"):
        warnings.append("sm_server_client_ca_trust exact narrows truststoreFile to the client CAs, and "
                        "sm.ini suggests SM uses that store for outbound TLS too (%s): if it does, set "
                        "sm_server_client_ca_trust: cacerts (docs/defaults.md)"
                        % ", ".join(model["outbound_hints"]))
    plan["warnings"] = warnings
    return plan


def leftover_problems(parameters, mode, mode_name, client_cas):
    """What in sm.ini, beyond the parameters smtls manages, would make SM run another mode
    than the one asked for - one sentence each with its fix ([] when nothing does).

    parameters: sm.ini as sm_ini read it; mode: what the mode asks (ssl, client_auth, ...);
    client_cas: smtls_client_cas."""
    parameters, problems = parameters or {}, []
    if str(parameters.get("cacsignon", "0")).strip() == "1":
        if not mode.get("client_auth"):
            problems.append(
                "sm.ini has cacsignon:1 (CAC sign-on), with which SM forces ssl:1, sslConnector:1 "
                "and ssl_reqClientAuth:1 whatever else sm.ini says, so mode %s would not be what "
                "runs. Fix: smtls_ssl_mode client_auth or higher for CAC sign-on, or remove "
                "cacsignon from sm.ini if the site no longer uses smart cards" % mode_name)
        elif not client_cas:
            problems.append(
                "sm.ini has cacsignon:1 (CAC sign-on): the smart cards' certificates are checked "
                "against truststoreFile, which smtls keeps to exactly the fleet's client CAs, so "
                "every card would be refused. Fix: add the card issuers' CA certificates to "
                "smtls_client_cas")
    return problems


def leftover_notes(parameters, mode):
    """Parameters smtls leaves as they are but the operator should see in the plan, because
    they change what the mode means."""
    parameters, notes = parameters or {}, []
    if str(parameters.get("cacsignon", "0")).strip() == "1" and mode.get("client_auth"):
        notes.append("cacsignon:1 - CAC sign-on, which keeps ssl_reqClientAuth at 1 or more")
    if str(parameters.get("onewayssl4ws", "0")).strip() == "1" and mode.get("client_auth"):
        notes.append("onewayssl4ws:1 - web services clients are believed to connect without a "
                     "client certificate; the mode's client authentication covers interactive "
                     "clients only")
    if "acceptsharedcert" in parameters:
        notes.append("acceptsharedcert:%s - left as it is (how SM treats a certificate several "
                     "clients share)" % parameters["acceptsharedcert"])
    if "sslProtocols" in parameters:
        notes.append("sslProtocols:%s - an older name of the protocol list, left as it is; smtls "
                     "writes sslEnabledProtocols" % parameters["sslProtocols"])
    return notes
