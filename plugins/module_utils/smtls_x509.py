# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""X.509 for smtls: parsing with clear errors, the internal CA, CSRs, signing
and the reuse-or-reissue decision.

Runs on the controller (CA, signing) and on managed hosts (keys, CSRs,
describing entries), so it only uses cryptography APIs present in release 38
(Debian 12's python3-cryptography).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import ipaddress
import os
import re

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UTC = datetime.timezone.utc

# Reasons for a certificate decision, in the order they are checked.
REASONS = {
    "missing": "no certificate is installed",
    "key_mismatch": "the certificate does not match the private key",
    "other_issuer": "the certificate was issued by another CA (for example the sample CA)",
    "names_differ": "the certificate's names differ from the wanted names",
    "expired": "the certificate has expired",
    "expiring": "the certificate expires within the renewal window",
    "valid": "the certificate is valid, from the wanted CA, with the wanted names",
}


class PkiError(Exception):
    """Bad certificate material: the message says what and how to fix it."""


def now():
    return datetime.datetime.now(UTC)


def not_after(cert):
    try:
        return cert.not_valid_after_utc
    except AttributeError:  # cryptography < 42
        return cert.not_valid_after.replace(tzinfo=UTC)


def not_before(cert):
    try:
        return cert.not_valid_before_utc
    except AttributeError:  # cryptography < 42
        return cert.not_valid_before.replace(tzinfo=UTC)


# A certificate's DER and SHA-256, kept per certificate object: a keystore read hands over the
# DER it parsed (remember_der), so fingerprints and rewrites of entries a plan leaves alone cost
# a hash of bytes at hand, not a re-encoding. Keyed by id() with the object held, so no id is
# reused while cached; cleared when large (a long-lived controller process).
_MEMO = {}
_MEMO_LIMIT = 50000


def _memo(cert, der=None):
    hit = _MEMO.get(id(cert))
    if hit is None or hit[0] is not cert:
        if len(_MEMO) >= _MEMO_LIMIT:
            _MEMO.clear()
        hit = [cert, der if der is not None else cert.public_bytes(serialization.Encoding.DER), None]
        _MEMO[id(cert)] = hit
    return hit


def remember_der(cert, der):
    """Note the DER a certificate was parsed from (its encoding, byte for byte)."""
    _memo(cert, bytes(der))
    return cert


def cert_der(cert):
    return _memo(cert)[1]


def sha256_hex(cert):
    hit = _memo(cert)
    if hit[2] is None:
        hit[2] = hashlib.sha256(hit[1]).hexdigest()
    return hit[2]


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def chain_pem(chain):
    return "".join(cert_pem(c) for c in chain)


def _text(data):
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else (data or "")


PEM_CERT_BEGIN = "-----BEGIN CERTIFICATE-----"
PEM_CERT_END = "-----END CERTIFICATE-----"


def leaf_pem(chain):
    """The first certificate of a PEM chain (text), "" for none."""
    return (chain.split(PEM_CERT_END)[0] + PEM_CERT_END + "\n") if chain else ""


def parse_pem_certs(text, what):
    """All certificates of a PEM bundle, in order; any damaged block is an error."""
    text = _text(text)
    certs = []
    pos = 0
    while True:
        start = text.find(PEM_CERT_BEGIN, pos)
        if start < 0:
            break
        end = text.find(PEM_CERT_END, start)
        if end < 0:
            raise PkiError("%s: a PEM certificate has no END line (truncated file?)" % what)
        block = text[start:end + len(PEM_CERT_END)]
        try:
            certs.append(x509.load_pem_x509_certificate(block.encode("ascii")))
        except ValueError as exc:
            raise PkiError("%s: malformed PEM certificate #%d (%s)" % (what, len(certs) + 1, exc))
        pos = end + len(PEM_CERT_END)
    if not certs:
        raise PkiError("%s: no PEM certificate found (expected '%s')" % (what, PEM_CERT_BEGIN))
    return certs


def parse_pem_key(text, passphrase, what):
    data = _text(text).encode("ascii", "replace")
    pw = passphrase.encode("utf-8") if passphrase else None
    try:
        return serialization.load_pem_private_key(data, pw)
    except TypeError as exc:  # encrypted without passphrase, or passphrase for plain key
        raise PkiError("%s: %s" % (what, exc))
    except ValueError as exc:
        if "-----BEGIN" not in _text(text):
            raise PkiError("%s: not a PEM private key" % what)
        if "ENCRYPTED" in _text(text):
            raise PkiError("%s: wrong passphrase for the private key" % what)
        raise PkiError("%s: malformed private key (%s)" % (what, exc))


def parse_csr(text, what="CSR"):
    try:
        csr = x509.load_pem_x509_csr(_text(text).encode("ascii"))
    except ValueError as exc:
        raise PkiError("%s: malformed certificate request (%s)" % (what, exc))
    if not csr.is_signature_valid:
        raise PkiError("%s: the request's signature is invalid" % what)
    return csr


def public_bytes(key_or_cert):
    public = key_or_cert.public_key() if hasattr(key_or_cert, "public_key") else key_or_cert
    return public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def key_matches(cert, key):
    return public_bytes(cert) == public_bytes(key)


def generate_key(key_type="rsa", size=2048, curve="secp256r1"):
    if key_type == "rsa":
        if size < 2048:
            raise PkiError("RSA keys under 2048 bits are refused (asked for %d)" % size)
        return rsa.generate_private_key(public_exponent=65537, key_size=size)
    if key_type == "ec":
        curves = {"secp256r1": ec.SECP256R1(), "secp384r1": ec.SECP384R1()}
        if curve not in curves:
            raise PkiError("unsupported curve %r (secp256r1 or secp384r1)" % curve)
        return ec.generate_private_key(curves[curve])
    raise PkiError("unknown key type %r (rsa or ec)" % key_type)


def key_pem(key, passphrase=None):
    enc = (serialization.BestAvailableEncryption(passphrase.encode("utf-8")) if passphrase
           else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             enc).decode("ascii")


# --- names ----------------------------------------------------------------------


_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _valid_dns_name(name):
    """A host name (RFC 1123 labels), optionally one leading wildcard label."""
    labels = name.split(".")
    if labels[0] == "*" and len(labels) > 2:
        labels = labels[1:]
    return len(name) <= 253 and all(_DNS_LABEL.match(label) for label in labels)


def normalise_names(dns=None, ips=None, validate=True):
    """Sorted, de-duplicated DNS names (lowercase) and IP addresses (canonical); a name that
    is neither a valid DNS name nor an IP address is refused (it would be put into the SAN)."""
    dns_out = sorted({d.strip().lower().rstrip(".") for d in (dns or []) if d and d.strip()})
    bad = [name for name in dns_out if validate and not _valid_dns_name(name)]
    if bad:
        raise PkiError("%s is not a valid DNS name (letters, digits and hyphens in dot-separated "
                       "labels; an IP address goes into the ip_addresses list)"
                       % ", ".join(repr(b) for b in bad))
    ip_out = set()
    for value in ips or []:
        try:
            ip_out.add(str(ipaddress.ip_address(str(value).strip())))
        except ValueError:
            raise PkiError("%r is not an IP address" % value)
    return dns_out, sorted(ip_out)


def cert_names(cert):
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    # names a certificate already carries are read as they are, valid or not
    return normalise_names(san.get_values_for_type(x509.DNSName),
                           [str(i) for i in san.get_values_for_type(x509.IPAddress)], validate=False)


def sans_list(cert):
    dns, ips = cert_names(cert)
    return ["DNS:%s" % d for d in dns] + ["IP:%s" % i for i in ips]


def common_name(cert_or_name):
    name = getattr(cert_or_name, "subject", cert_or_name)
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return values[0].value if values else ""


def describe(cert):
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "sans": sans_list(cert),
        "not_before": not_before(cert).isoformat(),
        "not_after": not_after(cert).isoformat(),
        "sha256": sha256_hex(cert),
        "serial": format(cert.serial_number, "x"),
        "self_signed": cert.issuer == cert.subject,
    }


