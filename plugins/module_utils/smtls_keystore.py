# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Java keystores (JKS and PKCS#12) read and written in pure Python.

A keystore is an ordered list of entries: private-key entries (a key and its
certificate chain) and trusted-certificate entries. Private keys stay in their
encrypted form until someone needs them, so a keystore whose entries use other
key passwords can still be rewritten unchanged; they are decrypted only to
re-encrypt (password or format change) or to match a key against a certificate.

The layouts follow what the JDK's own JavaKeyStore and PKCS12KeyStore write,
so keytool and JSSE read our files and we read theirs (tests/interop prove it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import hmac
import os
import struct
import time

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ansible.module_utils.smtls_der import (
    BMP_STRING, SEQUENCE, DerError, bmp_string, children, decode_int,
    decode_oid, encode_element, expect, explicit, implicit_primitive, integer, octet_string_value,
    octets, oid, read_tlv, seq, set_of,
)
from ansible.module_utils import smtls_pbe as pbe
from ansible.module_utils import smtls_x509 as pki

JKS_MAGIC = 0xFEEDFEED
JCEKS_MAGIC = 0xCECECECE
JKS_WHITENER = b"Mighty Aphrodite"

OID_DATA = "1.2.840.113549.1.7.1"
OID_ENCRYPTED_DATA = "1.2.840.113549.1.7.6"
OID_KEY_BAG = "1.2.840.113549.1.12.10.1.1"
OID_SHROUDED_KEY_BAG = "1.2.840.113549.1.12.10.1.2"
OID_CERT_BAG = "1.2.840.113549.1.12.10.1.3"
OID_X509_CERT = "1.2.840.113549.1.9.22.1"
OID_FRIENDLY_NAME = "1.2.840.113549.1.9.20"
OID_LOCAL_KEY_ID = "1.2.840.113549.1.9.21"
OID_JAVA_TRUSTED_USAGE = "2.16.840.1.113894.746875.1.1"
OID_ANY_EKU = "2.5.29.37.0"

STORE_TYPES = ("jks", "pkcs12")
# How PKCS#12 files are protected when we write them:
#   modern - the JDK 17+ defaults (AES-256/PBKDF2-SHA256, HMAC-SHA256 MAC)
#   legacy - what JDK 8 before 8u301 can read (PBE-SHA1-3DES, HMAC-SHA1 MAC)
PKCS12_PROFILES = {
    "modern": {"iterations": 10000, "mac": "sha256"},
    "legacy": {"iterations": 50000, "mac": "sha1"},
}


class KeystoreError(Exception):
    """Base class: a keystore cannot be read or written as asked."""


class WrongPassword(KeystoreError):
    pass


class CorruptKeystore(KeystoreError):
    pass


class UnsupportedKeystore(KeystoreError):
    pass


def _now_ms():
    return int(time.time() * 1000)


sha256_hex = pki.sha256_hex
cert_der = pki.cert_der


class KeyEntry:
    """A private key with its certificate chain (leaf first)."""

    kind = "private_key"

    def __init__(self, alias, chain, key=None, protected=None, timestamp=None,
                 password_hint=None):
        if not chain:
            raise KeystoreError("private key entry %r has no certificate" % alias)
        self.alias = alias
        self.chain = list(chain)
        self.timestamp = timestamp or _now_ms()
        # DER EncryptedPrivateKeyInfo as read from the file; decrypted on demand.
        self.protected = protected
        self._key = key
        self._opened_with = None
        self._hint = password_hint  # the store password the file was opened with

    @property
    def leaf(self):
        return self.chain[0]

    def _unlock(self, password):
        try:
            alg, ciphertext = _split_epki(self.protected)
            plain = pbe.decrypt(alg, password, ciphertext)
        except pbe.UnsupportedAlgorithm as exc:
            raise UnsupportedKeystore("entry %r: %s" % (self.alias, exc))
        except pbe.PbeError:
            raise WrongPassword("the key of entry %r does not open with the store password "
                                "(a separate key password is not supported)" % self.alias)
        try:
            self._key = serialization.load_der_private_key(plain, None)
        except ValueError:
            # a wrong password passes the CBC padding check about once in 256 tries
            raise WrongPassword("the key of entry %r does not open with the store password "
                                "(a separate key password is not supported)" % self.alias)
        self._opened_with = password

    def opens_with(self, password):
        """True when the stored encrypted key decrypts with password."""
        if self.protected is None:
            return False
        if self._opened_with is not None:
            return self._opened_with == password
        try:
            self._unlock(password)
        except WrongPassword:
            return False
        return True

    def private_key(self):
        if self._key is None:
            if self.protected is None:
                raise KeystoreError("entry %r has no key" % self.alias)
            self._unlock(self._hint)
        return self._key

    def pkcs8(self):
        return self.private_key().private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())


