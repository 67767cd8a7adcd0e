"""JKS and PKCS12 codecs: round trips, passwords, damage. Pure Python, no JVM."""

import pytest

from ansible.module_utils import smtls_der as der
from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_pbe as pbe
from ansible.module_utils import smtls_x509 as pki

FORMATS = [("jks", "modern"), ("pkcs12", "modern"), ("pkcs12", "legacy")]


@pytest.fixture(scope="module")
def material(ca, sample_ca):
    rsa_key, rsa_cert = ca.issue("sm1.example.com")
    ec_key = pki.generate_key("ec")
    _, ec_cert = ca.issue("web1.example.com", key=ec_key, usage="client")
    return {"rsa": (rsa_key, [rsa_cert, ca.cert]), "ec": (ec_key, [ec_cert, ca.cert]),
            "trusted": [ca.cert, sample_ca.cert]}


def build(store_type, material):
    store = ks.Keystore(store_type)
    store.put(ks.KeyEntry("smserver", material["rsa"][1], key=material["rsa"][0]))
    store.put(ks.KeyEntry("webtier", material["ec"][1], key=material["ec"][0]))
    store.put(ks.CertEntry("smtls-ca", material["trusted"][0]))
    store.put(ks.CertEntry("sampleca", material["trusted"][1]))
    return store


def fingerprints(store):
    return [(e.alias.lower(), e.kind, [pki.sha256_hex(c) for c in e.chain]) for e in store.entries]


@pytest.mark.parametrize("store_type,profile", FORMATS)
def test_round_trip_keeps_entries_chains_and_keys(store_type, profile, material):
    store = build(store_type, material)
    data = ks.dump(store, "s3cret!", profile=profile)
    loaded = ks.load(data, "s3cret!")
    assert loaded.store_type == store_type
    assert fingerprints(loaded) == fingerprints(store)
    for entry in loaded.entries:
        if entry.kind == "private_key":
            assert pki.key_matches(entry.leaf, entry.private_key())


@pytest.mark.parametrize("store_type,profile", FORMATS)
def test_wrong_password_is_a_clear_error(store_type, profile, material):
    data = ks.dump(build(store_type, material), "right", profile=profile)
    with pytest.raises(ks.WrongPassword, match="wrong store password"):
        ks.load(data, "wrong")


@pytest.mark.parametrize("store_type,profile", FORMATS)
def test_listing_without_password_skips_the_integrity_check(store_type, profile, material):
    store = ks.Keystore(store_type, [ks.CertEntry("ca", material["trusted"][0])])
    data = ks.dump(store, "pw", profile=profile)
    if store_type == "jks":
        assert fingerprints(ks.load(data, None)) == fingerprints(store)
    else:  # PKCS12 certificates are encrypted: nothing can be listed without the password
        assert ks.load(data, None).entries == []


def test_passwordless_pkcs12_truststore_like_newer_jdk_cacerts(material):
    store = ks.Keystore("pkcs12", [ks.CertEntry("a", material["trusted"][0]),
                                   ks.CertEntry("b", material["trusted"][1])])
    data = ks.dump(store, None)
    for password in (None, "changeit", "anything"):
        assert fingerprints(ks.load(data, password)) == fingerprints(store)


def test_passwordless_pkcs12_refuses_private_keys(material):
    store = ks.Keystore("pkcs12", [ks.KeyEntry("k", material["rsa"][1], key=material["rsa"][0])])
    with pytest.raises(ks.KeystoreError, match="needs a password"):
        ks.dump(store, None)


@pytest.mark.parametrize("store_type,profile", FORMATS)
def test_store_password_change_reencrypts_keys(store_type, profile, material):
    data = ks.dump(build(store_type, material), "old-pass", profile=profile)
    loaded = ks.load(data, "old-pass")
    moved = ks.load(ks.dump(loaded, "new-pass", profile=profile), "new-pass")
    assert fingerprints(moved) == fingerprints(loaded)
    for entry in moved.entries:
        if entry.kind == "private_key":
            assert entry.opens_with("new-pass") and not entry.opens_with("old-pass")


