"""Password-based encryption pieces, against published test vectors."""

import pytest

from ansible.module_utils import smtls_pbe as pbe

# RFC 2268 section 5: key, effective bits, plaintext, ciphertext.
RC2_VECTORS = [
    ("0000000000000000", 63, "0000000000000000", "ebb773f993278eff"),
    ("ffffffffffffffff", 64, "ffffffffffffffff", "278b27e42e2f0d49"),
    ("3000000000000000", 64, "1000000000000001", "30649edf9be7d2c2"),
    ("88", 64, "0000000000000000", "61a8a244adacccf0"),
    ("88bca90e90875a", 64, "0000000000000000", "6ccf4308974c267f"),
    ("88bca90e90875a7f0f79c384627bafb2", 64, "0000000000000000", "1a807d272bbe5db1"),
    ("88bca90e90875a7f0f79c384627bafb2", 128, "0000000000000000", "2269552ab0f85ca6"),
]


@pytest.mark.parametrize("key,bits,plain,cipher", RC2_VECTORS)
def test_rc2_decrypts_rfc2268_vectors(key, bits, plain, cipher):
    k = pbe._rc2_expand(bytes.fromhex(key), bits)
    assert pbe._rc2_decrypt_block(k, bytes.fromhex(cipher)).hex() == plain


def test_jks_key_protector_round_trip():
    protected = pbe.jks_protect(b"pkcs8 bytes", "pw")
    from ansible.module_utils.smtls_keystore import _split_epki
    alg, data = _split_epki(protected)
    assert pbe.decrypt(alg, "pw", data) == b"pkcs8 bytes"
    with pytest.raises(pbe.PbeError):
        pbe.decrypt(alg, "other", data)


@pytest.mark.parametrize("encrypt", [
    lambda pw, d: pbe.encrypt_pbes2_aes256(pw, d, 1000),
    lambda pw, d: pbe.encrypt_pkcs12_3des(pw, d, 1000),
])
def test_pkcs12_ciphers_round_trip(encrypt):
    alg, blob = encrypt("pässword", b"x" * 100)
    assert pbe.decrypt(alg, "pässword", blob) == b"x" * 100
    with pytest.raises(pbe.PbeError):
        pbe.decrypt(alg, "wrong", blob)


def test_pkcs12_kdf_matches_known_answer():
    # RFC 7292 KDF, SHA-1, password "smeg", salt 0a58cf64530d823f, 1 iteration (the
    # vector OpenSSL's own tests use for the key and IV purposes).
    salt = bytes.fromhex("0a58cf64530d823f")
    assert pbe.pkcs12_kdf("sha1", "smeg", salt, 1, 1, 24).hex() == \
        "8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3"
    assert pbe.pkcs12_kdf("sha1", "smeg", salt, 2, 1, 8).hex() == "79993dfe048d3b76"


def test_unknown_algorithm_is_reported():
    from ansible.module_utils.smtls_der import algorithm
    with pytest.raises(pbe.UnsupportedAlgorithm):
        pbe.decrypt(algorithm("1.2.3.4"), "pw", b"x" * 16)