class CertEntry:
    """A trusted certificate (a CA, or an allowed client in trustedclients)."""

    kind = "trusted_cert"

    def __init__(self, alias, cert, timestamp=None):
        self.alias = alias
        self.cert = cert
        self.timestamp = timestamp or _now_ms()

    @property
    def leaf(self):
        return self.cert

    @property
    def chain(self):
        return [self.cert]


def _split_epki(der):
    """EncryptedPrivateKeyInfo DER -> (AlgorithmIdentifier DER, ciphertext)."""
    try:
        fields = children(expect(der, SEQUENCE, "EncryptedPrivateKeyInfo"))
        return encode_element(*fields[0]), octet_string_value(*fields[1])
    except (DerError, IndexError) as exc:
        raise CorruptKeystore("bad encrypted private key: %s" % exc)


class Keystore:
    """Entries in file order; aliases compare case-insensitively, as in Java."""

    def __init__(self, store_type, entries=None):
        if store_type not in STORE_TYPES:
            raise UnsupportedKeystore("unknown keystore type %r (use jks or pkcs12)" % store_type)
        self.store_type = store_type
        self.entries = list(entries or [])

    def get(self, alias):
        wanted = alias.lower()
        for entry in self.entries:
            if entry.alias.lower() == wanted:
                return entry
        return None

    def remove(self, entry):
        self.entries = [e for e in self.entries if e is not entry]

    def put(self, entry):
        """Add an entry, replacing one with the same alias in place."""
        for i, existing in enumerate(self.entries):
            if existing.alias.lower() == entry.alias.lower():
                self.entries[i] = entry
                return
        self.entries.append(entry)

    def aliases(self):
        return [e.alias for e in self.entries]


def detect_type(data):
    if len(data) < 4:
        raise CorruptKeystore("file is too short to be a keystore (%d bytes)" % len(data))
    magic = struct.unpack(">I", data[:4])[0]
    if magic == JKS_MAGIC:
        return "jks"
    if magic == JCEKS_MAGIC:
        raise UnsupportedKeystore("JCEKS keystores are not supported; convert with keytool "
                                  "-importkeystore to JKS or PKCS12")
    if data[0] == 0x30:
        return "pkcs12"
    raise CorruptKeystore("not a JKS or PKCS12 keystore (unknown header %s)" % data[:4].hex())


def load(data, password, store_type=None):
    """Parse keystore bytes. password None skips the integrity check."""
    detected = detect_type(data)
    if store_type and store_type != detected:
        raise UnsupportedKeystore("file is %s, not %s as configured" % (detected, store_type))
    if detected == "jks":
        return _load_jks(data, password)
    return _load_pkcs12(data, password)


def dump(keystore, password, key_password=None, profile="modern"):
    """Serialise; key entries are (re-)encrypted under key_password (default: password)."""
    key_password = password if key_password is None else key_password
    if keystore.store_type == "jks":
        return _dump_jks(keystore, password, key_password)
    return _dump_pkcs12(keystore, password, key_password, profile)


# --- JKS ----------------------------------------------------------------------

_U16, _U32, _U64 = struct.Struct(">H"), struct.Struct(">I"), struct.Struct(">Q")


class _Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise CorruptKeystore("keystore is truncated")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def _number(self, form):
        if self.pos + form.size > len(self.data):
            raise CorruptKeystore("keystore is truncated")
        value = form.unpack_from(self.data, self.pos)[0]
        self.pos += form.size
        return value

    def u16(self):
        return self._number(_U16)

    def u32(self):
        return self._number(_U32)

    def u64(self):
        return self._number(_U64)

    def utf(self):
        return _decode_modified_utf8(self.take(self.u16()))


