# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small Jinja filters the smtls roles share."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os
import posixpath
import re
import sys

import yaml

from ansible.errors import AnsibleFilterError


def _module_utils(name):
    """One of this repository's module_utils, for the controller (modules get it from Ansible).
    Registered under ansible.module_utils too, so that one importing another (as smtls_ca does
    smtls_x509) finds the copy loaded here."""
    qualified = "ansible.module_utils." + name
    if qualified in sys.modules:
        return sys.modules[qualified]
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils",
                        name + ".py")
    spec = importlib.util.spec_from_file_location(qualified, path)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    sys.modules[qualified] = loaded
    return loaded


_modes = _module_utils("smtls_modes")
_pki = _module_utils("smtls_x509")
_authority = _module_utils("smtls_ca")
_files = _module_utils("smtls_files")
# in import order: each finds the ones before it (smtls_keystore_state reads keystores)
_module_utils("smtls_der")
_module_utils("smtls_pbe")
_module_utils("smtls_keystore")
_keystore_state = _module_utils("smtls_keystore_state")
_jre = _module_utils("smtls_jre")
_module_utils("smtls_smini")
_smcfg = _module_utils("smtls_smcfg")
_installation = _module_utils("smtls_installation")
_inputs = _module_utils("smtls_inputs")
_module_utils("smtls_probe")
_liveness = _module_utils("smtls_liveness")

# sm_certificate's options and their defaults, which smtls_certificate_plan fills in
_CERTIFICATE_DEFAULTS = dict(
    ca_passphrase=None, ca_create=True, ca_common_name="smtls internal CA", ca_organization=None,
    ca_valid_days=3650, accepted_ca_certs=[], common_name=None, dns=[], ips=[], usage="server",
    current_chain="", csr=None, renew_days=30, valid_days=397, force=False, csr_export_dir=None,
    certificate_import_dir=None, key_file=None, key_passphrase=None, certificate_file=None,
    detected_issuers=[], detected_issuers_file=None)


def smtls_certificate_plan(params, errors="raise"):
    """What sm_certificate would do with these options (its engine's plan,
    smtls_ca.plan_certificate), worked out on the controller where the CA lives: the module's
    result (ca_certificate, action, reason, chain, sha256, ..., changed as the module would
    report it) and write_due - whether the module must run to write what the plan holds (a new CA
    or controller-held key, a chain, an exported CSR, newly detected issuers). Nothing is written
    here; a CSR is signed in memory. errors: return - a CA or file problem comes back as
    {error: message} for an assert to show as one line (the preflight), not as a filter failure."""
    unknown = set(params or {}) - set(_CERTIFICATE_DEFAULTS) - {"ca_dir"}
    if unknown:
        raise AnsibleFilterError("smtls_certificate_plan: unknown options %s" % ", ".join(sorted(unknown)))
    p = dict(_CERTIFICATE_DEFAULTS)
    p.update((key, value) for key, value in (params or {}).items() if value is not None)
    for key in ("ca_create", "force"):
        p[key] = _true(p[key])
    for key in ("ca_valid_days", "renew_days", "valid_days"):
        p[key] = int(p[key])
    try:
        plan = _authority.plan_certificate(p, _files.read_optional)
    except (_pki.PkiError, _files.FileProblem) as exc:
        if errors == "return":
            return {"error": str(exc)}
        raise AnsibleFilterError(str(exc))
    return dict(plan.result, write_due=bool(plan.files), changed=plan.changed)


def smtls_certificate_decision(current_chain, ca_certificate, accepted=None, common=None, dns=None,
                               ips=None, renew_days=30):
    """Whether a host's installed certificate stays, and why not (the engine's decision, made on
    the controller from what the host read, without a module run): {action keep | issue, reason,
    reason_text, chain (the one that stays, or ""), sha256}. ca_certificate: our CA (PEM);
    accepted: other CAs a certificate may still come from (a rotation)."""
    try:
        current = (_pki.order_chain(_pki.parse_pem_certs(current_chain, "the chain of %s" % common))
                   if (current_chain or "").strip() else [])
        cas = [_pki.parse_pem_certs(pem, "CA certificate")[0]
               for pem in [ca_certificate] + list(accepted or []) if (pem or "").strip()]
    except _pki.PkiError as exc:
        raise AnsibleFilterError(str(exc))
    issue, reason = _pki.decide(current, list(dns or []), list(ips or []), cas, int(renew_days),
                                common=common)
    decision = {"action": "issue" if issue else "keep", "reason": reason,
                "reason_text": _pki.REASONS.get(reason, reason), "chain": "", "sha256": ""}
    if not issue:
        decision.update(chain=_pki.chain_pem(current), sha256=_pki.sha256_hex(current[0]))
    return decision


