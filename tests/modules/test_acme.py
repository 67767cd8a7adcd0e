"""sm_acme_order and sm_acme_responder against Pebble (Debian's RFC 8555 test server, a TEST
DOUBLE of a corporate CA's ACME endpoint) on 127.0.0.1, with real http-01 validation: Pebble
resolves each name through pebble-challtestsrv to the loopback address the responder binds, and
fetches the token from it."""

import base64
import os
import socket
import stat
import subprocess
import time

import pytest

import pebble
import sm_acme_order
import sm_acme_responder
from ansible.module_utils import smtls_x509 as pki
from conftest import module_result

PASSPHRASE = "account-Secret-1"


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    server = pebble.Pebble(str(tmp_path_factory.mktemp("pebble")), eab=True).start()
    yield server
    server.stop()


@pytest.fixture
def ca_dir(tmp_path, ca):
    directory = tmp_path / "ca"
    directory.mkdir()
    (directory / "ca.crt").write_text(ca.root_pem)
    return directory


@pytest.fixture
def registered(ca, ca_dir):
    """ca_dir with its account registered, as the CA play leaves it."""
    checked = module_result(sm_acme_order, order_args(ca, ca_dir, "check"))
    assert checked["account_created"], checked
    return ca_dir


def order_args(ca, home, step, **extra):
    args = dict(
        step=step,
        directory_url=ca.directory_url,
        server_ca=ca.server_ca,
        account_key=str(home / "acme" / "account.key"),
        account_key_passphrase=PASSPHRASE,
        contact=["ops@example.com"],
        eab_kid=pebble.EAB_KID,
        eab_hmac_key=pebble.EAB_HMAC,
    )
    args.update(extra)
    return args


def responder(ca, address, challenges, state="started", tmp_path=None, **extra):
    return module_result(
        sm_acme_responder,
        dict(
            state=state,
            address=address,
            port=ca.http_port,
            challenges=challenges,
            state_dir=str(tmp_path),
            **extra,
        ),
    )


def listening(address, port):
    with socket.socket() as s:
        return s.connect_ex((address, port)) == 0


def test_an_order_proven_over_http01_gives_a_chain_for_the_hosts_key(ca, ca_dir, tmp_path):
    checked = module_result(sm_acme_order, order_args(ca, ca_dir, "check"))
    assert checked["changed"] and checked["account_created"] and checked["account_uri"]
    key_file = ca_dir / "acme" / "account.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and b"ENCRYPTED" in key_file.read_bytes()
    again = module_result(sm_acme_order, order_args(ca, ca_dir, "check"))
    assert not again["changed"] and again["account_uri"] == checked["account_uri"]

    name, address = "sm1.acme.invalid", "127.0.0.21"
    ca.point(name, address)
    opened = module_result(sm_acme_order, order_args(ca, ca_dir, "authorize", common_name=name, dns=[name]))
    assert [c["identifier"] for c in opened["challenges"]] == [name]
    started = responder(ca, address, opened["challenges"], tmp_path=tmp_path)
    assert started["pid"] > 0 and listening(address, ca.http_port)
    try:
        validated = module_result(sm_acme_order, order_args(ca, ca_dir, "validate", order=opened["order"]))
        assert not validated.get("failed"), validated
    finally:
        stopped = responder(ca, address, [], state="stopped", tmp_path=tmp_path)
    assert stopped["changed"] and not listening(address, ca.http_port)

    key = pki.generate_key("rsa", 2048)
    csr = pki.csr_pem(pki.make_csr(key, name, [name]))
    issued = module_result(
        sm_acme_order,
        order_args(ca, ca_dir, "finalize", order=validated["order"], csr=csr, ca_dir=str(ca_dir)),
    )
    chain = pki.parse_pem_certs(issued["chain"], "chain")
    assert pki.key_matches(chain[0], key) and pki.cert_names(chain[0]) == ([name], [])
    assert pki.cert_der(chain[-1]) == pki.cert_der(pki.parse_pem_certs(ca.root_pem, "root")[0])
    pki.check_chain(chain, "chain")
    # openssl, independently: the leaf verifies up to Pebble's root through the intermediate
    verified = pebble.openssl_verify(ca.root_path, issued["chain"], tmp_path)
    assert verified.returncode == 0, verified.stderr


def test_a_token_nobody_serves_fails_validation_with_the_cas_problem(ca, registered):
    ca_dir = registered
    name = "nobody.acme.invalid"
    ca.point(name, "127.0.0.22")
    opened = module_result(sm_acme_order, order_args(ca, ca_dir, "authorize", common_name=name, dns=[name]))
    failed = module_result(sm_acme_order, order_args(ca, ca_dir, "validate", order=opened["order"]))
    assert failed["failed"]
    assert failed["msg"].startswith("the ACME CA could not validate nobody.acme.invalid: ")
    assert "connection refused" in failed["msg"].lower()


