# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only inventory of one host's TLS material, for the fleet report.

Pure functions over bytes: what each keystore holds, which kind of password opens it
(never the password itself), which entries are the untrusted sample CA or come from it,
which are our CA or come from it, and the SSL settings of sm.ini / the web tier with
credentials masked. Nothing here writes; the sm_tls_inventory module only reads files
and calls in. The controller (smtls_findings) turns these facts into findings.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import grp
import json
import os
import pwd
import stat
import xml.etree.ElementTree as ET

from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_keystore_state as state
from ansible.module_utils import smtls_modes as modes
from ansible.module_utils import smtls_smini as smini
from ansible.module_utils import smtls_webtier as webtier
from ansible.module_utils import smtls_x509 as pki
from ansible.module_utils.smtls_files import FileProblem, check_writable, read_optional

# Store passwords anyone can look up: the JDK's, and the example values of the vendor's
# documentation and certificate tool (reference section 5). Not secrets - the point is to
# find stores still protected by one of them.
WELL_KNOWN_PASSWORDS = ["changeit", "changeme", "serverkeystore", "trustedclients",
                        "clientkeystore", "caroot"]

# sm.ini parameters the report shows: the SSL ones smtls manages, and the ports.
SM_INI_PARAMETERS = ("ssl", "sslConnector", "ssl_reqClientAuth", "keystoreFile", "keystoreType",
                     "keystorePass", "truststoreFile", "truststoreType", "truststorePass",
                     "ssl_trustedClientsJKS", "ssl_trustedClientsPwd", "trustedsignon",
                     "sslEnabledProtocols", "ciphers", "fipsmode", "httpPort", "httpsPort")
SM_INI_SECRETS = ("keystorepass", "truststorepass", "ssl_trustedclientspwd")

# Web tier settings the report shows (web.xml context parameters, webtier.properties wins).
WEBTIER_SETTINGS = ("ssl", "serverHost", "serverPort", "sslPort", "cacerts", "keystore",
                    "keystorePassword", "isCustomAuthenticationUsed", "secureLogin")
WEBTIER_SECRETS = ("keystorePassword",)

MASK = "********"


# --- keystores -------------------------------------------------------------------------


def fingerprint(value):
    return (value or "").replace(":", "").strip().lower()


class Selectors:
    """The untrusted CAs (smtls_untrusted_cas): sha256, subject, issuer or alias."""

    def __init__(self, items):
        self.items = [{"alias": (i.get("alias") or "").lower(),
                       "sha256": fingerprint(i.get("sha256")),
                       "subject": state.dn_key(i["subject"]) if i.get("subject") else None,
                       "issuer": state.dn_key(i["issuer"]) if i.get("issuer") else None}
                      for i in items or []]

    def _hits(self, cert, item):
        return bool((item["sha256"] and pki.sha256_hex(cert) == item["sha256"])
                    or (item["subject"] and state.dn_key(cert.subject.rfc4514_string()) == item["subject"])
                    or (item["issuer"] and state.dn_key(cert.issuer.rfc4514_string()) == item["issuer"]))

    def add(self, item):
        """Distrust one more CA ({sha256} or {subject}) for the stores read after this."""
        self.items.extend(Selectors([item]).items)

    def is_untrusted(self, entry):
        """The entry is one of the untrusted CAs (as the rollout would remove it)."""
        return any((item["alias"] and entry.alias.lower() == item["alias"]) or self._hits(entry.leaf, item)
                   for item in self.items)

    def issued_by_untrusted(self, entry):
        """The entry's certificate was issued by an untrusted CA (the sample certificate)."""
        issuer = state.dn_key(entry.leaf.issuer.rfc4514_string())
        for item in self.items:
            if item["subject"] and issuer == item["subject"]:
                return True
            if any(self._hits(cert, item) for cert in entry.chain[1:]):
                return True
        return False


def parse_known_cas(pems):
    """Our CA certificates (current and accepted), from their PEM texts; empty ones skipped."""
    return [cert for pem in pems or [] if pem and pem.strip()
            for cert in pki.parse_pem_certs(pem, "known CA certificate")]


def foreign_issuer(entry, known_cas):
    """The issuer of a key entry's certificate when no known CA (ours, or one accepted during
    a rotation) signed it - on a server smtls never managed, the vendor's sample CA: {sha256,
    subject} when the chain carries the issuer, {subject} alone when it does not; {} when a
    known CA signed it or the entry holds no key."""
    if entry.kind != "private_key":
        return {}
    leaf = entry.leaf
    if any(pki.issued_under(entry.chain, ca) for ca in known_cas):
        return {}
    found = {"subject": leaf.issuer.rfc4514_string()}
    for cert in entry.chain[1:]:
        if cert.subject == leaf.issuer and pki.signed_by(leaf, cert):
            found["sha256"] = pki.sha256_hex(cert)
            break
    return found


