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
    plan = state.plan(data, spec(password="new", initial_passwords=["old"]))
    assert plan.changed and "change the store password" in plan.actions
    written = ks.dump(plan.keystore, plan.password)
    assert ks.load(written, "new").entries[0].opens_with("new")
    again = state.plan(written, spec(password="new", initial_passwords=["old"]))
    assert not again.changed


def test_wrong_password_names_the_file(ca):
    data = store_with(ks.CertEntry("a", ca.cert))
    with pytest.raises(ks.WrongPassword, match="/t/store: wrong store password"):
        state.plan(data, spec(password="nope"))


def _tries(monkeypatch):
    tried = []

    def load(data, password):
        tried.append(password)
        raise ks.WrongPassword("no")
    monkeypatch.setattr(ks, "load", load)
    return tried


def test_a_write_tries_the_initial_passwords_first_then_password(monkeypatch):
    # sm_keystore and sm_truststore, as before the one naming (the store's current password
    # first): empty ones and password itself are not tried twice
    tried = _tries(monkeypatch)
    with pytest.raises(ks.WrongPassword, match="/t/store: wrong store password"):
        state.plan(b"store", spec(password="pw", initial_passwords=["a", "", "pw", "b"]))
    assert tried == ["a", "b", "pw"]


def test_a_read_tries_password_first_then_the_initial_passwords(monkeypatch):
    # sm_keystore_info, sm_server_info, sm_tls_probe: password_used says which one opened it
    tried = _tries(monkeypatch)
    with pytest.raises(ks.WrongPassword, match="/t/store: wrong store password"):
        state.open_keystore(b"store", "pw", ["a", "", "pw", "b"], "/t/store")
    assert tried == ["pw", "a", "b"]


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
    plan = state.plan(data, spec(password="new", initial_passwords=["old"],
                                 key={"alias": "smserver", "csr_key": "new",
                                      "csr": {"common_name": "sm1"}}))
    assert not plan.write and plan.pending_key is not None and plan.csr


# state.in_place: the roles leave out an sm_keystore call when this run's read of the store
# (keystore_info) shows the call would change nothing. Each case is checked against plan() on the
# same file, so the shortcut can never disagree with the module it saves.
def _in_place_case(tmp_path, entries, options, password="pw", file_mode=0o640, **write):
    from ansible.module_utils import smtls_inventory as inv

    path = tmp_path / "store.jks"
    path.write_bytes(store_with(*entries, password=password))
    path.chmod(file_mode)
    read = inv.keystore_info(str(path), "pw", ["initial"], return_pem=True)
    found = state.in_place(read, **options)
    plan = state.plan(path.read_bytes(), spec(password="pw", initial_passwords=["initial"], **write))
    return found, plan.write


@pytest.mark.parametrize("case", ["as is", "absent CA present", "other key", "old password", "other chain"])
def test_in_place_agrees_with_the_plan_for_an_identity(case, tmp_path, ca, sample_ca):
    key, cert = ca.issue("sm1.example.com")
    other_key, other_cert = ca.issue("sm1.example.com")
    chain = [cert, ca.cert]
    entries = [ks.KeyEntry("smserver", chain, key=key)]
    alias = "smserver"
    absent = [{"sha256": pki.sha256_hex(sample_ca.cert)}]
    password = "pw"
    if case == "absent CA present":
        entries.append(ks.CertEntry("sampleca", sample_ca.cert))
    elif case == "other key":
        entries.append(ks.KeyEntry("sample", [other_cert, ca.cert], key=other_key))
    elif case == "old password":
        password = "initial"
    elif case == "other chain":
        # the same key under another certificate: the plan installs the wanted chain
        entries = [ks.KeyEntry("smserver", [other_cert, ca.cert], key=key)]
    options = dict(key_alias=alias, chain_sha256=[pki.sha256_hex(c) for c in chain], remove_other_keys=True,
                   absent=absent, mode="0640")
    found, writes = _in_place_case(tmp_path, entries, options, password=password,
                                   key={"alias": alias, "chain": chain}, remove_other_keys=True,
                                   absent=absent)
    assert found == (not writes) == (case == "as is")
    # the key entry under another alias than the one asked: the module would move it
    assert not _in_place_case(tmp_path, entries, dict(options, key_alias="tomcat"))[0]


