# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller side of certificates: the CA directory and issuing.

A CA directory holds `ca.crt` (PEM) and, for the internal CA, `ca.key` (PKCS#8
PEM encrypted with the CA passphrase). A corporate CA is a directory with only
`ca.crt`: smtls can then decide and export CSRs, but a person signs them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

from ansible.module_utils import smtls_x509 as pki

CA_CERT = "ca.crt"
CA_KEY = "ca.key"


class CertificateAuthority:
    def __init__(self, cert, key=None, created=False, extra_certs=None, locked_key=None,
                 key_missing=False):
        self.cert = cert
        self.key = key
        self.locked_key = locked_key  # an internal CA's key we were not given the passphrase for
        self.created = created
        self.extra_certs = list(extra_certs or [])  # e.g. the old CA during a rotation
        self.key_missing = key_missing  # ca.crt without ca.key: a corporate CA, or a lost key

    @property
    def can_sign(self):
        return self.key is not None

    @property
    def sha256(self):
        return pki.sha256_hex(self.cert)


def load_or_create(directory, passphrase, create=True, common_name="smtls internal CA",
                   organization=None, valid_days=3650, key_size=3072):
    """Return (CertificateAuthority, key PEM to write or None)."""
    cert_path = os.path.join(directory, CA_CERT)
    key_path = os.path.join(directory, CA_KEY)
    if os.path.exists(cert_path):
        cert = pki.parse_pem_certs(pki.read_file(cert_path, "CA certificate"),
                                   "CA certificate %s" % cert_path)[0]
        key = None
        has_key = os.path.exists(key_path)
        if has_key and passphrase:  # without the passphrase the CA can be read, not used
            key = pki.parse_pem_key(pki.read_file(key_path, "CA key"), passphrase,
                                    "CA key %s" % key_path)
        if key is not None and not pki.key_matches(cert, key):
            raise pki.PkiError("the CA key %s does not match the CA certificate %s: restore the "
                               "pair from the same backup, or point smtls_ca_dir at the CA "
                               "directory they came from" % (key_path, cert_path))
        pki.check_ca(cert, key)
        return CertificateAuthority(cert, key, locked_key=key_path if has_key and not key else None,
                                    key_missing=not has_key), None
    if not create:
        raise pki.PkiError("no CA certificate at %s: create the CA (ca_create) or put the "
                           "corporate CA's certificate there" % cert_path)
    if not passphrase or len(passphrase) < 8:
        raise pki.PkiError("a new CA key needs a passphrase of at least 8 characters "
                           "(smtls_ca_passphrase)")
    key, cert = pki.create_ca(common_name, organization, valid_days, key_size=key_size)
    return CertificateAuthority(cert, key, created=True), pki.key_pem(key, passphrase)


class HeldKey:
    """A key kept on the controller, encrypted with its own passphrase, and its chain file.

    A key that goes to hosts (the web tiers' shared one) has a passphrase of its own, so no
    host needs the CA's. One an earlier version encrypted with the CA passphrase (legacy) is
    opened with it and re-encrypted with its own (rekeyed; key_pem is then what to write)."""

    def __init__(self, key_path, cert_path, passphrase, legacy_passphrase=None):
        self.key_path = key_path
        self.cert_path = cert_path or os.path.splitext(key_path)[0] + ".crt"
        self.created = self.rekeyed = False
        self.key_pem = None
        if os.path.exists(key_path):
            if not passphrase:
                raise pki.PkiError("%s is encrypted: set its passphrase" % key_path)
            text = pki.read_file(key_path, "held key")
            try:
                self.key = pki.parse_pem_key(text, passphrase, key_path)
            except pki.PkiError:
                if not legacy_passphrase or legacy_passphrase == passphrase:
                    raise
                self.key = pki.parse_pem_key(text, legacy_passphrase, key_path)
                self.key_pem = pki.key_pem(self.key, passphrase)
                self.rekeyed = True
        else:
            if not passphrase or len(passphrase) < 8:
                raise pki.PkiError("a new controller-held key needs a passphrase (8+ chars)")
            self.key = pki.generate_key("rsa", 2048)
            self.key_pem = pki.key_pem(self.key, passphrase)
            self.created = True
        self.chain = []
        if os.path.exists(self.cert_path):
            self.chain = pki.order_chain(pki.parse_pem_certs(
                pki.read_file(self.cert_path, "certificate"), self.cert_path))


