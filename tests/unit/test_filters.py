"""The roles' Jinja filters."""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from ansible.module_utils import smtls_x509 as pki

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugins" / "filter"))
from smtls_certs import (  # noqa: E402
    smtls_ca_selectors, smtls_certificate_decision, smtls_certificate_dns, smtls_client_certificates,
    smtls_clients_without_ca_problem, smtls_identity_outcome, smtls_key_entry, smtls_keystore_in_place,
    smtls_leaf_pem, smtls_merge_detected_cas, smtls_named_certs)
from smtls_installation import (  # noqa: E402
    smtls_browser_connector_problem, smtls_browser_https_plan, smtls_leftover_notes, smtls_leftover_problems,
    smtls_ssl_protocols_for, smtls_tls_problems)
from smtls_plan import (  # noqa: E402
    smtls_in_dir, smtls_module_available, smtls_progress, smtls_trust_due, smtls_truststore_options,
    smtls_truststores_in, smtls_unchanged, smtls_written)


@pytest.mark.parametrize("dns,cn,acme,names", [
    (["a.example"], "B.example", False, ["a.example"]),
    (["a.example"], "B.example", True, ["a.example", "b.example"]),
    (["A.example"], "a.example", "true", ["A.example"]),  # already there, in any case
    ([], "b.example", True, ["b.example"]),
])
def test_an_acme_certificate_carries_its_common_name_among_its_dns_names(dns, cn, acme, names):
    """One rule for the identity flow and the plan (the CA puts every authorized name in)."""
    assert smtls_certificate_dns(dns, cn, acme) == names


def test_written_files_are_those_whose_content_changed():
    results = [
        dict(changed=True, written=True, path="/r/sm.ini", backup_file="/r/sm.ini.1.b~"),
        dict(changed=True, written=False, path="/r/server.keystore"),  # its mode only
        dict(changed=True, truststores=[dict(path="/r/a", changed=True, written=False),
                                        dict(path="/r/b", changed=True, written=True)]),
        dict(changed=True, files=[dict(path="/w/x", changed=True)]),  # no `written`: changed counts
        dict(changed=False, written=True, path="/r/never"), dict(skipped=True)]
    assert smtls_written(results) == [{"path": "/r/sm.ini", "backup": "/r/sm.ini.1.b~"},
                                      {"path": "/r/b", "backup": ""}, {"path": "/w/x", "backup": ""}]


@pytest.mark.parametrize("path,base,expected", [
    ("server.keystore", "/opt/sm/RUN", "/opt/sm/RUN/server.keystore"),
    ("jre/lib/security/cacerts", "/opt/sm/RUN", "/opt/sm/RUN/jre/lib/security/cacerts"),
    ("../keys/server.p12", "/opt/sm/RUN", "/opt/sm/keys/server.p12"),
    ("/etc/ssl/certs/java/cacerts", "/opt/sm/RUN", "/etc/ssl/certs/java/cacerts"),
    ("C:/SM/RUN/cacerts", "/opt/sm/RUN", "C:/SM/RUN/cacerts"),
])
def test_paths_resolve_like_sm_resolves_keystore_names(path, base, expected):
    assert smtls_in_dir(path, base) == expected


def test_truststore_items_keep_their_other_keys():
    items = [{"path": "cacerts", "password": "x", "create": False}]
    assert smtls_truststores_in(items, "/r") == [{"path": "/r/cacerts", "password": "x", "create": False}]


@pytest.mark.parametrize("item,initial", [
    ({"path": "c", "password": "x"}, []),
    ({"path": "c", "password": "x", "initial_password": "changeit"}, ["changeit"]),
    # the item's own password, or none, moves nothing: the store keeps its password
    ({"path": "c", "password": "x", "initial_password": "x"}, []),
    ({"path": "c", "password": "x", "initial_password": ""}, []),
    ({"path": "c", "password": "x", "initial_password": None}, []),
    ({"path": "c", "password": "x", "initial_passwords": ["a", "x"], "initial_password": "b"}, ["a", "b"]),
])
def test_an_inventory_truststore_item_as_sm_truststore_takes_it(item, initial):
    # the inventory's initial_password (one, as its other variables) is the module's list
    assert smtls_truststore_options([item]) == [{"path": "c", "password": "x", "initial_passwords": initial}]


