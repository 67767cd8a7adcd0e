"""Interop with the real keytool and JSSE (Java 17), both ways.

Files we write must be listed by `keytool -list -v` with the same aliases and
fingerprints, and loaded by JSSE (keys matching their certificates, a TLS
handshake between our keystore and our truststore). Files keytool writes must
be read by us with the same entries.
"""

import os
import re
import shutil

import pytest

from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_x509 as pki

PASSWORD = "changeit"


def keytool_entries(java, path, store_type=None, password=PASSWORD, *flags):
    args = ["-list", "-v", "-keystore", str(path), "-storepass:env", "KT_PASS"]
    if store_type:
        args += ["-storetype", store_type.upper()]
    out = java.keytool(*args, *flags, password=password).stdout
    entries = {}
    for block in out.split("Alias name: ")[1:]:
        alias = block.splitlines()[0].strip().lower()
        kind = "private_key" if "Entry type: PrivateKeyEntry" in block else "trusted_cert"
        sha = re.search(r"SHA256: ([0-9A-F:]+)", block).group(1).replace(":", "").lower()
        length = re.search(r"Certificate chain length: (\d+)", block)
        entries[alias] = (kind, sha, int(length.group(1)) if length else 1)
    return entries


def our_entries(path, password=PASSWORD):
    with open(path, "rb") as handle:
        store = ks.load(handle.read(), password)
    return store, {e.alias.lower(): (e.kind, pki.sha256_hex(e.leaf), len(e.chain))
                   for e in store.entries}


@pytest.fixture(scope="module")
def our_store(ca, sample_ca):
    key, cert = ca.issue("localhost", ["localhost"], ["127.0.0.1"])
    ec_key = pki.generate_key("ec")
    _, ec_cert = ca.issue("web1", key=ec_key, usage="client")
    return [ks.KeyEntry("smserver", [cert, ca.cert], key=key),
            ks.KeyEntry("webtier", [ec_cert, ca.cert], key=ec_key),
            ks.CertEntry("smtls-ca", ca.cert),
            ks.CertEntry("sampleca", sample_ca.cert)]


@pytest.mark.parametrize("store_type,profile", [("jks", "modern"), ("pkcs12", "modern"),
                                                ("pkcs12", "legacy")])
def test_keytool_and_jsse_read_what_we_write(java_tools, tmp_path, our_store, store_type, profile):
    path = tmp_path / ("store." + store_type)
    path.write_bytes(ks.dump(ks.Keystore(store_type, our_store), PASSWORD, profile=profile))
    _, ours = our_entries(path)
    assert keytool_entries(java_tools, path, store_type) == ours
    jsse = java_tools.jsse_entries(path, store_type)
    assert set(jsse) == set(ours)
    for alias, (kind, sha, length) in ours.items():
        assert jsse[alias][:3] == [kind, sha, str(length)]
        if kind == "private_key":
            assert jsse[alias][3] == "true", "JSSE could not use the key of %s" % alias


@pytest.mark.parametrize("server_type,trust_type", [("jks", "jks"), ("pkcs12", "pkcs12"),
                                                    ("pkcs12", "jks")])
def test_tls_handshake_between_our_keystore_and_our_truststore(java_tools, tmp_path, ca,
                                                               server_type, trust_type):
    key, cert = ca.issue("localhost", ["localhost"], ["127.0.0.1"])
    server = tmp_path / "server"
    trust = tmp_path / "trust"
    server.write_bytes(ks.dump(ks.Keystore(server_type, [ks.KeyEntry("s", [cert, ca.cert], key=key)]),
                               "server-pass"))
    trust.write_bytes(ks.dump(ks.Keystore(trust_type, [ks.CertEntry("ca", ca.cert)]), "trust-pass"))
    out = java_tools.jsse("handshake", str(server), server_type, str(trust), trust_type,
                          password="server-pass", trust_password="trust-pass").stdout.strip()
    protocol, peer = out.split("|")
    assert protocol.startswith("TLSv1.") and peer == pki.sha256_hex(cert)


def test_handshake_fails_when_the_truststore_lacks_the_ca(java_tools, tmp_path, ca, sample_ca):
    key, cert = ca.issue("localhost", ["localhost"])
    server = tmp_path / "server"
    trust = tmp_path / "trust"
    server.write_bytes(ks.dump(ks.Keystore("jks", [ks.KeyEntry("s", [cert, ca.cert], key=key)]), PASSWORD))
    trust.write_bytes(ks.dump(ks.Keystore("jks", [ks.CertEntry("x", sample_ca.cert)]), PASSWORD))
    proc = java_tools.jsse("handshake", str(server), "jks", str(trust), "jks", check=False)
    assert proc.returncode != 0 and "PKIX path building failed" in proc.stderr


KEYTOOL_MADE = {
    "genkeypair RSA, JKS": ("jks", ["-genkeypair", "-alias", "smserver", "-keyalg", "RSA",
                                    "-keysize", "2048", "-dname", "CN=sm1", "-storetype", "JKS"]),
    "genkeypair RSA, PKCS12": ("pkcs12", ["-genkeypair", "-alias", "smserver", "-keyalg", "RSA",
                                          "-keysize", "2048", "-dname", "CN=sm1",
                                          "-storetype", "PKCS12"]),
    "genkeypair EC, PKCS12": ("pkcs12", ["-genkeypair", "-alias", "web", "-keyalg", "EC",
                                         "-groupname", "secp256r1", "-dname", "CN=web",
                                         "-storetype", "PKCS12"]),
    "genkeypair EC, JKS": ("jks", ["-genkeypair", "-alias", "web", "-keyalg", "EC",
                                   "-dname", "CN=web", "-storetype", "JKS"]),
}


