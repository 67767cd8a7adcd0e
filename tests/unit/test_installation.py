"""The installation model (smtls_installation): release, start file, processes, JRE, FIPS - read from
real files in a temporary RUN directory - and the decisions the preflight takes from it."""

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ansible.module_utils import smtls_installation as installation
from ansible.module_utils import smtls_inputs as inputs

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "filter"))
from smtls_installation import (smtls_installation_plan, smtls_installation_problems,  # noqa: E402
                                smtls_sm_stores)

MODES = {
    "encryption": dict(ssl=True, client_auth=0, trusted_clients=False),
    "client_auth": dict(ssl=True, client_auth=1, trusted_clients=False),
    "trusted_clients": dict(ssl=True, client_auth=2, trusted_clients=True),
}
INPUTS = {"keystore": ["auto", "auto"], "client_ca": ["auto", "auto"],
          "trusted_clients": ["auto", "auto"], "cacerts": ["cacerts", "jks"]}


def install(tmp_path, release="ServiceManager9.61", sm_ini="", start=None, jre_release=None):
    run = tmp_path / "opt" / release / "Server" / "RUN"
    (run / "jre").mkdir(parents=True)
    (run / "sm.ini").write_text(sm_ini)
    for name, text in (start or {"sm.cfg": "sm -httpPort:13080 -httpsPort:13443\n"}).items():
        (run / name).write_text(text)
    if jre_release is not None:
        (run / "jre" / "release").write_text(jre_release)

    def read(path):
        return Path(path).read_bytes() if Path(path).exists() else None
    return installation.read(str(run), str(run / "jre"), read, lambda argv: (1, ""))


@pytest.mark.parametrize("directory,version,encrypts", [
    ("ServiceManager9.61", "9.61", True), ("Service Manager 9.50", "9.50", True),
    ("ServiceManager9.41", "9.41", False), ("servicemanager9.52", "9.52", True),
    ("sm", "", None),
])
def test_release_from_the_installation_directory(tmp_path, directory, version, encrypts):
    model = install(tmp_path, release=directory)
    assert (model["release"]["version"], model["release"]["encrypts_passwords"]) == (version, encrypts)
    assert installation.release("/x/RUN", "9.41")["source"] == "sm_server_release"
    # a Windows path reads the same way
    assert installation.release(r"C:\Program Files\Micro Focus\Service Manager 9.41\Server\RUN")[
        "version"] == "9.41"


def test_the_model_of_a_vertically_scaled_fips_server(tmp_path):
    model = install(tmp_path, sm_ini="fipsmode:1\nJVMOption2:-Djavax.net.ssl.trustStore=cacerts\n"
                                     "truststoreFile:cacerts\n",
                    start={"sm.cfg": "sm -loadBalancer -httpPort:13080\nsm -httpPort:13081 -httpsPort:13443\n"
                                     "sm -httpPort:13082 -httpsPort:13444\nsm system.start\n"},
                    jre_release='JAVA_VERSION="1.8.0_202"\nBUILD_TYPE="commercial"\n')
    assert [p["role"] for p in model["processes"]] == ["load_balancer", "servlet", "servlet", "background"]
    assert len(model["servlets"]) == 3 and model["fips"]["enabled"] and model["problems"] == []
    assert model["jre"]["vendor"] == "oracle" and model["start_file"]["name"] == "sm.cfg"
    assert model["outbound_hints"] == ["JVMOption2:-Djavax.net.ssl.trustStore=cacerts",
                                       "truststoreFile:cacerts"]
    plan = smtls_installation_plan(model, MODES["client_auth"])
    assert plan["processes"] == "1 load balancer, 2 servlet, 1 background"
    assert "sm.ini suggests SM uses that store for outbound TLS" in plan["warnings"][0]
    assert smtls_installation_plan(model, MODES["client_auth"], "cacerts")["warnings"] == []


def test_fips_on_openjdk_and_jks_stores_are_refused(tmp_path):
    model = install(tmp_path, sm_ini="fipsmode:1\n",
                    jre_release='IMPLEMENTOR="Eclipse Adoptium"\nJAVA_VERSION="17.0.13"\n')
    assert "does not support FIPS mode with OpenJDK" in model["problems"][0]
    stores = smtls_sm_stores(dict(INPUTS, keystore=["server.keystore", "jks"]), True)
    problems = smtls_installation_problems(model, stores, MODES["trusted_clients"])
    assert len(problems) == 2
    assert problems[1].startswith("sm_server_keystore_type=jks, but sm.ini has fipsmode:1")
    # auto: every store of the mode PKCS#12, under the vendor's FIPS file names
    auto = smtls_sm_stores(INPUTS, True)
    assert [(auto[s]["file"], auto[s]["type"]) for s in ("keystore", "client_ca", "trusted_clients")] == [
        ("server.p12", "pkcs12"), ("smcacerts.p12", "pkcs12"), ("trustedclients.p12", "pkcs12")]
    assert smtls_installation_problems(dict(model, problems=[]), auto, MODES["trusted_clients"]) == []
    # the cacerts choice under FIPS: the server's cacerts must be PKCS#12 too
    cacerts = smtls_sm_stores(INPUTS, True, "cacerts")
    assert "sm_server_client_ca_trust: exact" in smtls_installation_problems(
        dict(model, problems=[]), cacerts, MODES["client_auth"])[0]
    # without FIPS, jks everywhere, nothing refused
    plain = smtls_sm_stores(INPUTS, False)
    assert {plain[s]["type"] for s in plain} == {"jks"} and plain["keystore"]["file"] == "server.keystore"


