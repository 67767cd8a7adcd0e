"""Module behaviour, run in-process through AnsibleModule with real files.

Each module is run as Ansible runs it (arguments validated by its argument
spec, results as JSON); the keystore files on disk are the evidence.
"""

import hashlib
import json
import os

import pytest

import sm_certificate
import sm_keystore
import sm_keystore_info
from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_x509 as pki
from conftest import module_result

PASSWORD = "store-Secret-1"


def digest(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


@pytest.fixture
def truststore(tmp_path, sample_ca):
    path = tmp_path / "cacerts"
    path.write_bytes(ks.dump(ks.Keystore("jks", [ks.CertEntry("sampleca", sample_ca.cert)]), PASSWORD))
    return str(path)


def trust_args(path, ca, sample_ca, **extra):
    args = dict(path=path, password=PASSWORD, backup=True,
                trusted_certs=[dict(alias="smtls-ca", pem=ca.pem)],
                absent=[dict(sha256=pki.sha256_hex(sample_ca.cert))])
    args.update(extra)
    return args


def test_second_run_reports_no_change(truststore, ca, sample_ca):
    first = module_result(sm_keystore, trust_args(truststore, ca, sample_ca))
    assert first["changed"] and os.path.exists(first["backup_file"])
    before = digest(truststore)
    second = module_result(sm_keystore, trust_args(truststore, ca, sample_ca))
    assert not second["changed"] and second["actions"] == [] and digest(truststore) == before


def test_check_mode_decides_the_same_without_writing(truststore, ca, sample_ca):
    before = digest(truststore)
    checked = module_result(sm_keystore, trust_args(truststore, ca, sample_ca), check_mode=True,
                            diff=True)
    assert digest(truststore) == before
    real = module_result(sm_keystore, trust_args(truststore, ca, sample_ca), diff=True)
    assert checked["changed"] == real["changed"] is True
    assert checked["actions"] == real["actions"]
    first_line = [d["diff"]["after"].split("\n")[0].split()[:3] for d in (checked, real)]
    assert first_line[0] == first_line[1]
    after_check = module_result(sm_keystore, trust_args(truststore, ca, sample_ca), check_mode=True)
    assert not after_check["changed"]


def test_diff_and_result_hold_no_secret(tmp_path, ca):
    key, cert = ca.issue("sm1")
    key_pem = pki.key_pem(key, "key-Passphrase-9")
    result = module_result(sm_keystore, dict(
        path=str(tmp_path / "server.keystore"), password=PASSWORD, key_alias="smserver",
        private_key=key_pem, private_key_passphrase="key-Passphrase-9",
        certificate_chain=pki.chain_pem([cert, ca.cert])), diff=True)
    text = repr(result)
    assert result["changed"]
    for secret in (PASSWORD, "key-Passphrase-9", key_pem.splitlines()[1]):
        assert secret not in text


def test_new_keystore_is_private(tmp_path, ca):
    path = tmp_path / "new.keystore"
    module_result(sm_keystore, dict(path=str(path), password=PASSWORD,
                                    trusted_certs=[dict(alias="ca", pem=ca.pem)]))
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    module_result(sm_keystore, dict(path=str(path), password=PASSWORD, mode="0640",
                                    trusted_certs=[dict(alias="ca", pem=ca.pem)]))
    assert oct(os.stat(path).st_mode & 0o777) == "0o640"


def test_csr_and_install_through_the_modules(tmp_path, ca):
    path = str(tmp_path / "server.keystore")
    request = dict(path=path, password=PASSWORD, key_alias="smserver", csr_key="new",
                   csr=dict(common_name="sm1", dns=["sm1"]))
    checked = module_result(sm_keystore, request, check_mode=True)
    assert checked["changed"] and checked["csr"] and not os.path.exists(path + ".smtls-pending")
    asked = module_result(sm_keystore, request)
    assert asked["changed"] and asked["pending"] and os.path.exists(path + ".smtls-pending")
    assert not module_result(sm_keystore, request)["changed"]  # the pending key is reused
    signed = module_result(sm_certificate, dict(
        ca_dir=str(tmp_path / "ca"), ca_passphrase="ca-Passphrase-1", common_name="sm1",
        dns=["sm1"], csr=asked["csr"]))
    assert signed["action"] == "issued" and signed["reason"] == "missing"
    installed = module_result(sm_keystore, dict(path=path, password=PASSWORD, key_alias="smserver",
                                                certificate_chain=signed["chain"]))
    assert installed["changed"] and not installed["pending"]
    assert not os.path.exists(path + ".smtls-pending")
    info = module_result(sm_keystore_info, dict(path=path, password=PASSWORD, return_pem=True))
    entry = info["entries"][0]
    assert entry["kind"] == "private_key" and entry["chain_length"] == 2
    assert entry["sha256"] == signed["sha256"]
    again = module_result(sm_certificate, dict(
        ca_dir=str(tmp_path / "ca"), ca_passphrase="ca-Passphrase-1", common_name="sm1",
        dns=["sm1"], current_chain=entry["chain_pem"]))
    assert (again["action"], again["reason"], again["changed"]) == ("keep", "valid", False)


def test_info_reports_fields_and_missing_file(tmp_path, truststore, sample_ca):
    info = module_result(sm_keystore_info, dict(path=truststore, password=PASSWORD))
    entry = info["entries"][0]
    assert info["type"] == "jks" and not info["changed"]
    assert set(entry) >= {"alias", "kind", "subject", "issuer", "sans", "not_after", "sha256",
                          "chain_length"}
    assert entry["sha256"] == pki.sha256_hex(sample_ca.cert)
    assert module_result(sm_keystore_info, dict(path=str(tmp_path / "none")))["exists"] is False


def test_store_password_change_through_the_module(truststore):
    # from the one of initial_passwords that opens it to password
    args = dict(path=truststore, password="Next-Pass-2", initial_passwords=["not-this-one", PASSWORD])
    assert module_result(sm_keystore, args)["changed"]
    assert not module_result(sm_keystore, args)["changed"]
    assert module_result(sm_keystore_info, dict(path=truststore, password="Next-Pass-2"))["entries"]


# --- bad input: a clear message, the file byte-for-byte unchanged ---------------------

def _corrupt(path):
    data = open(path, "rb").read()
    open(path, "wb").write(data[:40] + b"\x00" * 8 + data[48:])


def _truncate(path):
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 3])