def _keytool_store(java, path, args, *props):
    java.keytool(*props, *args, "-keystore", str(path), "-storepass:env", "KT_PASS",
                 "-keypass:env", "KT_PASS", "-validity", "30")


def _importcert(java, path, store_type, alias, pem_path, *props):
    java.keytool(*props, "-importcert", "-noprompt", "-alias", alias, "-file", str(pem_path),
                 "-keystore", str(path), "-storetype", store_type.upper(),
                 "-storepass:env", "KT_PASS")


@pytest.mark.parametrize("label", sorted(KEYTOOL_MADE))
def test_we_read_what_keytool_writes(java_tools, tmp_path, ca, label):
    store_type, args = KEYTOOL_MADE[label]
    path = tmp_path / "kt.store"
    _keytool_store(java_tools, path, args)
    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_text(ca.pem)
    _importcert(java_tools, path, store_type, "smtls-ca", ca_pem)
    store, ours = our_entries(path)
    assert store.store_type == store_type
    assert ours == keytool_entries(java_tools, path)
    for entry in store.entries:
        if entry.kind == "private_key":
            assert pki.key_matches(entry.leaf, entry.private_key())


def test_importkeystore_jks_to_pkcs12(java_tools, tmp_path):
    jks = tmp_path / "a.jks"
    p12 = tmp_path / "a.p12"
    _keytool_store(java_tools, jks, KEYTOOL_MADE["genkeypair RSA, JKS"][1])
    java_tools.keytool("-importkeystore", "-srckeystore", str(jks), "-srcstoretype", "JKS",
                       "-srcstorepass:env", "KT_PASS", "-destkeystore", str(p12),
                       "-deststoretype", "PKCS12", "-deststorepass:env", "KT_PASS")
    store, ours = our_entries(p12)
    assert store.store_type == "pkcs12" and ours == keytool_entries(java_tools, p12)
    assert ours == our_entries(jks)[1]


def _jdk_cacerts():
    candidates = ["/etc/ssl/certs/java/cacerts"]
    java = shutil.which("java")
    if java:
        home = os.path.dirname(os.path.dirname(os.path.realpath(java)))
        candidates.append(os.path.join(home, "lib", "security", "cacerts"))
    return next(p for p in candidates if os.path.exists(p))


def test_we_read_the_jdk_cacerts(java_tools):
    path = _jdk_cacerts()
    store, ours = our_entries(path)
    assert len(ours) > 50
    assert ours == keytool_entries(java_tools, path)
    with open(path, "rb") as handle:  # and we write it back byte for byte (JKS)
        data = handle.read()
    if store.store_type == "jks":
        assert ks.dump(store, PASSWORD) == data


def test_we_read_java8_style_pkcs12(java_tools, tmp_path, ca):
    """keystore.pkcs12.legacy: RC2-40 certificates, 3DES key, SHA-1 MAC (Java 8 defaults)."""
    path = tmp_path / "legacy.p12"
    props = ["-J-Dkeystore.pkcs12.legacy"]
    _keytool_store(java_tools, path, KEYTOOL_MADE["genkeypair RSA, PKCS12"][1], *props)
    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_text(ca.pem)
    _importcert(java_tools, path, "pkcs12", "smtls-ca", ca_pem, *props)
    raw = path.read_bytes()
    assert bytes.fromhex("2a864886f70d010c0106") in raw  # pbeWithSHAAnd40BitRC2-CBC is used
    store, ours = our_entries(path)
    assert ours == keytool_entries(java_tools, path)
    assert pki.key_matches(store.get("smserver").leaf, store.get("smserver").private_key())


def test_we_read_passwordless_pkcs12_truststore(java_tools, tmp_path, ca, sample_ca):
    """JDK 18+ writes cacerts as PKCS12 without encryption or MAC."""
    path = tmp_path / "cacerts"
    props = ["-J-Dkeystore.pkcs12.certProtectionAlgorithm=NONE",
             "-J-Dkeystore.pkcs12.macAlgorithm=NONE"]
    for alias, authority in (("a", ca), ("b", sample_ca)):
        pem = tmp_path / (alias + ".pem")
        pem.write_text(authority.pem)
        _importcert(java_tools, path, "pkcs12", alias, pem, *props)
    with open(path, "rb") as handle:
        data = handle.read()
    for password in (None, PASSWORD, "whatever"):
        assert {e.alias for e in ks.load(data, password).entries} == {"a", "b"}
    # and what we write password-less is read by keytool without a password
    ours = tmp_path / "ours"
    ours.write_bytes(ks.dump(ks.load(data, None), None))
    listing = java_tools.keytool("-list", "-keystore", str(ours), "-storetype", "PKCS12",
                                 "-storepass:env", "KT_PASS", password="").stdout
    assert "contains 2 entries" in listing


def test_keytool_store_modified_by_us_keeps_its_key(java_tools, tmp_path, ca, sample_ca):
    """The everyday case: a keytool-made keystore gets a CA added and the sample CA removed."""
    path = tmp_path / "server.keystore"
    _keytool_store(java_tools, path, KEYTOOL_MADE["genkeypair RSA, JKS"][1])
    sample_pem = tmp_path / "sample.pem"
    sample_pem.write_text(sample_ca.pem)
    _importcert(java_tools, path, "jks", "sampleca", sample_pem)
    from ansible.module_utils import smtls_keystore_state as state
    plan = state.plan(path.read_bytes(), {
        "path": str(path), "password": PASSWORD, "key": None, "absent": [{"alias": "sampleca"}],
        "trusted": [{"alias": "smtls-ca", "cert": ca.cert}]})
    path.write_bytes(ks.dump(plan.keystore, PASSWORD))
    jsse = java_tools.jsse_entries(path, "jks")
    assert set(jsse) == {"smserver", "smtls-ca"} and jsse["smserver"][3] == "true"