def smtls_mode(name):
    """What the SSL mode asks (the mode table, module_utils/smtls_modes.py): ssl, client_auth,
    trusted_clients, trusted_signon, client_certificate, client_certificate_per_host, rank."""
    try:
        return _modes.mode(name)
    except _modes.ModeError as exc:
        raise AnsibleFilterError(str(exc))


def smtls_mode_layers(layers, name, what="layers"):
    """A mode's settings from a table of layers (each mode's additions to the one before)."""
    try:
        return _modes.layers_up_to(layers, name, what)
    except _modes.ModeError as exc:
        raise AnsibleFilterError(str(exc))


def smtls_phase_steps(name):
    """What the host roles' steps do in a phase of a run (module_utils/smtls_modes.py PHASES):
    client_certificate_trust, client_certificate_apply, host_identity - identity-flow stages."""
    try:
        return _modes.phase(name)
    except _modes.ModeError as exc:
        raise AnsibleFilterError(str(exc))


def smtls_client_certificates(hosts, hostvars):
    """{host: {'current': {alias, pem}, 'next': {alias, pem} or {}, 'known'}} for the hosts among hosts
    that published a client certificate in this run (smtls_client_certificate; in a rotation's
    reissue phase also smtls_client_certificate_next); hosts that did not are left out.

    Read once per batch of servers (run_once), not per server: each hostvars[host] builds that
    host's variables, so a per-server read of every client costs servers x clients builds."""
    found = {}
    for host in dict.fromkeys(hosts or []):
        if host not in hostvars:
            continue
        facts = hostvars[host]
        current = facts.get("smtls_client_certificate")
        if current is None or _is_undefined(current):
            continue
        upcoming = facts.get("smtls_client_certificate_next")
        upcoming = {} if upcoming is None or _is_undefined(upcoming) else upcoming
        # known: a certificate to allow exists (one waiting for a corporate CA or an ACME order
        # has none yet - only check mode predicts such an order)
        found[host] = {"current": current, "next": upcoming,
                       "known": bool(current.get("pem") or upcoming.get("pem"))}
    return found


def _is_undefined(value):
    from jinja2 import Undefined

    return isinstance(value, Undefined)


def smtls_host_roles(group_names):
    """The grid's host roles (sm_server, sm_webtier, sm_windows_client) a host with these
    inventory groups runs (module_utils/smtls_modes.py HOST_ROLES)."""
    return _modes.host_roles(group_names)


def smtls_webtiers_first(states, name):
    """Whether the web tiers move before the servers, from the servers' states now
    (sm_server_state: ssl, client_auth) and the mode to reach."""
    states = [s for s in states or [] if s]
    was_ssl = any(_true(s.get("ssl")) for s in states)
    was_level = max([int(s.get("client_auth") or 0) for s in states] or [0])
    return _modes.webtiers_first(was_ssl, was_level, name)


def smtls_in_dir(path, base):
    """Resolve path against base the way SM resolves keystore names against RUN."""
    if not path:
        return path
    if posixpath.isabs(path) or (len(path) > 2 and path[1] == ":"):
        return path
    return posixpath.normpath(posixpath.join(base, path))


def smtls_truststores_in(items, base):
    """Resolve the path of each truststore item against base."""
    return [dict(item, path=smtls_in_dir(item["path"], base)) for item in items or []]


def smtls_written(results):
    """[{path, backup}] of the files the given registered results wrote.

    Understands sm_ini and sm_keystore (one file), sm_truststore (truststores) and
    sm_webtier_config (files); skipped and unchanged results contribute nothing, nor does a
    file whose content stays (`written` false: only its mode or owner changed - no restart).
    """
    written = []
    for result in results or []:
        if not isinstance(result, dict) or result.get("skipped") or not result.get("changed"):
            continue
        for item in result.get("truststores") or result.get("files") or [result]:
            if item.get("written", item.get("changed")) and item.get("path"):
                written.append({"path": item["path"], "backup": item.get("backup_file") or ""})
    return written