BAD_INPUT = {
    "wrong store password": (dict(password="not-it"), None, "wrong store password"),
    "corrupt file": ({}, _corrupt, "cacerts: "),
    "truncated file": ({}, _truncate, "truncated"),
    "malformed PEM": (dict(trusted_certs=[dict(alias="x", pem="-----BEGIN CERTIFICATE-----\nabc\n"
                                                   "-----END CERTIFICATE-----")]), None,
                      "trusted certificate x: malformed PEM"),
    "no PEM at all": (dict(trusted_certs=[dict(alias="x", pem="just text")]), None,
                      "no PEM certificate found"),
    "unknown type": (dict(store_type="jceks"), None, "value of store_type must be one of"),
    "key does not match certificate": ("mismatch", None, "does not match the supplied private key"),
    "chain without its key": ("orphan-chain", None, "matches neither the key"),
}


@pytest.mark.parametrize("label", sorted(BAD_INPUT))
def test_bad_input_is_refused_and_nothing_changes(label, truststore, ca, sample_ca):
    change, damage, message = BAD_INPUT[label]
    if damage:
        damage(truststore)
    args = trust_args(truststore, ca, sample_ca)
    if change == "mismatch":
        _, cert = ca.issue("sm1")
        args.update(key_alias="smserver", certificate_chain=pki.cert_pem(cert),
                    private_key=pki.key_pem(pki.generate_key()))
    elif change == "orphan-chain":
        _, cert = ca.issue("sm1")
        args.update(key_alias="smserver", certificate_chain=pki.cert_pem(cert))
    else:
        args.update(change)
    before = digest(truststore)
    files_before = sorted(os.listdir(os.path.dirname(truststore)))
    result = module_result(sm_keystore, args)
    assert result.get("failed"), result
    assert message in result["msg"]
    assert digest(truststore) == before
    assert sorted(os.listdir(os.path.dirname(truststore))) == files_before
    assert PASSWORD not in result["msg"]