@pytest.mark.parametrize("store_type,profile", FORMATS)
def test_unchanged_rewrite_reuses_encrypted_keys(store_type, profile, material):
    first = ks.load(ks.dump(build(store_type, material), "pw", profile=profile), "pw")
    blobs = [e.protected for e in first.entries if e.kind == "private_key"]
    second = ks.load(ks.dump(first, "pw", profile=profile), "pw")
    assert [e.protected for e in second.entries if e.kind == "private_key"] == blobs


def test_jks_aliases_are_lowercased_and_unicode_safe(material):
    store = ks.Keystore("jks", [ks.CertEntry("Zürich-CA \u2603 \U0001F512", material["trusted"][0])])
    loaded = ks.load(ks.dump(store, "pw"), "pw")
    assert loaded.entries[0].alias == "zürich-ca \u2603 \U0001F512"
    assert loaded.get("ZÜRICH-CA \u2603 \U0001F512") is loaded.entries[0]


def test_jks_rewrite_is_byte_identical(material):
    data = ks.dump(ks.Keystore("jks", [ks.CertEntry("a", material["trusted"][0])]), "pw")
    assert ks.dump(ks.load(data, "pw"), "pw") == data


DAMAGE = [
    ("empty file", lambda d: b"", ks.CorruptKeystore),
    ("three bytes", lambda d: d[:3], ks.CorruptKeystore),
    ("truncated in the middle", lambda d: d[: len(d) // 2], ks.CorruptKeystore),
    ("truncated digest", lambda d: d[:-5], ks.CorruptKeystore),
    ("one byte altered", lambda d: d[:200] + bytes([d[200] ^ 0x55]) + d[201:], ks.KeystoreError),
    ("trailing garbage", lambda d: d + b"xx", ks.CorruptKeystore),
    ("text file", lambda d: b"keystoreFile:server.keystore\n", ks.CorruptKeystore),
    ("JCEKS header", lambda d: bytes.fromhex("cececece") + d[4:], ks.UnsupportedKeystore),
]


@pytest.mark.parametrize("store_type,profile", FORMATS)
@pytest.mark.parametrize("label,damage,error", DAMAGE, ids=[d[0] for d in DAMAGE])
def test_damaged_files_raise_keystore_errors(store_type, profile, label, damage, error, material):
    data = ks.dump(build(store_type, material), "pw", profile=profile)
    with pytest.raises(error):
        ks.load(damage(data), "pw")


def test_detect_type(material):
    assert ks.detect_type(ks.dump(build("jks", material), "pw")) == "jks"
    assert ks.detect_type(ks.dump(build("pkcs12", material), "pw")) == "pkcs12"


def test_unknown_type_is_refused():
    with pytest.raises(ks.UnsupportedKeystore, match="unknown keystore type"):
        ks.Keystore("jceks")


def test_build_chain_follows_issuers(ca, sample_ca):
    _, leaf = ca.issue("x")
    assert ks.build_chain(leaf, [sample_ca.cert, ca.cert, leaf]) == [leaf, ca.cert]


@pytest.mark.parametrize("encrypt", [pbe.encrypt_pkcs12_3des, pbe.encrypt_pbes2_aes256])
def test_wrong_key_password_is_always_a_plain_no(encrypt, material):
    """A wrong password that happens to pass the CBC padding check is still a wrong password."""
    entry = next(e for e in build("pkcs12", material).entries if e.kind == "private_key")
    alg, blob = encrypt("right", entry.pkcs8(), 1)  # one KDF round: many tries, quickly
    protected = der.seq(alg, der.octets(blob))
    for attempt in range(1500):  # about 1 in 256 wrong passwords passes the padding check
        probe = ks.KeyEntry(entry.alias, entry.chain, protected=protected)
        assert not probe.opens_with("wrong-%d" % attempt)
    assert ks.KeyEntry(entry.alias, entry.chain, protected=protected).opens_with("right")