def smtls_keystore_in_place(read, key_alias=None, chain="", trusted=None, exclusive=False,
                            remove_other_keys=False, absent=None, store_type=None, mode=None, owner=None,
                            group=None):
    """Whether sm_keystore with these options would leave the keystore as this run's read of it
    (keystore_info: sm_keystore_info, or an installation read) found it - then the call is left
    out, a module run saved. chain: the key entry's chain (PEM); trusted: [{alias, pem}]; the
    rest as sm_keystore takes them (owner, group and mode omitted as empty). False whenever the
    read is missing or failed, or a PEM does not parse (the module then reports it)."""
    if not isinstance(read, dict) or read.get("error") or read.get("skipped"):
        return False
    try:
        chain_sha256 = ([_pki.sha256_hex(c) for c in _pki.order_chain(_pki.parse_pem_certs(chain, "chain"))]
                        if (chain or "").strip() else [])
        trusted_sha256 = [_pki.sha256_hex(c) for item in trusted or []
                          for c in _pki.parse_pem_certs(item["pem"], "trusted certificate")]
    except _pki.PkiError:
        return False
    return _keystore_state.in_place(
        read, key_alias=key_alias, chain_sha256=chain_sha256, trusted_sha256=trusted_sha256,
        exclusive=_true(exclusive), remove_other_keys=_true(remove_other_keys), absent=absent or [],
        store_type=_given(store_type), mode=_given(mode), owner=_given(owner), group=_given(group))


def _true(value):
    return str(value).lower() in ("true", "1", "yes")


def _given(value):
    """A file argument as a module receives it: None when empty or omitted (Ansible's omit)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        return None
    return value


def smtls_identity_outcome(chain, keystore, alias, stage, supplied, decision, signed, request, installed):
    """What the identity flow did with one keystore (published as smtls_identity_result): {keystore,
    alias, action, reason, sha256, backup, written, chain, certificate (the leaf), changed}. Worked
    out once from the flow's registered results - a template would read each of them (and the
    keystore read behind the chain) once per field."""
    decision, signed = decision or {}, signed or {}
    installed = installed if isinstance(installed, dict) else {}
    if stage == "current":
        action, reason = "keep", "current (not decided in this phase)"
    elif _true(supplied):
        action, reason = "supplied", "shared certificate"
    else:
        action = signed.get("action") or decision.get("action") or "install"
        reason = decision.get("reason") or "signed in the issue stage"
    return {"keystore": keystore, "alias": alias, "action": action, "reason": reason,
            "sha256": signed.get("sha256") or decision.get("sha256") or "",
            "backup": installed.get("backup_file") or "",
            "written": smtls_written([installed]), "chain": chain or "",
            "certificate": smtls_leaf_pem(chain),
            "changed": bool((request or {}).get("changed")) or bool(installed.get("changed"))}


def smtls_leaf_pem(chain):
    """The first certificate of a PEM chain ("" for none): the identity outcome's certificate,
    and the one a client publishes as installed."""
    return (chain.split(_pki.PEM_CERT_END)[0] + _pki.PEM_CERT_END + "\n") if chain else ""


def smtls_key_entry(entries, alias):
    """The private-key entry a keystore serves: the one under alias, else the first one (the
    vendor's sample under its own alias), else {} - as sm_keystore_info lists entries."""
    keys = [e for e in entries or [] if e.get("kind") == "private_key"]
    wanted = [e for e in keys if e.get("alias") == (alias or "").lower()]
    return (wanted or keys or [{}])[0]


def _dn_key(dn):
    """A DN compared the way stores and inventories spell it: RDN order and case aside."""
    return tuple(sorted(part.strip().lower() for part in re.split(r"(?<!\\),", dn or "") if part.strip()))


def _same_ca(one, other):
    if one.get("sha256") or other.get("sha256"):
        return bool(one.get("sha256")) and one.get("sha256") == other.get("sha256")
    return _dn_key(one.get("subject")) == _dn_key(other.get("subject"))


def _kept(item, keep):
    for wanted in keep or []:
        if wanted.get("sha256") and (wanted["sha256"].replace(":", "").lower() == item.get("sha256")):
            return True
        if wanted.get("subject") and _dn_key(wanted["subject"]) == _dn_key(item.get("subject")):
            return True
    return False


def smtls_merge_detected_cas(recorded, found, keep=None):
    """The issuers smtls distrusts without being told: those recorded on the controller by
    earlier runs, and those found now (the foreign_issuer of each server), once each, in
    that order - less the ones smtls_keep_cas keeps on purpose."""
    merged = []
    for item in list(recorded or []) + [f for f in found or [] if f]:
        if not any(_same_ca(item, known) for known in merged):
            merged.append(dict(item))
    return [item for item in merged if not _kept(item, keep)]


def smtls_ca_selectors(cas):
    """Detected CAs as the selectors the store modules take: by SHA-256 where it is known (an
    exact certificate), by subject only where the server's chain did not carry its issuer."""
    return [{"sha256": ca["sha256"]} if ca.get("sha256") else {"subject": ca["subject"]}
            for ca in cas or []]


def smtls_named_certs(pems, prefix):
    """PEM certificates as the {alias, pem} items the store modules take: prefix-1, prefix-2..."""
    return [{"alias": "%s-%d" % (prefix, number), "pem": pem}
            for number, pem in enumerate([p for p in pems or [] if p], 1)]


def smtls_pem_problem(items, variable):
    """Why one of items ({alias, pem}) does not parse as PEM certificates, or holds one outside its
    validity (nothing expired is written) - the message naming the variable and the alias - or ''."""
    for item in items or []:
        what = "%s %s" % (variable, item.get("alias", ""))
        try:
            for cert in _pki.parse_pem_certs(item.get("pem") or "", what):
                _pki.check_current(cert, what)
        except _pki.PkiError as exc:
            return str(exc)
    return ""


def smtls_clients_without_ca_problem(clients, cas, variable):
    """Why some of clients ({alias, pem}) would be refused by a server that trusts exactly cas
    ({alias, pem}) for client certificates - one sentence naming each and the fix - or ''."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    def certs(pem):
        try:
            return x509.load_pem_x509_certificates(pem.encode())
        except ValueError:  # malformed: the store module's own check names it
            return []

    issuers = []
    for ca in cas or []:
        issuers.extend(certs(ca["pem"]))
    outside = []
    for client in clients or []:
        chain = certs(client["pem"])
        if not chain:
            continue
        leaf = chain[0]
        signed = False
        for ca in issuers:
            if ca.subject == leaf.issuer:
                try:
                    leaf.verify_directly_issued_by(ca)
                    signed = True
                    break
                except (ValueError, TypeError, InvalidSignature):  # another key of that name
                    continue
        if not signed:
            outside.append("%s (issued by %s)" % (client["alias"], leaf.issuer.rfc4514_string()))
    if not outside:
        return ""
    return ("%s: %s would be refused - the server trusts exactly the CAs that issue the fleet's "
            "client certificates for client authentication. Fix: add the issuing CA to "
            "smtls_client_cas (as {alias, pem})" % (variable, "; ".join(outside)))


def smtls_leftover_problems(parameters, mode, mode_name, client_cas):
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


def smtls_leftover_notes(parameters, mode):
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


def smtls_servlet_probes(probe, servlets, ssl, http_port, https_port, redirect_names=()):
    """The probe of every process the server's start file starts on a port (sm_server_info's
    servlets), in one sm_tls_probe call: each servlet on its httpsPort, or httpPort with SSL off
    (port, and more_ports); the load balancer on its HTTP port (plain_ports), which must answer
    and redirect to one of redirect_names; the inventory's port when the start file names none."""
    key = "https_port" if ssl else "http_port"
    nodes = [s for s in servlets or [] if s.get("role", "servlet") != "load_balancer"]
    ports = [int(servlet[key]) for servlet in nodes if servlet.get(key)] or [
        int(https_port if ssl else http_port)]
    balancers = _smcfg.balancer_ports(servlets)
    extra = dict(plain_ports=balancers, redirect_names=list(redirect_names)) if balancers else {}
    return [dict(probe, port=ports[0], more_ports=ports[1:], **extra)]


