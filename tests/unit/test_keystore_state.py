"""The sm_keystore decision engine: what changes, and what must not."""

import pytest

from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_keystore_state as state
from ansible.module_utils import smtls_x509 as pki


def spec(**kw):
    base = {"path": "/t/store", "password": "pw", "trusted": [], "absent": [], "key": None}
    base.update(kw)
    return base


def trusted(alias, cert):
    return {"alias": alias, "cert": cert}


def store_with(*entries, password="pw", store_type="jks"):
    return ks.dump(ks.Keystore(store_type, list(entries)), password)


def test_trusted_cert_matched_by_fingerprint_not_alias(ca):
    data = store_with(ks.CertEntry("some-other-alias", ca.cert))
    plan = state.plan(data, spec(trusted=[trusted("smtls-ca", ca.cert)]))
    assert not plan.changed and plan.actions == []


def test_taken_alias_gets_a_free_variant(ca, sample_ca):
    data = store_with(ks.CertEntry("smtls-ca", sample_ca.cert))
    plan = state.plan(data, spec(trusted=[trusted("smtls-ca", ca.cert)]))
    assert plan.changed
    aliases = plan.keystore.aliases()
    assert "smtls-ca" in aliases and "smtls-ca-" + pki.sha256_hex(ca.cert)[:8] in aliases


def test_removal_frees_the_alias_first(ca, sample_ca):
    data = store_with(ks.CertEntry("servicemanager", sample_ca.cert))
    plan = state.plan(data, spec(trusted=[trusted("servicemanager", ca.cert)],
                                 absent=[{"sha256": pki.sha256_hex(sample_ca.cert).upper()}]))
    assert [(e.alias, pki.sha256_hex(e.cert)) for e in plan.keystore.entries] == [
        ("servicemanager", pki.sha256_hex(ca.cert))]


@pytest.mark.parametrize("selector", ["sha256", "subject", "issuer", "alias"])
def test_absent_selectors(selector, ca, sample_ca):
    key, cert = sample_ca.issue("sample-server")
    data = store_with(ks.CertEntry("sampleca", sample_ca.cert), ks.CertEntry("ours", ca.cert),
                      ks.KeyEntry("sample", [cert, sample_ca.cert], key=key))
    value = {"sha256": pki.sha256_hex(sample_ca.cert),
             "subject": sample_ca.cert.subject.rfc4514_string(),
             "issuer": sample_ca.cert.subject.rfc4514_string(),
             "alias": "SAMPLECA"}[selector]
    plan = state.plan(data, spec(absent=[{selector: value}]))
    remaining = [e.alias for e in plan.keystore.entries]
    assert "sampleca" not in remaining and "ours" in remaining
    assert ("sample" in remaining) == (selector not in ("issuer",))


def test_exclusive_keeps_exactly_the_wanted_set(ca, sample_ca):
    _, a = ca.issue("web1", usage="client")
    _, b = ca.issue("web2", usage="client")
    data = store_with(ks.CertEntry("a", a), ks.CertEntry("stale", sample_ca.cert))
    plan = state.plan(data, spec(trusted=[trusted("a", a), trusted("b", b)], exclusive=True))
    assert sorted(pki.sha256_hex(e.cert) for e in plan.keystore.entries) == sorted(
        [pki.sha256_hex(a), pki.sha256_hex(b)])
    again = state.plan(ks.dump(plan.keystore, "pw"), spec(trusted=[trusted("a", a), trusted("b", b)],
                                                          exclusive=True))
    assert not again.changed


def test_password_change_is_idempotent(ca):
    key, cert = ca.issue("h")
    data = store_with(ks.KeyEntry("k", [cert], key=key), password="old")
    plan = state.plan(data, spec(password="old", new_password="new"))
    assert plan.changed and "change the store password" in plan.actions
    written = ks.dump(plan.keystore, plan.password)
    assert ks.load(written, "new").entries[0].opens_with("new")
    again = state.plan(written, spec(password="old", new_password="new"))
    assert not again.changed