def test_ca_problems_are_refused(tmp_path, ca):
    ca_dir = tmp_path / "ca"
    base = dict(ca_dir=str(ca_dir), ca_passphrase="ca-Passphrase-1", common_name="h", dns=["h"])
    assert module_result(sm_certificate, base)["ca_created"]
    before = {n: digest(ca_dir / n) for n in os.listdir(ca_dir)}
    wrong = module_result(sm_certificate, dict(base, ca_passphrase="not-the-one"))
    assert wrong["failed"] and "wrong passphrase" in wrong["msg"] and "ca.key" in wrong["msg"]
    short = module_result(sm_certificate, dict(base, ca_dir=str(tmp_path / "new"), ca_passphrase="x"))
    assert short["failed"] and "at least 8 characters" in short["msg"]
    # an expired CA is refused with the way out named
    old_key, old_cert = pki.create_ca("old", valid_days=1, key_size=2048,
                                      at=pki.now() - __import__("datetime").timedelta(days=3))
    expired = tmp_path / "expired"
    expired.mkdir()
    (expired / "ca.crt").write_text(pki.cert_pem(old_cert))
    (expired / "ca.key").write_text(pki.key_pem(old_key, "ca-Passphrase-1"))
    result = module_result(sm_certificate, dict(base, ca_dir=str(expired)))
    assert result["failed"] and "rotate_ca.yml" in result["msg"]
    assert {n: digest(ca_dir / n) for n in os.listdir(ca_dir)} == before


def test_corporate_ca_exports_csr_and_imports_certificate(tmp_path, ca):
    corp = tmp_path / "corp"
    corp.mkdir()
    (corp / "ca.crt").write_text(ca.pem)
    key = pki.generate_key()
    csr = pki.csr_pem(pki.make_csr(key, "sm1", ["sm1"]))
    base = dict(ca_dir=str(corp), common_name="sm1", dns=["sm1"], csr=csr,
                csr_export_dir=str(tmp_path / "out"), certificate_import_dir=str(tmp_path / "in"))
    (tmp_path / "out").mkdir()
    (tmp_path / "in").mkdir()
    first = module_result(sm_certificate, base)
    assert first["action"] == "issue" and first["changed"]
    assert (tmp_path / "out" / "sm1.csr").read_text() == csr
    assert not module_result(sm_certificate, base)["changed"]
    leaf = pki.sign(ca.key, ca.cert, key.public_key(), "sm1", ["sm1"])  # the CA team signs
    (tmp_path / "in" / "sm1.crt").write_text(pki.cert_pem(leaf))
    done = module_result(sm_certificate, base)
    assert done["action"] == "issued" and done["sha256"] == pki.sha256_hex(leaf)
    assert len(pki.parse_pem_certs(done["chain"], "chain")) == 2


# --- sm_truststore: several truststores in one call ---------------------------------------

import sm_truststore  # noqa: E402