SAMPLE = {"alias": "sample", "kind": "private_key", "chain_pem": "sample chain"}
OURS = {"alias": "smserver", "kind": "private_key", "chain_pem": "our chain"}
CA = {"alias": "smtls-ca", "kind": "trusted_cert", "chain_pem": "ca"}


@pytest.mark.parametrize("entries,alias,expected", [
    ([CA, SAMPLE, OURS], "SMServer", OURS),     # ours, by alias (keystore aliases are lower case)
    ([CA, SAMPLE], "smserver", SAMPLE),         # the sample certificate, before the first rollout
    ([CA], "smserver", {}),                     # a truststore has no key entry
    ([], "smserver", {}),
    (None, "smserver", {}),
])
def test_the_key_entry_a_keystore_serves(entries, alias, expected):
    assert smtls_key_entry(entries, alias) == expected


HOSTS = ["sm%d" % n for n in range(1, 13)]


@pytest.mark.parametrize("batch,hosts,expected", [
    (["sm1", "sm2"], HOSTS[:4], "SM servers: done on sm1, sm2 - 2 of 4 hosts done; left: sm3, sm4"),
    (["sm3", "sm4"], HOSTS[:4], "SM servers: done on sm3, sm4 - 4 of 4 hosts done; left: none"),
    # a host that failed in the batch is gone from it: the batch still ends where it ended
    (["sm2"], HOSTS[:3], "SM servers: done on sm2 - 2 of 3 hosts done; left: sm3"),
    (["sm1"], HOSTS, "SM servers: done on sm1 - 1 of 12 hosts done; left: sm2, sm3, sm4, sm5, "
                     "sm6, sm7, sm8, sm9 ... (+3 more)"),
    ([], [], "SM servers: no hosts in this run"),
])
def test_progress_says_what_is_done_and_what_is_left(batch, hosts, expected):
    assert smtls_progress(batch, hosts, "SM servers") == expected


@pytest.fixture(scope="module")
def plugin_loader():
    """Ansible's plugin loader, set up once (a second set-up warns), as ansible-playbook does
    before any filter runs."""
    from ansible.plugins import loader

    loader.init_plugin_loader()
    return loader


def test_a_module_of_ansible_core_resolves_and_a_missing_collection_does_not(plugin_loader):
    assert smtls_module_available("ansible.builtin.copy")
    assert not smtls_module_available("smtls_absent.nowhere.win_copy")


@pytest.mark.parametrize("protocols,ciphers,allow,check,expected", [
    (["TLSv1.2", "TLSv1.3"], ["TLS_AES_128_GCM_SHA256"], False, True, []),
    ([], [], False, True, []),  # the JVM's defaults
    (["SSLv3", "TLSv1.2"], [], False, True, ["SSLv3 is older than TLS 1.2 and refused"]),
    (["TLSv1.1", "TLSv1.2"], [], True, True, []),  # asked for explicitly
    (["TLSv1", "SSLv3"], [], True, True, ["at least TLSv1.2 or TLSv1.3"]),
    (["TLSv1.2", "TLSv13"], [], False, True, ["TLSv13 is not a protocol JSSE knows"]),
    ([], ["TLS_AES_128_GCM_SHA257"], False, True, ["TLS_AES_128_GCM_SHA257 is not a cipher suite"]),
    ([], ["TLS_AES_128_GCM_SHA257"], False, False, []),
])
def test_protocol_and_cipher_problems_name_the_variable_and_fix(protocols, ciphers, allow, check, expected):
    problems = smtls_tls_problems(protocols, ciphers, allow, check)
    assert len(problems) == len(expected), problems
    for problem, text in zip(problems, expected):
        assert text in problem and problem.startswith("smtls_ssl_")


