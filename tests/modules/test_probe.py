"""sm_tls_probe against the SM stand-in (a test double) on loopback, with keystores
written by our own engine - every reason the probe gives is produced for real."""

import socket
import subprocess
import time
from pathlib import Path

import pytest

import sm_tls_probe
from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_x509 as pki
from conftest import module_result

ROOT = Path(__file__).resolve().parents[2]
PW = "probe-Pass-1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def standin(tmp_path_factory, ca, sample_ca):
    classes = tmp_path_factory.mktemp("standin-classes")
    subprocess.run(["javac", "-d", str(classes), str(ROOT / "tests/standin/SmStandIn.java")], check=True)
    run = tmp_path_factory.mktemp("RUN")
    key, cert = ca.issue("localhost", ["localhost"], ["127.0.0.1"])
    listed_key, listed = ca.issue("web1", usage="client")
    unlisted_key, unlisted = ca.issue("intruder", usage="client")

    def write(name, *entries):
        (run / name).write_bytes(ks.dump(ks.Keystore("jks", list(entries)), PW))

    write("server.keystore", ks.KeyEntry("smserver", [cert, ca.cert], key=key))
    write("cacerts", ks.CertEntry("smtls-ca", ca.cert))
    write("trustedclients.keystore", ks.CertEntry("web1", listed))
    write("listed.keystore", ks.KeyEntry("c", [listed, ca.cert], key=listed_key))
    write("unlisted.keystore", ks.KeyEntry("c", [unlisted, ca.cert], key=unlisted_key))
    write("sample-trust", ks.CertEntry("sample", sample_ca.cert))
    http, https = free_port(), free_port()
    (run / "sm.ini").write_text(
        "ssl:1\nsslConnector:1\nssl_reqClientAuth:2\nkeystoreFile:server.keystore\n"
        "keystorePass:%s\ntruststoreFile:cacerts\ntruststorePass:%s\n"
        "ssl_trustedClientsJKS:trustedclients.keystore\nssl_trustedClientsPwd:%s\n" % (PW, PW, PW))
    proc = subprocess.Popen(["java", "-cp", str(classes), "SmStandIn", str(run), "-bind:127.0.0.1",
                             "-httpPort:%d" % http, "-httpsPort:%d" % https],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stdout.readline()
        if "listening" in line:
            break
    else:
        proc.kill()
        pytest.fail("the stand-in did not start")
    yield {"run": run, "http": http, "https": https, "cert": cert, "classes": classes}
    proc.terminate()
    proc.wait(10)


def args(standin, client="listed.keystore", trust="cacerts", **extra):
    a = dict(host="127.0.0.1", port=standin["https"],
             truststore=dict(path=str(standin["run"] / trust), password=PW))
    if client:
        a["keystore"] = dict(path=str(standin["run"] / client), password=PW)
    a.update(extra)
    return a


def test_listed_client_handshakes_and_sees_the_server_certificate(standin):
    result = module_result(sm_tls_probe, args(standin))
    assert result["ok"] and result["client_certificate_accepted"] and result["http_status"] == 200
    assert result["peer"]["sha256"] == pki.sha256_hex(standin["cert"])
    assert result["protocol"].startswith("TLSv1.")
    assert "client=CN=web1" in result["body"]


REFUSALS = [
    ("unlisted client signed by our CA", dict(client="unlisted.keystore"), "certificate_refused"),
    ("no client certificate", dict(client=None), "certificate_refused"),
    ("truststore without our CA", dict(trust="sample-trust"), "untrusted_ca"),
    ("wrong name", dict(server_name="sm9.example.com"), "name_mismatch"),
]


@pytest.mark.parametrize("label,change,reason", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_are_explained(standin, label, change, reason):
    result = module_result(sm_tls_probe, args(standin, **change))
    assert result.get("failed") and result["reason"] == reason, result
    assert "127.0.0.1:%d" % standin["https"] in result["msg"]
    expected = module_result(sm_tls_probe, args(standin, expect="failure", expect_reasons=[reason],
                                                **change))
    assert not expected.get("failed") and expected["reason"] == reason


def test_nothing_listening_and_plain_http(standin):
    closed = module_result(sm_tls_probe, dict(args(standin), port=free_port(), timeout=2))
    assert closed["reason"] == "nothing_listening"
    # an HTTP listener waits for a request line that a ClientHello never completes
    plain = module_result(sm_tls_probe, dict(args(standin), port=standin["http"], timeout=3))
    assert plain["reason"] in ("not_tls", "timeout") and not plain["ok"]


def test_expected_failure_that_succeeds_is_a_failure(standin):
    result = module_result(sm_tls_probe, args(standin, expect="failure"))
    assert result["failed"] and "expected to fail" in result["msg"]


def test_wait_retries_until_the_deadline(standin):
    start = time.time()
    result = module_result(sm_tls_probe, dict(args(standin), port=free_port(), wait=2, timeout=1))
    assert result["reason"] == "nothing_listening" and time.time() - start >= 2


def test_plain_http_probe_for_a_server_without_ssl(standin):
    result = module_result(sm_tls_probe, dict(host="127.0.0.1", port=standin["http"], plain_http=True))
    assert result["ok"] and result["http_status"] == 200 and result["peer"] is None


def test_every_port_of_a_server_in_one_call_and_a_failing_one_named(standin):
    # the servlets of one server: the same material, opened once, every port proven
    both = module_result(sm_tls_probe, args(standin, more_ports=[standin["https"], standin["https"]]))
    assert both["ok"] and "probes" not in both  # a port given twice is probed once
    closed = free_port()
    failed = module_result(sm_tls_probe, args(standin, more_ports=[closed]))
    assert failed["failed"]
    assert [p["port"] for p in failed["probes"]] == [standin["https"], closed]
    assert [p["ok"] for p in failed["probes"]] == [True, False]
    assert failed["reason"] == "nothing_listening"
    assert failed["msg"].startswith("TLS probe of 127.0.0.1:%d failed: " % closed)


# --- the load balancer (sm -loadBalancer): HTTP only, it answers and redirects to a servlet ------


@pytest.fixture(scope="module")
def balanced(tmp_path_factory, standin):
    """A vertically scaled stand-in (a test double): the load balancer and two SSL servlets in its
    sm.cfg, the same stores as `standin`, redirecting to the name `localhost`."""
    import shutil
    run = tmp_path_factory.mktemp("RUN-balanced")
    for item in Path(standin["run"]).iterdir():
        if item.is_file():
            shutil.copy(item, run / item.name)
    lb, ports = free_port(), [free_port() for _ in range(4)]
    (run / "sm.cfg").write_text("sm -loadBalancer -httpPort:%d\nsm -httpPort:%d -httpsPort:%d\n"
                                "sm -httpPort:%d -httpsPort:%d\nsm -que:ir\n" % (lb, *ports))
    proc = subprocess.Popen(["java", "-cp", str(standin["classes"]), "SmStandIn", str(run), "-bind:127.0.0.1",
                             "-redirectHost:localhost"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    deadline = time.time() + 30
    while time.time() < deadline and "listening" not in proc.stdout.readline():
        pass
    yield {"lb": lb, "https": [ports[1], ports[3]], "run": run}
    proc.terminate()
    proc.wait(10)


def test_the_load_balancer_answers_and_redirects_to_a_certificate_name(standin, balanced):
    probe = dict(args(standin), port=balanced["https"][0], more_ports=balanced["https"][1:],
                 plain_ports=[balanced["lb"]], redirect_names=["localhost", "127.0.0.1"])
    result = module_result(sm_tls_probe, probe)
    assert result["ok"] and not result.get("failed"), result
    lb = [p for p in result["probes"] if p.get("load_balancer")]
    assert len(lb) == 1 and lb[0]["http_status"] == 302 and lb[0]["peer"] is None
    # it sends the client to a servlet's HTTPS port, under the name the stand-in was given
    assert lb[0]["location"] in ["https://localhost:%d/" % port for port in balanced["https"]]
    # a redirect to a name no certificate carries fails the proof, naming the fix
    wrong = module_result(sm_tls_probe, dict(probe, redirect_names=["sm1.example.com"]))
    assert wrong["failed"] and "a host no server certificate carries" in wrong["msg"]
    assert "Fix: add that host to sm_server_dns_names" in wrong["msg"]
    # a load balancer port where nothing listens fails as any port does
    down = module_result(sm_tls_probe, dict(probe, plain_ports=[free_port()], timeout=2))
    assert down["failed"] and down["msg"].startswith("load balancer: TLS probe of 127.0.0.1:")


def test_liveness_asks_the_load_balancer_in_plain_http_and_records_its_redirect(balanced):
    from ansible.module_utils import smtls_liveness
    from ansible.module_utils import smtls_smcfg
    servlets = smtls_smcfg.parse((balanced["run"] / "sm.cfg").read_text())
    seen = smtls_liveness.observe([{"name": "sm1", "host": "127.0.0.1", "server_name": "localhost"}],
                                  servlets=servlets)
    assert sorted(o["port"] for o in seen if not o.get("load_balancer")) == sorted(balanced["https"])
    lb = [o for o in seen if o.get("load_balancer")]
    assert [o["port"] for o in lb] == [balanced["lb"]] and lb[0]["answered"] and lb[0]["plain_http"]
    assert lb[0]["location"].startswith("https://localhost:")
    assert smtls_liveness.redirect_problems(seen, {"sm1": ["localhost"]}) == []
    assert smtls_liveness.redirect_problems(seen, {"sm1": ["sm1.example.com"]})


# --- liveness: what a port serves, whoever asks (sm_tls_liveness and the reads that take it) ---

import socketserver  # noqa: E402
import ssl  # noqa: E402
import threading  # noqa: E402

import sm_tls_liveness  # noqa: E402
from ansible.module_utils import smtls_liveness as liveness  # noqa: E402
from ansible.module_utils import smtls_probe as tls  # noqa: E402


def test_liveness_sees_the_served_certificate_of_a_server_that_demands_a_client_one(standin):
    # ssl_reqClientAuth:2 - no client certificate offered, and still the server's own is seen
    result = module_result(sm_tls_liveness, dict(liveness=[dict(
        name="sm1", host="127.0.0.1", ports=[standin["https"]], probed_from="web1")]))
    [seen] = result["liveness"]
    assert seen["answered"] and seen["sha256"] == pki.sha256_hex(standin["cert"]), seen
    assert seen["name"] == "sm1" and seen["port"] == standin["https"] and not result["changed"]
    assert liveness.port_problem(seen, [pki.sha256_hex(standin["cert"])]) == ""
    wrong = liveness.port_problem(seen, ["00" * 32], "/RUN/server.keystore")
    assert wrong.startswith("sm1 port %d (probed at 127.0.0.1 from web1) serves a certificate that is "
                            "not the one in its keystore /RUN/server.keystore" % standin["https"])
    assert "found CN=localhost" in wrong and "Fix: restart it" in wrong


def test_liveness_of_a_stopped_port_and_of_plain_http(standin):
    closed = free_port()
    result = module_result(sm_tls_liveness, dict(timeout=2, liveness=[
        dict(name="sm1", host="127.0.0.1", ports=[standin["https"], closed]),
        dict(name="sm1", host="127.0.0.1", ports=[standin["http"]], plain_http=True)]))
    up, down, plain = result["liveness"]
    assert up["answered"] and not down["answered"] and down["reason"] == "nothing_listening"
    assert plain["answered"] and plain["plain_http"] and plain.get("sha256") is None
    line = liveness.port_problem(down, [up["sha256"]])
    assert line.startswith("sm1 port %d (probed at 127.0.0.1) does not answer: nothing listens" % closed)
    assert "Fix: start the SM server" in line and len(line) < 400 and "\n" not in line
    # plain HTTP in mode none: answering is all there is to check
    assert liveness.port_problem(plain, [up["sha256"]]) == ""


@pytest.fixture
def tls12_server(tmp_path, ca):
    """A TLS 1.2 server that refuses any client without a certificate (as SM on a Java 8 JRE
    with ssl_reqClientAuth:2): its certificate only shows in the clear handshake records."""
    key, cert = ca.issue("sm2", ["sm2"])
    (tmp_path / "key.pem").write_text(pki.key_pem(key))
    (tmp_path / "cert.pem").write_text(pki.cert_pem(cert))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=ca.pem)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            try:
                with context.wrap_socket(self.request, server_side=True) as conn:
                    conn.recv(1)
            except (ssl.SSLError, OSError):
                pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], cert
    server.shutdown()
    server.server_close()


def test_liveness_reads_a_tls12_certificate_before_the_refusal(tls12_server):
    port, cert = tls12_server
    seen = tls.served("127.0.0.1", port, "sm2", timeout=5)
    assert seen["answered"] and seen["sha256"] == pki.sha256_hex(cert) and seen["protocol"] == "TLSv1.2", seen