def smtls_servlet_problem(servlets, ssl):
    """Why SSL cannot be served by every servlet the start file starts (one without httpsPort;
    the load balancer is HTTP only by design), or ''."""
    missing = [str(servlet["line"]) for servlet in servlets or []
               if not servlet.get("https_port") and servlet.get("role", "servlet") != "load_balancer"]
    if not ssl or not missing:
        return ""
    return ("start file line %s starts a servlet without -httpsPort, so it would serve no HTTPS with "
            "ssl:1. Fix: give every servlet line an -httpsPort of its own (the vendor asks for one per "
            "servlet; only the load balancer, sm -loadBalancer, has none), then run again"
            % ", ".join(missing))


def smtls_sm_stores(inputs, fips, client_ca_trust="exact"):
    """The stores SM opens (keystoreFile, truststoreFile, ssl_trustedClientsJKS): {store: {file,
    type, parameter, variables}}, `auto` resolved for sm.ini's fipsmode (module_utils/
    smtls_installation.py)."""
    return _installation.sm_stores(inputs, bool(fips), client_ca_trust)


def smtls_installation_problems(model, stores, mode):
    """What the installation model refuses for this mode, one sentence each with its fix: a start
    file without a servlet, FIPS on OpenJDK, a store of the mode that FIPS would not open."""
    model = model or {}
    problems = list(model.get("problems") or [])
    if (model.get("fips") or {}).get("enabled"):
        used = [store for store, key in (("keystore", "ssl"), ("client_ca", "client_auth"),
                                         ("trusted_clients", "trusted_clients")) if mode.get(key)]
        problems += _installation.fips_store_problems(stores, used)
    return problems


