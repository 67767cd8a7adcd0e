"""Production installations (issue 23) on a demo fleet of their own: both SM servers in FIPS mode
on an Oracle JRE - one a Java 8 update (8u262) that has TLS 1.3 on Oracle but not on OpenJDK - rolled
out for real, proven by the SM stand-in (a test double that, as the vendor says SM does, refuses a
JKS store under fipsmode:1) and checked with the real keytool; the release read from the host; the
client-auth truststore as the server's cacerts.

The demo fleet itself is the other half: a vertically scaled server (load balancer and two SSL
servlets), a server started from smstart with OpenJDK 8u262, a horizontal pair behind one alias
(test_rollout.py and test_safety.py prove those)."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from demofleet import ROOT, recap, run_playbook

SERVERS = ["sm1.demo.invalid", "sm2.demo.invalid"]
# ports of its own: the shared fleet has 23080/23443, the safety fleet 25080/25443 (+1000 each)
BASES = ("-e", "smtls_demo_http_base=27080", "-e", "smtls_demo_https_base=27443")
# FIPS mode as shipped (a PKCS#12 sample keystore), on the Oracle JRE the vendor supports it on
FIPS = ("-e", '{"sm_sample_fipsmode": true, "sm_sample_jre_build_type": "commercial", '
              '"sm_sample_jre_implementor": "Oracle Corporation"}')
PASSWORDS = {"server.p12": "demo-Server-ks1", "smcacerts.p12": "demo-Trust-ks1",
             "trustedclients.p12": "demo-Clients-1", "cacerts": "demo-Trust-ks1"}


def run_dir(fleet, host):
    return Path(fleet) / host / "ServiceManager9.61/Server/RUN"


def sm_ini(fleet, host):
    return dict(line.split(":", 1) for line in (run_dir(fleet, host) / "sm.ini").read_text().splitlines()
                if ":" in line and not line.startswith(("#", "*")))


def keytool_type(path, password):
    """The store type the real keytool reads in the file."""
    out = subprocess.run(["keytool", "-list", "-keystore", str(path), "-storepass:env", "PW"],
                         env={"PW": password, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    return re.search(r"Keystore type: (\S+)", out.stdout).group(1)


def last_listening(fleet, host):
    lines = (run_dir(fleet, host) / "standin.log").read_text().splitlines()
    return [line for line in lines if "listening" in line][-2:]


@pytest.fixture(scope="module")
def fips_fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("fips")
    inventory = tmp_path_factory.mktemp("fips-inventory")
    (inventory / "group_vars").mkdir()
    (inventory / "group_vars" / "all").symlink_to(ROOT / "inventories/demo/group_vars/all")
    hosts = yaml.safe_load((ROOT / "inventories/demo/hosts.yml").read_text())
    hosts["all"]["children"].pop("sm_windows_clients", None)  # bundles are tested on their own
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))

    def play(name, *args, expect_ok=True):
        return run_playbook(root, name, *BASES, *FIPS, *args, inventory=inventory, expect_ok=expect_ok)
    try:
        play("demo_fleet.yml")
        first = play("site.yml").stdout
        yield {"root": root, "play": play, "first": first, "second": play("site.yml").stdout}
    finally:
        for run in root.glob("*/ServiceManager9.61/Server/RUN"):
            subprocess.run(["bash", str(ROOT / "tests/standin/standin-ctl"), "stop", str(run), "-"],
                           check=False)


def test_fips_mode_makes_every_store_pkcs12_and_the_fleet_serves(fips_fleet):
    root = fips_fleet["root"]
    assert "fipsmode:1 - every SM store PKCS#12" in fips_fleet["first"]
    for host in SERVERS:
        ini = sm_ini(root, host)
        assert (ini["fipsmode"], ini["keystoreFile"], ini["keystoreType"]) == ("1", "server.p12", "pkcs12")
        assert (ini["truststoreFile"], ini["truststoreType"]) == ("smcacerts.p12", "pkcs12")
        assert ini["ssl_trustedClientsJKS"] == "trustedclients.p12"
        for name in ("server.p12", "smcacerts.p12", "trustedclients.p12"):
            assert keytool_type(run_dir(root, host) / name, PASSWORDS[name]) == "PKCS12", (host, name)
        # the stand-in, which refuses a JKS store under fipsmode:1, serves every servlet
        listening = last_listening(root, host)
        assert len(listening) == 2 and all("clientAuth=2" in line for line in listening), listening
        # Oracle's Java 8 has TLS 1.3 from 8u261: sm2's 8u262 gets it here (on OpenJDK, the demo's, not)
        assert all("protocols=TLSv1.2,TLSv1.3" in line for line in listening), (host, listening)
        assert ini["sslEnabledProtocols"] == "TLSv1.2,TLSv1.3"
    assert sum(c["changed"] for c in recap(fips_fleet["second"], SERVERS).values()) == 0


def test_a_release_before_950_is_a_warning_in_the_plan(fips_fleet):
    plan = fips_fleet["play"]("preflight.yml", "-e", "sm_server_release=9.41").stdout
    assert "SM 9.41 does not encrypt sm.ini passwords" in plan, plan[-3000:]
    assert "SM 9.61 encrypts the sm.ini passwords at its next start" in fips_fleet["first"]


def test_the_client_ca_truststore_can_be_the_servers_cacerts(fips_fleet):
    """sm_server_client_ca_trust cacerts: truststoreFile is RUN/cacerts (the JRE's CAs and ours),
    PKCS#12 as FIPS needs; the web tiers' client certificates are still accepted (the rollout's
    probes use them)."""
    root = fips_fleet["root"]
    choice = ("-e", "sm_server_client_ca_trust=cacerts", "-e", "sm_server_truststore_type=pkcs12")
    first = fips_fleet["play"]("site.yml", *choice).stdout
    assert "truststoreFile smcacerts.p12 -> cacerts" in first or "truststoreFile:cacerts" in first
    for host in SERVERS:
        ini = sm_ini(root, host)
        assert (ini["truststoreFile"], ini["truststoreType"]) == ("cacerts", "pkcs12"), ini
        assert keytool_type(run_dir(root, host) / "cacerts", PASSWORDS["cacerts"]) == "PKCS12"
        assert all("clientAuth=2" in line for line in last_listening(root, host))
    again = fips_fleet["play"]("site.yml", *choice).stdout
    assert sum(c["changed"] for c in recap(again, SERVERS).values()) == 0