def _encode_modified_utf8(text):
    # Java's DataOutput.writeUTF: UTF-16 units, NUL as C0 80, surrogates 3 bytes each.
    if text.isascii() and "\x00" not in text:  # the common case: ASCII aliases
        if len(text) > 0xFFFF:
            raise KeystoreError("alias is too long")
        return _U16.pack(len(text)) + text.encode("ascii")
    out = bytearray()
    units = text.encode("utf-16-be")
    for i in range(0, len(units), 2):
        c = (units[i] << 8) | units[i + 1]
        if 0 < c < 0x80:
            out.append(c)
        elif c < 0x800:
            out.extend((0xC0 | (c >> 6), 0x80 | (c & 0x3F)))
        else:
            out.extend((0xE0 | (c >> 12), 0x80 | ((c >> 6) & 0x3F), 0x80 | (c & 0x3F)))
    if len(out) > 0xFFFF:
        raise KeystoreError("alias is too long")
    return struct.pack(">H", len(out)) + bytes(out)


def _decode_modified_utf8(data):
    if max(data, default=0) < 0x80:  # the common case: ASCII aliases
        return data.decode("ascii")
    units = []
    i = 0
    try:
        while i < len(data):
            b = data[i]
            if b < 0x80:
                units.append(b)
                i += 1
            elif b >> 5 == 0x6:
                units.append(((b & 0x1F) << 6) | (data[i + 1] & 0x3F))
                i += 2
            else:
                units.append(((b & 0x0F) << 12) | ((data[i + 1] & 0x3F) << 6) | (data[i + 2] & 0x3F))
                i += 3
        return b"".join(struct.pack(">H", u) for u in units).decode("utf-16-be", "surrogatepass")
    except (IndexError, UnicodeDecodeError):
        raise CorruptKeystore("bad alias encoding")


def _load_cert(der, where):
    try:
        return pki.remember_der(x509.load_der_x509_certificate(der), der)
    except ValueError as exc:
        raise CorruptKeystore("%s: unreadable certificate (%s)" % (where, exc))


def _read_jks_cert(reader, where):
    cert_type = reader.utf()
    if cert_type != "X.509":
        raise UnsupportedKeystore("%s: certificate type %r" % (where, cert_type))
    return _load_cert(reader.take(reader.u32()), where)


def _jks_digest(password, body):
    return hashlib.sha1(pbe.java_password_bytes(password) + JKS_WHITENER + body).digest()


def _load_jks(data, password):
    reader = _Reader(data)
    reader.u32()
    version = reader.u32()
    if version not in (1, 2):
        raise UnsupportedKeystore("JKS version %d" % version)
    count = reader.u32()
    if count > 100000:
        raise CorruptKeystore("implausible entry count %d" % count)
    entries = []
    for _ in range(count):
        tag = reader.u32()
        alias = reader.utf()
        stamp = reader.u64()
        if tag == 1:
            protected = reader.take(reader.u32())
            chain = [_read_jks_cert(reader, alias) for _ in range(reader.u32())]
            entries.append(KeyEntry(alias, chain, protected=protected, timestamp=stamp,
                                    password_hint=password))
        elif tag == 2:
            cert = _read_jks_cert(reader, alias) if version == 2 else _load_cert(
                reader.take(reader.u32()), alias)
            entries.append(CertEntry(alias, cert, timestamp=stamp))
        else:
            raise CorruptKeystore("unknown JKS entry tag %d" % tag)
    body_end = reader.pos
    digest = reader.take(20)
    if reader.pos != len(data):
        raise CorruptKeystore("trailing bytes after the keystore")
    if password is not None and not hmac.compare_digest(
            digest, _jks_digest(password, data[:body_end])):
        raise WrongPassword("keystore integrity check failed: wrong store password, or the "
                            "file was altered")
    return Keystore("jks", entries)


_X509 = _encode_modified_utf8("X.509")