@pytest.mark.parametrize("case", ["same set", "one more", "one missing", "a key entry"])
def test_in_place_agrees_with_the_plan_for_an_exclusive_allowlist(case, tmp_path, ca, sample_ca):
    key, cert = ca.issue("web1.example.com")
    wanted = [ca.cert, cert]
    entries = [ks.CertEntry("a", ca.cert), ks.CertEntry("b", cert)]
    if case == "one more":
        entries.append(ks.CertEntry("c", sample_ca.cert))
    elif case == "one missing":
        entries = entries[:1]
    elif case == "a key entry":
        entries.append(ks.KeyEntry("k", [cert, ca.cert], key=key))
    found, writes = _in_place_case(
        tmp_path, entries,
        dict(trusted_sha256=[pki.sha256_hex(c) for c in wanted], exclusive=True, mode="0640"),
        trusted=[trusted("client", c) for c in wanted], exclusive=True)
    assert found == (not writes) == (case == "same set")


def test_in_place_needs_the_file_attributes_and_no_pending_key(tmp_path, ca):
    import getpass

    key, cert = ca.issue("sm1.example.com")
    options = dict(key_alias="smserver", chain_sha256=[pki.sha256_hex(cert), pki.sha256_hex(ca.cert)])
    entries = [ks.KeyEntry("smserver", [cert, ca.cert], key=key)]
    assert _in_place_case(tmp_path, entries, dict(options, mode="0640"))[0]
    assert not _in_place_case(tmp_path, entries, dict(options, mode="0600"))[0]
    assert not _in_place_case(tmp_path, entries, dict(options, mode="u=rw,g=r"))[0]  # symbolic: not judged
    # no mode given: the module caps a wider one, so only 0640 or narrower stays
    assert _in_place_case(tmp_path, entries, options, file_mode=0o600)[0]
    assert not _in_place_case(tmp_path, entries, options, file_mode=0o644)[0]
    assert _in_place_case(tmp_path, entries, dict(options, owner=getpass.getuser()))[0]
    assert not _in_place_case(tmp_path, entries, dict(options, owner="no-such-user-smtls"))[0]
    (tmp_path / ("store.jks" + state.PENDING_SUFFIX)).write_bytes(b"x")
    assert not _in_place_case(tmp_path, entries, dict(options, mode="0640"))[0]


def _dated_ca(name, start_days, valid_days):
    import datetime as dt
    key, cert = pki.create_ca(name, valid_days=valid_days, key_size=2048,
                              at=pki.now() + dt.timedelta(days=start_days))
    return key, cert


@pytest.mark.parametrize("start,valid,refused", [
    (-10, 5, "expired on"),            # expired five days ago
    (-1, 1, "expired on"),             # expired at the edge: now is past its end
    (2, 30, "is not valid before"),    # issued for later (a clock ahead)
    (-1, 30, ""),                      # current: added
])
def test_nothing_outside_its_validity_is_added_to_a_store(start, valid, refused):
    _key, cert = _dated_ca("dated", start, valid)
    data = store_with()
    if refused:
        with pytest.raises(pki.PkiError, match=refused):
            state.plan(data, spec(trusted=[trusted("dated", cert)]))
    else:
        assert state.plan(data, spec(trusted=[trusted("dated", cert)])).changed


def test_an_expired_chain_is_not_installed_but_one_in_place_stays(ca):
    import datetime as dt
    old_ca_key, old_ca = pki.create_ca("old", valid_days=3, key_size=2048,
                                       at=pki.now() - dt.timedelta(days=10))
    key = pki.generate_key("rsa", 2048)
    leaf = pki.sign(old_ca_key, old_ca, key.public_key(), "srv", dns=["srv"], valid_days=2,
                    at=pki.now() - dt.timedelta(days=9))
    new = spec(key={"alias": "srv", "chain": [leaf, old_ca], "private_key": pki.key_pem(key)})
    with pytest.raises(pki.PkiError, match="expired on"):
        state.plan(store_with(), new)
    # the same chain already installed is no write, so nothing is refused: the renewal replaces it
    data = store_with(ks.KeyEntry("srv", [leaf, old_ca], key=key))
    assert not state.plan(data, spec(key={"alias": "srv", "chain": [leaf, old_ca]})).changed


def test_the_ca_signs_nothing_that_would_live_less_than_a_day(ca):
    key = pki.generate_key("rsa", 2048)
    with pytest.raises(pki.PkiError, match="less than a day"):
        pki.sign(ca.key, ca.cert, key.public_key(), "srv", dns=["srv"], valid_days=0)