def test_truststores_in_one_call_all_checked_before_any_write(tmp_path, ca, sample_ca):
    paths = []
    for name, password in (("a", "changeit"), ("b", "changeit"), ("c", "other-pass")):
        path = tmp_path / name
        path.write_bytes(ks.dump(ks.Keystore("jks", [ks.CertEntry("sampleca", sample_ca.cert)]),
                                 password))
        paths.append(str(path))
    args = dict(truststores=[dict(path=p, password="changeit") for p in paths],
                trusted_certs=[dict(alias="smtls-ca", pem=ca.pem)],
                absent=[dict(subject="cn = Sample CA (fictitious)")],
                backup=True)
    digests = [digest(p) for p in paths]
    failed = module_result(sm_truststore, args)
    assert failed["failed"] and paths[2] in failed["msg"] and "wrong store password" in failed["msg"]
    assert [digest(p) for p in paths] == digests
    args["truststores"][2]["initial_passwords"] = ["other-pass"]
    args["truststores"].append(dict(path=str(tmp_path / "absent"), password="x", create=False))
    done = module_result(sm_truststore, args)
    assert done["changed"] and [r["changed"] for r in done["truststores"]] == [True, True, True, False]
    for path in paths:
        store = ks.load(open(path, "rb").read(), "changeit")
        assert [pki.sha256_hex(e.cert) for e in store.entries] == [pki.sha256_hex(ca.cert)]
    assert not (tmp_path / "absent").exists()
    again = module_result(sm_truststore, args)
    assert not again["changed"]


def test_controller_held_key_for_a_shared_certificate(tmp_path):
    base = dict(ca_dir=str(tmp_path / "ca"), ca_passphrase="ca-Passphrase-1", common_name="webtier",
                usage="client", key_file=str(tmp_path / "ca/clients/webtier.key"))
    checked = module_result(sm_certificate, base, check_mode=True)
    assert checked["changed"] and checked["action"] == "issued" and checked["chain"]
    assert not (tmp_path / "ca").exists()
    first = module_result(sm_certificate, base)
    assert first["action"] == "issued" and first["reason"] == "missing"
    key_pem = (tmp_path / "ca/clients/webtier.key").read_text()
    assert "ENCRYPTED" in key_pem
    assert oct(os.stat(tmp_path / "ca/clients/webtier.key").st_mode & 0o777) == "0o600"
    assert key_pem not in repr(first)
    second = module_result(sm_certificate, base)
    assert (second["action"], second["changed"], second["sha256"]) == ("keep", False, first["sha256"])
    key = pki.parse_pem_key(key_pem, "ca-Passphrase-1", "k")
    leaf = pki.parse_pem_certs(second["chain"], "c")[0]
    assert pki.key_matches(leaf, key)


def test_ca_without_passphrase_reads_but_will_not_sign(tmp_path):
    base = dict(ca_dir=str(tmp_path / "ca"), ca_passphrase="ca-Passphrase-1")
    module_result(sm_certificate, base)
    read = module_result(sm_certificate, dict(ca_dir=str(tmp_path / "ca"), ca_create=False))
    assert not read.get("failed") and read["ca_sha256"]
    csr = pki.csr_pem(pki.make_csr(pki.generate_key(), "h", ["h"]))
    refused = module_result(sm_certificate, dict(ca_dir=str(tmp_path / "ca"), ca_create=False,
                                                 common_name="h", dns=["h"], csr=csr))
    assert refused["failed"] and "set the CA passphrase" in refused["msg"]


import sm_pending_restart  # noqa: E402


import sm_ini  # noqa: E402


class CutOffAtRename(Exception):
    pass