def _dump_jks(keystore, password, key_password):
    out = [struct.pack(">III", JKS_MAGIC, 2, len(keystore.entries))]
    for entry in keystore.entries:
        alias = _encode_modified_utf8(entry.alias.lower())
        if entry.kind == "private_key":
            protected = _reencrypt(entry, key_password, "jks", None)
            out.append(_U32.pack(1) + alias + _U64.pack(entry.timestamp))
            out.append(_U32.pack(len(protected)) + protected)
            out.append(_U32.pack(len(entry.chain)))
            for cert in entry.chain:
                der = cert_der(cert)
                out.append(_X509 + _U32.pack(len(der)) + der)
        else:
            der = cert_der(entry.cert)
            out.append(_U32.pack(2) + alias + _U64.pack(entry.timestamp))
            out.append(_X509 + _U32.pack(len(der)) + der)
    body = b"".join(out)
    return body + _jks_digest(password, body)


def _reencrypt(entry, key_password, store_type, profile):
    """EncryptedPrivateKeyInfo for entry in the target format.

    The stored blob is reused when it opens with key_password and already uses
    the algorithm the target writes; otherwise the key is decrypted (with
    key_password, which is also what it must open with) and encrypted anew.
    """
    if store_type == "jks":
        want = pbe.OID_JKS_KEY_PROTECTOR
    elif profile == "legacy":
        want = pbe.OID_PBE_SHA1_3DES
    else:
        want = "pbes2:" + pbe.OID_AES256_CBC
    if entry.protected is not None:
        alg, _blob = _split_epki(entry.protected)
        if pbe.algorithm_family(alg) == want and entry.opens_with(key_password):
            return entry.protected
    plain = entry.pkcs8()
    if store_type == "jks":
        return pbe.jks_protect(plain, key_password)
    iterations = PKCS12_PROFILES[profile]["iterations"]
    if profile == "legacy":
        alg, blob = pbe.encrypt_pkcs12_3des(key_password, plain, iterations)
    else:
        alg, blob = pbe.encrypt_pbes2_aes256(key_password, plain, iterations)
    return seq(alg, octets(blob))


# --- PKCS#12 --------------------------------------------------------------------


def _attributes(value):
    """SET OF Attribute -> {oid: [values (tag, bytes)]}."""
    attrs = {}
    for _tag, attr in children(value):
        fields = children(attr)
        attrs[decode_oid(fields[0][1])] = children(fields[1][1])
    return attrs


def _friendly_name(attrs):
    for tag, value in attrs.get(OID_FRIENDLY_NAME, []):
        if tag == BMP_STRING:
            return value.decode("utf-16-be")
        return value.decode("utf-8", "replace")
    return None


def _local_key_id(attrs):
    for _tag, value in attrs.get(OID_LOCAL_KEY_ID, []):
        return value
    return None


def _content_info(der, password):
    """ContentInfo -> SafeContents DER (decrypting encryptedData)."""
    fields = children(der)
    content_type = decode_oid(fields[0][1])
    inner = fields[1][1]  # [0] EXPLICIT
    tag, value, _ = read_tlv(inner)
    if content_type == OID_DATA:
        return octet_string_value(tag, value)
    if content_type == OID_ENCRYPTED_DATA:
        enc_fields = children(children(value)[1][1])  # EncryptedData.encryptedContentInfo
        alg = encode_element(*enc_fields[1])
        ctag, cvalue = enc_fields[2]
        if ctag == 0x80:
            ciphertext = cvalue
        elif ctag == 0xA0:  # constructed [0] IMPLICIT OCTET STRING (BER)
            ciphertext = b"".join(octet_string_value(t, v) for t, v in children(cvalue))
        else:
            raise CorruptKeystore("unexpected encryptedContent tag 0x%02x" % ctag)
        if password is None:
            return None  # certificates are encrypted and no password was given
        try:
            return pbe.decrypt(alg, password, ciphertext)
        except pbe.UnsupportedAlgorithm as exc:
            raise UnsupportedKeystore(str(exc))
        except pbe.PbeError:
            raise WrongPassword("cannot decrypt the certificates: wrong store password")
    raise UnsupportedKeystore("PKCS12 content type %s (public-key protected PKCS12 is not "
                              "supported)" % content_type)


