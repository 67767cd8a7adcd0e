"""The rollout playbook on the embedded demo fleet (local connection, real files).

Proves, on a fresh copy of the fleet: check mode predicts without writing, the run
converges, a second run and a check run after it change nothing, the sample CA is gone
from every truststore, the server presents the new certificate to a web tier's own
truststore in a real JSSE handshake, each server's sslEnabledProtocols follows the JRE its
installation runs (TLS 1.3 only where that JRE has it, proven by a handshake), and -vvv output
carries no secret.
"""

import base64
import socket
import ssl
from pathlib import Path

from demofleet import DEMO_HTTPS_BASE, matching, recap

from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_x509 as pki

ROOT = Path(__file__).resolve().parents[2]
SECRETS = ["demo-ca-passphrase", "demo-Server-ks1", "demo-Trust-ks1", "demo-Web-ks1",
           "demo-Clients-1", "demo-Win-ks1", "demo-Tomcat-ks1"]


DEMO_HOSTS = {"sm1.demo.invalid", "sm2.demo.invalid", "web1.demo.invalid", "web2.demo.invalid",
              "win1.demo.invalid", "win2.demo.invalid"}


def test_check_mode_predicts_changes_on_every_host(rollout):
    predicted = recap(rollout["checked"], DEMO_HOSTS)
    assert set(predicted) == DEMO_HOSTS
    assert all(h["changed"] > 0 and h["failed"] == 0 for h in predicted.values())


def test_second_run_and_check_after_converge_change_nothing(rollout):
    for run in ("second", "after_check"):
        hosts = recap(rollout[run], DEMO_HOSTS)
        assert all(h["changed"] == 0 and h["failed"] == 0 for h in hosts.values()), rollout[run][-3000:]
        # the plan found nothing due anywhere: every host left the run after the preflight, so no
        # step of the grid ran on any (docs/rollout.md "The plan")
        assert rollout[run].count("due: false") == len(DEMO_HOSTS), rollout[run][-3000:]
        grid = rollout[run].split("PLAY [PKI", 1)[1]
        assert "TASK [sm_" not in grid and "TASK [smtls :" not in grid, grid[:3000]


def _stores(fleet):
    for path in Path(fleet).rglob("*"):
        if path.is_file() and (path.name == "cacerts" or path.name.endswith(".keystore")):
            yield path


def _open(path):
    data = path.read_bytes()
    for password in SECRETS[1:] + ["changeit"]:
        try:
            return ks.load(data, password), password
        except ks.WrongPassword:
            continue
    raise AssertionError("no known password opens %s" % path)


def test_no_truststore_keeps_the_sample_ca(rollout, fleet):
    sample = pki.parse_pem_certs((Path(fleet) / "controller/sample-ca/ca.crt").read_text(), "s")[0]
    ours = pki.parse_pem_certs((Path(fleet) / "controller/ca/ca.crt").read_text(), "ca")[0]
    checked = 0
    for path in _stores(fleet):
        store, _ = _open(path)
        fingerprints = {pki.sha256_hex(c) for e in store.entries for c in e.chain}
        assert pki.sha256_hex(sample) not in fingerprints, path
        if path.name == "cacerts" and "jre" not in path.parts:
            assert pki.sha256_hex(ours) in fingerprints, path
        checked += 1
    assert checked >= 8


def test_server_presents_the_new_certificate_to_the_web_tier_truststore(rollout, fleet, java_tools):
    server = next(Path(fleet).glob("sm1.demo.invalid/**/RUN/server.keystore"))
    trust = next(Path(fleet).glob("web1.demo.invalid/**/WEB-INF/cacerts"))
    store, _ = _open(server)
    assert [e.alias for e in store.entries] == ["smserver"]  # the sample entry is gone
    leaf = store.entries[0].leaf
    assert "DNS:sm1.demo.invalid" in pki.sans_list(leaf)
    out = java_tools.jsse("handshake", str(server), "jks", str(trust), "jks",
                          password="demo-Server-ks1", trust_password="changeit")
    assert out.stdout.strip().split("|")[1] == pki.sha256_hex(leaf)


def test_verbose_output_holds_no_secret(rollout, fleet):
    text = rollout["first"] + rollout["checked"]
    for secret in SECRETS:
        assert secret not in text, "secret %r leaked" % secret
    server = next(Path(fleet).glob("sm1.demo.invalid/**/RUN/server.keystore"))
    store, _ = _open(server)
    der = store.entries[0].pkcs8()
    encoded = base64.b64encode(der).decode()
    for start in range(0, len(encoded) - 48, 200):
        assert encoded[start:start + 48] not in text, "private key material leaked"


