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

import os

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