JAVA8_OLD = {"home": "/opt/sm/RUN/jre", "version": "1.8.0_202", "source": "release", "tls13": False}
JAVA17 = {"home": "/opt/sm/RUN/jre", "version": "17.0.13", "source": "release", "tls13": True}
UNKNOWN = {"home": "/opt/sm/RUN/jre", "version": "", "source": "none", "tls13": None}


@pytest.mark.parametrize("requested,jre,expected", [
    ("auto", JAVA17, ["TLSv1.2", "TLSv1.3"]),
    ("auto", JAVA8_OLD, ["TLSv1.2"]),
    ("auto", UNKNOWN, ["TLSv1.2"]),   # the conservative choice: the vendor's documented value
    ("auto", None, ["TLSv1.2"]),
    (["TLSv1.3"], JAVA17, ["TLSv1.3"]),  # the operator's list, as given
    ([], JAVA17, []),
    ("TLSv1.2", JAVA17, []),   # neither auto nor a list: none (the preflight names the variable)
    (12, JAVA17, []),
])
def test_protocols_follow_the_servers_jre(requested, jre, expected):
    assert smtls_ssl_protocols_for(requested, jre) == expected


def test_tls13_on_a_jre_without_it_is_refused_with_version_and_fix():
    problems = smtls_tls_problems(["TLSv1.2", "TLSv1.3"], [], False, True, JAVA8_OLD)
    assert len(problems) == 1
    assert "Java 1.8.0_202" in problems[0] and "/opt/sm/RUN/jre" in problems[0]
    assert "Fix: smtls_ssl_protocols: auto" in problems[0]
    # unknown version: the operator's explicit list stands; auto is never a problem
    assert smtls_tls_problems(["TLSv1.2", "TLSv1.3"], [], False, True, UNKNOWN) == []
    assert smtls_tls_problems("auto", [], False, True, JAVA8_OLD) == []
    assert "neither auto nor a list" in smtls_tls_problems("TLSv1.2,TLSv1.3", [], jre=JAVA17)[0]


SAMPLE = {"sha256": "ab" * 32, "subject": "CN=Sample CA (fictitious),O=Service Manager sample",
          "first_seen_on": "sm1"}
LEAF_ONLY = {"subject": "CN=Old Root,O=Example", "first_seen_on": "sm2"}


def test_detected_issuers_merge_once_in_order_and_keep_what_is_kept():
    recorded = [SAMPLE]
    found = [dict(SAMPLE, first_seen_on="sm2"), {}, LEAF_ONLY,
             {"subject": "O=Example, CN=old root", "first_seen_on": "sm3"}]   # same DN, other spelling
    assert smtls_merge_detected_cas(recorded, found) == [SAMPLE, LEAF_ONLY]
    assert smtls_merge_detected_cas([], found, [{"sha256": "AB:" * 31 + "AB"}]) == [LEAF_ONLY]
    assert smtls_merge_detected_cas(recorded, found, [{"subject": "cn=old root, o=example"}]) == [SAMPLE]
    assert smtls_merge_detected_cas(None, None) == []


def test_detected_issuers_become_exact_selectors():
    assert smtls_ca_selectors([SAMPLE, LEAF_ONLY]) == [{"sha256": "ab" * 32},
                                                       {"subject": LEAF_ONLY["subject"]}]


def test_client_ca_entries_are_named_in_order():
    assert smtls_named_certs(["A", "", "B"], "smtls-ca-accepted") == [
        {"alias": "smtls-ca-accepted-1", "pem": "A"}, {"alias": "smtls-ca-accepted-2", "pem": "B"}]
    assert smtls_named_certs(None, "x") == []