def smtls_installation_plan(model, mode, client_ca_trust="exact"):
    """The installation model as the preflight plan shows it, with the warnings it leads to."""
    if not model:
        return {}
    plan = _installation.summary(model)
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


def smtls_browser_connector_problem(connector, setting, port, server_xml, managed):
    """Why the browser-side HTTPS connector cannot be given our certificate, or ''.

    connector: the one sm_webtier_info found ({} when none); setting: sm_webtier_browser_https
    (auto/true/false); port: sm_webtier_browser_https_port (0: the first); managed: whether the
    mode has SSL and the setting is not false."""
    if not managed:
        return ""
    if not connector:
        if str(setting).lower() != "true" and not int(port or 0):
            return ""  # auto: nothing to manage on this web tier
        return ("%s has no HTTPS connector (SSLEnabled=\"true\") serving a Java keystore%s, but "
                "sm_webtier_browser_https asks for one. Fix: add the connector (a Certificate with "
                "certificateKeystoreFile), correct sm_webtier_browser_https_port, or set "
                "sm_webtier_browser_https: false"
                % (server_xml, " on port %s" % port if int(port or 0) else ""))
    if not connector.get("keystore_found"):
        return ("the HTTPS connector %s of %s serves the keystore %s, which does not exist. Fix "
                "server.xml or create the keystore, or set sm_webtier_browser_https: false to leave "
                "the connector alone" % (connector.get("port"), server_xml, connector.get("keystore")))
    if not connector.get("keystore_opens"):
        return ("the HTTPS connector %s of %s serves the keystore %s, which does not open with the "
                "password server.xml gives it (nor with sm_webtier_browser_keystore_password), so "
                "Tomcat could not serve it either. Fix the password in server.xml, or set "
                "sm_webtier_browser_https: false to leave the connector alone"
                % (connector.get("port"), server_xml, connector.get("keystore")))
    return ""


def smtls_browser_https_plan(connector, managed, protocols, jre, names, probed, why_not):
    """One line of the preflight plan: what the browser-side connector gets, or why it stays."""
    if not managed:
        return "left as it is: %s" % (why_not if connector else
                                      "server.xml has no HTTPS connector serving a Java keystore")
    jre = jre or {}
    return ("connector %s (%s): certificate from the fleet CA for %s; protocols %s - Tomcat JRE %s "
            "(%s); %s" % (connector["port"], connector["keystore"],
                          ", ".join(sorted(set(names), key=names.index)),
                          ",".join(protocols) or "left as they are", jre.get("version") or "unknown",
                          jre.get("source") or "none",
                          "proven after the restart" if probed
                          else "not probed (smtls does not restart Tomcat here)"))


def smtls_trust_due(preflight_truststores=None):
    """Whether a trust step (our CA into truststores, nothing removed) has anything to do, from
    the preflight's check-mode read of the same stores in this run (sm_truststore's result): only
    when that read found our CA missing somewhere - or when there is no such read to go by."""
    stores = preflight_truststores.get("truststores") if isinstance(preflight_truststores, dict) else None
    if stores is None:
        return True
    return any(str(action).startswith("add trusted_cert") for store in stores
               for action in store.get("actions") or [])


def smtls_unchanged(result):
    """Whether a registered result of this run (the preflight's check-mode call, or an earlier run
    of the same call) found nothing to change: then the same call, with the same inputs and
    nothing written on the host since but restart-recorded files, has nothing to do either."""
    return (isinstance(result, dict) and "changed" in result and result.get("changed") is False
            and not result.get("skipped") and not result.get("failed"))


def smtls_derived_secret(secret, purpose):
    """A secret for one purpose derived from another (HMAC-SHA256, hex): what a managed host
    needs - the passphrase of the web tiers' shared key - without the CA passphrase it comes
    from, which cannot be recovered from it. Deterministic, so reruns change nothing."""
    import hmac

    return hmac.new(str(secret).encode("utf-8"), str(purpose).encode("utf-8"), "sha256").hexdigest()


def smtls_module_available(name):
    """Whether the controller can resolve the module (a collection's, by its full name): the
    tasks that need a collection ansible-core lacks are loaded only when asked for, and the
    preflight refuses early, with the fix, where the collection is missing."""
    from ansible.plugins.loader import module_loader

    return bool(module_loader.find_plugin_with_context(name).resolved)