def test_browser_side_connector_serves_ours_with_protocols_of_tomcats_jre(rollout, fleet, java_tools):
    """Each web tier's Tomcat HTTPS connector (server.xml): a new key and our certificate for the
    host's name in the keystore the connector names, its own password in both files, and the
    protocols of the JRE Tomcat runs (web2's is a Java 8 without TLS 1.3). The demo runs no Tomcat:
    JSSE serves that keystore to the web tier's own cacerts here; Molecule probes a real Tomcat."""
    ours = pki.parse_pem_certs((Path(fleet) / "controller/ca/ca.crt").read_text(), "ca.crt")[0]
    for host, protocols in {"web1.demo.invalid": "TLSv1.2,TLSv1.3", "web2.demo.invalid": "TLSv1.2"}.items():
        conf = next(Path(fleet).glob(host + "/**/tomcat/conf"))
        server_xml = (conf / "server.xml").read_text()
        assert '<SSLHostConfig protocols="%s">' % protocols in server_xml, host
        assert 'certificateKeystorePassword="demo-Tomcat-ks1"' in server_xml, host
        keystore = conf / "localhost-rsa.jks"
        [entry] = ks.load(keystore.read_bytes(), "demo-Tomcat-ks1").entries
        assert entry.alias == "tomcat" and entry.leaf.issuer == ours.subject, host
        assert pki.sans_list(entry.leaf) == ["DNS:" + host]
        trust = next(Path(fleet).glob(host + "/**/WEB-INF/cacerts"))
        out = java_tools.jsse("handshake", str(keystore), "jks", str(trust), "jks",
                              password="demo-Tomcat-ks1", trust_password="changeit")
        assert out.stdout.strip().split("|")[1] == pki.sha256_hex(entry.leaf)
        for path in conf.iterdir():  # the files and their backups hold secrets
            assert path.stat().st_mode & 0o027 == 0, path


NON_SSL = ["# Service Manager server initialization file (sample installation - TEST DOUBLE)",
           "# Database", "sqldb:smdb", "sql_database_type:postgresql", "*sqllogin:", "sqllimit:100",
           "# Ports", "httpPort:", "httpsPort:", "# Logging", "log:../logs/sm.log", "# Sessions",
           "sessiontimeout:1800", "heartbeatinterval:60"]


def test_sm_ini_keeps_every_non_ssl_line_in_order(rollout, fleet):
    for ini in matching(fleet, "sm*.demo.invalid/**/RUN/sm.ini"):
        lines = ini.read_text().splitlines()
        positions = [next(i for i, line in enumerate(lines) if line.startswith(expected))
                     for expected in NON_SSL]
        assert positions == sorted(positions), ini
        assert lines[0].startswith("smmasterkey:")  # written by the stand-in, kept by smtls


def _client_pem(fleet, tmp_path):
    """web1's own client certificate and key as PEM files, for a handshake from Python."""
    path = next(Path(fleet).glob("web1.demo.invalid/**/WEB-INF/webtier.keystore"))
    entry = ks.load(path.read_bytes(), "demo-Web-ks1").entries[0]
    key = tmp_path / "client.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n"
                   % base64.encodebytes(entry.pkcs8()).decode().strip())
    cert = tmp_path / "client.crt"
    cert.write_text("".join(pki.cert_pem(c) for c in entry.chain))
    return str(cert), str(key)


def test_protocols_follow_each_servers_jre(rollout, fleet, tmp_path):
    """sm1's sample JRE is 17, sm2's 1.8.0_202 (no TLS 1.3): smtls read each and wrote what that
    JRE can run; the stand-in (a test double) refuses TLSv1.3 as a JRE without it would."""
    expected = {"sm1.demo.invalid": (DEMO_HTTPS_BASE, "TLSv1.2,TLSv1.3", "TLSv1.3"),
                "sm2.demo.invalid": (DEMO_HTTPS_BASE + 1, "TLSv1.2", "TLSv1.2")}
    certfile, keyfile = _client_pem(fleet, tmp_path)
    for host, (port, line, negotiated) in expected.items():
        ini = next(Path(fleet).glob(host + "/**/RUN/sm.ini")).read_text().splitlines()
        assert "sslEnabledProtocols:" + line in ini, host
        ctx = ssl.create_default_context(cafile=str(Path(fleet) / "controller/ca/ca.crt"))
        ctx.load_cert_chain(certfile, keyfile)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
                body = b"".join(iter(lambda: tls.recv(4096), b"")).decode()
                assert tls.version() == negotiated, host
        assert "protocol=" + negotiated in body, body
