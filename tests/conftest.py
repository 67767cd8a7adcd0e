"""Shared fixtures: our module_utils on the import path, a CA, the real keytool/JSSE."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The modules import `ansible.module_utils.smtls_*`, as Ansible ships them to hosts.
import ansible.module_utils  # noqa: E402

if str(ROOT / "plugins" / "module_utils") not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(str(ROOT / "plugins" / "module_utils"))
sys.path.insert(0, str(ROOT / "plugins" / "modules"))

from ansible.module_utils import smtls_x509 as pki  # noqa: E402


class Authority:
    """A CA for tests, with a helper that issues leaf certificates and keys."""

    def __init__(self, name, key_size=2048):
        self.key, self.cert = pki.create_ca(name, key_size=key_size)

    def issue(self, common, dns=None, ips=None, days=397, usage="server", key=None, at=None):
        key = key or pki.generate_key("rsa", 2048)
        cert = pki.sign(self.key, self.cert, key.public_key(), common,
                        dns if dns is not None else [common], ips, days, usage, at=at)
        return key, cert

    @property
    def pem(self):
        return pki.cert_pem(self.cert)


@pytest.fixture(scope="session")
def ca():
    return Authority("smtls test CA")


@pytest.fixture(scope="session")
def sample_ca():
    return Authority("Sample CA (fictitious)")


@pytest.fixture(scope="session")
def java_tools(tmp_path_factory):
    if not shutil.which("keytool") or not shutil.which("javac"):
        pytest.fail("keytool and javac (Java 17) are required for the interop tests")
    out = tmp_path_factory.mktemp("java")
    subprocess.run(["javac", "-d", str(out), str(ROOT / "tests" / "java" / "KeystoreCheck.java")],
                   check=True)
    return JavaTools(out)


class JavaTools:
    def __init__(self, classes):
        self.classes = classes

    def keytool(self, *args, password="changeit", check=True, **env):
        environment = dict(os.environ, KT_PASS=password, **env)
        return subprocess.run(["keytool", *args], env=environment, capture_output=True,
                              text=True, check=check)

    def jsse(self, *args, password="changeit", trust_password="changeit", check=True):
        environment = dict(os.environ, KS_PASSWORD=password, TRUST_PASSWORD=trust_password)
        proc = subprocess.run(["java", "-cp", str(self.classes), "KeystoreCheck", *args],
                              env=environment, capture_output=True, text=True)
        if check and proc.returncode:
            raise AssertionError("JSSE check failed:\n%s" % proc.stderr)
        return proc

    def jsse_entries(self, path, store_type, password="changeit"):
        lines = self.jsse("list", str(path), store_type, password=password).stdout.split()
        return {line.split("|")[0].lower(): line.split("|")[1:] for line in lines}


def module_result(module, args, check_mode=False, diff=False):
    """Run one of our modules in-process; returns its JSON result dict."""
    from ansible.module_utils.testing import patch_module_args
    import io
    import contextlib
    full = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    buffer = io.StringIO()
    with patch_module_args(full), contextlib.redirect_stdout(buffer):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(buffer.getvalue())