def decide_and_issue(ca, current_chain, csr_pem, common, dns, ips, renew_days, valid_days,
                     usage, force=False, accepted_cas=None, key=None):
    """Return a dict: action (keep | issue | issued), reason, chain (list of certs).

    keep   - the current chain stays;
    issue  - a new certificate is needed but no CSR was given (or the CA cannot sign);
    issued - a new certificate was signed from the CSR.
    """
    cas = [ca.cert] + list(accepted_cas or [])
    if force:
        issue, reason = True, "forced"
    else:
        issue, reason = pki.decide(current_chain, dns, ips, cas, renew_days, key=key, common=common)
    if not issue:
        return {"action": "keep", "reason": reason, "chain": current_chain}
    if ca.locked_key and (csr_pem or key is not None):
        raise pki.PkiError("%s needs a new certificate (%s) but the CA key %s is encrypted: set "
                           "the CA passphrase (smtls_ca_passphrase)" % (common, reason, ca.locked_key))
    if key is not None and ca.can_sign:
        public = key.public_key()
    elif not csr_pem or not ca.can_sign:
        return {"action": "issue", "reason": reason, "chain": []}
    else:
        public = pki.parse_csr(csr_pem, "CSR for %s" % common).public_key()
    leaf = pki.sign(ca.key, ca.cert, public, common, dns, ips, valid_days, usage)
    return {"action": "issued", "reason": reason, "chain": [leaf, ca.cert]}


class CertificatePlan:
    """What one sm_certificate call decides, and the controller files it writes for that, in
    order: directories (path, mode) and files (path, content, mode). The module writes them
    unless in check mode; in check mode the plan is the prediction."""

    def __init__(self):
        self.result = {}
        self.changed = False
        self.directories = []
        self.files = []

    def write(self, path, content, mode=0o600):
        directory = os.path.dirname(path)
        if directory and not os.path.isdir(directory) and directory not in [d for d, _m in self.directories]:
            self.directories.append((directory, 0o700))
        self.files.append((path, content, mode))
        self.changed = True


def _issuers_content(issuers):
    """The detected issuers as Ansible's to_nice_json writes them."""
    return (json.dumps(issuers, indent=4, sort_keys=True, separators=(",", ": "), ensure_ascii=False)
            + "\n").encode("utf-8")