def test_a_wrong_eab_key_is_refused_and_no_account_key_is_kept(ca, ca_dir):
    wrong = "b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH"
    failed = module_result(sm_acme_order, order_args(ca, ca_dir, "check", eab_hmac_key=wrong))
    assert failed["failed"] and "refused to register the account" in failed["msg"]
    assert "smtls_ca_acme_eab_hmac_key" in failed["msg"]
    assert not (ca_dir / "acme" / "account.key").exists()
    missing = module_result(sm_acme_order, order_args(ca, ca_dir, "check", eab_kid=None, eab_hmac_key=None))
    assert missing["failed"] and "requires External Account Binding" in missing["msg"]


def test_an_unreachable_directory_or_untrusted_tls_is_refused(ca, ca_dir):
    closed = pebble.free_port()
    failed = module_result(
        sm_acme_order, order_args(ca, ca_dir, "check", directory_url="https://127.0.0.1:%d/dir" % closed)
    )
    assert (
        failed["failed"]
        and "cannot be read" in failed["msg"]
        and "smtls_ca_acme_directory_url" in failed["msg"]
    )
    untrusted = module_result(sm_acme_order, order_args(ca, ca_dir, "check", server_ca=None))
    assert (
        untrusted["failed"]
        and "is not issued under the system's CAs" in untrusted["msg"]
        and "smtls_ca_acme_server_ca" in untrusted["msg"]
    )