def test_an_extra_client_from_a_ca_the_server_does_not_trust_for_clients_is_named(ca, sample_ca):
    ours = [{"alias": "smtls-ca", "pem": ca.pem}]
    _key, mine = ca.issue("src.example.com", usage="client")
    _key, theirs = sample_ca.issue("mobility.example.com", usage="client")
    clients = [{"alias": "src", "pem": pki.cert_pem(mine)},
               {"alias": "mobility", "pem": pki.cert_pem(theirs)}]
    problem = smtls_clients_without_ca_problem(clients, ours, "sm_server_trusted_clients_extra")
    assert problem.startswith("sm_server_trusted_clients_extra: mobility (issued by CN=Sample CA")
    assert "src" not in problem.split(" would be")[0]
    assert "Fix: add the issuing CA to smtls_client_cas" in problem
    both = ours + [{"alias": "sample", "pem": sample_ca.pem}]
    assert smtls_clients_without_ca_problem(clients, both, "x") == ""
    # a malformed PEM is the store module's to name (its check runs next)
    broken = [{"alias": "x", "pem": "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----"}]
    assert smtls_clients_without_ca_problem(broken, ours, "x") == ""
    # a CA of the same name but another key does not count
    impostor = type(sample_ca)("Sample CA (fictitious)")
    impostors = ours + [{"alias": "i", "pem": impostor.pem}]
    assert "mobility" in smtls_clients_without_ca_problem(clients, impostors, "x")


ENCRYPTION = {"ssl": True, "client_auth": 0}
CLIENT_AUTH_MODE = {"ssl": True, "client_auth": 1}


def test_cacsignon_is_read_not_fought():
    cac = {"cacsignon": "1", "ssl": "1"}
    problems = smtls_leftover_problems(cac, ENCRYPTION, "encryption", [])
    assert len(problems) == 1 and "so mode encryption would not be what runs. Fix:" in problems[0]
    problems = smtls_leftover_problems(cac, CLIENT_AUTH_MODE, "client_auth", [])
    assert len(problems) == 1 and "add the card issuers' CA certificates to smtls_client_cas" in problems[0]
    assert smtls_leftover_problems(cac, CLIENT_AUTH_MODE, "client_auth", [{"alias": "dod", "pem": "x"}]) == []
    assert smtls_leftover_problems({"cacsignon": "0"}, ENCRYPTION, "encryption", []) == []
    assert smtls_leftover_problems(None, ENCRYPTION, "encryption", []) == []


def test_leftovers_the_plan_shows():
    notes = smtls_leftover_notes({"cacsignon": "1", "onewayssl4ws": "1", "acceptsharedcert": "true",
                                  "sslProtocols": "TLSv1.2", "sqllimit": "100"}, CLIENT_AUTH_MODE)
    assert [n.split(":")[0] for n in notes] == ["cacsignon", "onewayssl4ws", "acceptsharedcert",
                                                "sslProtocols"]
    assert smtls_leftover_notes({"onewayssl4ws": "1"}, ENCRYPTION) == []


CONNECTOR = dict(port=8443, keystore="/t/conf/a.jks", keystore_found=True, keystore_opens=True)


@pytest.mark.parametrize("connector,setting,port,managed,expected", [
    (CONNECTOR, "auto", 0, True, ""),
    ({}, "auto", 0, True, ""),                         # auto: nothing to manage here
    ({}, "auto", 0, False, ""),
    ({}, True, 0, True, "has no HTTPS connector"),     # asked for, not there
    ({}, "auto", 9443, True, "serving a Java keystore on port 9443"),
    (dict(CONNECTOR, keystore_found=False), "auto", 0, True, "which does not exist"),
    (dict(CONNECTOR, keystore_opens=False), True, 0, True, "does not open with the password"),
    (dict(CONNECTOR, keystore_opens=False), False, 0, False, ""),  # left alone
])
def test_browser_connector_problem(connector, setting, port, managed, expected):
    problem = smtls_browser_connector_problem(connector, setting, port, "/etc/t/server.xml", managed)
    assert (expected in problem and bool(problem)) if expected else problem == ""