def test_a_write_is_recorded_before_the_rename_so_a_cut_off_run_still_restarts(tmp_path, monkeypatch):
    """The writing module notes its file in the restart record before it replaces it: a run
    that dies right there (here: the rename never happens) still leaves the restart, and the
    rollback, due for the next run. A call that writes nothing leaves no record."""
    run = tmp_path / "RUN"
    run.mkdir()
    ini = run / "sm.ini"
    ini.write_text("ssl:0\n")
    ini.chmod(0o600)  # a mode to cap would be a change of its own (test_secrets_at_rest.py)
    record = str(run / ".smtls-restart-pending")
    args = dict(path=str(ini), parameters={"ssl": "1"}, backup=True, restart_record=record)

    nothing = module_result(sm_ini, dict(args, parameters={"ssl": "0"}))
    assert not nothing["changed"] and not os.path.exists(record)
    checked = module_result(sm_ini, args, check_mode=True)
    assert checked["changed"] and not os.path.exists(record)

    from ansible.module_utils.basic import AnsibleModule

    def cut_off(*_args, **_kwargs):
        raise CutOffAtRename()

    monkeypatch.setattr(AnsibleModule, "atomic_move", cut_off)
    with pytest.raises(CutOffAtRename):
        module_result(sm_ini, args)
    monkeypatch.undo()
    assert ini.read_text() == "ssl:0\n", "the rename never happened"
    due = module_result(sm_pending_restart, dict(path=record))
    assert due["pending"] is True and due["changed"] is False
    assert [f["path"] for f in due["files"]] == [str(ini)] and due["files"][0]["backup"]

    # the next run writes for real; the record keeps the first backup (the state to return to)
    first_backup = due["files"][0]["backup"]
    assert module_result(sm_ini, args)["changed"]
    again = module_result(sm_pending_restart, dict(path=record))
    assert again["files"] == due["files"] and again["files"][0]["backup"] == first_backup
    rolled = module_result(sm_pending_restart, dict(path=record, state="rollback"))
    assert rolled["changed"] and ini.read_text() == "ssl:0\n" and not os.path.exists(record)


def test_check_mode_predicts_the_restart_from_the_changes_it_is_told_of(tmp_path):
    record = str(tmp_path / ".smtls-restart-pending")
    told = [dict(path=str(tmp_path / "sm.ini"), backup="")]
    assert module_result(sm_pending_restart, dict(path=record, files=told), check_mode=True)["pending"]
    # a real run trusts only the record: the modules wrote there what they changed
    assert not module_result(sm_pending_restart, dict(path=record, files=told))["pending"]
    assert not os.path.exists(record)


def test_the_ca_call_records_the_detected_issuers_beside_the_ca(tmp_path):
    ca_dir = tmp_path / "ca"
    record = ca_dir / "detected-issuers.json"
    issuers = [{"sha256": "ab" * 32, "subject": "CN=Sample CA (fictitious)", "first_seen_on": "sm1"}]
    args = dict(ca_dir=str(ca_dir), ca_passphrase="ca-Pass-1", ca_create=True,
                detected_issuers=issuers, detected_issuers_file=str(record))
    checked = module_result(sm_certificate, args, check_mode=True)
    assert checked["changed"] and checked["detected_issuers_written"] and not ca_dir.exists()
    first = module_result(sm_certificate, args)
    assert first["detected_issuers_written"] and json.loads(record.read_text()) == issuers
    assert oct(record.stat().st_mode & 0o777) == "0o644"  # public data
    again = module_result(sm_certificate, args)
    assert not again["changed"] and not again["detected_issuers_written"]
    # nothing found this time: the record stays as it is
    kept = module_result(sm_certificate, dict(args, detected_issuers=[]))
    assert not kept["changed"] and json.loads(record.read_text()) == issuers


import sm_server_info  # noqa: E402


