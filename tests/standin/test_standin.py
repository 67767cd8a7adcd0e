"""Tests for SmStandIn, the TEST DOUBLE of the Service Manager server (see docs/development.md).

Everything runs on 127.0.0.1 with free ephemeral ports. Certificates are made here with
`cryptography`; keystores are written by the real `keytool` (passwords via environment
variables, never on argv); the stand-in is compiled once per session with `javac`.
"""

import datetime
import hashlib
import ipaddress
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "SmStandIn.java"
START_TIMEOUT = 20
JAVA_OPTS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]   # faster JVM start-up

# Vendor example passwords; the keystore one contains a colon (sm.ini splits at the first).
KS_PASS = "server:keystore"
TS_PASS = "changeit"
TC_PASS = "trustedclients"

pytestmark = pytest.mark.skipif(not (shutil.which("javac") and shutil.which("keytool")),
                                reason="Java 17 (javac, keytool) is required")


# --------------------------------------------------------------------------- material

def _name(common):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "smtls stand-in tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cert(common, key, issuer=None, *, usage=None, sans=()):
    """Self-signed CA when issuer is None, else a leaf signed by issuer=(cert, key)."""
    now = datetime.datetime.now(datetime.UTC)
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    builder = (x509.CertificateBuilder()
               .subject_name(_name(common))
               .issuer_name(issuer_cert.subject if issuer_cert else _name(common))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   issuer_key.public_key()), False))
    if issuer is None:
        builder = (builder
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                   .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                False, False), True))
    else:
        builder = (builder
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                   .add_extension(x509.KeyUsage(True, True, False, False, False, False, False,
                                                False, False), True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(obj):
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def keytool(*args, **passwords):
    """Runs keytool; passwords are given as environment variables (-storepass:env NAME)."""
    proc = subprocess.run(["keytool", *args], env=dict(os.environ, **passwords),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"keytool {args[0]} failed:\n{proc.stdout}{proc.stderr}"


@dataclass
class Client:
    certfile: Path
    keyfile: Path
    subject: str


@dataclass
class Material:
    dir: Path
    cafile: Path
    server_sha256: str
    clients: dict = field(default_factory=dict)

    def install(self, run, *names):
        for name in names:
            shutil.copy2(self.dir / name, run / name)


@pytest.fixture(scope="session")
def material(tmp_path_factory):
    """CA, server cert for localhost/127.0.0.1, clients 'allowed', 'unlisted' (same CA) and
    'rogue' (other CA); keystores server.jks, server.p12, truststore.jks/.p12, trustedclients.p12/.jks."""
    out = tmp_path_factory.mktemp("material")
    ca_key = _key()
    ca = _cert("smtls stand-in test CA", ca_key)
    (out / "ca.pem").write_bytes(_pem(ca))

    server_key = _key()
    server = _cert("localhost", server_key, (ca, ca_key), usage=ExtendedKeyUsageOID.SERVER_AUTH,
                   sans=[x509.DNSName("localhost"),
                         x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    (out / "server.p12").write_bytes(pkcs12.serialize_key_and_certificates(
        b"sm-server", server_key, server, [ca],
        serialization.BestAvailableEncryption(KS_PASS.encode())))
    keytool("-importkeystore", "-noprompt",
            "-srckeystore", str(out / "server.p12"), "-srcstoretype", "PKCS12",
            "-srcstorepass:env", "SRC_PASS",
            "-destkeystore", str(out / "server.jks"), "-deststoretype", "JKS",
            "-deststorepass:env", "DST_PASS", SRC_PASS=KS_PASS, DST_PASS=KS_PASS)
    for store, store_type in (("truststore.jks", "JKS"), ("truststore.p12", "PKCS12")):
        keytool("-importcert", "-noprompt", "-alias", "smtls-ca", "-file", str(out / "ca.pem"),
                "-keystore", str(out / store), "-storetype", store_type,
                "-storepass:env", "TS_PASS", TS_PASS=TS_PASS)

    rogue_ca_key = _key()
    rogue_ca = _cert("rogue CA", rogue_ca_key)
    material = Material(out, out / "ca.pem",
                        hashlib.sha256(server.public_bytes(serialization.Encoding.DER)).hexdigest())
    for name, issuer in (("allowed", (ca, ca_key)), ("unlisted", (ca, ca_key)),
                         ("rogue", (rogue_ca, rogue_ca_key))):
        key = _key()
        cert = _cert(f"{name} client", key, issuer, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
        (out / f"{name}.pem").write_bytes(_pem(cert))
        (out / f"{name}.key").write_bytes(_pem(key))
        material.clients[name] = Client(out / f"{name}.pem", out / f"{name}.key",
                                        f"CN={name} client,O=smtls stand-in tests")
    # The trusted-clients list holds only the 'allowed' client (PKCS12, like FIPS mode's
    # trustedclients.p12: the stand-in detects the format itself).
    for store, store_type in (("trustedclients.p12", "PKCS12"), ("trustedclients.jks", "JKS")):
        keytool("-importcert", "-noprompt", "-alias", "allowed", "-file", str(out / "allowed.pem"),
                "-keystore", str(out / store), "-storetype", store_type,
                "-storepass:env", "TC_PASS", TC_PASS=TC_PASS)
    return material


@pytest.fixture(scope="session")
def classes(tmp_path_factory):
    out = tmp_path_factory.mktemp("standin-classes")
    proc = subprocess.run(["javac", "-d", str(out), str(SOURCE)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return out


# --------------------------------------------------------------------------- running it

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StandIn:
    """One stand-in process; stdout/stderr go to files so a chatty server never blocks."""

    def __init__(self, command, run):
        self.command = command
        self.run = run
        self.http_port = free_port()
        self.https_port = free_port()
        self.ports = True   # False: no ports on the command line (sm.cfg's servlets, if any)
        self.proc = None
        self.listening = None

    def argv(self, *extra):
        ports = [f"-httpPort:{self.http_port}", f"-httpsPort:{self.https_port}"] if self.ports else []
        return [*self.command, str(self.run), "-bind:127.0.0.1", *ports, *extra]

    def start(self, *extra):
        self.out = self.run.parent / f"{self.run.name}.stdout"
        self.err = self.run.parent / f"{self.run.name}.stderr"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(self.argv(*extra), stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for line in self.out.read_text(errors="replace").splitlines():
                if line.startswith("sm-standin: listening "):
                    self.listening = line
                    return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"stand-in did not start (exit {self.proc.returncode})\n"
                             f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}")

    def run_to_exit(self, *extra):
        """For start-up failures: run, wait for the exit, return (status, stdout, stderr)."""
        proc = subprocess.run(self.argv(*extra), capture_output=True, text=True,
                              timeout=START_TIMEOUT, stdin=subprocess.DEVNULL, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    @property
    def stdout(self):
        return self.out.read_text(errors="replace")

    @property
    def stderr(self):
        return self.err.read_text(errors="replace")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None


@pytest.fixture
def launch(classes, tmp_path):
    """launch(lines, *extra, run_name='RUN') -> a started StandIn with sm.ini = lines."""
    started = []

    def make(lines=None, run_name="RUN", source_mode=False):
        run = tmp_path / run_name   # may be an install path: ServiceManager9.41/Server/RUN
        run.mkdir(parents=True, exist_ok=True)
        if lines is not None:
            write_ini(run, lines)
        command = ["java", *JAVA_OPTS]
        command += [str(SOURCE)] if source_mode else ["-cp", str(classes), "SmStandIn"]
        standin = StandIn(command, run)
        started.append(standin)
        return standin

    yield make
    for standin in started:
        standin.stop()


def write_ini(run, lines, eol="\n"):
    (run / "sm.ini").write_bytes("".join(line + eol for line in lines).encode())


def ssl_ini(material, run, level, *extra, keystore="server.jks"):
    """A vendor-style sm.ini SSL block for ssl_reqClientAuth:<level>, files copied to RUN."""
    material.install(run, keystore, "truststore.jks", "trustedclients.p12")
    lines = ["ssl:1", "sslConnector:1", f"ssl_reqClientAuth:{level}",
             f"keystoreFile:{keystore}", f"keystorePass:{KS_PASS}",
             "truststoreFile:truststore.jks", f"truststorePass:{TS_PASS}"]
    if level == 2:
        lines += ["ssl_trustedClientsJKS:trustedclients.p12", f"ssl_trustedClientsPwd:{TC_PASS}"]
    return lines + list(extra)


@dataclass
class Reply:
    ok: bool = False
    status: int = None
    body: dict = field(default_factory=dict)
    protocol: str = None
    cipher: str = None
    peer_sha256: str = None
    error: Exception = None
    headers: dict = field(default_factory=dict)


def https_get(material, port, client=None, min_version=None, max_version=None):
    """GET / over TLS. ok means a complete 200 reply arrived.

    With TLS 1.3 a refused client certificate does not fail the client's handshake: the
    server's alert arrives afterwards, so the refusal shows up on the first read/write."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(material.cafile))
    if client:
        ctx.load_cert_chain(str(material.clients[client].certfile),
                            str(material.clients[client].keyfile))
    if min_version:
        ctx.minimum_version = min_version
    if max_version:
        ctx.maximum_version = max_version
    reply = Reply()
    data = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            reply.protocol = tls.version()
            reply.cipher = tls.cipher()[0]
            reply.peer_sha256 = hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()
            tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            while chunk := tls.recv(65536):
                data += chunk
    except OSError as e:   # ssl.SSLError, ConnectionResetError, BrokenPipeError, ...
        reply.error = e
    _parse(reply, data)
    return reply


def http_get(port):
    reply = Reply()
    data = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            while chunk := s.recv(65536):
                data += chunk
    except OSError as e:
        reply.error = e
    _parse(reply, data)
    reply.body = data.partition(b"\r\n\r\n")[2].decode()
    return reply


def _parse(reply, data):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return
    lines = head.decode("latin-1").split("\r\n")
    reply.status = int(lines[0].split()[1])
    reply.headers = {name.strip().lower(): value.strip()
                     for name, _, value in (line.partition(":") for line in lines[1:])}
    length = next((int(line.split(":", 1)[1]) for line in lines
                   if line.lower().startswith("content-length:")), None)
    reply.ok = reply.status == 200 and length == len(body)
    reply.body = dict(line.split("=", 1) for line in body.decode().splitlines() if "=" in line)


def wait_for_log(standin, text, timeout=5, stream="stderr"):
    """The server logs refused handshakes on stderr; the log may trail the client's error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in getattr(standin, stream):
            return True
        time.sleep(0.05)
    return False


# --------------------------------------------------------------------------- SSL levels

@pytest.mark.parametrize("keystore,store_type", [("server.jks", None), ("server.p12", "PKCS12")])
def test_level0_anonymous_clients(material, launch, keystore, store_type):
    standin = launch()
    lines = ssl_ini(material, standin.run, 0, keystore=keystore)
    if store_type:
        lines.append(f"keystoreType:{store_type}")   # type names are case-insensitive
    write_ini(standin.run, lines)
    standin.start()
    assert " clientAuth=0 " in standin.listening
    assert f"https={standin.https_port}" in standin.listening

    reply = https_get(material, standin.https_port)
    assert reply.ok, reply.error
    assert reply.peer_sha256 == material.server_sha256
    assert reply.body == {"server": "sm-standin", "client": "none", "trustedsignon": "0",
                          "protocol": "TLSv1.3", "servlet": "1"}
    # A client certificate is not requested at level 0, so none is reported.
    assert https_get(material, standin.https_port, client="allowed").body["client"] == "none"
    assert http_get(standin.http_port).body == "sm-standin http\nservlet=1\n"


def test_level1_requires_a_ca_signed_client_certificate(material, launch):
    standin = launch()
    write_ini(standin.run, ssl_ini(material, standin.run, 1))
    standin.start()
    assert " clientAuth=1 " in standin.listening

    anonymous = https_get(material, standin.https_port)
    assert not anonymous.ok and anonymous.error is not None
    rogue = https_get(material, standin.https_port, client="rogue")
    assert not rogue.ok and rogue.error is not None

    for name in ("allowed", "unlisted"):   # level 1 does not consult a trusted-clients list
        reply = https_get(material, standin.https_port, client=name)
        assert reply.ok, reply.error
        assert reply.body["client"] == material.clients[name].subject
    assert wait_for_log(standin, "TLS handshake failed")


def test_level2_requires_a_listed_client(material, launch):
    standin = launch()
    write_ini(standin.run, ssl_ini(material, standin.run, 2, "trustedsignon:1"))
    standin.start()
    assert " clientAuth=2 " in standin.listening

    allowed = https_get(material, standin.https_port, client="allowed")
    assert allowed.ok, allowed.error
    assert allowed.body["client"] == material.clients["allowed"].subject
    assert allowed.body["trustedsignon"] == "1"

    unlisted = https_get(material, standin.https_port, client="unlisted")
    assert not unlisted.ok and unlisted.error is not None
    assert wait_for_log(standin, "client not in trusted clients list")
    assert not https_get(material, standin.https_port).ok
    assert not https_get(material, standin.https_port, client="rogue").ok


def test_enabled_protocols(material, launch):
    standin = launch()
    write_ini(standin.run, ssl_ini(material, standin.run, 0, "sslEnabledProtocols:TLSv1.2"))
    standin.start()
    assert standin.listening.endswith(" protocols=TLSv1.2")

    tls13 = https_get(material, standin.https_port, min_version=ssl.TLSVersion.TLSv1_3)
    assert not tls13.ok and tls13.error is not None
    tls12 = https_get(material, standin.https_port, max_version=ssl.TLSVersion.TLSv1_2)
    assert tls12.ok, tls12.error
    assert tls12.protocol == "TLSv1.2" and tls12.body["protocol"] == "TLSv1.2"


@pytest.mark.parametrize("vendor, version, tls13", [
    ('IMPLEMENTOR="Eclipse Adoptium"', "1.8.0_262", False),      # OpenJDK 8: from 8u272
    ('IMPLEMENTOR="Red Hat, Inc."', "1.8.0_272", True),
    ('IMPLEMENTOR="Oracle Corporation"', "1.8.0_262", True),    # Oracle 8: from 8u261
    ('BUILD_TYPE="commercial"', "1.8.0_202", False),
    ('IMPLEMENTOR="IBM Corporation"', "1.8.0_392-b08", False),  # IBM 8: none
    ("", "1.8.0_392-b08", False),                                # unknown vendor 8: none
    ('IMPLEMENTOR="Azul Systems, Inc."', "10.0.2", False),
    ('IMPLEMENTOR="IBM Corporation"', "11.0.21", True),
    ("", "17", True),
], ids=["openjdk-8u262", "openjdk-8u272", "oracle-8u262", "oracle-8u202", "ibm-8", "unknown-8",
        "java10", "ibm-11", "unknown-17"])
def test_jre_release_decides_tls13(material, launch, vendor, version, tls13):
    """RUN/jre/release names the JRE SM runs, vendor and version: one without TLS 1.3 neither
    offers it by default nor starts with it in sslEnabledProtocols, as that JRE's JSSE would
    refuse the name."""
    standin = launch()
    (standin.run / "jre").mkdir()
    (standin.run / "jre" / "release").write_text(f'{vendor}\nJAVA_VERSION="{version}"\n')
    write_ini(standin.run, ssl_ini(material, standin.run, 0))
    standin.start()
    assert ("TLSv1.3" in standin.listening) == tls13, standin.listening
    reply = https_get(material, standin.https_port)
    assert reply.ok, reply.error
    assert reply.protocol == ("TLSv1.3" if tls13 else "TLSv1.2")
    standin.stop()

    write_ini(standin.run, ssl_ini(material, standin.run, 0, "sslEnabledProtocols:TLSv1.2,TLSv1.3"))
    if tls13:
        standin.start()
        assert standin.listening.endswith(" protocols=TLSv1.2,TLSv1.3"), standin.listening
    else:
        status, _out, err = standin.run_to_exit()
        assert status == 2, err
        assert "FATAL sslEnabledProtocols: 'TLSv1.3' is not a protocol this Java supports" in err
        assert version in err


def test_ciphers(material, launch):
    standin = launch()
    write_ini(standin.run, ssl_ini(material, standin.run, 0, "sslEnabledProtocols:TLSv1.2",
                                   "ciphers:TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"))
    standin.start()
    reply = https_get(material, standin.https_port)
    assert reply.ok, reply.error
    assert reply.cipher == "ECDHE-RSA-AES256-GCM-SHA384"


def test_ssl_off_means_http_only(material, launch):
    standin = launch()
    write_ini(standin.run, ["ssl:0", "sqllimit:100"])
    standin.start()
    assert "https=off" in standin.listening
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", standin.https_port), timeout=5).close()
    reply = http_get(standin.http_port)
    assert reply.status == 200 and reply.body == "sm-standin http\nservlet=1\n"
    assert standin.stop() == 0   # SIGTERM -> clean exit
    assert "sm-standin: stopping" in standin.stdout


def test_command_line_wins_over_sm_ini(material, launch):
    standin = launch()
    # sm.ini asks for level 2 without a trusted list (fatal) and for bogus ports.
    write_ini(standin.run, ssl_ini(material, standin.run, 0)[:2] + [
        "ssl_reqClientAuth:2", "keystoreFile:server.jks", f"keystorePass:{KS_PASS}",
        "truststoreFile:truststore.jks", f"truststorePass:{TS_PASS}",
        "httpPort:1", "httpsPort:2"])
    standin.start("-ssl_reqClientAuth:0")
    expected = f"http={standin.http_port} https={standin.https_port} clientAuth=0 "
    assert expected in standin.listening
    assert https_get(material, standin.https_port).ok


# --------------------------------------------------------------------------- servlets (sm.cfg)

LISTENING = re.compile(r"sm-standin: listening servlet=(\d+) http=(\d+|off) https=(\d+|off) "
                       r"clientAuth=([012]) protocols=(\S+)(?: loadBalancer=1)?")


def assert_fatal(result, pattern):
    """A start-up refusal: exit status 2, a `sm-standin: <pattern>` line on stderr, nothing listening."""
    status, out, err = result
    assert status == 2, err
    assert re.search(r"^sm-standin: " + pattern, err, re.MULTILINE), err
    assert "listening" not in out


def write_cfg(run, lines):
    (run / "sm.cfg").write_text("".join(line + "\n" for line in lines))


def listening(standin, count, timeout=5):
    """The listening lines once count of them are out: start() returns after the first."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in standin.stdout.splitlines()
                 if line.startswith("sm-standin: listening ")]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def http_servlet(port):
    reply = http_get(port)
    assert reply.status == 200, reply.error
    first, _, rest = reply.body.partition("\n")
    assert first == "sm-standin http"
    return dict(line.split("=", 1) for line in rest.splitlines())["servlet"]


def test_servlets_from_sm_cfg(material, launch):
    """Every sm line with a port is a servlet with its own listeners, all in one JVM with the
    same TLS set-up; background lines and sm.ini's ports are not servlets."""
    standin = launch()
    standin.ports = False
    # sm.ini's own ports are not used when sm.cfg names the servlets
    write_ini(standin.run, ssl_ini(material, standin.run, 1, "sslEnabledProtocols:TLSv1.2,TLSv1.3",
                                   "httpPort:1", "httpsPort:2"))
    ports = [(free_port(), free_port()) for _ in range(3)]
    write_cfg(standin.run, [
        "# sm.cfg of the stand-in tests",
        f"sm -httpPort:{ports[0][0]} -httpsPort:{ports[0][1]} -log:../logs/sm1.log",
        "",
        f"sm -httpPort:{ports[1][0]} -httpsPort:{ports[1][1]}",
        "sm -que:ir",
        f"  sm   -httpsPort:{ports[2][1]}\t-httpPort:{ports[2][0]} -debugnode  # the last servlet",
        "sm -sync",
        f"# sm -httpPort:{free_port()} -httpsPort:{free_port()}",
    ])
    standin.start()
    lines = listening(standin, 3)
    assert len(lines) == 3, standin.stdout
    for number, (line, (http, https)) in enumerate(zip(lines, ports), 1):
        assert LISTENING.fullmatch(line).groups() == (
            str(number), str(http), str(https), "1", "TLSv1.2,TLSv1.3"), line
        # what the playbook tests and standin-ctl read from a listening line still holds
        assert re.findall(r"clientAuth=(\d)", line) == ["1"]
        assert line.endswith(" protocols=TLSv1.2,TLSv1.3")
    time.sleep(0.3)
    assert len(listening(standin, 4, timeout=0)) == 3, "a background line became a servlet"

    for number, (http, https) in enumerate(ports, 1):
        allowed = https_get(material, https, client="allowed")
        assert allowed.ok, (number, allowed.error)
        assert allowed.peer_sha256 == material.server_sha256
        assert allowed.body["servlet"] == str(number)
        assert allowed.body["client"] == material.clients["allowed"].subject
        assert not https_get(material, https).ok   # level 1 on every servlet
        assert http_servlet(http) == str(number)
    assert wait_for_log(standin, "sm-standin: http servlet=3 ", stream="stdout")   # logged per servlet
    assert "httpsPort is not given" not in standin.stderr
    for port in (1, 2):
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert standin.stop() == 0


def test_servlet_without_https_port(material, launch):
    """A servlet line without httpsPort: with SSL on it gets HTTP only, and a warning."""
    standin = launch()
    standin.ports = False
    write_ini(standin.run, ssl_ini(material, standin.run, 0))
    http_only, (http, https) = free_port(), (free_port(), free_port())
    write_cfg(standin.run, [f"sm -httpPort:{http_only} -debugnode",
                            f"sm -httpPort:{http} -httpsPort:{https}"])
    standin.start()
    lines = listening(standin, 2)
    assert [LISTENING.fullmatch(line).groups()[:3] for line in lines] == [
        ("1", str(http_only), "off"), ("2", str(http), str(https))], lines
    assert lines[0].endswith(" protocols=off")
    assert wait_for_log(standin, "sm-standin: WARNING servlet 1: SSL is on but httpsPort is not given"
                                 " - no HTTPS listener")
    assert "servlet 2:" not in standin.stderr
    assert http_servlet(http_only) == "1"
    assert http_servlet(http) == "2"
    reply = https_get(material, https)
    assert reply.ok, reply.error
    assert reply.body["servlet"] == "2"


@pytest.mark.parametrize("cfg, expected", [
    (["sm -httpPort:{a} -loadBalancer", "sm -httpPort:{b} -httpsPort:{c}", "sm -que:ir",
      "sm -httpPort:{d} -httpsPort:{b}"],
     r"FATAL sm\.cfg \S*/RUN/sm\.cfg: port {b} is used twice \(line 2 httpPort, line 4 httpsPort\)"),
    (["sm -httpPort:{a} -httpsPort:{a}"],
     r"FATAL sm\.cfg \S*/RUN/sm\.cfg: port {a} is used twice \(line 1 httpPort, line 1 httpsPort\)"),
    (["# servlets", "sm -httpPort:{a}", "sm -httpPort:{b} -httpsPort:abc"],
     r"FATAL sm\.cfg \S*/RUN/sm\.cfg line 3: -httpsPort:abc is not a port"),
    (["sm -httpPort:70000"], r"FATAL sm\.cfg \S*/RUN/sm\.cfg line 1: -httpPort:70000 is not a port"),
], ids=["duplicate", "duplicate-in-one-line", "malformed", "out-of-range"])
def test_bad_sm_cfg_is_fatal(material, launch, cfg, expected):
    standin = launch()
    standin.ports = False
    write_ini(standin.run, ssl_ini(material, standin.run, 0))
    ports = {name: free_port() for name in "abcd"}
    write_cfg(standin.run, [line.format(**ports) for line in cfg])
    assert_fatal(standin.run_to_exit(), expected.format(**ports))


def test_unreadable_sm_cfg_is_fatal(material, launch):
    standin = launch()
    standin.ports = False
    write_ini(standin.run, ["ssl:0"])
    (standin.run / "sm.cfg").mkdir()   # unreadable whoever runs the test (root reads a 0000 file)
    assert_fatal(standin.run_to_exit(), r"FATAL cannot read sm\.cfg \S*/RUN/sm\.cfg")


def test_port_in_use_names_the_servlet(material, launch):
    standin = launch()
    standin.ports = False
    write_ini(standin.run, ssl_ini(material, standin.run, 0))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        write_cfg(standin.run, [f"sm -httpPort:{free_port()} -httpsPort:{free_port()}",
                                "sm -sync", f"sm -httpPort:{free_port()} -httpsPort:{port}"])
        result = standin.run_to_exit()
    assert_fatal(result, rf"FATAL cannot listen on httpsPort {port} \(127\.0\.0\.1\) "
                         rf"for servlet 2 \(sm\.cfg line 3\): ")


def test_command_line_ports_win_over_sm_cfg(material, launch):
    """Ports on the command line make one servlet, today's listening line, whatever sm.cfg says."""
    standin = launch()
    write_ini(standin.run, ssl_ini(material, standin.run, 0))
    cfg_http, cfg_https = free_port(), free_port()
    write_cfg(standin.run, [f"sm -httpPort:{cfg_http} -httpsPort:{cfg_https}",
                            f"sm -httpPort:{free_port()} -httpsPort:{free_port()}"])
    standin.start()
    time.sleep(0.3)
    [line] = listening(standin, 2, timeout=0)
    assert re.fullmatch(rf"sm-standin: listening http={standin.http_port} https={standin.https_port} "
                        r"clientAuth=0 protocols=\S+", line), line
    reply = https_get(material, standin.https_port)
    assert reply.ok and reply.body["servlet"] == "1", reply.error
    for port in (cfg_http, cfg_https):
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    standin.stop()

    # one port on the command line is enough; the other comes from sm.ini as before
    write_ini(standin.run, ssl_ini(material, standin.run, 0, f"httpPort:{standin.http_port}"))
    standin.ports = False
    standin.start(f"-httpsPort:{standin.https_port}")
    assert standin.listening.startswith(
        f"sm-standin: listening http={standin.http_port} https={standin.https_port} ")


SMSTART = """#!/bin/sh
# smstart of the stand-in tests: SM on Unix starts its processes from here
SMHOME="/opt/MicroFocus/ServiceManager9.61/Server"; export SMHOME
RUN=$SMHOME/RUN
cd "$RUN" || exit 1   # sm -httpPort:{x1} is a comment here
nohup ./sm -httpPort:{lb} -loadBalancer& # the load balancer
nohup "${{SMHOME}}/RUN/sm" -httpPort:{h1} -httpsPort:{s1} >../logs/sm1.log 2>&1 &
exec env LANG=C $RUN/sm '-httpsPort:{s2}' "-httpPort:{h2}" 2>/dev/null -httpPort:{x2}; echo -httpPort:{x3}
SM_OPTS=-debugnode /opt/x/RUN/sm -httpPort:{h3} -httpsPort:{s3}|tee -a ../logs/sm3.log
A=1 B='x y' sm -log:a#b '#' -httpPort:{h4};sm -httpPort:{x4}
sm 2 -httpsPort:{s5} -httpPort:{h5} 2>log <&- -httpPort:{x5}
sm -que:ir &
sm -sync;
#sm -httpPort:{x6}
if [ -x ./sm ]; then echo "sm -httpPort:{x7}"; fi
./smx -httpPort:{x8}
echo sm -httpPort:{x9} & wait
"""


def write_smstart(run, text):
    (run / "smstart").write_text(text)


def test_smstart_is_the_unix_start_file(material, launch):
    """Every sm process smstart starts (nohup, exec, env, ./sm, $RUN/sm, quotes) is read, up to
    the first operator or redirection; comments, echo, if and other commands are not. smstart
    wins over an sm.cfg beside it, as SM on Unix starts from smstart."""
    standin = launch()
    standin.ports = False
    write_ini(standin.run, ssl_ini(material, standin.run, 0))
    ports = {name: free_port() for name in ("lb", "h1", "s1", "h2", "s2", "h3", "s3", "h4", "h5", "s5")}
    ports.update({f"x{n}": n for n in range(1, 10)})   # must not be read: a servlet there shows
    write_smstart(standin.run, SMSTART.format(**ports))
    cfg_http = free_port()
    write_cfg(standin.run, [f"sm -httpPort:{cfg_http}"])
    standin.start()
    lines = listening(standin, 6)
    assert [LISTENING.fullmatch(line).groups()[:3] for line in lines] == [
        ("1", str(ports["lb"]), "off"), ("2", str(ports["h1"]), str(ports["s1"])),
        ("3", str(ports["h2"]), str(ports["s2"])), ("4", str(ports["h3"]), str(ports["s3"])),
        ("5", str(ports["h4"]), "off"), ("6", str(ports["h5"]), str(ports["s5"]))], lines
    assert lines[0].endswith(" loadBalancer=1") and "loadBalancer" not in "".join(lines[1:])
    out = standin.stdout.splitlines()
    start_line = f"sm-standin: start file {standin.run}/smstart"
    assert start_line in out and "listening" not in start_line
    assert out.index("sm-standin: release unknown") < out.index(start_line) < out.index(lines[0])
    time.sleep(0.3)
    assert len(listening(standin, 7, timeout=0)) == 6, "a line that starts no servlet became one"
    for number, https in ((2, "s1"), (3, "s2"), (4, "s3"), (6, "s5")):
        reply = https_get(material, ports[https])
        assert reply.ok and reply.body["servlet"] == str(number), reply.error
    assert http_servlet(ports["h4"]) == "5"
    assert wait_for_log(standin, "WARNING servlet 5: SSL is on but httpsPort is not given")
    assert "servlet 1:" not in standin.stderr   # the load balancer has HTTP only, and says nothing
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", cfg_http), timeout=2).close()


@pytest.mark.parametrize("smstart, servlets_from", [
    (["#!/bin/sh", "# sm -httpPort:13080", "cd /opt/sm/RUN", 'echo "sm -httpPort:13080"', "wait"], "sm.cfg"),
    (["nohup sm -que:ir &", "sm -sync &"], "sm.ini"),
], ids=["no-sm-process", "only-background-processes"])
def test_smstart_without_servlets(material, launch, smstart, servlets_from):
    """smstart that starts no sm process is no start file: sm.cfg is. One that starts only
    background processes is the start file, without servlets: the ports of sm.ini, as sm.cfg."""
    standin = launch()
    standin.ports = False
    write_ini(standin.run, ["ssl:0", f"httpPort:{standin.http_port}"])
    write_smstart(standin.run, "\n".join(smstart) + "\n")
    cfg_http = free_port()
    write_cfg(standin.run, [f"sm -httpPort:{cfg_http}"])
    standin.start()
    if servlets_from == "sm.cfg":
        assert standin.listening == (f"sm-standin: listening servlet=1 http={cfg_http} https=off "
                                     "clientAuth=0 protocols=off")
        assert f"sm-standin: start file {standin.run}/sm.cfg" in standin.stdout.splitlines()
        assert http_servlet(cfg_http) == "1"
    else:
        assert standin.listening == (f"sm-standin: listening http={standin.http_port} https=off "
                                     "clientAuth=0 protocols=off")
        assert "start file" not in standin.stdout
        assert wait_for_log(standin, f"smstart {standin.run}/smstart starts no servlet")


@pytest.mark.parametrize("smstart, expected", [
    (["sm -httpPort:{a} -loadBalancer &", "nohup ./sm -httpPort:{b} -httpsPort:abc >/dev/null 2>&1 &"],
     r"FATAL smstart \S*/RUN/smstart line 2: -httpsPort:abc is not a port"),
    (["sm -httpPort:{a} &", "exec ./sm -httpsPort:{a}&"],
     r"FATAL smstart \S*/RUN/smstart: port {a} is used twice \(line 1 httpPort, line 2 httpsPort\)"),
], ids=["malformed", "duplicate"])
def test_bad_smstart_is_fatal(material, launch, smstart, expected):
    """The port rules of sm.cfg, naming smstart (an sm.cfg beside it does not matter)."""
    standin = launch()
    standin.ports = False
    write_ini(standin.run, ["ssl:0"])
    ports = {name: free_port() for name in "ab"}
    write_smstart(standin.run, "".join(line.format(**ports) + "\n" for line in smstart))
    write_cfg(standin.run, [f"sm -httpPort:{free_port()}"])
    assert_fatal(standin.run_to_exit(), expected.format(**ports))


def test_port_in_use_names_smstart(material, launch):
    standin = launch()
    standin.ports = False
    write_ini(standin.run, ["ssl:0"])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        write_smstart(standin.run, f"sm -httpPort:{free_port()} &\nsm -sync &\n./sm -httpPort:{port} &\n")
        status, out, err = standin.run_to_exit()
    assert status == 2, err
    assert re.search(rf"^sm-standin: FATAL cannot listen on httpPort {port} \(127\.0\.0\.1\) "
                     rf"for servlet 2 \(smstart line 3\): ", err, re.MULTILINE), err


def test_sm_cfg_without_servlets_falls_back_to_sm_ini(material, launch):
    standin = launch()
    standin.ports = False
    write_ini(standin.run, ["ssl:0", f"httpPort:{standin.http_port}"])
    write_cfg(standin.run, ["sm -que:ir", "sm -sync", "# sm -httpPort:13080"])
    standin.start()
    assert standin.listening == (f"sm-standin: listening http={standin.http_port} https=off "
                                 "clientAuth=0 protocols=off")
    assert wait_for_log(standin, "starts no servlet")
    assert http_servlet(standin.http_port) == "1"


# --------------------------------------------------------------------------- load balancer

def balancer_get(port):
    """GET on the load balancer: (status, Location header, body lines as a dict)."""
    reply = http_get(port)
    assert reply.status in (302, 503), (reply.status, reply.error, reply.body)
    first, _, rest = reply.body.partition("\n")
    assert first == "sm-standin loadbalancer", reply.body
    return reply.status, reply.headers.get("location"), dict(
        line.split("=", 1) for line in rest.splitlines())


def test_load_balancer_redirects_in_turn_over_https(material, launch):
    """-loadBalancer: HTTP only (its httpsPort unused, no warning), each GET a 302 to the next
    servlet's HTTPS listener on -redirectHost; background processes and itself are not targets."""
    standin = launch()
    standin.ports = False
    write_ini(standin.run, ssl_ini(material, standin.run, 0))
    lb, lb_https = free_port(), free_port()
    ports = [(free_port(), free_port()) for _ in range(2)]
    write_cfg(standin.run, [f"sm -httpPort:{lb} -httpsPort:{lb_https} -loadBalancer", "sm -que:ir",
                            *(f"sm -httpPort:{http} -httpsPort:{https}" for http, https in ports)])
    standin.start("-redirectHost:sm1.demo.invalid")
    lines = listening(standin, 3)
    assert LISTENING.fullmatch(lines[0]).groups()[:3] == ("1", str(lb), "off"), lines
    assert lines[0].endswith(" protocols=off loadBalancer=1")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", lb_https), timeout=2).close()

    expected = [f"https://sm1.demo.invalid:{https}/" for _, https in ports]
    for turn in range(4):
        status, location, body = balancer_get(lb)
        assert status == 302 and location == expected[turn % 2], (turn, location)
        assert body == {"servlet": "1", "redirect": location}
        reply = https_get(material, int(location.rsplit(":", 1)[1].rstrip("/")))
        assert reply.ok and reply.body["servlet"] == str(2 + turn % 2), reply.error
    assert wait_for_log(standin, f"-> 302 servlet=3 {expected[1]}", stream="stdout")
    assert "httpsPort is not given" not in standin.stderr


def test_load_balancer_redirects_over_http_without_ssl(launch):
    """SSL off: http and the servlets' httpPort; the host defaults to this machine's name."""
    standin = launch()
    standin.ports = False
    write_ini(standin.run, ["ssl:0"])
    lb, servlet_http = free_port(), free_port()
    write_smstart(standin.run, f"nohup ./sm -httpPort:{lb} -loadBalancer &\n"
                               f"nohup ./sm -httpPort:{servlet_http} -httpsPort:{free_port()} &\n")
    standin.start()
    locations = {balancer_get(lb)[1] for _ in range(3)}
    assert len(locations) == 1, locations
    [location] = locations
    assert re.fullmatch(rf"http://[^/:\s]+:{servlet_http}/", location), location
    assert http_servlet(servlet_http) == "2"


@pytest.mark.parametrize("ssl_on", [False, True], ids=["no-servlet", "no-https-servlet"])
def test_load_balancer_without_servlets_answers_503(material, launch, ssl_on):
    standin = launch()
    standin.ports = False
    write_ini(standin.run, ssl_ini(material, standin.run, 0) if ssl_on else ["ssl:0"])
    lb = free_port()
    write_cfg(standin.run, [f"sm -httpPort:{lb} -loadBalancer", "sm -que:ir"]
              + ([f"sm -httpPort:{free_port()}"] if ssl_on else []))   # a servlet without HTTPS
    standin.start()
    status, location, body = balancer_get(lb)
    assert status == 503 and location is None and body["servlet"] == "1", body


def test_standin_ctl_passes_the_redirect_host(classes, tmp_path):
    """standin-ctl's optional 4th argument is -redirectHost; with 3 it still works."""
    ctl = ["bash", str(HERE / "standin-ctl")]
    run = tmp_path / "RUN"
    run.mkdir()
    write_ini(run, ["ssl:0"])
    lb, http = free_port(), free_port()
    write_cfg(run, [f"sm -httpPort:{lb} -loadBalancer", f"sm -httpPort:{http}"])
    try:
        for host in ("sm2.demo.invalid", None):
            extra = [host] if host else []
            subprocess.run([*ctl, "start", str(run), str(classes), *extra], check=True, timeout=60,
                           capture_output=True)
            location = balancer_get(lb)[1]
            assert location.endswith(f":{http}/") and (host is None or location == f"http://{host}:{http}/")
            subprocess.run([*ctl, "stop", str(run), "-"], check=True, timeout=60)
    finally:
        subprocess.run([*ctl, "stop", str(run), "-"], check=False, timeout=60)


# --------------------------------------------------------------------------- FIPS mode

def release_file(run, *lines):
    (run / "jre").mkdir(exist_ok=True)
    (run / "jre" / "release").write_text("".join(line + "\n" for line in lines))


def fips_ini(material, run, *extra):
    """Level 2 with PKCS#12 stores only, declared so, and fipsmode:1 (names are case-insensitive)."""
    material.install(run, "truststore.p12", "server.jks", "trustedclients.jks")   # .jks: to swap in
    return [line.replace("truststore.jks", "truststore.p12")
            for line in ssl_ini(material, run, 2, keystore="server.p12")] + [
        "keystoreType:PKCS12", "truststoreType:pkcs12", "FIPSMode:1", *extra]


@pytest.mark.parametrize("release", [None, 'BUILD_TYPE="commercial"', 'IMPLEMENTOR="IBM Corporation"'],
                         ids=["no-release", "oracle", "ibm"])
def test_fips_mode_with_pkcs12_stores_serves(material, launch, release):
    standin = launch()
    if release:
        release_file(standin.run, release, 'JAVA_VERSION="1.8.0_402"')
    write_ini(standin.run, fips_ini(material, standin.run))
    standin.start()
    allowed = https_get(material, standin.https_port, client="allowed")
    assert allowed.ok, allowed.error
    assert allowed.body["client"] == material.clients["allowed"].subject
    assert not https_get(material, standin.https_port, client="unlisted").ok


@pytest.mark.parametrize("change, expected", [
    (("keystoreFile:server.p12", "keystoreFile:server.jks"),
     r"keystoreFile \S*/server\.jks is JKS \(keystoreType is pkcs12\)"),
    (("keystoreType:PKCS12", "# keystoreType left to its default"),
     r"keystoreFile \S*/server\.p12 is PKCS12 but keystoreType defaults to jks"),
    (("truststoreFile:truststore.p12", "truststoreFile:truststore.jks"),
     r"truststoreFile \S*/truststore\.jks is JKS \(truststoreType is pkcs12\)"),
    (("ssl_trustedClientsJKS:trustedclients.p12", "ssl_trustedClientsJKS:trustedclients.jks"),
     r"ssl_trustedClientsJKS \S*/trustedclients\.jks is JKS"),
], ids=["jks-keystore", "keystore-type-jks", "jks-truststore", "jks-trusted-clients"])
def test_fips_mode_refuses_jks_stores(material, launch, change, expected):
    standin = launch()
    old, new = change
    lines = fips_ini(material, standin.run)
    assert old in lines
    write_ini(standin.run, [new if line == old else line for line in lines])
    assert_fatal(standin.run_to_exit(), r"FATAL fipsmode:1 needs PKCS#12 stores: " + expected)


def test_fips_mode_refuses_openjdk(material, launch):
    """The vendor: SM does not support FIPS mode with OpenJDK; without fipsmode it starts."""
    standin = launch()
    release_file(standin.run, 'IMPLEMENTOR="Eclipse Adoptium"', 'JAVA_VERSION="17.0.13"')
    write_ini(standin.run, [line for line in fips_ini(material, standin.run) if line != "FIPSMode:1"])
    status, _out, err = standin.run_to_exit("-fipsmode:1")   # the command line counts too
    assert status == 2, err
    assert re.search(r'^sm-standin: FATAL fipsmode:1: FIPS mode is not supported on OpenJDK .*'
                     r'IMPLEMENTOR="Eclipse Adoptium"', err, re.MULTILINE), err
    standin.start()
    assert https_get(material, standin.https_port, client="allowed").ok


# --------------------------------------------------------------------------- sm.ini encryption

def _decrypt(master_hex, value_hex):
    blob = bytes.fromhex(value_hex)
    key = hashlib.sha256(master_hex.encode()).digest()
    return AESGCM(key).decrypt(blob[:12], blob[12:], None).decode()


def test_password_encryption_like_sm_950(material, launch):
    standin = launch()
    run = standin.run
    ssl_block = ssl_ini(material, run, 2)
    # Mixed line endings, comments, non-secret lines, a last line without a line ending.
    original = ("# SM server configuration (stand-in test)\n"
                "\n"
                "sqllimit:100\r\n"
                "sqllogin:smuser/sm:pw\n"
                + "".join(line + "\n" for line in ssl_block)
                + "  # indented comment keystorePass:notaparameter\n"
                "log:../logs/sm.log").encode()
    (run / "sm.ini").write_bytes(original)
    os.chmod(run / "sm.ini", 0o640)
    standin.start()

    data = (run / "sm.ini").read_bytes()
    new_lines = data.splitlines(keepends=True)
    old_lines = original.splitlines(keepends=True)
    master = re.fullmatch(rb"smmasterkey:([0-9a-f]{64})\n", new_lines[0])
    assert master, new_lines[0]
    master = master.group(1).decode()
    assert len(new_lines) == len(old_lines) + 1
    secrets = {"keystorePass": KS_PASS, "truststorePass": TS_PASS,
               "ssl_trustedClientsPwd": TC_PASS, "sqllogin": "smuser/sm:pw"}
    seen = set()
    for old, new in zip(old_lines, new_lines[1:]):
        name = old.split(b":", 1)[0].decode()
        if name in secrets:
            match = re.fullmatch(rb"\*%s:([0-9a-f]+)(\r?\n)" % name.encode(), new)
            assert match, new
            assert match.group(2) == old[len(old.rstrip(b"\r\n")):]   # same line ending
            assert _decrypt(master, match.group(1).decode()) == secrets[name]
            seen.add(name)
        else:
            assert new == old   # byte for byte, same order
    assert seen == set(secrets)
    assert (run / "sm.ini").stat().st_mode & 0o777 == 0o640
    assert not list(run.glob(".sm.ini.*"))   # no temp file left behind
    assert standin.stop() == 0

    # Restart with the encrypted file: decrypts, works, and leaves the file alone.
    inode = (run / "sm.ini").stat().st_ino
    standin.start()
    assert https_get(material, standin.https_port, client="allowed").ok
    assert (run / "sm.ini").read_bytes() == data
    assert (run / "sm.ini").stat().st_ino == inode
    assert standin.stop() == 0

    # Password change the documented way: replace the *name: line by a plain line.
    changed = [b"truststorePass:%s\n" % TS_PASS.encode() if line.startswith(b"*truststorePass:")
               else line for line in new_lines]
    (run / "sm.ini").write_bytes(b"".join(changed))
    standin.start()
    assert https_get(material, standin.https_port, client="allowed").ok
    final = (run / "sm.ini").read_bytes().splitlines(keepends=True)
    assert len(final) == len(changed)
    for before, after in zip(changed, final):
        if before.startswith(b"truststorePass:"):
            assert after.startswith(b"*truststorePass:")
            assert _decrypt(master, after[len(b"*truststorePass:"):].strip().decode()) == TS_PASS
        else:
            assert after == before
    assert (run / "sm.ini").stat().st_mode & 0o777 == 0o640


def test_changed_master_key_refuses_to_start(material, launch):
    standin = launch()
    write_ini(standin.run, ["ssl:0", "sqllogin:smuser/pw"])
    standin.start()
    standin.stop()
    lines = (standin.run / "sm.ini").read_text().splitlines()
    assert lines[0].startswith("smmasterkey:") and lines[2].startswith("*sqllogin:")
    lines[0] = "smmasterkey:" + "0" * 64
    write_ini(standin.run, lines)
    before = (standin.run / "sm.ini").read_bytes()

    status, _, err = standin.run_to_exit()
    assert status == 3, err
    assert "FATAL" in err and "*sqllogin" in err and "smmasterkey" in err
    assert (standin.run / "sm.ini").read_bytes() == before


@pytest.mark.parametrize("install, release, encrypts", [
    ("opt/MicroFocus/ServiceManager9.41/Server/RUN", "9.41", False),
    ("Program Files/Micro Focus/Service Manager 9.41/Server/RUN", "9.41", False),
    ("opt/MicroFocus/servicemanager9.61/Server/RUN", "9.61", True),
    ("opt/ServiceManager9.41/ServiceManager9.50/Server/RUN", "9.50", True),   # the nearest one
    ("RUN", "unknown", True),
], ids=["9.41", "9.41-windows-style", "9.61", "nearest", "unknown"])
def test_release_from_the_install_path_decides_encryption(material, launch, install, release, encrypts):
    """SM 9.50+ encrypts sm.ini passwords at start, 9.4x does not: the release is the one the
    install path carries; an unknown one behaves as 9.50+."""
    standin = launch(run_name=install)
    write_ini(standin.run, ssl_ini(material, standin.run, 2, "sqllogin:smuser/pw"))
    before = (standin.run / "sm.ini").read_bytes()
    standin.start()
    out = standin.stdout.splitlines()
    assert f"sm-standin: release {release}" in out
    assert out.index(f"sm-standin: release {release}") < out.index(standin.listening)
    assert https_get(material, standin.https_port, client="allowed").ok   # plain values are read
    after = (standin.run / "sm.ini").read_bytes()
    if encrypts:
        assert after.startswith(b"smmasterkey:") and b"*keystorePass:" in after and b"*sqllogin:" in after
    else:
        assert after == before and b"smmasterkey" not in after
        assert "sm.ini rewritten" not in standin.stdout


# --------------------------------------------------------------------------- fatal start-up errors

def test_wrong_keystore_password_is_fatal(material, launch):
    standin = launch()
    lines = [line if not line.startswith("keystorePass:") else "keystorePass:wrong"
             for line in ssl_ini(material, standin.run, 0)]
    write_ini(standin.run, lines)
    assert_fatal(standin.run_to_exit(), r"FATAL .*keystoreFile \S*server\.jks.*keystorePass is wrong")


@pytest.mark.parametrize("change,expected", [
    (("keystoreFile:server.jks", "keystoreFile:missing.jks"),
     r"keystoreFile \S*missing\.jks.*does not exist"),
    (("ssl:1", "ssl:1\nkeystoreType:pkcs12"),
     r"keystoreType is pkcs12 but the file is JKS"),
    (("ssl_trustedClientsJKS:trustedclients.p12", "# no trusted list"),
     r"ssl_reqClientAuth:2 needs ssl_trustedClientsJKS"),
    (("truststorePass:changeit", "truststorePass:nope"),
     r"truststoreFile \S*truststore\.jks: truststorePass is wrong"),
    (("sslConnector:1", "sslConnector:1\nsslEnabledProtocols:TLSv9"),
     r"sslEnabledProtocols: 'TLSv9'"),
], ids=["missing-keystore", "wrong-type", "level2-no-list", "wrong-truststorePass", "bad-protocol"])
def test_fatal_start_up_errors(material, launch, change, expected):
    standin = launch()
    old, new = change
    lines = ssl_ini(material, standin.run, 2)
    assert old in lines
    write_ini(standin.run, [new if line == old else line for line in lines])
    assert_fatal(standin.run_to_exit(), r"FATAL .*" + expected)


def test_runs_as_a_source_file(material, launch):
    """`java SmStandIn.java <RUN> ...` (the single-file source launcher) works too."""
    standin = launch(["ssl:0"], source_mode=True)
    standin.start()
    assert http_get(standin.http_port).status == 200
    assert standin.stop() == 0