def _names(hosts, most=8):
    hosts = list(hosts)
    if not hosts:
        return "none"
    shown = ", ".join(hosts[:most])
    return shown if len(hosts) <= most else "%s ... (+%d more)" % (shown, len(hosts) - most)


def smtls_progress(batch, play_hosts, phase):
    """One line of progress for a play that runs in serial batches: which hosts the batch
    just finished, how many of the play's hosts are done, and which are left. Batches take
    hosts in the play's order, so everything up to the batch's last host is done.

    batch: ansible_play_batch; play_hosts: ansible_play_hosts_all; phase: what the play does.
    """
    batch, play_hosts = list(batch or []), list(play_hosts or [])
    if not play_hosts:
        return "%s: no hosts in this run" % phase
    position = max([play_hosts.index(h) for h in batch if h in play_hosts] or [-1]) + 1
    left = play_hosts[position:]
    return "%s: done on %s - %d of %d hosts done; left: %s" % (
        phase, _names(batch), position, len(play_hosts), _names(left))


# Protocols JSSE knows (sslEnabledProtocols); below TLS 1.2 only on an explicit, warned opt-in.
TLS_PROTOCOLS = ("TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1", "SSLv3")
LEGACY_PROTOCOLS = ("TLSv1.1", "TLSv1", "SSLv3")
# The cipher suites Java 11+ JSSE implements (SSLContext supported suites of OpenJDK 17): a
# name outside it is a typo or a suite the JRE cannot run, and SM would fail to start with it.
JSSE_CIPHER_SUITES = frozenset("""
TLS_AES_256_GCM_SHA384 TLS_AES_128_GCM_SHA256 TLS_CHACHA20_POLY1305_SHA256
TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
TLS_DHE_RSA_WITH_AES_256_GCM_SHA384 TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256
TLS_DHE_DSS_WITH_AES_256_GCM_SHA384 TLS_DHE_RSA_WITH_AES_128_GCM_SHA256
TLS_DHE_DSS_WITH_AES_128_GCM_SHA256 TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384
TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 TLS_DHE_RSA_WITH_AES_256_CBC_SHA256
TLS_DHE_DSS_WITH_AES_256_CBC_SHA256 TLS_DHE_RSA_WITH_AES_128_CBC_SHA256
TLS_DHE_DSS_WITH_AES_128_CBC_SHA256 TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA
TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA TLS_DHE_RSA_WITH_AES_256_CBC_SHA TLS_DHE_DSS_WITH_AES_256_CBC_SHA
TLS_DHE_RSA_WITH_AES_128_CBC_SHA TLS_DHE_DSS_WITH_AES_128_CBC_SHA TLS_RSA_WITH_AES_256_GCM_SHA384
TLS_RSA_WITH_AES_128_GCM_SHA256 TLS_RSA_WITH_AES_256_CBC_SHA256 TLS_RSA_WITH_AES_128_CBC_SHA256
TLS_RSA_WITH_AES_256_CBC_SHA TLS_RSA_WITH_AES_128_CBC_SHA TLS_EMPTY_RENEGOTIATION_INFO_SCSV
""".split())


def smtls_ssl_protocols_for(requested, jre=None):
    """sslEnabledProtocols for a server whose JRE is jre (as sm_server_info reads it): the
    rule of module_utils/smtls_jre.py, which sm_server_info applies too."""
    return _jre.protocols_for(requested, jre)