def test_tls_problem_names_the_service_whose_jre_it_is():
    jre = dict(home="/usr/lib/jvm/j8", version="1.8.0_202", tls13=False)
    [problem] = smtls_tls_problems(["TLSv1.2", "TLSv1.3"], [], jre=jre, service="Tomcat")
    assert "the JRE Tomcat runs" in problem and "so Tomcat would not start" in problem


def test_browser_https_plan_says_what_the_connector_gets_or_why_it_stays():
    connector = dict(port=8443, keystore="/t/conf/a.jks")
    jre = dict(version="1.8.0_202", source="release")
    line = smtls_browser_https_plan(connector, True, ["TLSv1.2"], jre, ["web1", "web1", "w.example"],
                                    False, "")
    assert line == ("connector 8443 (/t/conf/a.jks): certificate from the fleet CA for web1, w.example; "
                    "protocols TLSv1.2 - Tomcat JRE 1.8.0_202 (release); not probed (smtls does not "
                    "restart Tomcat here)")
    assert smtls_browser_https_plan({}, False, [], {}, [], False, "x") == \
        "left as it is: server.xml has no HTTPS connector serving a Java keystore"
    assert smtls_browser_https_plan(connector, False, [], {}, [], False, "the mode has no SSL") == \
        "left as it is: the mode has no SSL"


def test_certificate_decision_on_the_controller_keeps_or_says_why(ca, sample_ca):
    key, cert = ca.issue("sm1.example.invalid", dns=["sm1.example.invalid"])
    chain = pki.chain_pem([cert, ca.cert])
    name = "sm1.example.invalid"
    kept = smtls_certificate_decision(chain, ca.pem, [], name, [name], [], 30)
    assert (kept["action"], kept["reason"], kept["sha256"]) == ("keep", "valid", pki.sha256_hex(cert))
    assert kept["chain"].startswith("-----BEGIN CERTIFICATE-----")
    renamed = smtls_certificate_decision(chain, ca.pem, [], name, ["other.example.invalid"], [], 30)
    assert (renamed["action"], renamed["reason"], renamed["chain"]) == ("issue", "names_differ", "")
    _, sample = sample_ca.issue("sample.servicemanager.invalid")
    foreign = smtls_certificate_decision(pki.cert_pem(sample), ca.pem, [], None,
                                         ["sample.servicemanager.invalid"])
    assert foreign["reason"] == "other_issuer"
    # a CA being replaced, accepted during a rotation
    assert smtls_certificate_decision(pki.cert_pem(sample), ca.pem, [sample_ca.pem], None,
                                      ["sample.servicemanager.invalid"])["action"] == "keep"
    assert smtls_certificate_decision("", ca.pem)["reason"] == "missing"
    with pytest.raises(Exception, match="no PEM certificate|PEM"):
        smtls_certificate_decision("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
                                   ca.pem)


@pytest.mark.parametrize("read,due", [
    ({}, True),                                                       # no preflight read: do it
    ({"skipped": True}, True),
    ({"truststores": [{"actions": []}, {"actions": ["remove trusted_cert x (sha256 1): untrusted"]}]}, False),
    ({"truststores": [{"actions": []}, {"actions": ["add trusted_cert smtls-ca (sha256 1, CN=x)"]}]}, True),
])
def test_trust_step_due_only_when_the_preflight_found_our_ca_missing(read, due):
    assert smtls_trust_due(read) is due


@pytest.mark.parametrize("result,unchanged", [
    ({"changed": False, "files": []}, True),
    ({"changed": True}, False),
    ({"changed": False, "skipped": True}, False),     # a skipped call found nothing out
    ({"changed": False, "failed": True}, False),
    ({}, False),                                       # no call of this run to go by
    (None, False),
])
def test_a_step_is_left_out_only_when_a_call_of_this_run_found_nothing_to_change(result, unchanged):
    assert smtls_unchanged(result) is unchanged


