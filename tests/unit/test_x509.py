"""PKI decisions and certificate handling, table-driven."""

import datetime

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from ansible.module_utils import smtls_x509 as pki

NOW = pki.now()
DAY = datetime.timedelta(days=1)


@pytest.fixture(scope="module")
def host_key():
    return pki.generate_key("rsa", 2048)


def decision_cases(ca, sample_ca, host_key):
    other_key = pki.generate_key("ec")
    names = (["sm1.example.com", "sm1"], ["10.0.0.5"])
    good = ca.issue("sm1.example.com", names[0], names[1], key=host_key)[1]
    return [
        ("no certificate", [], None, names, 30, (True, "missing")),
        ("key differs", [good, ca.cert], other_key, names, 30, (True, "key_mismatch")),
        ("sample CA", [sample_ca.issue("sm1.example.com", names[0], names[1], key=host_key)[1]],
         host_key, names, 30, (True, "other_issuer")),
        ("self-signed placeholder", [pki.self_signed(host_key, "sm1")], host_key, names, 30,
         (True, "other_issuer")),
        ("a name missing", [ca.issue("sm1", ["sm1"], names[1], key=host_key)[1]], host_key, names,
         30, (True, "names_differ")),
        ("an extra name", [ca.issue("sm1", names[0] + ["x"], names[1], key=host_key)[1]], host_key,
         names, 30, (True, "names_differ")),
        ("IP differs", [ca.issue("sm1", names[0], ["10.0.0.6"], key=host_key)[1]], host_key, names,
         30, (True, "names_differ")),
        ("expired", [ca.issue("sm1", names[0], names[1], days=5, key=host_key,
                              at=NOW - 10 * DAY)[1]], host_key, names, 30, (True, "expired")),
        ("inside renewal window", [ca.issue("sm1", names[0], names[1], days=20, key=host_key)[1]],
         host_key, names, 30, (True, "expiring")),
        ("outside renewal window", [ca.issue("sm1", names[0], names[1], days=40, key=host_key)[1]],
         host_key, names, 30, (False, "valid")),
        ("valid", [good, ca.cert], host_key, names, 30, (False, "valid")),
        ("valid, key unknown", [good], None, names, 30, (False, "valid")),
        ("names in other order and case", [good], host_key,
         (["SM1", "sm1.example.com."], ["10.0.0.5"]), 30, (False, "valid")),
    ]


def test_decide_table(ca, sample_ca, host_key):
    for label, chain, key, names, renew, expected in decision_cases(ca, sample_ca, host_key):
        got = pki.decide(chain, names[0], names[1], [ca.cert], renew, key=key)
        assert got == expected, label


def test_decide_accepts_any_listed_ca_during_rotation(ca, sample_ca):
    _, cert = sample_ca.issue("h")
    assert pki.decide([cert], ["h"], [], [ca.cert, sample_ca.cert], 30) == (False, "valid")


def test_signed_certificate_has_names_usages_and_verifies(ca, host_key):
    cert = pki.sign(ca.key, ca.cert, host_key.public_key(), "sm1.example.com",
                    ["sm1.example.com"], ["127.0.0.1"], 100, "server")
    assert pki.cert_names(cert) == (["sm1.example.com"], ["127.0.0.1"])
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku and ExtendedKeyUsageOID.CLIENT_AUTH in eku
    assert pki.signed_by(cert, ca.cert)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_client_certificate_is_client_auth_only(ca, host_key):
    cert = pki.sign(ca.key, ca.cert, host_key.public_key(), "web", [], [], 100, "client")
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_leaf_never_outlives_its_ca(host_key):
    key, cert = pki.create_ca("short", valid_days=10, key_size=2048)
    leaf = pki.sign(key, cert, host_key.public_key(), "h", ["h"], None, 397)
    assert pki.not_after(leaf) == pki.not_after(cert)


def test_server_certificate_needs_a_name(ca, host_key):
    with pytest.raises(pki.PkiError, match="needs at least one DNS name or IP"):
        pki.sign(ca.key, ca.cert, host_key.public_key(), "h", [], [], 10, "server")


def test_expired_ca_refuses_to_sign(host_key):
    key, cert = pki.create_ca("old", valid_days=1, key_size=2048, at=NOW - 5 * DAY)
    with pytest.raises(pki.PkiError, match="expired .*rotate_ca.yml"):
        pki.sign(key, cert, host_key.public_key(), "h", ["h"])


def test_ca_checks(ca, host_key):
    leaf = ca.issue("h")[1]
    with pytest.raises(pki.PkiError, match="is not a CA"):
        pki.check_ca(leaf, None)
    with pytest.raises(pki.PkiError, match="does not match"):
        pki.check_ca(ca.cert, host_key)


PEM_CASES = [
    ("empty", "", "no PEM certificate found"),
    ("not PEM", "hello", "no PEM certificate found"),
    ("no END line", pki.PEM_CERT_BEGIN + "\nMIIB\n", "no END line"),
    ("garbage body", pki.PEM_CERT_BEGIN + "\nnot base64 at all!\n" + pki.PEM_CERT_END,
     "malformed PEM certificate #1"),
]


@pytest.mark.parametrize("label,text,message", PEM_CASES, ids=[c[0] for c in PEM_CASES])
def test_malformed_pem_is_named(label, text, message):
    with pytest.raises(pki.PkiError, match=message):
        pki.parse_pem_certs(text, "trusted certificate x")