def signed_by(cert, issuer):
    """True when issuer's key verifies cert's signature (and the names chain)."""
    if cert.issuer != issuer.subject:
        return False
    public = issuer.public_key()
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                          cert.signature_hash_algorithm)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(cert.signature, cert.tbs_certificate_bytes,
                          ec.ECDSA(cert.signature_hash_algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def issued_under(chain, ca):
    """True when chain's leaf was issued by ca: directly (the internal CA), or through the
    intermediates that follow it in the chain, each signed by the next (an ACME CA's)."""
    cert = chain[0]
    for parent in chain[1:]:
        if signed_by(cert, ca):
            return True
        if not signed_by(cert, parent) or not _is_ca(parent):
            return False
        cert = parent
    return signed_by(cert, ca)


def _is_ca(cert):
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


# --- decisions -------------------------------------------------------------------


def decide(chain, dns, ips, ca_certs, renew_days, key=None, at=None, common=None):
    """Whether the installed chain can stay. Returns (issue: bool, reason).

    chain: installed certificates, leaf first (empty when none).
    ca_certs: CAs a certificate may come from (during a rotation, the new one only).
    key: the private key the certificate must match, when known.
    common: the subject common name it must carry, when given (a renamed host or client).
    """
    at = at or now()
    if not chain:
        return True, "missing"
    leaf = chain[0]
    if key is not None and not key_matches(leaf, key):
        return True, "key_mismatch"
    if not any(issued_under(chain, ca) for ca in ca_certs):
        return True, "other_issuer"
    if cert_names(leaf) != normalise_names(dns, ips):
        return True, "names_differ"
    if common is not None and common_name(leaf).lower() != common.lower():
        return True, "names_differ"
    if not_after(leaf) <= at:
        return True, "expired"
    if not_after(leaf) - at <= datetime.timedelta(days=renew_days):
        return True, "expiring"
    return False, "valid"


# --- the internal CA ---------------------------------------------------------------


def _name(common, organization=None, unit=None):
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
    if unit:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    if organization:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _ski(public):
    return x509.SubjectKeyIdentifier.from_public_key(public)


def create_ca(common, organization=None, valid_days=3650, key_type="rsa", key_size=3072,
              at=None):
    at = at or now()
    key = generate_key(key_type, key_size)
    subject = _name(common, organization)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(at - datetime.timedelta(minutes=5))
        .not_valid_after(at + datetime.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(_ski(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def check_ca(cert, key, at=None, min_days=1):
    """Refuse a CA that cannot sign: expired, not a CA, or key/cert mismatch."""
    at = at or now()
    if key is not None and not key_matches(cert, key):
        raise PkiError("the CA key does not match the CA certificate")
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = bc.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise PkiError("the CA certificate %s is not a CA (basicConstraints CA:false)"
                       % cert.subject.rfc4514_string())
    if not_after(cert) <= at + datetime.timedelta(days=min_days):
        raise PkiError("the CA certificate %s expired (or expires within %d day(s)) on %s; "
                       "create a new CA and roll it out with playbooks/rotate_ca.yml"
                       % (cert.subject.rfc4514_string(), min_days, not_after(cert).date()))


def sign(ca_key, ca_cert, public_key, common, dns=None, ips=None, valid_days=397,
         usage="server", organization=None, at=None):
    """Issue a leaf certificate; its lifetime never outlasts the CA."""
    at = at or now()
    check_ca(ca_cert, ca_key, at)
    dns, ips = normalise_names(dns, ips)
    if usage == "server" and not (dns or ips):
        raise PkiError("a server certificate for %r needs at least one DNS name or IP" % common)
    end = min(at + datetime.timedelta(days=valid_days), not_after(ca_cert))
    if end - at < datetime.timedelta(days=1):
        raise PkiError("a certificate for %r would be valid until %s, less than a day (smtls_valid_days "
                       "%s, the CA until %s). Fix: smtls_valid_days of 1 or more, or rotate the CA"
                       % (common, end.isoformat(), valid_days, not_after(ca_cert).date()))
    eku = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if usage == "server":
        eku.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
    rsa_key = isinstance(public_key, rsa.RSAPublicKey)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common, organization)).issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(at - datetime.timedelta(minutes=5))
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=rsa_key,
            data_encipherment=False, key_agreement=not rsa_key, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        .add_extension(_ski(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
    )
    names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def self_signed(key, common, valid_days=1, at=None):
    """A placeholder certificate, as keytool -genkeypair makes, until the CA signs."""
    at = at or now()
    name = _name(common)
    return (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(at - datetime.timedelta(minutes=5))
        .not_valid_after(at + datetime.timedelta(days=valid_days))
        .sign(key, hashes.SHA256())
    )


def make_csr(key, common, dns=None, ips=None):
    dns, ips = normalise_names(dns, ips)
    builder = x509.CertificateSigningRequestBuilder().subject_name(_name(common))
    names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256())


def csr_pem(csr):
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def order_chain(certs):
    """Order a bundle leaf first: the one certificate no other one names as issuer."""
    if len(certs) < 2:
        return list(certs)
    issuers = {c.issuer.public_bytes() for c in certs if c.issuer != c.subject}
    leaves = [c for c in certs if c.subject.public_bytes() not in issuers]
    if len(leaves) != 1:
        return list(certs)
    chain = [leaves[0]]
    rest = [c for c in certs if c is not leaves[0]]
    while rest:
        nxt = next((c for c in rest if c.subject == chain[-1].issuer), None)
        if nxt is None or nxt is chain[-1]:
            break
        chain.append(nxt)
        rest.remove(nxt)
    return chain + rest


def check_current(cert, what, at=None):
    """Refuse a certificate outside its validity: nothing expired or not yet valid is written
    into a store (a client would refuse it, or a server fail with it)."""
    at = at or now()
    if not_after(cert) <= at:
        raise PkiError("%s: %s expired on %s, so it is not written. Fix: renew it (or rotate the CA), "
                       "then run again" % (what, cert.subject.rfc4514_string(), not_after(cert).date()))
    if not_before(cert) > at + datetime.timedelta(minutes=10):
        raise PkiError("%s: %s is not valid before %s, so it is not written. Fix: check the clocks of the "
                       "CA and the controller, or wait until then" % (
                           what, cert.subject.rfc4514_string(), not_before(cert).isoformat()))


def check_chain(chain, what):
    """Each certificate is signed by the next; refuses a broken bundle."""
    for child, parent in zip(chain, chain[1:]):
        if not signed_by(child, parent):
            raise PkiError("%s: %s is not signed by %s (wrong order, or an unrelated "
                           "certificate in the bundle)" % (
                               what, child.subject.rfc4514_string(),
                               parent.subject.rfc4514_string()))


def read_file(path, what):
    if not os.path.exists(path):
        raise PkiError("%s: %s does not exist" % (what, path))
    with open(path, "rb") as handle:
        return handle.read()