def test_the_installation_read_tells_the_restart_record_and_the_stores_as_the_roles_judge_them(tmp_path, ca):
    """sm_server_info reads the restart record (a run that writes nothing then reads no record
    again) and the client CA truststore beside the server keystore: what the roles need to
    leave out the calls that would change nothing (smtls_keystore_in_place)."""
    from ansible.module_utils import smtls_keystore_state as state

    run = tmp_path / "RUN"
    run.mkdir()
    record = run / ".smtls-restart-pending"
    client_ca = run / "smcacerts.jks"
    client_ca.write_bytes(ks.dump(ks.Keystore("jks", [ks.CertEntry("smtls-ca", ca.cert)]), "pw"))
    client_ca.chmod(0o640)
    args = dict(jre_dir=str(run / "jre"), restart_record=str(record),
                client_ca=dict(path=str(client_ca), password="pw"))

    found = module_result(sm_server_info, args)
    assert found["restart_pending"] is False
    read = found["client_ca"]
    assert read["password_used"] == "primary" and read["attributes"]["mode"] == 0o640 and not read["pending"]
    assert state.in_place(read, trusted_sha256=[pki.sha256_hex(ca.cert)], exclusive=True, mode="0640")
    assert not state.in_place(read, trusted_sha256=[], exclusive=True, mode="0640")

    # a record left by a cut-off run, or one that cannot be read: a restart may be due
    record.write_text(json.dumps({"files": [{"path": str(client_ca), "backup": ""}]}))
    assert module_result(sm_server_info, args)["restart_pending"] is True
    record.write_text("not json")
    assert module_result(sm_server_info, args)["restart_pending"] is True
    # a wrong password is returned for the preflight to report, not raised
    wrong = module_result(sm_server_info, dict(args, client_ca=dict(path=str(client_ca), password="nope")))
    assert "wrong store password" in wrong["client_ca"]["error"]


def test_the_installation_read_plans_sm_ini_and_the_truststores_as_their_modules_would(
        tmp_path, ca, sample_ca):
    """sm_server_info's ini_plan and truststore_plan are what sm_ini and sm_truststore return in
    check mode on the same files (the preflight takes them instead of running both), with
    sslEnabledProtocols chosen for the JRE read in the same call; the read changes nothing, not
    even a mode it would cap, and a store or file it cannot plan is returned as its error."""
    import stat

    run = tmp_path / "RUN"
    (run / "jre").mkdir(parents=True)
    (run / "jre" / "release").write_text('JAVA_VERSION="17.0.9"\n')
    ini = run / "sm.ini"
    ini.write_text("# site\nsslConnector:0\nlanguage:en\n")
    cacerts = run / "cacerts"
    cacerts.write_bytes(ks.dump(ks.Keystore("jks", [ks.CertEntry("sampleca", sample_ca.cert)]), "changeit"))
    cacerts.chmod(0o644)
    parameters = {"ssl": "1", "sslConnector": "1", "sslEnabledProtocols": None, "trustedsignon": None}
    ini_args = dict(path=str(ini), parameters=parameters, passwords={"keystorePass": "kspass"},
                    password_keystores={"keystorePass": "server.keystore"}, backup=True)
    trust_args = dict(truststores=[dict(path=str(cacerts), password="changeit", mode="0600")],
                      trusted_certs=[dict(alias="smtls-ca", pem=ca.pem)],
                      absent=[dict(subject="cn = Sample CA (fictitious)")])
    info_args = dict(jre_dir=str(run / "jre"), ini_plan=dict(ini_args, ssl_protocols="auto"),
                     truststore_plan=trust_args)
    before = digest(ini), digest(cacerts)

    def as_planned(result, plan):
        """The module's result on the keys the plan has (exit_json adds the file's attributes)."""
        return {k: result.get(k) for k in plan}

    found = module_result(sm_server_info, info_args)
    assert not found["changed"] and (digest(ini), digest(cacerts)) == before
    assert stat.S_IMODE(cacerts.stat().st_mode) == 0o644
    wanted = dict(ini_args, parameters=dict(parameters, sslEnabledProtocols="TLSv1.2,TLSv1.3"))
    assert found["ini_plan"] == as_planned(module_result(sm_ini, wanted, check_mode=True), found["ini_plan"])
    assert set(found["ini_plan"]) >= {"changed", "written", "actions", "parameters", "master_key"}
    assert "add sslEnabledProtocols:TLSv1.2,TLSv1.3" in found["ini_plan"]["actions"]
    checked = module_result(sm_truststore, trust_args, check_mode=True)
    assert found["truststore_plan"] == as_planned(checked, found["truststore_plan"])
    assert found["truststore_plan"]["changed"] and found["truststore_plan"]["truststores"][0]["written"]

    # a JRE without TLS 1.3 (no version known): TLSv1.2 alone, the one value the vendor documents
    (run / "jre" / "release").unlink()
    older = module_result(sm_server_info, info_args)["ini_plan"]
    assert "add sslEnabledProtocols:TLSv1.2" in older["actions"]

    # once both modules wrote, the plans find nothing to change
    module_result(sm_ini, wanted)
    module_result(sm_truststore, trust_args)
    (run / "jre" / "release").write_text('JAVA_VERSION="17.0.9"\n')
    again = module_result(sm_server_info, info_args)
    assert not again["ini_plan"]["changed"] and not again["truststore_plan"]["changed"]

    # what they would refuse is returned for the preflight to report, not raised
    wrong = dict(trust_args, truststores=[dict(path=str(cacerts), password="nope")])
    missing = dict(ini_args, path=str(tmp_path / "NORUN" / "sm.ini"))
    errors = module_result(sm_server_info, dict(info_args, ini_plan=missing, truststore_plan=wrong))
    assert "wrong store password" in errors["truststore_plan"]["error"]
    assert "sm_server_run_dir" in errors["ini_plan"]["error"]