def smtls_tls_problems(protocols, ciphers, allow_legacy=False, check_ciphers=True, jre=None,
                       service="SM"):
    """What is wrong with the SSL protocol and cipher lists, one sentence each with its fix
    ([] when nothing is). protocols is `auto` or a list; jre is what sm_server_info (or
    sm_webtier_info, with service Tomcat) read."""
    problems = []
    if isinstance(protocols, str):
        if protocols != "auto":
            problems.append("smtls_ssl_protocols: '%s' is neither auto nor a list of protocols. "
                            "Fix: auto, or a list such as [TLSv1.2, TLSv1.3]" % protocols)
        protocols = []
    jre = jre or {}
    if "TLSv1.3" in protocols and jre.get("tls13") is False:
        problems.append("smtls_ssl_protocols: TLSv1.3 is not a protocol the JRE %s runs can "
                        "enable (%s: %s Java %s; TLS 1.3 needs Java 11, or Java 8 from 8u261 on Oracle "
                        "and 8u272 on OpenJDK), so %s would not start. Fix: smtls_ssl_protocols: auto, "
                        "or remove TLSv1.3 (or upgrade the JRE first)" % (
                            service, jre.get("home"), jre.get("vendor", "unknown"), jre.get("version"),
                            service))
    unknown = [p for p in protocols or [] if p not in TLS_PROTOCOLS]
    if unknown:
        problems.append("smtls_ssl_protocols: %s is not a protocol JSSE knows (use %s)"
                        % (", ".join(unknown), ", ".join(TLS_PROTOCOLS[:2])))
    legacy = [p for p in protocols or [] if p in LEGACY_PROTOCOLS]
    if legacy and not allow_legacy:
        problems.append("smtls_ssl_protocols: %s is older than TLS 1.2 and refused. Fix: remove "
                        "it, or set smtls_ssl_allow_legacy_protocols: true to accept the risk"
                        % ", ".join(legacy))
    if protocols and not [p for p in protocols if p not in LEGACY_PROTOCOLS]:
        problems.append("smtls_ssl_protocols: at least TLSv1.2 or TLSv1.3 must be enabled")
    if check_ciphers and isinstance(ciphers, list):  # auto: the JVM's own suites
        bad = [c for c in ciphers if c not in JSSE_CIPHER_SUITES]
        if bad:
            problems.append("smtls_ssl_ciphers: %s is not a cipher suite the JRE implements "
                            "(JSSE names, e.g. TLS_AES_128_GCM_SHA256). Fix the name, or set "
                            "smtls_ssl_check_ciphers: false for a JRE with other suites"
                            % ", ".join(bad))
    return problems


def smtls_input_names(role, roles_dir):
    """The variables the input model checks for a host of this role (its argument spec, the CA's,
    the shared ones, the play keywords)."""
    return sorted(_input_spec(role, roles_dir)) + list(_inputs.PLAY_KEYWORDS) + list(_inputs.PLATFORM_NAMES)


def _role_file(roles_dir, role, path):
    with open(os.path.join(roles_dir, role, *path)) as data:
        return yaml.safe_load(data) or {}


def _input_defaults(role, roles_dir):
    """The literal (untemplated) defaults of the roles a host's inputs come from."""
    key = ("defaults", role, roles_dir)
    if key not in _INPUT_SPECS:
        defaults = {}
        for name in ("smtls", "smtls_ca", role):
            defaults.update((k, v) for k, v in _role_file(roles_dir, name, ("defaults", "main.yml")).items()
                            if "{{" not in repr(v))
        _INPUT_SPECS[key] = defaults
    return _INPUT_SPECS[key]


def _input_spec(role, roles_dir):
    key = (role, roles_dir)
    if key not in _INPUT_SPECS:
        def options(name):
            return _role_file(roles_dir, name, ("meta", "argument_specs.yml"))["argument_specs"]
        spec = {}
        for entry in options("smtls").values():  # the shared inventory inputs of the flows
            spec.update((k, v) for k, v in entry.get("options", {}).items() if k in _inputs.SHARED)
        spec.update(options("smtls_ca")["main"]["options"])
        spec.update(options(role)["main"]["options"])
        _INPUT_SPECS[key] = spec
    return _INPUT_SPECS[key]


_INPUT_SPECS = {}


def smtls_input_check(values, names, role, roles_dir, group_names=()):
    """The input model's verdict on one host: {problems: one line each, fleet: the fleet-wide
    settings as digests (no secret), references: the hosts its variables name}."""
    values, spec = dict(zip(names, values)), _input_spec(role, roles_dir)
    defaults = _input_defaults(role, roles_dir)
    return {"problems": _inputs.host_problems(values, spec, group_names, defaults),
            "fleet": _inputs.fingerprints(values, defaults, [n for n in _inputs.FLEET_WIDE if n in spec],
                                          spec),
            "references": dict((name, values[name]) for name, _group, _names_ok in _inputs.HOST_REFERENCES
                               if values.get(name, _inputs.UNSET) != _inputs.UNSET)}