def test_a_chain_that_does_not_lead_to_the_configured_root_is_refused(ca, registered, tmp_path):
    ca_dir = registered
    name, address = "root.acme.invalid", "127.0.0.23"
    ca.point(name, address)
    opened = module_result(sm_acme_order, order_args(ca, ca_dir, "authorize", common_name=name, dns=[name]))
    responder(ca, address, opened["challenges"], tmp_path=tmp_path)
    try:
        validated = module_result(sm_acme_order, order_args(ca, ca_dir, "validate", order=opened["order"]))
    finally:
        responder(ca, address, [], state="stopped", tmp_path=tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    other_key, other_root = pki.create_ca("not the ACME CA", key_size=2048)
    (other / "ca.crt").write_text(pki.cert_pem(other_root))
    csr = pki.csr_pem(pki.make_csr(pki.generate_key("ec"), name, [name]))
    failed = module_result(
        sm_acme_order,
        order_args(ca, ca_dir, "finalize", order=validated["order"], csr=csr, ca_dir=str(other)),
    )
    assert failed["failed"] and "does not lead to the configured CA root CN=not the ACME CA" in failed["msg"]
    assert "chain ends at CN=Pebble Root CA" in failed["msg"]


def gone(address, port, seconds):
    for _ in range(int(seconds * 10)):
        if not listening(address, port):
            return True
        time.sleep(0.1)
    return False


def test_the_responder_reports_a_busy_port_and_ends_by_itself_even_when_a_request_hangs(ca, tmp_path):
    challenge = [{"token": "A" * 43, "content": "A" * 43 + ".thumbprint"}]
    with socket.socket() as busy:
        busy.bind(("127.0.0.24", ca.http_port))
        busy.listen()
        failed = responder(ca, "127.0.0.24", challenge, tmp_path=tmp_path)
    assert failed["failed"] and "cannot listen on 127.0.0.24:%d" % ca.http_port in failed["msg"]
    short = responder(ca, "127.0.0.25", challenge, tmp_path=tmp_path, lifetime=2)
    assert listening("127.0.0.25", ca.http_port)
    with socket.create_connection(("127.0.0.25", ca.http_port)):  # a client that sends nothing
        assert gone("127.0.0.25", ca.http_port, 6), "the responder outlived its lifetime"
    assert (
        not os.path.exists("/proc/%d" % short["pid"])
        or open("/proc/%d/stat" % short["pid"]).read().split()[2] == "Z"
    )
    assert not list(tmp_path.glob("acme-responder-*.pid")), "it left its pid file behind"


def test_a_stale_or_planted_pid_file_never_has_another_process_killed(ca, tmp_path):
    victim = subprocess.Popen(["sleep", "60"])
    try:
        pid_file = tmp_path / ("acme-responder-127.0.0.26-%d.pid" % ca.http_port)
        pid_file.write_text("%d\n" % victim.pid)
        stopped = responder(ca, "127.0.0.26", [], state="stopped", tmp_path=tmp_path)
        assert not stopped["changed"] and victim.poll() is None and not pid_file.exists()
        # a directory others can write is refused: a pid file planted there is not trusted
        shared = tmp_path / "shared"
        shared.mkdir(mode=0o777)
        shared.chmod(0o777)
        refused = module_result(
            sm_acme_responder,
            dict(state="stopped", address="127.0.0.26", port=ca.http_port, state_dir=str(shared)),
        )
        assert refused["failed"] and "no one else can write" in refused["msg"]
    finally:
        victim.kill()


def test_orders_need_the_account_the_check_step_registered(ca, tmp_path):
    home = tmp_path / "fresh"
    home.mkdir()
    refused = module_result(sm_acme_order, order_args(ca, home, "authorize", common_name="x.acme.invalid"))
    assert refused["failed"] and "there is no ACME account key" in refused["msg"]
    assert not (home / "acme" / "account.key").exists()


def test_a_chain_with_other_names_or_without_the_usage_is_refused(tmp_path):
    from conftest import Authority
    from ansible.module_utils import smtls_acme

    root = Authority("ACME root")
    key = pki.generate_key("ec")
    csr = pki.make_csr(key, "web1.acme.invalid", ["web1.acme.invalid"])
    _, other_names = root.issue("web1.acme.invalid", ["web1.acme.invalid", "extra.acme.invalid"], key=key)
    with pytest.raises(smtls_acme.AcmeError, match="not the ones asked for"):
        smtls_acme.checked_chain(pki.cert_pem(other_names), csr, root.cert, "server")
    _, client_only = root.issue("web1.acme.invalid", ["web1.acme.invalid"], key=key, usage="client")
    with pytest.raises(smtls_acme.AcmeError, match="without the serverAuth key usage"):
        smtls_acme.checked_chain(pki.cert_pem(client_only), csr, root.cert, "server")
    chain = smtls_acme.checked_chain(pki.cert_pem(client_only), csr, root.cert, "client")
    assert chain[-1] is root.cert and len(chain) == 2


# --- dns-01: TXT records through RFC 2136 dynamic updates, on bind9 -----------------------


@pytest.fixture(scope="module")
def dns_ca(tmp_path_factory):
    """bind9's named, authoritative for acme.test and updatable with a TSIG key, and a Pebble
    that asks it for the _acme-challenge TXT records."""
    named = pebble.Named(str(tmp_path_factory.mktemp("named"))).start()
    server = pebble.Pebble(str(tmp_path_factory.mktemp("pebble-dns")), dns_server="127.0.0.1:%d" % named.port)
    try:
        server.start()
        yield server, named
    finally:
        server.stop()
        named.stop()


def txt_records(named, name):
    import dns.message
    import dns.query

    answer = dns.query.tcp(dns.message.make_query(name, "TXT"), "127.0.0.1", port=named.port, timeout=5)
    return [b"".join(r.strings).decode() for rrset in answer.answer for r in rrset]


def test_dns01_publishes_the_record_through_rfc2136_and_removes_it(dns_ca, tmp_path):
    ca, named = dns_ca
    home = tmp_path / "ca"
    home.mkdir()
    (home / "ca.crt").write_text(ca.root_pem)
    dns = dict(named.settings(), challenge="dns-01", eab_kid=None, eab_hmac_key=None)
    checked = module_result(sm_acme_order, order_args(ca, home, "check", **dns))
    assert checked["account_created"] and not checked.get("failed"), checked
    name = "sm1.acme.test"
    opened = module_result(
        sm_acme_order, order_args(ca, home, "authorize", common_name=name, dns=[name], **dns)
    )
    [challenge] = opened["challenges"]
    assert challenge["type"] == "dns-01" and challenge["record"] == "_acme-challenge.sm1.acme.test"
    validated = module_result(sm_acme_order, order_args(ca, home, "validate", order=opened["order"], **dns))
    assert not validated.get("failed"), validated
    assert txt_records(named, challenge["record"]) == [], "the TXT record stayed"
    key = pki.generate_key("ec")
    issued = module_result(
        sm_acme_order,
        order_args(
            ca,
            home,
            "finalize",
            order=validated["order"],
            ca_dir=str(home),
            csr=pki.csr_pem(pki.make_csr(key, name, [name])),
            **dns,
        ),
    )
    chain = pki.parse_pem_certs(issued["chain"], "chain")
    assert pki.key_matches(chain[0], key) and pki.cert_names(chain[0]) == ([name], [])


def test_dns01_with_a_wrong_tsig_key_or_a_name_outside_the_zone_is_refused(dns_ca, tmp_path):
    ca, named = dns_ca
    home = tmp_path / "ca"
    home.mkdir()
    (home / "ca.crt").write_text(ca.root_pem)
    wrong = dict(
        named.settings(),
        challenge="dns-01",
        eab_kid=None,
        eab_hmac_key=None,
        dns_tsig_key_secret=base64.b64encode(b"x" * 32).decode(),
    )
    refused = module_result(sm_acme_order, order_args(ca, home, "check", **wrong))
    assert refused["failed"] and "did not take the update of _smtls-update-check.acme.test" in refused["msg"]
    assert "smtls_ca_acme_dns_tsig_key_name" in refused["msg"] and named.secret not in refused["msg"]
    dns = dict(named.settings(), challenge="dns-01", eab_kid=None, eab_hmac_key=None)
    assert not module_result(sm_acme_order, order_args(ca, home, "check", **dns)).get("failed")
    outside = "sm1.example.invalid"
    opened = module_result(
        sm_acme_order, order_args(ca, home, "authorize", common_name=outside, dns=[outside], **dns)
    )
    failed = module_result(sm_acme_order, order_args(ca, home, "validate", order=opened["order"], **dns))
    assert failed["failed"] and "is not in the zone acme.test" in failed["msg"]