class _CountingHostvars(dict):
    """hostvars as the filter sees it; counts the hosts whose variables were built."""

    built = 0

    def __getitem__(self, host):
        type(self).built += 1
        return dict.__getitem__(self, host)


def test_client_certificates_are_read_once_per_client_and_only_those_published():
    cert = {"alias": "web1", "pem": "PEM1"}
    upcoming = {"alias": "web1-next", "pem": "PEM1N"}
    hostvars = _CountingHostvars({
        "web1": {"smtls_client_certificate": cert, "smtls_client_certificate_next": upcoming},
        "web2": {"smtls_client_certificate": {"alias": "web2", "pem": "PEM2"},
                 "smtls_client_certificate_next": {}},
        "win1": {"other": 1},  # failed before publishing: left out, so the servers' check names it
        # a certificate not issued yet (an ACME order in check mode, a CSR with a corporate CA)
        "win2": {"smtls_client_certificate": {"alias": "win2", "pem": ""}},
        # new in a rotation's reissue phase: no certificate installed yet, the next one signed
        "web3": {"smtls_client_certificate": {"alias": "web3", "pem": ""},
                 "smtls_client_certificate_next": {"alias": "web3-next", "pem": "PEM3N"}},
    })
    found = smtls_client_certificates(["web1", "web2", "web1", "win1", "ghost", "win2", "web3"], hostvars)
    assert found == {"web1": {"current": cert, "next": upcoming, "known": True},
                     "web2": {"current": {"alias": "web2", "pem": "PEM2"}, "next": {}, "known": True},
                     "win2": {"current": {"alias": "win2", "pem": ""}, "next": {}, "known": False},
                     "web3": {"current": {"alias": "web3", "pem": ""},
                              "next": {"alias": "web3-next", "pem": "PEM3N"}, "known": True}}
    # each client's variables built once, however often it is named; a host not in the inventory never
    assert _CountingHostvars.built == 5


def test_identity_outcome_says_what_the_flow_did(ca):
    key, cert = ca.issue("sm1.example.com")
    chain = pki.chain_pem([cert, ca.cert])
    skipped = {"skipped": True, "changed": False}
    keep = smtls_identity_outcome(chain, "/r/ks", "smserver", "all", False,
                                  {"action": "keep", "reason": "valid", "sha256": "ab"}, {}, skipped, skipped)
    assert keep == {"keystore": "/r/ks", "alias": "smserver", "action": "keep", "reason": "valid",
                    "sha256": "ab", "backup": "", "written": [], "chain": chain,
                    "certificate": pki.chain_pem([cert]), "changed": False}
    installed = {"changed": True, "written": True, "path": "/r/ks", "backup_file": "/r/ks.1~"}
    issued = smtls_identity_outcome(chain, "/r/ks", "smserver", "all", False,
                                    {"action": "issue", "reason": "expiring"},
                                    {"action": "signed", "sha256": "cd"}, {"changed": True}, installed)
    assert (issued["action"], issued["sha256"], issued["backup"]) == ("signed", "cd", "/r/ks.1~")
    assert issued["changed"]
    assert issued["written"] == [{"path": "/r/ks", "backup": "/r/ks.1~"}]
    current = smtls_identity_outcome("", "/r/ks", "a", "current", False, {}, {}, skipped, skipped)
    assert current["action"] == "keep"
    assert smtls_identity_outcome(chain, "/r/ks", "a", "all", "True", {}, {}, skipped, skipped)["reason"] == (
        "shared certificate")
    # the leaf a client publishes as installed: none, not a lone END line, without a chain
    assert smtls_leaf_pem(chain) == pki.chain_pem([cert]) and smtls_leaf_pem("") == ""


