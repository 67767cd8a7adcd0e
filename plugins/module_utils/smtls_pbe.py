# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Password-based encryption used by Java keystores.

Covers what JDK 8 to 25 write and read: the JKS key protector (Sun's
proprietary SHA-1 stream), PKCS#12 PBEv1 (SHA-1 with 3DES or RC2) with the
RFC 7292 key derivation, PBES2 (PBKDF2 + AES / 3DES), and the PKCS#12 MAC.
Primitives come from `cryptography` (any release from 38 on, the one Debian 12
ships to managed hosts); RC2, which cryptography only offers with 128-bit keys,
is implemented here because Java 8 encrypts PKCS#12 certificates with RC2-40.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import hmac
import os

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

try:  # cryptography >= 43 moved 3DES out of the main namespace
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - depends on the host's cryptography
    TripleDES = algorithms.TripleDES

from ansible.module_utils.smtls_der import (
    DerError, SEQUENCE, algorithm, children, decode_int, decode_oid, encode_element, expect,
    integer, octets, oid, seq,
)

OID_JKS_KEY_PROTECTOR = "1.3.6.1.4.1.42.2.17.1.1"
OID_PBES2 = "1.2.840.113549.1.5.13"
OID_PBKDF2 = "1.2.840.113549.1.5.12"
OID_PBE_SHA1_3DES = "1.2.840.113549.1.12.1.3"
OID_PBE_SHA1_RC2_128 = "1.2.840.113549.1.12.1.5"
OID_PBE_SHA1_RC2_40 = "1.2.840.113549.1.12.1.6"
OID_DES_EDE3_CBC = "1.2.840.113549.3.7"

HASHES = {  # OID -> hashlib name, for digests and PBKDF2 PRFs
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
    "1.2.840.113549.2.7": "sha1",
    "1.2.840.113549.2.8": "sha224",
    "1.2.840.113549.2.9": "sha256",
    "1.2.840.113549.2.10": "sha384",
    "1.2.840.113549.2.11": "sha512",
}
HASH_OIDS = {"sha1": "1.3.14.3.2.26", "sha256": "2.16.840.1.101.3.4.2.1"}
HMAC_OIDS = {"sha1": "1.2.840.113549.2.7", "sha256": "1.2.840.113549.2.9"}
AES_CBC = {  # OID -> key length
    "2.16.840.1.101.3.4.1.2": 16,
    "2.16.840.1.101.3.4.1.22": 24,
    "2.16.840.1.101.3.4.1.42": 32,
}
OID_AES256_CBC = "2.16.840.1.101.3.4.1.42"


class PbeError(ValueError):
    """The data cannot be decrypted with this password or algorithm."""


class UnsupportedAlgorithm(PbeError):
    """The encryption algorithm is one smtls does not implement."""


def java_password_bytes(password):
    """Java's char[] as big-endian 16-bit units (JKS and the PKCS#12 KDF)."""
    return (password or "").encode("utf-16-be")


# --- JKS key protector --------------------------------------------------------


def _jks_keystream(password, salt, length):
    pw = java_password_bytes(password)
    stream = bytearray()
    digest = salt
    while len(stream) < length:
        digest = hashlib.sha1(pw + digest).digest()
        stream.extend(digest)
    return bytes(stream[:length])


def jks_protect(plain, password):
    salt = os.urandom(20)
    stream = _jks_keystream(password, salt, len(plain))
    body = bytes(a ^ b for a, b in zip(plain, stream))
    check = hashlib.sha1(java_password_bytes(password) + plain).digest()
    return seq(algorithm(OID_JKS_KEY_PROTECTOR), octets(salt + body + check))


def _jks_recover(data, password):
    if len(data) < 41:
        raise PbeError("JKS protected key is too short")
    salt, body, check = data[:20], data[20:-20], data[-20:]
    stream = _jks_keystream(password, salt, len(body))
    plain = bytes(a ^ b for a, b in zip(body, stream))
    if not hmac.compare_digest(hashlib.sha1(java_password_bytes(password) + plain).digest(), check):
        raise PbeError("wrong key password")
    return plain


# --- PKCS#12 key derivation (RFC 7292 appendix B) -----------------------------