def _verify_mac(mac_data, auth_safe, password):
    fields = children(mac_data)
    digest_info = children(fields[0][1])
    digest_oid = decode_oid(children(digest_info[0][1])[0][1])
    expected = digest_info[1][1]
    salt = fields[1][1]
    iterations = decode_int(fields[2][1]) if len(fields) > 2 else 1
    hash_name = pbe.HASHES.get(digest_oid)
    if hash_name is None:
        raise UnsupportedKeystore("PKCS12 MAC algorithm %s" % digest_oid)
    got = pbe.pkcs12_mac(hash_name, password, salt, iterations, auth_safe)
    if not hmac.compare_digest(got, expected):
        raise WrongPassword("keystore integrity check failed: wrong store password, or the "
                            "file was altered")


def _load_pkcs12(data, password):
    try:
        tag, pfx, end = read_tlv(data)
        if tag != SEQUENCE or end != len(data):
            raise CorruptKeystore("not a PKCS12 file (or trailing bytes)")
        fields = children(pfx)
        if decode_int(fields[0][1]) != 3:
            raise UnsupportedKeystore("PKCS12 version %d" % decode_int(fields[0][1]))
        auth_fields = children(fields[1][1])
        if decode_oid(auth_fields[0][1]) != OID_DATA:
            raise UnsupportedKeystore("PKCS12 protected by public key is not supported")
        tag, value, _ = read_tlv(auth_fields[1][1])
        auth_safe = octet_string_value(tag, value)
        if len(fields) > 2 and password is not None:
            _verify_mac(fields[2][1], auth_safe, password)
        key_bags, cert_bags = [], []
        for _tag, ci in children(expect(auth_safe, SEQUENCE, "AuthenticatedSafe")):
            contents = _content_info(ci, password)
            if contents is None:
                continue
            for _btag, bag in children(expect(contents, SEQUENCE, "SafeContents")):
                _collect_bag(bag, key_bags, cert_bags)
    except DerError as exc:
        raise CorruptKeystore("malformed PKCS12 structure: %s" % exc)
    except IndexError:
        raise CorruptKeystore("malformed PKCS12 structure: missing field")
    return Keystore("pkcs12", _pkcs12_entries(key_bags, cert_bags, password))


def _collect_bag(bag, key_bags, cert_bags):
    fields = children(bag)
    bag_id = decode_oid(fields[0][1])
    _vtag, value, _ = read_tlv(fields[1][1])
    attrs = _attributes(fields[2][1]) if len(fields) > 2 else {}
    if bag_id == OID_SHROUDED_KEY_BAG:
        key_bags.append((encode_element(SEQUENCE, value), attrs))
    elif bag_id == OID_KEY_BAG:
        raise UnsupportedKeystore("PKCS12 with an unencrypted private key is not supported")
    elif bag_id == OID_CERT_BAG:
        cert_fields = children(value)
        if decode_oid(cert_fields[0][1]) != OID_X509_CERT:
            return  # SDSI certificates etc.: Java ignores them too
        ctag, cvalue, _ = read_tlv(cert_fields[1][1])
        der = octet_string_value(ctag, cvalue)
        cert_bags.append((_load_cert(der, "PKCS12 certificate"), attrs))


def _time_from_key_id(key_id):
    if key_id and key_id.startswith(b"Time "):
        try:
            return int(key_id[5:])
        except ValueError:
            return None
    return None


def build_chain(leaf, pool):
    """Leaf first, then issuers found in pool by subject name, stopping at a root."""
    chain = [leaf]
    by_subject = {}
    for cert in pool:
        by_subject.setdefault(cert.subject.public_bytes(), []).append(cert)
    current = leaf
    while current.issuer != current.subject and len(chain) < 10:
        candidates = [c for c in by_subject.get(current.issuer.public_bytes(), [])
                      if c not in chain]
        if not candidates:
            break
        current = candidates[0]
        chain.append(current)
    return chain