def keystore_info(path, password=None, initial_passwords=(), store_type=None, return_pem=False,
                  known_cas=None, writable=False):
    """What a keystore holds, read only (sm_keystore_info, and the hosts' installation reads):
    {exists, type, entries, password_used, attributes, pending}. password_used is primary
    (password opened it), initial (one of initial_passwords, tried after it) or none; attributes
    the file's mode, owner and group; pending whether a new key waits beside it (sm_keystore
    csr_key=new). Each entry as entry_summary gives it, with chain_pem
    (return_pem) and, with known_cas (PEM list), a key entry's foreign_issuer. Raises
    KeystoreError, PkiError or FileProblem."""
    data = read_optional(path, "keystore")
    if writable:
        check_writable(path, "keystore", len(data or b"") + 65536, backup=True)
    if data is None:
        return dict(exists=False, entries=[])
    keystore, used = state.open_keystore(data, password, initial_passwords or [], path)
    password_used = "none" if password is None else ("primary" if used == password else "initial")
    if store_type and store_type != keystore.store_type:
        raise ks.UnsupportedKeystore(
            "%s is a %s keystore, not %s; fix the configured type (keystoreType / "
            "truststoreType) or convert the file" % (path, keystore.store_type, store_type))
    known = None if known_cas is None else parse_known_cas(known_cas)
    entries = []
    for entry in keystore.entries:
        summary = state.entry_summary(entry)
        if return_pem:
            summary["chain_pem"] = pki.chain_pem(entry.chain)
        if known is not None and entry.kind == "private_key":
            summary["foreign_issuer"] = foreign_issuer(entry, known)
        entries.append(summary)
    return dict(exists=True, type=keystore.store_type, entries=entries, password_used=password_used,
                attributes=file_attributes(path), pending=os.path.exists(path + state.PENDING_SUFFIX))


def file_attributes(path):
    """{mode, owner: [name, uid], group: [name, gid]} of a file, for state.in_place."""
    st = os.stat(path)

    def name(lookup, number):
        try:
            return lookup(number)[0]
        except KeyError:
            return str(number)
    return dict(mode=stat.S_IMODE(st.st_mode), owner=[name(pwd.getpwuid, st.st_uid), str(st.st_uid)],
                group=[name(grp.getgrgid, st.st_gid), str(st.st_gid)])


# The options of a store an installation read takes along (sm_server_info, sm_webtier_info);
# with extra ones for a store that needs them.
def store_read_options(**extra):
    return dict(dict(path=dict(type="path", required=True), password=dict(type="str", no_log=True),
                     writable=dict(type="bool", default=False)), **extra)


def keystore_read(store, **options):
    """keystore_info of a store option (path, password, writable, and initial_passwords or
    known_cas where given), or {error} - returned, not raised, so the preflight can report it
    after the checks that name a wrong path more plainly."""
    try:
        return keystore_info(store["path"], store["password"], store.get("initial_passwords") or (),
                             known_cas=store.get("known_cas"), writable=store["writable"], **options)
    except (ks.KeystoreError, pki.PkiError, FileProblem) as exc:
        return dict(error=str(exc))


def open_for_report(data, candidates):
    """Open with the first candidate (kind, password) that passes the integrity check.

    Returns (keystore, kind, password) - kind one of the candidates' kinds, or "unknown"
    when none opened it and the file could still be listed without the check (JKS, a
    password-less PKCS12), with password None. Raises KeystoreError otherwise.
    """
    tried = set()
    for kind, password in candidates:
        if password is None or password == "" or password in tried:
            continue
        tried.add(password)
        try:
            return ks.load(data, password), kind, password
        except ks.WrongPassword:
            continue
    try:
        return ks.load(data, None), ("none" if not tried else "unknown"), None
    except ks.KeystoreError:
        if tried:
            raise ks.WrongPassword("none of the given passwords opens it (the integrity check "
                                   "failed); fix the password variable in the inventory")
        raise


def entry_facts(entry, selectors, known_cas):
    facts = state.entry_summary(entry)
    leaf = entry.leaf
    facts.update(
        not_before=pki.not_before(leaf).isoformat(),
        self_signed=leaf.issuer == leaf.subject,
        untrusted=selectors.is_untrusted(entry),
        issued_by_untrusted=selectors.issued_by_untrusted(entry),
        known_ca=facts["sha256"] in {pki.sha256_hex(ca) for ca in known_cas},
        issued_by_known_ca=any(pki.issued_under(entry.chain, ca) for ca in known_cas
                               if pki.sha256_hex(ca) != facts["sha256"]),
    )
    return facts


def notable(facts):
    """Worth listing from a CA truststore of a hundred-odd public CAs."""
    return (facts["kind"] == "private_key" or facts["untrusted"] or facts["issued_by_untrusted"]
            or facts["known_ca"] or facts["issued_by_known_ca"])