import sm_webtier_config  # noqa: E402
import sm_webtier_info  # noqa: E402


def test_the_web_tier_read_plans_its_settings_and_truststores_as_their_modules_would(
        tmp_path, ca, sample_ca):
    """sm_webtier_info's config_plan and truststore_plan are what sm_webtier_config and
    sm_truststore return in check mode with the same arguments (the preflight's one module run on
    a web tier); the read writes nothing, and what they would refuse comes back as its error."""
    webapp = tmp_path / "webtier"
    (webapp / "WEB-INF").mkdir(parents=True)
    (webapp / "WEB-INF" / "web.xml").write_text("<web-app></web-app>\n")
    cacerts = tmp_path / "cacerts"
    cacerts.write_bytes(ks.dump(ks.Keystore("jks", [ks.CertEntry("sampleca", sample_ca.cert)]), "changeit"))
    trust_args = dict(truststores=[dict(path=str(cacerts), password="changeit")],
                      trusted_certs=[dict(alias="smtls-ca", pem=ca.pem)], absent=[])
    properties = tmp_path / "webtier.properties"
    config_args = dict(properties_file=str(properties), properties={"ssl": "true"}, backup=True)
    info_args = dict(webapp_dir=str(webapp), config_plan=config_args, truststore_plan=trust_args)
    before = digest(cacerts)

    def without_module_keys(result):
        return {k: v for k, v in result.items() if k not in ("invocation", "diff")}

    found = module_result(sm_webtier_info, info_args)
    assert found["config_plan"] == without_module_keys(module_result(sm_webtier_config, config_args,
                                                                     check_mode=True))
    assert found["config_plan"]["changed"] and "add ssl=true" in found["config_plan"]["files"][0]["actions"]
    assert found["truststore_plan"] == without_module_keys(module_result(sm_truststore, trust_args,
                                                                         check_mode=True))
    assert found["truststore_plan"]["truststores"][0]["actions"]
    assert digest(cacerts) == before and not properties.exists()

    # once both modules wrote, the plans find nothing to change
    module_result(sm_webtier_config, config_args)
    module_result(sm_truststore, trust_args)
    again = module_result(sm_webtier_info, info_args)
    assert not again["config_plan"]["changed"] and not again["truststore_plan"]["changed"]

    # what they would refuse is returned for the preflight to report, not raised
    broken = tmp_path / "web.xml"
    broken.write_text("<web-app>")
    errors = module_result(sm_webtier_info, dict(
        info_args, config_plan=dict(web_xml=str(broken), context_params={"ssl": "true"}),
        truststore_plan=dict(trust_args, truststores=[dict(path=str(cacerts), password="nope")])))
    assert "wrong store password" in errors["truststore_plan"]["error"]
    assert "web.xml" in errors["config_plan"]["error"]