def test_wrong_password_names_the_file(ca):
    data = store_with(ks.CertEntry("a", ca.cert))
    with pytest.raises(ks.WrongPassword, match="/t/store: wrong store password"):
        state.plan(data, spec(password="nope"))


def test_pending_key_flow(ca):
    key_spec = {"alias": "smserver", "csr": {"common_name": "sm1", "dns": ["sm1"]}, "csr_key": "new"}
    first = state.plan(None, spec(key=dict(key_spec)))
    assert first.pending_key is not None and first.csr and not first.changed
    pending = state.pending_keystore(first.pending_key, "jks", "pw")
    again = state.plan(None, spec(key=dict(key_spec)), pending_data=pending)
    assert pki.key_matches(pki.self_signed(first.pending_key, "x"), again.pending_key)
    csr = pki.parse_csr(again.csr)
    leaf = pki.sign(ca.key, ca.cert, csr.public_key(), "sm1", ["sm1"])
    install = state.plan(None, spec(key={"alias": "smserver", "chain": [leaf, ca.cert]}),
                         pending_data=pending)
    assert install.changed and install.pending_used
    entry = install.keystore.get("smserver")
    assert pki.key_matches(entry.leaf, entry.private_key())


def test_chain_without_matching_key_is_refused(ca):
    _, leaf = ca.issue("sm1")
    with pytest.raises(pki.PkiError, match="matches neither the key"):
        state.plan(None, spec(key={"alias": "smserver", "chain": [leaf]}))


def test_supplied_key_must_match(ca):
    _, leaf = ca.issue("sm1")
    other = pki.key_pem(pki.generate_key())
    with pytest.raises(pki.PkiError, match="does not match the supplied private key"):
        state.plan(None, spec(key={"alias": "k", "chain": [leaf], "private_key": other}))


def test_generated_key_entry_gets_a_placeholder_and_csr():
    plan = state.plan(None, spec(key={"alias": "smserver", "csr": {"common_name": "sm1"}}))
    entry = plan.keystore.get("smserver")
    assert plan.key_created and entry.leaf.issuer == entry.leaf.subject
    assert pki.parse_csr(plan.csr).public_key().public_numbers() == \
        entry.private_key().public_key().public_numbers()


def test_key_alias_on_a_trusted_entry_is_refused(ca):
    data = store_with(ks.CertEntry("smserver", ca.cert))
    with pytest.raises(ks.KeystoreError, match="holds a trusted certificate"):
        state.plan(data, spec(key={"alias": "smserver"}))


def test_conversion_to_pkcs12(ca):
    data = store_with(ks.CertEntry("a", ca.cert))
    plan = state.plan(data, spec(store_type="pkcs12"))
    assert plan.changed and plan.keystore.store_type == "pkcs12"


def test_diff_listing_has_no_key_material(ca):
    key, cert = ca.issue("h")
    plan = state.plan(None, spec(key={"alias": "k", "chain": [cert], "private_key": pki.key_pem(key)}))
    text = "\n".join(plan.after)
    assert pki.sha256_hex(cert) in text and "PRIVATE" not in text and "pw" not in text.split()


@pytest.mark.parametrize("a,b,same", [
    ("CN=Sample CA,O=Vendor", "O=Vendor, CN=Sample CA", True),
    ("cn=Sample CA", "CN=Sample CA", True),
    ("CN=Sample CA\\, Inc.,O=V", "O=V,CN=Sample CA\\, Inc.", True),
    ("CN=Sample CA", "CN=Sample CA 2", False),
])
def test_dn_comparison_ignores_order_spacing_and_case_of_names(a, b, same):
    assert (state.dn_key(a) == state.dn_key(b)) is same


def test_pending_key_request_leaves_the_keystore_alone(ca):
    key, cert = ca.issue("sm1")
    data = store_with(ks.KeyEntry("smserver", [cert], key=key), password="old")
    plan = state.plan(data, spec(password="old", new_password="new",
                                 key={"alias": "smserver", "csr_key": "new",
                                      "csr": {"common_name": "sm1"}}))
    assert not plan.write and plan.pending_key is not None and plan.csr