def pkcs12_kdf(hash_name, password, salt, purpose, iterations, size):
    """purpose: 1 = key, 2 = IV, 3 = MAC key."""
    block = hashlib.new(hash_name).block_size
    pw = java_password_bytes(password) + b"\x00\x00" if password is not None else b""

    def stretch(data):
        if not data:
            return b""
        count = -(-len(data) // block) * block
        return (data * (count // len(data) + 1))[:count]

    work = bytearray(stretch(salt) + stretch(pw))
    diversifier = bytes([purpose]) * block
    out = b""
    while len(out) < size:
        a = hashlib.new(hash_name, diversifier + bytes(work)).digest()
        for _ in range(iterations - 1):
            a = hashlib.new(hash_name, a).digest()
        out += a
        b = int.from_bytes((a * (block // len(a) + 1))[:block], "big") + 1
        for start in range(0, len(work), block):
            value = (int.from_bytes(work[start:start + block], "big") + b) % (1 << (8 * block))
            work[start:start + block] = value.to_bytes(block, "big")
    return out[:size]


def pkcs12_mac(hash_name, password, salt, iterations, data):
    key = pkcs12_kdf(hash_name, password, salt, 3, iterations, hashlib.new(hash_name).digest_size)
    return hmac.new(key, data, hash_name).digest()


# --- RC2 (RFC 2268), decryption only: Java 8 protects PKCS#12 certs with RC2-40

_RC2_PI = bytes.fromhex(
    "d978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2"
    "179a59f587b34f1361456d8d09817d32bd8f40eb86b77b0bf09521225c6b4e82"
    "54d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626"
    "6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed7"
    "08e8eade8052eef784aa72ac354d6a2a961ad2715a1549744b9fd05e0418a4ec"
    "c2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731"
    "2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a9"
    "0d38341bab33ffb0bb480c5fb9b1cd2ec5f3db47e5a59c770aa62068fe7fc1ad"
)


def _rc2_expand(key, effective_bits):
    t = len(key)
    t8 = (effective_bits + 7) // 8
    tm = 0xFF >> (8 * t8 - effective_bits)
    expanded = bytearray(128)
    expanded[:t] = key
    for i in range(t, 128):
        expanded[i] = _RC2_PI[(expanded[i - 1] + expanded[i - t]) & 0xFF]
    expanded[128 - t8] = _RC2_PI[expanded[128 - t8] & tm]
    for i in range(127 - t8, -1, -1):
        expanded[i] = _RC2_PI[expanded[i + 1] ^ expanded[i + t8]]
    return [expanded[2 * i] | (expanded[2 * i + 1] << 8) for i in range(64)]


def _rc2_decrypt_block(k, block):
    r = [int.from_bytes(block[i:i + 2], "little") for i in range(0, 8, 2)]
    shifts = (1, 2, 3, 5)
    j = 63

    def unmix():
        nonlocal j
        for i in (3, 2, 1, 0):
            x = r[i]
            r[i] = ((x >> shifts[i]) | (x << (16 - shifts[i]))) & 0xFFFF
            r[i] = (r[i] - k[j] - (r[i - 1] & r[i - 2]) - ((~r[i - 1]) & r[i - 3])) & 0xFFFF
            j -= 1

    def unmash():
        for i in (3, 2, 1, 0):
            r[i] = (r[i] - k[r[i - 1] & 63]) & 0xFFFF

    for step in ("mix",) * 5 + ("mash",) + ("mix",) * 6 + ("mash",) + ("mix",) * 5:
        if step == "mix":
            unmix()
        else:
            unmash()
    return b"".join(x.to_bytes(2, "little") for x in r)


def rc2_cbc_decrypt(key, effective_bits, iv, data):
    if len(data) % 8:
        raise PbeError("RC2 ciphertext is not a whole number of blocks")
    k = _rc2_expand(key, effective_bits)
    out = bytearray()
    prev = iv
    for pos in range(0, len(data), 8):
        block = data[pos:pos + 8]
        plain = _rc2_decrypt_block(k, block)
        out.extend(a ^ b for a, b in zip(plain, prev))
        prev = block
    return _unpad(bytes(out), 8)


# --- block cipher helpers -----------------------------------------------------


def _unpad(data, block_size):
    unpadder = padding.PKCS7(block_size * 8).unpadder()
    try:
        return unpadder.update(data) + unpadder.finalize()
    except ValueError:
        raise PbeError("bad padding (wrong password)")


def _cbc(cipher_algorithm, iv, data, encrypt):
    block = cipher_algorithm.block_size // 8
    cipher = Cipher(cipher_algorithm, modes.CBC(iv))
    if encrypt:
        padder = padding.PKCS7(block * 8).padder()
        data = padder.update(data) + padder.finalize()
        ctx = cipher.encryptor()
        return ctx.update(data) + ctx.finalize()
    if not data or len(data) % block:
        raise PbeError("ciphertext is not a whole number of blocks")
    ctx = cipher.decryptor()
    return _unpad(ctx.update(data) + ctx.finalize(), block)


def _pbes2_password(password):
    return (password or "").encode("utf-8")


def _decrypt_pbes2(params, password, data):
    kdf, scheme = children(expect(params, SEQUENCE, "PBES2 parameters"))
    kdf_oid_tag, kdf_params = children(kdf[1])
    if decode_oid(kdf_oid_tag[1]) != OID_PBKDF2:
        raise UnsupportedAlgorithm("PBES2 key derivation %s" % decode_oid(kdf_oid_tag[1]))
    fields = children(kdf_params[1])
    salt = fields[0][1]
    iterations = decode_int(fields[1][1])
    prf = "sha1"
    for tag, value in fields[2:]:
        if tag == SEQUENCE:
            prf_oid = decode_oid(children(value)[0][1])
            if prf_oid not in HASHES:
                raise UnsupportedAlgorithm("PBKDF2 PRF %s" % prf_oid)
            prf = HASHES[prf_oid]
    scheme_fields = children(scheme[1])
    enc_oid = decode_oid(scheme_fields[0][1])
    iv = scheme_fields[1][1]
    if enc_oid in AES_CBC:
        key = hashlib.pbkdf2_hmac(prf, _pbes2_password(password), salt, iterations, AES_CBC[enc_oid])
        return _cbc(algorithms.AES(key), iv, data, encrypt=False)
    if enc_oid == OID_DES_EDE3_CBC:
        key = hashlib.pbkdf2_hmac(prf, _pbes2_password(password), salt, iterations, 24)
        return _cbc(TripleDES(key), iv, data, encrypt=False)
    raise UnsupportedAlgorithm("PBES2 cipher %s" % enc_oid)


def _decrypt_pkcs12_pbe(alg_oid, params, password, data):
    fields = children(expect(params, SEQUENCE, "PKCS#12 PBE parameters"))
    salt = fields[0][1]
    iterations = decode_int(fields[1][1])
    if alg_oid == OID_PBE_SHA1_3DES:
        key = pkcs12_kdf("sha1", password, salt, 1, iterations, 24)
        iv = pkcs12_kdf("sha1", password, salt, 2, iterations, 8)
        return _cbc(TripleDES(key), iv, data, encrypt=False)
    bits = {OID_PBE_SHA1_RC2_40: 40, OID_PBE_SHA1_RC2_128: 128}.get(alg_oid)
    if bits:
        key = pkcs12_kdf("sha1", password, salt, 1, iterations, bits // 8)
        iv = pkcs12_kdf("sha1", password, salt, 2, iterations, 8)
        return rc2_cbc_decrypt(key, bits, iv, data)
    raise UnsupportedAlgorithm("PKCS#12 PBE algorithm %s" % alg_oid)


def decrypt(alg_identifier, password, data):
    """Decrypt data protected by the given AlgorithmIdentifier (DER, full TLV)."""
    try:
        fields = children(expect(alg_identifier, SEQUENCE, "AlgorithmIdentifier"))
        alg_oid = decode_oid(fields[0][1])
        params = encode_element(*fields[1]) if len(fields) > 1 else b""
    except (DerError, IndexError) as exc:
        raise PbeError("malformed encryption parameters: %s" % exc)
    try:
        if alg_oid == OID_JKS_KEY_PROTECTOR:
            return _jks_recover(data, password)
        if alg_oid == OID_PBES2:
            return _decrypt_pbes2(params, password, data)
        if alg_oid.startswith("1.2.840.113549.1.12.1."):
            return _decrypt_pkcs12_pbe(alg_oid, params, password, data)
    except (DerError, IndexError) as exc:
        raise PbeError("malformed encryption parameters: %s" % exc)
    raise UnsupportedAlgorithm("encryption algorithm %s" % alg_oid)


def algorithm_family(alg_identifier):
    """A short label for an AlgorithmIdentifier, used to decide re-encryption."""
    fields = children(expect(alg_identifier, SEQUENCE, "AlgorithmIdentifier"))
    alg_oid = decode_oid(fields[0][1])
    if alg_oid == OID_PBES2:
        scheme = children(children(fields[1][1])[1][1])
        return "pbes2:" + decode_oid(scheme[0][1])
    return alg_oid


# --- encryption for the profiles we write ---------------------------------------


def encrypt_pbes2_aes256(password, data, iterations, prf="sha256"):
    salt = os.urandom(20)
    iv = os.urandom(16)
    key = hashlib.pbkdf2_hmac(prf, _pbes2_password(password), salt, iterations, 32)
    params = seq(
        seq(oid(OID_PBKDF2), seq(octets(salt), integer(iterations), seq(oid(HMAC_OIDS[prf]), b"\x05\x00"))),
        seq(oid(OID_AES256_CBC), octets(iv)),
    )
    return seq(oid(OID_PBES2), params), _cbc(algorithms.AES(key), iv, data, encrypt=True)


def encrypt_pkcs12_3des(password, data, iterations):
    salt = os.urandom(20)
    key = pkcs12_kdf("sha1", password, salt, 1, iterations, 24)
    iv = pkcs12_kdf("sha1", password, salt, 2, iterations, 8)
    params = seq(octets(salt), integer(iterations))
    return seq(oid(OID_PBE_SHA1_3DES), params), _cbc(TripleDES(key), iv, data, encrypt=True)

