"""The demo fleet switched to an ACME CA with one variable (smtls_ca_source=acme): Pebble on
127.0.0.1 (a TEST DOUBLE of a corporate CA's ACME endpoint, started by tests/demo_fleet.yml) issues
every certificate of a trusted_clients rollout, validating each name over http-01 against the
responder smtls starts where the key is made, and requiring External Account Binding.

One fleet, in the order an operator meets it: check mode (predicts the orders, places none), the
rollout, a second run and a check run that change nothing, inputs refused before any host file
changes, and a renewal that orders every certificate again."""

import json
import re
import socket
import subprocess
from pathlib import Path

import pebble
import pytest
from demofleet import ROOT, host_files, matching, recap, run_playbook, task_results

# ports of their own (each fleet's second servlets listen 1000 higher): 23080/23443 and 25080/25443
# are the other playbook tests' fleets
ACME = ("-e", "smtls_ca_source=acme", "-e", "smtls_demo_http_base=27080", "-e", "smtls_demo_https_base=27443")
HOSTS = [
    "sm1.demo.invalid",
    "sm2.demo.invalid",
    "web1.demo.invalid",
    "web2.demo.invalid",
    "win1.demo.invalid",
    "win2.demo.invalid",
]
# each server's keystore, each web tier's client and browser-side keystores, each Windows client's bundle
IDENTITIES = 8


def orders(fleet):
    """Orders Pebble was asked to open so far (its log names each request)."""
    log = Path(fleet) / "controller" / "pebble" / "pebble.log"
    return len(re.findall(r"POST /order-plz", log.read_text()))


def settings(fleet):
    return json.loads((Path(fleet) / "controller" / "pebble" / "settings.json").read_text())