def plan_certificate(p, read=None):
    """The plan of an sm_certificate call from its parameters (p: the module's params): the CA
    loaded or created, the detected issuers recorded, and for a common name the keep-or-issue
    decision with its reason - signed here, imported from the certificate import directory, or
    exported as a CSR for the CA team. read(path, what) reads an optional file (None if absent)."""
    plan = CertificatePlan()
    ca, new_key_pem = load_or_create(p["ca_dir"], p["ca_passphrase"], p["ca_create"],
                                     p["ca_common_name"], p["ca_organization"], p["ca_valid_days"])
    if ca.created:
        plan.write(os.path.join(p["ca_dir"], CA_KEY), new_key_pem.encode("ascii"))
        plan.write(os.path.join(p["ca_dir"], CA_CERT), pki.cert_pem(ca.cert).encode("ascii"), 0o644)
    recorded = False
    if p["detected_issuers"] and p["detected_issuers_file"]:
        content = _issuers_content(p["detected_issuers"])
        path = p["detected_issuers_file"]
        # a new CA's directory exists only once it is written (not at all in check mode)
        if not (os.path.isdir(os.path.dirname(path)) and read(path, "detected issuers") == content):
            plan.write(path, content, 0o644)
            recorded = True
    plan.result = result = dict(
        ca_certificate=pki.cert_pem(ca.cert), ca_sha256=ca.sha256, detected_issuers_written=recorded,
        ca_created=ca.created, ca_key_missing=ca.key_missing,
        ca_subject=ca.cert.subject.rfc4514_string(), ca_not_after=pki.not_after(ca.cert).isoformat())
    if not p["common_name"]:
        result.update(action="none", reason="ca_only", chain="")
        return plan
    common = p["common_name"]
    current = []
    if p["current_chain"].strip():
        current = pki.order_chain(pki.parse_pem_certs(p["current_chain"], "current chain of %s" % common))
    held = None
    if p["key_file"]:
        held = HeldKey(p["key_file"], p["certificate_file"], p["key_passphrase"] or p["ca_passphrase"],
                       p["ca_passphrase"])
        current = held.chain
    accepted = [pki.parse_pem_certs(pem, "accepted CA")[0] for pem in p["accepted_ca_certs"]]
    outcome = decide_and_issue(ca, current, p["csr"], common, p["dns"], p["ips"], p["renew_days"],
                               p["valid_days"], p["usage"], p["force"], accepted,
                               key=held.key if held else None)
    result.update(action=outcome["action"], reason=outcome["reason"],
                  reason_text=pki.REASONS.get(outcome["reason"], outcome["reason"]))
    chain = outcome["chain"]
    if outcome["action"] == "issue" and not ca.can_sign:
        chain = _corporate_ca_step(plan, ca, p, read) or chain
    if held:
        result.update(key_file=held.key_path, certificate_file=held.cert_path, key_rekeyed=held.rekeyed)
        if held.created or held.rekeyed:
            plan.write(held.key_path, held.key_pem.encode("ascii"))
        if result["action"] == "issued":
            plan.write(held.cert_path, pki.chain_pem(chain).encode("ascii"), 0o644)
    if result["action"] == "issued":
        plan.changed = True
    result["chain"] = pki.chain_pem(chain)
    if chain:
        result.update(sha256=pki.sha256_hex(chain[0]), not_after=pki.not_after(chain[0]).isoformat())
    return plan


# sm_certificate's options and their defaults, which certificate_plan fills in (ca_dir required)
CERTIFICATE_DEFAULTS = dict(
    ca_passphrase=None, ca_create=True, ca_common_name="smtls internal CA", ca_organization=None,
    ca_valid_days=3650, accepted_ca_certs=[], common_name=None, dns=[], ips=[], usage="server",
    current_chain="", csr=None, renew_days=30, valid_days=397, force=False, csr_export_dir=None,
    certificate_import_dir=None, key_file=None, key_passphrase=None, certificate_file=None,
    detected_issuers=[], detected_issuers_file=None)


def _boolean(value):
    """A flag as a template may give it: True, "true", "yes", 1, "1"."""
    return str(value).lower() in ("true", "1", "yes")


def certificate_plan(params, read):
    """What sm_certificate would do with these options (plan_certificate), on the controller where
    the CA lives: the module's result (ca_certificate, action, reason, chain, sha256, ..., changed
    as the module reports it) and write_due - whether the module must run to write what the plan
    holds (a new CA or controller-held key, a chain, an exported CSR, newly detected issuers). A
    CSR is signed in memory; nothing is written (read: how files are read, smtls_files.read_optional).
    Raises ValueError for an option sm_certificate
    does not have, PkiError or FileProblem for a CA or file it cannot use."""
    unknown = set(params or {}) - set(CERTIFICATE_DEFAULTS) - {"ca_dir"}
    if unknown:
        raise ValueError("unknown options %s" % ", ".join(sorted(unknown)))
    p = dict(CERTIFICATE_DEFAULTS)
    p.update((key, value) for key, value in (params or {}).items() if value is not None)
    for key in ("ca_create", "force"):
        p[key] = _boolean(p[key])
    for key in ("ca_valid_days", "renew_days", "valid_days"):
        p[key] = int(p[key])
    plan = plan_certificate(p, read)
    return dict(plan.result, write_due=bool(plan.files), changed=plan.changed)