def test_release_decides_the_password_warning(tmp_path):
    old = install(tmp_path / "a", release="ServiceManager9.41")
    warnings = smtls_installation_plan(old, MODES["encryption"])["warnings"]
    assert "does not encrypt sm.ini passwords" in warnings[0]
    new = install(tmp_path / "b")
    plan = smtls_installation_plan(new, MODES["encryption"])
    assert plan["warnings"] == []
    assert plan["passwords"] == "SM 9.61 encrypts the sm.ini passwords at its next start"


def test_unix_starts_from_smstart(tmp_path):
    model = install(tmp_path, start={"sm.cfg": "sm -httpPort:1 -httpsPort:2\n",
                                     "smstart": "#!/bin/sh\n./sm -httpPort:3 -httpsPort:4 &\n"})
    assert model["start_file"]["name"] == "smstart" and [s["https_port"] for s in model["servlets"]] == [4]
    assert model["start_file"]["ignored"][0].endswith("sm.cfg")
    assert "not used:" in installation.summary(model)["start_file"]


# --- batches of a horizontal group (the input model's fleet rule) -----------------------------


@settings(max_examples=200, deadline=None)
@given(servers=st.integers(1, 12), members=st.integers(2, 6), serial=st.one_of(
    st.integers(1, 14), st.integers(1, 100).map(lambda n: "%d%%" % n),
    st.lists(st.integers(1, 5), min_size=1, max_size=3)))
def test_a_group_is_refused_exactly_when_a_batch_holds_all_of_it(servers, members, serial):
    hosts = ["sm%d" % i for i in range(servers)]
    group = hosts[-members:] if members <= servers else hosts
    aliases = dict((h, "smgroup" if h in group else "") for h in hosts)
    batches = inputs.serial_batches(hosts, serial)
    # Ansible's batches: every host once, in order
    assert [h for b in batches for h in b] == hosts and all(batches)
    problems = inputs.group_batch_problems(hosts, aliases, serial)
    whole = len(group) >= 2 and any(set(group) <= set(b) for b in batches)
    assert bool(problems) == whole
    if problems:
        assert "restarts every server behind smgroup" in problems[0] and "Fix:" in problems[0]


def test_the_default_batch_keeps_a_pair_serving():
    assert inputs.group_batch_problems(["a", "b"], {"a": "g", "b": "g"}, None) == []
    assert inputs.group_batch_problems(["a", "b"], {"a": "g", "b": "g"}, "100%")


@pytest.mark.parametrize("role_group,values,refused", [
    ("sm_servers", {"ansible_connection": "winrm"}, True),
    ("sm_webtiers", {"ansible_connection": "psrp"}, True),
    ("sm_servers", {"ansible_connection": "ssh", "ansible_shell_type": "powershell"}, True),
    ("sm_windows_clients", {"ansible_connection": "winrm"}, False),
    ("sm_servers", {"ansible_connection": "ssh"}, False),
    ("sm_servers", {"ansible_connection": "local"}, False),
])
def test_windows_hosted_sm_is_refused_before_its_first_module(role_group, values, refused):
    problems = inputs.host_problems(values, {}, [role_group])
    assert bool(problems) == refused
    if refused:
        assert "Windows host" in problems[0] and "Platforms" in problems[0] and len(problems[0]) <= 300


def test_the_cluster_alias_must_be_a_certificate_name():
    assert inputs.host_problems({"sm_server_cluster_alias": "sm.example.com",
                                 "sm_server_dns_names": ["sm1.example.com"]}, {}, ["sm_servers"])
    assert not inputs.host_problems({"sm_server_cluster_alias": "sm.example.com",
                                     "sm_server_dns_names": ["sm1.example.com", "sm.example.com"]},
                                    {}, ["sm_servers"])


def test_a_missing_run_directory_is_left_to_the_sm_ini_plan(tmp_path):
    model = installation.read(str(tmp_path / "nowhere" / "RUN"), str(tmp_path / "jre"),
                              lambda path: None, lambda argv: (1, ""))
    assert model["problems"] == [] and model["servlets"] == []


def test_a_cluster_alias_is_not_proven_over_http01():
    alias = {"sm_server_cluster_alias": "sm.example.com", "sm_server_dns_names": ["sm1", "sm.example.com"],
             "smtls_ca_source": "acme"}
    problems = inputs.host_problems(alias, {}, ["sm_servers"])
    assert "http-01 cannot prove a name several hosts share" in problems[0]
    assert not inputs.host_problems(dict(alias, smtls_ca_acme_challenge="dns-01"), {}, ["sm_servers"])