def listening(address, port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((address, port)) == 0


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("acme-fleet")
    try:
        run_playbook(root, "demo_fleet.yml", *ACME)
        yield root
    finally:
        for run in root.glob("*/ServiceManager9.61/Server/RUN"):
            subprocess.run(
                ["bash", str(ROOT / "tests/standin/standin-ctl"), "stop", str(run), "-"], check=False
            )
        subprocess.run(
            ["python3", str(ROOT / "tests/pebble.py"), "stop", str(root / "controller/pebble")], check=False
        )


@pytest.fixture(scope="module")
def rollout(fleet):
    fresh = host_files(fleet)
    checked = run_playbook(fleet, "site.yml", "--check", "--diff", *ACME).stdout
    assert host_files(fleet) == fresh, "check mode wrote a file on a host"
    orders_after_check = orders(fleet)
    first = run_playbook(fleet, "site.yml", *ACME).stdout
    orders_after_first = orders(fleet)
    second = run_playbook(fleet, "site.yml", *ACME).stdout
    after_check = run_playbook(fleet, "site.yml", "--check", "--diff", *ACME).stdout
    return dict(
        checked=checked,
        first=first,
        second=second,
        after_check=after_check,
        orders=(orders_after_check, orders_after_first, orders(fleet)),
    )


def openssl_verify(fleet, chain_pem, tmp_path):
    return pebble.openssl_verify(settings(fleet)["root"], chain_pem, tmp_path)


def keystore_chain(path, password, alias):
    out = subprocess.run(
        ["keytool", "-list", "-rfc", "-keystore", str(path), "-storepass", password, "-alias", alias],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out


def test_check_mode_predicts_the_orders_and_places_none(rollout):
    checked = rollout["checked"]
    assert rollout["orders"][0] == 0, "check mode placed an order"
    # every identity's certificate is predicted as ordered (the sign step reports the change)
    predicted = re.findall(
        r"TASK \[smtls : Identity \| sign the CSR on the controller, reason: missing\]"
        r"[^\n]*\n(?:changed: \[[^\]]+\][^\n]*\n)+",
        checked,
    )
    assert predicted, checked[-3000:]
    assert "ACME | order opened" not in checked


def test_every_certificate_comes_from_the_acme_ca_proven_by_handshakes(rollout, fleet, tmp_path):
    counts = recap(rollout["first"], HOSTS)
    assert all(c["failed"] == 0 for c in counts.values())
    assert rollout["orders"][1] == IDENTITIES, "one order per identity"
    assert "prove it with a real handshake" in rollout["first"]
    for host in ("sm1.demo.invalid", "sm2.demo.invalid"):
        run = Path(fleet) / host / "ServiceManager9.61/Server/RUN"
        chain = keystore_chain(run / "server.keystore", "demo-Server-ks1", "smserver")
        verified = openssl_verify(fleet, chain, tmp_path)
        assert verified.returncode == 0, verified.stderr
        assert "CN=sm" in subprocess.run(
            ["openssl", "x509", "-noout", "-subject"], input=chain, capture_output=True, text=True
        ).stdout.replace(" ", "")
        allowlist = subprocess.run(
            [
                "keytool",
                "-list",
                "-rfc",
                "-keystore",
                str(run / "trustedclients.keystore"),
                "-storepass",
                "demo-Clients-1",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for client in ("web1.demo.invalid", "web2.demo.invalid", "win1.demo.invalid", "win2.demo.invalid"):
            assert "Alias name: %s" % client in allowlist
    # the responders are gone, and so are the keys made aside
    port = settings(fleet)["http_port"]
    assert not any(listening("127.0.0.%d" % (20 + i), port) for i in range(len(HOSTS)))
    assert not list(Path(fleet).rglob("*.smtls-pending"))
    assert not list(Path("/tmp").glob("smtls-acme-127.0.0.2*-%d.pid" % port))


def test_a_second_run_and_a_check_run_change_nothing_and_order_nothing(rollout):
    for run in ("second", "after_check"):
        counts = recap(rollout[run], HOSTS)
        assert all(c["changed"] == 0 for c in counts.values()), (run, counts)
    assert rollout["orders"][2] == rollout["orders"][1]


BAD_INPUTS = [
    (
        "unreachable directory",
        lambda fleet, tmp: ["-e", "smtls_ca_acme_directory_url=https://127.0.0.1:9/dir"],
        "the ACME directory https://127.0.0.1:9/dir cannot be read",
    ),
    (
        "TLS not under the given root",
        lambda fleet, tmp: ["-e", "smtls_ca_acme_server_ca=%s" % (Path(fleet) / "controller/acme-ca/ca.crt")],
        "its TLS certificate is not issued under",
    ),
    (
        "wrong EAB key",
        lambda fleet, tmp: [
            "-e",
            "smtls_ca_acme_account_key=%s" % (tmp / "new-account.key"),
            "-e",
            "smtls_ca_acme_eab_hmac_key=b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH",
        ],
        "refused to register the account",
    ),
    # every certificate due (renewal), but the responders listen where the CA does not look
    (
        "challenge that fails",
        lambda fleet, tmp: [
            "-e",
            "smtls_renew_days=3000",  # past the 5 years Pebble issues for
            "-e",
            "smtls_acme_http_port=%d" % (settings(fleet)["http_port"] + 1),
        ],
        "the ACME CA could not validate",
    ),
]


@pytest.mark.parametrize("label,extra,text", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_acme_input_is_refused_and_no_host_file_changes(rollout, fleet, tmp_path, label, extra, text):
    before = host_files(fleet)
    ordered = orders(fleet)
    proc = run_playbook(fleet, "site.yml", *ACME, *extra(fleet, tmp_path), expect_ok=False)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert text in proc.stdout, proc.stdout[-4000:]
    assert host_files(fleet) == before, "a host file changed"
    assert not list(Path(fleet).rglob("*.smtls-pending"))
    assert not (tmp_path / "new-account.key").exists()
    if label != "challenge that fails":
        assert orders(fleet) == ordered


def test_renewal_orders_every_certificate_due_and_proves_it(rollout, fleet, tmp_path):
    leaf_before = keystore_chain(
        Path(fleet) / "sm1.demo.invalid/ServiceManager9.61/Server/RUN/server.keystore",
        "demo-Server-ks1",
        "smserver",
    )
    ordered = orders(fleet)
    renewed = run_playbook(fleet, "site.yml", *ACME, "-e", "smtls_renew_days=3000").stdout
    assert "reason: expiring" in renewed
    assert orders(fleet) == ordered + IDENTITIES
    leaf_after = keystore_chain(
        Path(fleet) / "sm1.demo.invalid/ServiceManager9.61/Server/RUN/server.keystore",
        "demo-Server-ks1",
        "smserver",
    )
    assert leaf_after != leaf_before and openssl_verify(fleet, leaf_after, tmp_path).returncode == 0
    settled = run_playbook(fleet, "site.yml", *ACME).stdout
    assert all(c["changed"] == 0 for c in recap(settled, HOSTS).values())
    assert matching(fleet, "*/ServiceManager9.61/Server/RUN/server.keystore")


# --- dns-01: the same fleet's names proven through RFC 2136 updates to BIND's named ----------

DNS_PORTS = ("-e", "smtls_demo_http_base=29080", "-e", "smtls_demo_https_base=29443")


@pytest.fixture(scope="module")
def dns_fleet(tmp_path_factory):
    """A demo fleet whose ACME CA (another Pebble) checks TXT records on a named authoritative for
    demo.invalid, which takes TSIG-signed updates: no responder on any host."""
    root = tmp_path_factory.mktemp("acme-dns-fleet")
    named = pebble.Named(str(root / "named"), zone="demo.invalid").start()
    server = pebble.Pebble(str(root / "pebble"), dns_server="127.0.0.1:%d" % named.port)
    try:
        server.start()
        run_playbook(
            root,
            "demo_fleet.yml",
            "-e",
            "smtls_ca_source=acme",
            "-e",
            "smtls_demo_acme_start=false",
            *DNS_PORTS,
        )
        ca_dir = root / "controller" / "acme-ca"
        ca_dir.mkdir(parents=True, exist_ok=True)
        (ca_dir / "ca.crt").write_text(server.root_pem)
        settings = named.settings()
        extra = [
            "-e",
            "smtls_ca_source=acme",
            *DNS_PORTS,
            "-e",
            "smtls_ca_acme_challenge=dns-01",
            "-e",
            "smtls_ca_acme_directory_url=%s" % server.directory_url,
            "-e",
            "smtls_ca_acme_server_ca=%s" % server.server_ca,
        ]
        for key in ("dns_server", "dns_port", "dns_zone", "dns_tsig_key_name", "dns_tsig_key_secret"):
            extra += ["-e", "smtls_ca_acme_%s=%s" % (key, settings[key])]
        yield root, named, server, extra
    finally:
        for run in root.glob("*/ServiceManager9.61/Server/RUN"):
            subprocess.run(
                ["bash", str(ROOT / "tests/standin/standin-ctl"), "stop", str(run), "-"], check=False
            )
        server.stop()
        named.stop()


def test_dns01_issues_every_certificate_with_no_responder_and_keeps_the_tsig_key_out_of_the_output(
    dns_fleet, tmp_path
):
    root, named, server, extra = dns_fleet
    first = run_playbook(root, "site.yml", "-vvv", *extra).stdout
    assert all(c["failed"] == 0 for c in recap(first, HOSTS).values())
    assert named.secret not in first, "the TSIG secret is in the output"
    # every identity's names proven by TXT records; no responder ran anywhere
    published = task_results(first, "TASK [smtls : ACME | TXT records published while the CA validates")
    assert len([r for r in published if r.startswith("ok")]) == IDENTITIES, published
    responder = task_results(first, "TASK [smtls : ACME | http-01 responder")
    assert responder and all(r.startswith("skipping") for r in responder), responder
    run = Path(root) / "sm1.demo.invalid/ServiceManager9.61/Server/RUN"
    chain = keystore_chain(run / "server.keystore", "demo-Server-ks1", "smserver")
    verified = pebble.openssl_verify(server.root_path, chain, tmp_path)
    assert verified.returncode == 0, verified.stderr
    # the TXT records are gone from the zone
    import dns.message
    import dns.query

    for host in HOSTS:
        query = dns.message.make_query("_acme-challenge.%s" % host, "TXT")
        assert not dns.query.tcp(query, "127.0.0.1", port=named.port, timeout=5).answer, host
    second = run_playbook(root, "site.yml", *extra).stdout
    assert all(c["changed"] == 0 for c in recap(second, HOSTS).values())