def smtls_fleet_problems(hosts, hostvars, groups, ca_certificate="", valid_days=None, renew_days=None,
                         ca_source="internal"):
    """The input model's verdict on the hosts of a run together (module_utils/smtls_inputs.py
    fleet_problems): fleet-wide settings equal everywhere, hosts named by others in the right
    group, a CA with life enough for what it signs."""
    settings, references, secrets = {}, {}, {}
    for host in hosts:
        checked = hostvars[host].get("smtls_inputs")
        if not checked:
            continue
        settings[host] = checked["fleet"]
        references[host] = checked.get("references", {})
        secrets[host] = dict((name, str(hostvars[host].get(name, _inputs.UNSET)))
                             for name in _inputs.FLEET_WIDE if _inputs.is_secret(name))
    not_after = None
    if ca_certificate:
        not_after = _pki.not_after(_pki.parse_pem_certs(ca_certificate, "the CA certificate")[0])
    servers = [h for h in groups.get("sm_servers", []) if h in hosts]
    aliases = dict((h, hostvars[h].get(_inputs.CLUSTER_ALIAS)) for h in servers)
    serial = hostvars[servers[0]].get("smtls_server_batch") if servers else None
    # what the preflight's liveness check saw the load balancers send clients to (servers' and web
    # tiers' reads), against the names the new certificates will carry
    observed = [o for h in hosts for fact in ("sm_server_liveness_observed", "sm_webtier_liveness_observed")
                for o in hostvars[h].get(fact) or []]
    names = dict((h, (hostvars[h].get("sm_server_liveness_target") or {}).get("redirect_names"))
                 for h in servers)
    return (_inputs.fleet_problems(settings, dict(groups), references, secrets, not_after, valid_days,
                                   renew_days, signs=ca_source == "internal")
            + _inputs.group_batch_problems(servers, aliases, serial)
            + _liveness.redirect_problems(observed, names))


def smtls_liveness_problems(observations, name, keystore_read=None, keystore="", ports=None):
    """What is wrong with host name's ports in this run's liveness observations (anyone's), one
    line each: not answering, or serving a certificate other than the key entry of keystore_read
    (the installation read's; none read - any answer counts). ports: those meant to be probed."""
    return _liveness.liveness_problems(observations, name, _liveness.expected_fingerprints(keystore_read),
                              keystore, [int(p) for p in ports] if ports else None)


def smtls_balancer_ports(servlets):
    """The load balancer's HTTP port(s) among the start file's processes (sm_server_info's servlets)."""
    return _smcfg.balancer_ports(servlets)


def smtls_liveness_ports(servlets, ssl, http_port, https_port):
    """The ports the liveness check looks at on a server: every servlet sm.cfg lists (as the
    restart probes do), else the inventory's."""
    return _liveness.servlet_ports(servlets, not ssl, https_port if ssl else http_port)


class FilterModule(object):
    def filters(self):
        return {"smtls_in_dir": smtls_in_dir, "smtls_truststores_in": smtls_truststores_in,
                "smtls_written": smtls_written, "smtls_key_entry": smtls_key_entry,
                "smtls_keystore_in_place": smtls_keystore_in_place,
                "smtls_identity_outcome": smtls_identity_outcome, "smtls_leaf_pem": smtls_leaf_pem,
                "smtls_module_available": smtls_module_available,
                "smtls_progress": smtls_progress, "smtls_tls_problems": smtls_tls_problems,
                "smtls_browser_connector_problem": smtls_browser_connector_problem,
                "smtls_browser_https_plan": smtls_browser_https_plan,
                "smtls_mode": smtls_mode, "smtls_mode_layers": smtls_mode_layers,
                "smtls_phase_steps": smtls_phase_steps, "smtls_host_roles": smtls_host_roles,
                "smtls_client_certificates": smtls_client_certificates,
                "smtls_pem_problem": smtls_pem_problem,
                "smtls_certificate_plan": smtls_certificate_plan,
                "smtls_certificate_decision": smtls_certificate_decision,
                "smtls_trust_due": smtls_trust_due, "smtls_unchanged": smtls_unchanged,
                "smtls_webtiers_first": smtls_webtiers_first,
                "smtls_ssl_protocols_for": smtls_ssl_protocols_for,
                "smtls_merge_detected_cas": smtls_merge_detected_cas,
                "smtls_ca_selectors": smtls_ca_selectors, "smtls_named_certs": smtls_named_certs,
                "smtls_clients_without_ca_problem": smtls_clients_without_ca_problem,
                "smtls_leftover_problems": smtls_leftover_problems,
                "smtls_leftover_notes": smtls_leftover_notes,
                "smtls_sm_stores": smtls_sm_stores,
                "smtls_installation_problems": smtls_installation_problems,
                "smtls_installation_plan": smtls_installation_plan,
                "smtls_balancer_ports": smtls_balancer_ports,
                "smtls_derived_secret": smtls_derived_secret,
                "smtls_servlet_probes": smtls_servlet_probes, "smtls_servlet_problem": smtls_servlet_problem,
                "smtls_liveness_problems": smtls_liveness_problems,
                "smtls_liveness_ports": smtls_liveness_ports,
                "smtls_input_names": smtls_input_names, "smtls_input_check": smtls_input_check,
                "smtls_fleet_problems": smtls_fleet_problems}