def test_truncated_pem_body_is_refused(ca):
    pem = ca.pem
    cut = pem[: pem.index(pki.PEM_CERT_END) - 40] + "\n" + pki.PEM_CERT_END + "\n"
    with pytest.raises(pki.PkiError, match="malformed PEM certificate"):
        pki.parse_pem_certs(cut, "ca.crt")


def test_bundle_parsing_and_ordering(ca):
    _, leaf = ca.issue("h")
    certs = pki.parse_pem_certs(ca.pem + pki.cert_pem(leaf), "bundle")
    assert pki.order_chain(certs) == [leaf, ca.cert]
    pki.check_chain([leaf, ca.cert], "bundle")
    with pytest.raises(pki.PkiError, match="is not signed by"):
        pki.check_chain([ca.cert, leaf], "bundle")


def test_encrypted_key_passphrase(host_key):
    pem = pki.key_pem(host_key, "correct horse")
    assert pki.key_matches(pki.self_signed(host_key, "x"), pki.parse_pem_key(pem, "correct horse", "k"))
    with pytest.raises(pki.PkiError, match="wrong passphrase"):
        pki.parse_pem_key(pem, "wrong", "CA key")
    with pytest.raises(pki.PkiError, match="not a PEM private key"):
        pki.parse_pem_key("nonsense", None, "k")


def test_csr_carries_names_and_is_checked(host_key):
    csr = pki.make_csr(host_key, "sm1", ["sm1", "sm1.example.com"], ["10.1.1.1"])
    parsed = pki.parse_csr(pki.csr_pem(csr))
    assert parsed.subject == csr.subject
    with pytest.raises(pki.PkiError, match="malformed certificate request"):
        pki.parse_csr("-----BEGIN CERTIFICATE REQUEST-----\nxx\n-----END CERTIFICATE REQUEST-----")


def test_small_rsa_keys_are_refused():
    with pytest.raises(pki.PkiError, match="under 2048"):
        pki.generate_key("rsa", 1024)


@pytest.mark.parametrize("name", ["bad name!", "under_score.example.com", "-lead.example.com",
                                  "a" * 64 + ".example.com", "two..dots.example.com", "*.*.example.com"])
def test_an_invalid_dns_name_is_refused_before_it_reaches_a_certificate(name):
    with pytest.raises(pki.PkiError, match="is not a valid DNS name"):
        pki.normalise_names([name], [])


@pytest.mark.parametrize("name", ["sm1.example.com", "SM1.Example.COM.", "*.sm.example.com", "localhost",
                                  "xn--bcher-kva.example"])
def test_valid_dns_names_pass(name):
    assert pki.normalise_names([name], [])[0] == [name.lower().rstrip(".")]


def test_a_changed_common_name_reissues_as_names_differ(ca):
    _key, cert = ca.issue("sm1.example.com", dns=["sm1.example.com"])
    assert pki.decide([cert], ["sm1.example.com"], [], [ca.cert], 30,
                      common="sm1.example.com") == (False, "valid")
    assert pki.decide([cert], ["sm1.example.com"], [], [ca.cert], 30,
                      common="SM1.example.com") == (False, "valid")
    assert pki.decide([cert], ["sm1.example.com"], [], [ca.cert], 30,
                      common="sm-renamed.example.com") == (True, "names_differ")


def _intermediate(root, name="ACME intermediate"):
    """A CA under root (an ACME CA issues from one), and its key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = pki.generate_key("ec")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(root.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - DAY).not_valid_after(NOW + 400 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(root.key, hashes.SHA256()))
    return key, cert


def test_a_certificate_from_an_intermediate_stays_when_the_chain_leads_to_our_root(ca, sample_ca, host_key):
    mid_key, mid = _intermediate(ca)
    leaf = pki.sign(mid_key, mid, host_key.public_key(), "sm1", ["sm1"], None, 90, "server")
    assert pki.issued_under([leaf, mid, ca.cert], ca.cert) and pki.issued_under([leaf, mid], ca.cert)
    assert pki.decide([leaf, mid, ca.cert], ["sm1"], [], [ca.cert], 30, key=host_key) == (False, "valid")
    # without the intermediate in the chain nothing says where the leaf comes from
    assert pki.decide([leaf], ["sm1"], [], [ca.cert], 30) == (True, "other_issuer")
    # an intermediate of another root, or a leaf posing as an intermediate, does not lead to ours
    other_key, other_mid = _intermediate(sample_ca, "ACME intermediate")
    foreign = pki.sign(other_key, other_mid, host_key.public_key(), "sm1", ["sm1"], None, 90, "server")
    assert pki.decide([foreign, other_mid], ["sm1"], [], [ca.cert], 30) == (True, "other_issuer")
    from cryptography.hazmat.primitives import hashes

    posing = pki.sign(ca.key, ca.cert, mid_key.public_key(), "ACME intermediate", ["x"], None, 90, "server")
    crafted = (x509.CertificateBuilder().subject_name(leaf.subject).issuer_name(posing.subject)
               .public_key(host_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - DAY).not_valid_after(NOW + 90 * DAY).sign(mid_key, hashes.SHA256()))
    assert pki.signed_by(crafted, posing) and not pki.issued_under([crafted, posing], ca.cert)