def test_keystore_in_place_refuses_what_it_cannot_judge(ca):
    # a failed or missing read, or a chain that does not parse: the module runs and says why
    assert not smtls_keystore_in_place({"error": "wrong password"}, key_alias="a")
    assert not smtls_keystore_in_place(None)
    read = {"exists": True, "password_used": "primary", "pending": False, "type": "jks",
            "attributes": {"mode": 0o640, "owner": ["root", "0"], "group": ["root", "0"]},
            "entries": [{"alias": "ca", "kind": "trusted_cert", "sha256": pki.sha256_hex(ca.cert),
                         "subject": "CN=x", "issuer": "CN=x"}]}
    assert smtls_keystore_in_place(read, trusted=[{"alias": "ca", "pem": pki.chain_pem([ca.cert])}],
                                   exclusive=True, store_type="jks", mode="0640")
    assert not smtls_keystore_in_place(read, trusted=[{"alias": "ca", "pem": "not a PEM"}], exclusive=True)
    assert not smtls_keystore_in_place(read, trusted=[{"alias": "ca", "pem": pki.chain_pem([ca.cert])}],
                                       store_type="pkcs12")
    # owner and group as a role passes them: empty, or Ansible's omit, is "not asked"
    assert smtls_keystore_in_place(read, trusted=[{"alias": "ca", "pem": pki.chain_pem([ca.cert])}],
                                   owner="", group=object(), mode=416)


# The filter files as Ansible finds them (ansible.cfg filter_plugins), and the Molecule verify
# playbooks' own helpers (.config/molecule/config.yml adds molecule/shared/filter_plugins).
FILTER_DIRS = (ROOT / "plugins" / "filter", ROOT / "molecule" / "shared" / "filter_plugins")
# a filter after a Jinja pipe (on the same line or the next), or named to map/select/reject
FILTER_USE = re.compile(r"\|\s*(smtls_[a-z0-9_]+)|\b(?:map|select|reject)\(\s*['\"](smtls_[a-z0-9_]+)")


def _filters_by_file():
    """{file: its filter names}, each file loaded by its path under a name of its own, as Ansible
    loads filter plugins (one filter file cannot import another)."""
    found = {}
    for directory in FILTER_DIRS:
        for path in sorted(directory.glob("*.py")):
            spec = importlib.util.spec_from_file_location("smtls_filter_file_%s" % path.stem, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            found[path.relative_to(ROOT).as_posix()] = sorted(module.FilterModule().filters())
    return found


def test_every_filter_is_defined_once_and_every_one_the_yaml_uses_exists():
    by_file = _filters_by_file()
    assert [f for f in by_file if f.startswith("plugins/filter/")], "no filter file found"
    owners = {}
    for path, names in by_file.items():
        for name in names:
            owners.setdefault(name, []).append(path)
    assert {n: p for n, p in owners.items() if len(p) > 1} == {}, "a filter defined in two files"
    used = {}
    for directory in ("roles", "playbooks", "molecule"):
        for path in sorted((ROOT / directory).rglob("*")):
            if path.suffix not in (".yml", ".yaml", ".j2") or not path.is_file():
                continue
            for match in FILTER_USE.finditer(path.read_text()):
                used.setdefault(match.group(1) or match.group(2), path.relative_to(ROOT).as_posix())
    assert "smtls_mode" in used and "smtls_certificate_decision" in used  # the scan sees the roles' uses
    assert {name: where for name, where in used.items() if name not in owners} == {}, (
        "filters the YAML uses that no filter file defines")


def test_ansible_loads_each_filter_from_the_plugin_directory(plugin_loader):
    plugin_loader.filter_loader.add_directory(str(ROOT / "plugins" / "filter"))
    for path, names in _filters_by_file().items():
        if path.startswith("plugins/filter/"):
            for name in names:
                assert plugin_loader.filter_loader.get(name) is not None, "%s (%s)" % (name, path)