def _pkcs12_entries(key_bags, cert_bags, password):
    entries = []
    pool = [cert for cert, _ in cert_bags]
    for epki, attrs in key_bags:
        key_id = _local_key_id(attrs)
        alias = _friendly_name(attrs) or (key_id.hex() if key_id else "key%d" % len(entries))
        leaf = next((c for c, a in cert_bags if key_id and _local_key_id(a) == key_id), None)
        if leaf is None:
            raise CorruptKeystore("private key %r has no matching certificate" % alias)
        entries.append(KeyEntry(alias, build_chain(leaf, pool), protected=epki,
                                timestamp=_time_from_key_id(key_id), password_hint=password))
    for cert, attrs in cert_bags:
        if OID_JAVA_TRUSTED_USAGE in attrs and _local_key_id(attrs) is None:
            alias = _friendly_name(attrs) or sha256_hex(cert)[:16]
            entries.append(CertEntry(alias, cert))
    return entries


def _bag(bag_oid, value, attrs):
    return seq(oid(bag_oid), explicit(0, value), set_of(*attrs)) if attrs else seq(
        oid(bag_oid), explicit(0, value))


def _attr(attr_oid, *values):
    return seq(oid(attr_oid), set_of(*values))


def _dump_pkcs12(keystore, password, key_password, profile):
    if profile not in PKCS12_PROFILES:
        raise UnsupportedKeystore("unknown PKCS12 profile %r (modern or legacy)" % profile)
    settings = PKCS12_PROFILES[profile]
    key_bags, cert_bags, written = [], [], set()
    used_ids = set()
    for entry in keystore.entries:
        name = _attr(OID_FRIENDLY_NAME, bmp_string(entry.alias))
        if entry.kind == "private_key":
            if not password:
                raise KeystoreError("a PKCS12 keystore with a private key needs a password")
            stamp = entry.timestamp
            while stamp in used_ids:
                stamp += 1
            used_ids.add(stamp)
            key_id = _attr(OID_LOCAL_KEY_ID, octets(b"Time %d" % stamp))
            protected = _reencrypt(entry, key_password, "pkcs12", profile)
            key_bags.append(_bag(OID_SHROUDED_KEY_BAG, protected, [name, key_id]))
            for i, cert in enumerate(entry.chain):
                der = cert_der(cert)
                if i and der in written:
                    continue
                written.add(der)
                value = seq(oid(OID_X509_CERT), explicit(0, octets(der)))
                cert_bags.append(_bag(OID_CERT_BAG, value, [name, key_id] if i == 0 else []))
        else:
            der = cert_der(entry.cert)
            trusted = _attr(OID_JAVA_TRUSTED_USAGE, oid(OID_ANY_EKU))
            value = seq(oid(OID_X509_CERT), explicit(0, octets(der)))
            cert_bags.append(_bag(OID_CERT_BAG, value, [name, trusted]))
    safes = []
    if cert_bags:
        certs = seq(*cert_bags)
        if password:
            if profile == "legacy":
                alg, blob = pbe.encrypt_pkcs12_3des(password, certs, settings["iterations"])
            else:
                alg, blob = pbe.encrypt_pbes2_aes256(password, certs, settings["iterations"])
            encrypted = seq(integer(0), seq(oid(OID_DATA), alg, implicit_primitive(0, blob)))
            safes.append(seq(oid(OID_ENCRYPTED_DATA), explicit(0, encrypted)))
        else:  # password-less truststore, as JDK 18+ writes cacerts
            safes.append(seq(oid(OID_DATA), explicit(0, octets(certs))))
    if key_bags:
        safes.append(seq(oid(OID_DATA), explicit(0, octets(seq(*key_bags)))))
    auth_safe = seq(*safes)
    parts = [integer(3), seq(oid(OID_DATA), explicit(0, octets(auth_safe)))]
    if password:
        salt = os.urandom(20)
        mac = pbe.pkcs12_mac(settings["mac"], password, salt, settings["iterations"], auth_safe)
        digest = seq(seq(oid(pbe.HASH_OIDS[settings["mac"]]), b"\x05\x00"), octets(mac))
        parts.append(seq(digest, octets(salt), integer(settings["iterations"])))
    return seq(*parts)