def _corporate_ca_step(plan, ca, p, read):
    """A CA that cannot sign (a corporate CA's ca.crt alone): the certificate its team signed, from
    the import directory (the chain; the result becomes issued), or the CSR exported for them."""
    common = p["common_name"]
    if p["certificate_import_dir"]:
        path = os.path.join(p["certificate_import_dir"], common + ".crt")
        data = read(path, "signed certificate")
        if data:
            imported = pki.order_chain(pki.parse_pem_certs(data, path))
            issue, why = pki.decide(imported, p["dns"], p["ips"], [ca.cert], p["renew_days"], common=common)
            if issue:
                raise pki.PkiError("%s: the imported certificate is unusable (%s); ask the CA team to sign "
                                   "the exported CSR again" % (common, pki.REASONS[why]))
            plan.result["action"] = "issued"
            return imported + ([ca.cert] if imported[-1] != ca.cert else [])
    if p["csr"] and p["csr_export_dir"]:
        path = os.path.join(p["csr_export_dir"], common + ".csr")
        plan.result["csr_file"] = path
        if read(path, "exported CSR") != p["csr"].encode("ascii"):
            plan.write(path, p["csr"].encode("ascii"), 0o644)
    return None


def decision(current_chain, ca_certificate, accepted=None, common=None, dns=None, ips=None, renew_days=30):
    """Whether a host's installed certificate (current_chain, PEM) stays, and why not - the
    decision plan_certificate takes, made from what the host read, without a CA directory:
    {action keep | issue, reason, reason_text, chain (the one that stays, or ""), sha256}.
    ca_certificate: our CA (PEM); accepted: other CAs a certificate may still come from (a
    rotation). A PEM that does not parse raises PkiError."""
    current = (pki.order_chain(pki.parse_pem_certs(current_chain, "the chain of %s" % common))
               if (current_chain or "").strip() else [])
    cas = [pki.parse_pem_certs(pem, "CA certificate")[0]
           for pem in [ca_certificate] + list(accepted or []) if (pem or "").strip()]
    issue, reason = pki.decide(current, list(dns or []), list(ips or []), cas, int(renew_days), common=common)
    found = {"action": "issue" if issue else "keep", "reason": reason,
             "reason_text": pki.REASONS.get(reason, reason), "chain": "", "sha256": ""}
    if not issue:
        found.update(chain=pki.chain_pem(current), sha256=pki.sha256_hex(current[0]))
    return found


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


def merge_detected_cas(recorded, found, keep=None):
    """The issuers smtls distrusts without being told ({sha256, subject} each): those recorded
    by earlier runs, and those found now, once each, in that order - less the ones keep (by
    sha256 or subject) keeps on purpose. One without sha256 is compared by subject."""
    merged = []
    for item in list(recorded or []) + [f for f in found or [] if f]:
        if not any(_same_ca(item, known) for known in merged):
            merged.append(dict(item))
    return [item for item in merged if not _kept(item, keep)]


def pem_problem(items, variable):
    """Why one of items ({alias, pem}) does not parse as PEM certificates, or holds one outside its
    validity (nothing expired is written) - the message naming the variable and the alias - or ''."""
    for item in items or []:
        what = "%s %s" % (variable, item.get("alias", ""))
        try:
            for cert in pki.parse_pem_certs(item.get("pem") or "", what):
                pki.check_current(cert, what)
        except pki.PkiError as exc:
            return str(exc)
    return ""


def clients_without_ca_problem(clients, cas, variable):
    """Why some of clients ({alias, pem}) would be refused by a server that trusts exactly cas
    ({alias, pem}) for client certificates - one sentence naming each and the fix - or ''.
    A malformed PEM is left to the store module's own check, which names it."""
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