def read_store(store, data, selectors, known_cas, well_known, detect=False):
    """Facts about one store. store: path, purpose, label, password, initial_passwords,
    type, required, default_password_expected, entries (all | notable). data: the file, or
    None when absent. With detect, an identity store's foreign issuers (foreign_issuer) are
    listed and added to selectors, so the stores read after it are judged against them."""
    out = {key: store.get(key) for key in ("path", "purpose", "label", "required",
                                           "default_password_expected")}
    out.update(exists=data is not None, entries=[], entry_count=0, listed=store.get("entries") or "all")
    if data is None:
        return out
    candidates = ([("configured", store.get("password"))]
                  + [("initial", p) for p in store.get("initial_passwords") or []]
                  + [("well_known", p) for p in well_known])
    try:
        keystore, kind, password = open_for_report(data, candidates)
    except (ks.KeystoreError, pki.PkiError) as exc:
        out.update(error=str(exc),
                   problem="password" if isinstance(exc, ks.WrongPassword) else "unreadable")
        return out
    out.update(type=keystore.store_type, password_used=kind,
               well_known_password=password is not None and password in well_known,
               entry_count=len(keystore.entries))
    if store.get("type") and store["type"] != keystore.store_type:
        out["type_mismatch"] = store["type"]
    if detect and store.get("purpose") == "identity":
        out["foreign_issuers"] = [found for found in (foreign_issuer(e, known_cas) for e in keystore.entries)
                                  if found]
        for found in out["foreign_issuers"]:
            selectors.add({"sha256": found["sha256"]} if found.get("sha256") else found)
    for entry in keystore.entries:
        facts = entry_facts(entry, selectors, known_cas)
        if out["listed"] == "all" or notable(facts):
            out["entries"].append(facts)
    return out


# --- sm.ini --------------------------------------------------------------------------------


def _decode(data):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_sm_ini(data):
    """SSL settings of sm.ini as SM would read them (the first line of a name), credentials
    masked; which credential lines are encrypted (`*name:`) and which are plain text."""
    wanted = {name.lower(): name for name in SM_INI_PARAMETERS}
    settings, encrypted, plain = {}, [], []
    for line in smini.parse(_decode(data)):
        if line.key not in wanted or wanted[line.key] in settings:
            continue
        name = wanted[line.key]
        if line.encrypted:
            encrypted.append(name)
            settings[name] = MASK
        elif line.key in SM_INI_SECRETS:
            plain.append(name)
            settings[name] = MASK
        else:
            settings[name] = line.value.strip()
    return {"settings": settings, "encrypted": encrypted, "plain_passwords": plain,
            "mode": ini_mode(settings)}


def ini_mode(settings):
    """The SSL mode an sm.ini puts in effect (the mode table reads it)."""
    return modes.from_server_settings(settings)


# --- web tier ------------------------------------------------------------------------------


def _context_params(data):
    """web.xml's parameters as the web tier reads them: <context-param>s, and servlets'
    <init-param>s (the first of a name wins)."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise webtier.WebTierError("web.xml does not parse: %s" % exc)
    params = {}
    for element in root.iter():
        if not element.tag.endswith(("context-param", "init-param")):
            continue
        name = value = None
        for child in element:
            if child.tag.endswith("param-name"):
                name = (child.text or "").strip()
            elif child.tag.endswith("param-value"):
                value = (child.text or "").strip()
        if name and name not in params:
            params[name] = value or ""
    return params


def read_webtier(properties_data, web_xml_data, webapp_properties_data=None):
    """The web tier's connection settings in effect, each layer winning over the one before:
    web.xml's parameters, the webapp's WEB-INF/webtier.properties, the custom
    webtier.properties; credentials masked."""
    merged, source = {}, {}
    if web_xml_data is not None:
        for name, value in _context_params(web_xml_data).items():
            if name in WEBTIER_SETTINGS:
                merged[name], source[name] = value, "web.xml"
    for data, label in ((webapp_properties_data, "WEB-INF/webtier.properties"),
                        (properties_data, "webtier.properties")):
        if data is None:
            continue
        for name, value in webtier.properties_values(_decode(data)).items():
            if name in WEBTIER_SETTINGS:
                merged[name], source[name] = value, label
    for name in WEBTIER_SECRETS:
        if merged.get(name):
            merged[name] = MASK
    return {"settings": merged, "source": source, "mode": webtier_mode(merged)}


def webtier_mode(settings):
    """What the web tier's settings put in effect: none, encryption, client_certificate
    (client_auth and trusted_clients look alike from here) or trusted_signon."""
    if settings.get("ssl", "false").strip().lower() != "true":
        return "none"
    if not settings.get("keystore"):
        return "encryption"
    if settings.get("isCustomAuthenticationUsed", "true").strip().lower() == "false":
        return "trusted_signon"
    return "client_certificate"


# --- the last successful probe -----------------------------------------------------------

# The record sm_pending_restart (state absent, probe_record) leaves on the host when the
# rollout's handshake probes proved it (format: smtls_restart.PROBE_FORMAT).


def read_probe_record(data):
    """{"last_success": ISO time (UTC, ending in Z)} of a probe record; ValueError when the
    file is not one."""
    try:
        record = json.loads(_decode(data))
        when = record["last_success"]
        if not isinstance(when, str):
            raise TypeError(when)
        parsed = datetime.datetime.fromisoformat(when.replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError):
        raise ValueError("not a smtls probe record (remove it; the next successful probe "
                         "writes it again)")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=pki.UTC)
    stamp = parsed.astimezone(pki.UTC).replace(microsecond=0).isoformat()
    return {"last_success": stamp.replace("+00:00", "Z")}
