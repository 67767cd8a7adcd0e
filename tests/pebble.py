"""Pebble, Let's Encrypt's RFC 8555 test server (Debian's `pebble` package), on 127.0.0.1 for the
ACME tests: a TEST DOUBLE of a corporate CA's ACME endpoint. Pebble validates challenges for real:
it resolves the names through pebble-challtestsrv's DNS (names point at the loopback address
each test host's responder binds) and fetches http-01 tokens from them. Its issuing root is
made at start and read from its management interface.

Run as a script (`make demo SMTLS_CA_SOURCE=acme`) it starts one that outlives it, or stops it:
python tests/pebble.py start <workdir> [--eab] [name=address ...] | stop <workdir>
"""

import base64
import datetime
import json
import re
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request


EAB_KID = "smtls-test-kid"
# base64url of 32 bytes; Pebble checks the binding's HMAC with it
EAB_HMAC = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"


def available():
    return bool(shutil.which("pebble") and shutil.which("pebble-challtestsrv"))


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tls_material(directory):
    """A CA for Pebble's own HTTPS listener (not its issuing root) and the listener's certificate."""
    import ipaddress

    # here, not at the top: `pebble.py stop` runs with any python3 (make demo-reset)
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtls test ACME server TLS CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = {name: os.path.join(directory, name) for name in ("tls-ca.pem", "tls-cert.pem", "tls-key.pem")}
    with open(paths["tls-ca.pem"], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths["tls-cert.pem"], "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths["tls-key.pem"], "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return paths


def openssl_verify(root_path, chain_pem, workdir):
    """openssl's own verdict on a chain (leaf first): the leaf verifies up to root_path through the
    certificates after it. Returns the CompletedProcess."""
    certs = re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?", chain_pem, re.S)
    leaf, rest = os.path.join(str(workdir), "leaf.pem"), os.path.join(str(workdir), "untrusted.pem")
    with open(leaf, "w") as f:
        f.write(certs[0])
    with open(rest, "w") as f:
        f.write("".join(certs[1:]))
    return subprocess.run(
        ["openssl", "verify", "-CAfile", root_path, "-untrusted", rest, leaf], capture_output=True, text=True
    )


class Pebble:
    """pebble + pebble-challtestsrv on 127.0.0.1, on free ports, under directory."""

    def __init__(self, directory, eab=False, dns_server=None):
        self.directory = directory
        self.eab = eab
        self.procs = []
        # a DNS server of its own (bind9, for dns-01) instead of pebble-challtestsrv
        self.dns_server = dns_server

    def start(self):
        os.makedirs(self.directory, exist_ok=True)
        tls = _tls_material(self.directory)
        self.server_ca = tls["tls-ca.pem"]
        self.acme_port, self.management_port = free_port(), free_port()
        self.dns_port, self.dns_management_port = (
            free_port(socket.SOCK_DGRAM),
            free_port(),
        )
        self.http_port = free_port()
        config = {
            "pebble": {
                "listenAddress": "127.0.0.1:%d" % self.acme_port,
                "managementListenAddress": "127.0.0.1:%d" % self.management_port,
                "certificate": tls["tls-cert.pem"],
                "privateKey": tls["tls-key.pem"],
                "httpPort": self.http_port,
                "tlsPort": free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": self.eab,
                "externalAccountMACKeys": {EAB_KID: EAB_HMAC} if self.eab else {},
            }
        }
        config_path = os.path.join(self.directory, "pebble-config.json")
        with open(config_path, "w") as f:
            json.dump(config, f)
        if self.dns_server is None:
            log = open(os.path.join(self.directory, "challtestsrv.log"), "ab")
            challtestsrv = [
                "pebble-challtestsrv",
                "-dns01",
                "127.0.0.1:%d" % self.dns_port,
                "-management",
                "127.0.0.1:%d" % self.dns_management_port,
                "-defaultIPv6",
                "",
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
            ]
            self.procs.append(subprocess.Popen(challtestsrv, stdout=log, stderr=log, start_new_session=True))
        dns_server = self.dns_server or "127.0.0.1:%d" % self.dns_port
        # real validation (no PEBBLE_VA_ALWAYS_VALID), without Pebble's random waits, and with
        # every authorization proven anew (no reuse: each order exercises the challenge)
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0", PEBBLE_AUTHZREUSE="0")
        log = open(os.path.join(self.directory, "pebble.log"), "ab")
        self.procs.append(
            subprocess.Popen(
                ["pebble", "-config", config_path, "-dnsserver", dns_server],
                stdout=log,
                stderr=log,
                env=env,
                start_new_session=True,
            )
        )
        self.directory_url = "https://127.0.0.1:%d/dir" % self.acme_port
        self._context = ssl.create_default_context(cafile=self.server_ca)
        deadline = time.time() + 30
        while True:
            try:
                self.root_pem = self._get("https://127.0.0.1:%d/roots/0" % self.management_port)
                self._get(self.directory_url)
                if self.dns_server is None:
                    self._post_dns("/clear-a", {"host": "x."})  # challtestsrv answers too
                break
            except OSError:
                if time.time() > deadline or any(p.poll() is not None for p in self.procs):
                    self.stop()
                    raise RuntimeError("pebble did not start: see %s" % self.directory)
                time.sleep(0.2)
        self.root_path = os.path.join(self.directory, "root.pem")
        with open(self.root_path, "w") as f:
            f.write(self.root_pem)
        return self

    @classmethod
    def attach(cls, directory):
        """The Pebble a `start` left running in directory."""
        with open(os.path.join(directory, "settings.json")) as f:
            settings = json.load(f)
        server = cls(directory, eab=bool(settings["eab_kid"]))
        server.directory_url, server.server_ca = settings["directory_url"], settings["server_ca"]
        server.root_path, server.http_port = settings["root"], settings["http_port"]
        server.dns_management_port = settings["dns_management_port"]
        with open(server.root_path) as f:
            server.root_pem = f.read()
        return server

    def _get(self, url):
        with urllib.request.urlopen(url, context=self._context, timeout=5) as response:
            return response.read().decode()

    def _post_dns(self, path, body):
        request = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (self.dns_management_port, path),
            data=json.dumps(body).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.read()

    def point(self, name, address):
        """Resolve name (for Pebble's validation) to address, where that host's responder listens."""
        self._post_dns("/add-a", {"host": name.rstrip(".") + ".", "addresses": [address]})

    def settings(self):
        return {
            "directory_url": self.directory_url,
            "server_ca": self.server_ca,
            "root": self.root_path,
            "http_port": self.http_port,
            "eab_kid": EAB_KID if self.eab else None,
            "eab_hmac": EAB_HMAC if self.eab else None,
            "dns_management_port": self.dns_management_port,
        }

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
        self.procs = []


class Named:
    """bind9's named on 127.0.0.1, authoritative for one zone that a TSIG key may update (RFC
    2136): the DNS server of the dns-01 tests, and the one Pebble asks for the TXT records."""

    KEY_NAME = "smtls-acme-test"

    def __init__(self, directory, zone="acme.test"):
        self.directory, self.zone = directory, zone
        self.secret = base64.b64encode(os.urandom(32)).decode()
        self.proc = None

    def start(self):
        os.makedirs(self.directory, exist_ok=True)
        self.port = free_port()
        zone_file = os.path.join(self.directory, "%s.zone" % self.zone)
        with open(zone_file, "w") as f:
            f.write(
                "$TTL 60\n@ IN SOA ns.%s. hostmaster.%s. 1 60 60 600 60\n@ IN NS ns.%s.\n"
                "ns IN A 127.0.0.1\n" % (self.zone, self.zone, self.zone)
            )
        config = os.path.join(self.directory, "named.conf")
        with open(config, "w") as f:
            f.write(
                'options { directory "%s"; listen-on port %d { 127.0.0.1; }; listen-on-v6 { none; };\n'
                '  pid-file "%s/named.pid"; recursion no; dnssec-validation no; };\n'
                'key "%s" { algorithm hmac-sha256; secret "%s"; };\n'
                "controls { };\n"
                'zone "%s" { type primary; file "%s"; allow-update { key "%s"; }; };\n'
                % (
                    self.directory,
                    self.port,
                    self.directory,
                    self.KEY_NAME,
                    self.secret,
                    self.zone,
                    zone_file,
                    self.KEY_NAME,
                )
            )
        log = open(os.path.join(self.directory, "named.log"), "ab")
        self.proc = subprocess.Popen(
            [shutil.which("named") or "/usr/sbin/named", "-g", "-c", config],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        deadline = time.time() + 20
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            if time.time() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("named did not start: see %s/named.log" % self.directory)
            time.sleep(0.2)

    def settings(self):
        return {
            "dns_server": "127.0.0.1",
            "dns_port": self.port,
            "dns_zone": self.zone,
            "dns_tsig_key_name": self.KEY_NAME,
            "dns_tsig_key_secret": self.secret,
            "dns_tsig_algorithm": "hmac-sha256",
        }

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def main(argv):
    """start DIR [--eab] [NAME=ADDRESS ...] | stop DIR: a Pebble that outlives this script (the
    demo's), its settings in DIR/settings.json; start reuses one still running there."""
    command, directory = argv[0], argv[1]
    if command == "start" and not available():
        sys.stderr.write("Pebble is not installed: apt-get install pebble (Debian 12), or .ci/host-deps.sh\n")
        return 2
    settings_path = os.path.join(directory, "settings.json")
    if command == "stop":
        stop_pids(directory)
        return 0
    server = None
    if os.path.exists(settings_path) and _pids(directory) and all(_alive(pid) for pid in _pids(directory)):
        server = Pebble.attach(directory)
    if server is None:
        stop_pids(directory)
        server = Pebble(directory, eab="--eab" in argv).start()
        with open(os.path.join(directory, "pids"), "w") as f:
            f.write(" ".join(str(proc.pid) for proc in server.procs))
        with open(settings_path, "w") as f:
            json.dump(server.settings(), f)
    for pair in argv[2:]:
        if "=" in pair:
            name, address = pair.split("=", 1)
            server.point(name, address)
    print(json.dumps(server.settings()))
    return 0


def _pids(directory):
    try:
        with open(os.path.join(directory, "pids")) as f:
            return [int(pid) for pid in f.read().split()]
    except (OSError, ValueError):
        return []


def _alive(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().startswith("pebble")
    except OSError:
        return False


def stop_pids(directory):
    for pid in _pids(directory):
        try:  # only Pebble's own processes (after a reboot the pids may be anyone's)
            with open("/proc/%d/comm" % pid) as f:
                if f.read().startswith("pebble"):
                    os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    if os.path.exists(os.path.join(directory, "pids")):
        os.unlink(os.path.join(directory, "pids"))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
