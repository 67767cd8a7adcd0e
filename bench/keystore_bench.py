#!/usr/bin/env python3
"""Keystore benchmark: the smtls engine against the keytool way (one JVM per operation).

The same work both ways, repeated: take a copy of a real 145-entry cacerts (JKS), import a
CA certificate, then list the keystore to confirm the entry. That is the truststore step of
a rollout, once per host. Prints ops/s for each and, on its last line, the ratio.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
import ansible.module_utils  # noqa: E402

ansible.module_utils.__path__.append(str(ROOT / "plugins" / "module_utils"))
from ansible.module_utils import smtls_keystore as ks  # noqa: E402
from ansible.module_utils import smtls_keystore_state as state  # noqa: E402
from ansible.module_utils import smtls_x509 as pki  # noqa: E402

PASSWORD = "changeit"


def source_cacerts(workdir):
    for candidate in ("/etc/ssl/certs/java/cacerts",):
        if os.path.exists(candidate):
            with open(candidate, "rb") as handle:
                data = handle.read()
            if ks.detect_type(data) == "jks":
                return data
    # no JDK cacerts: build one of the same size from generated CAs
    store = ks.Keystore("jks", [ks.CertEntry("ca%d" % i, pki.create_ca("CA %d" % i, key_size=2048)[1])
                                for i in range(145)])
    return ks.dump(store, PASSWORD)


def smtls_way(data, ca_cert, workdir, rounds):
    start = time.perf_counter()
    for i in range(rounds):
        path = Path(workdir) / ("ours-%d" % i)
        path.write_bytes(data)
        plan = state.plan(path.read_bytes(), {
            "path": str(path), "password": PASSWORD, "key": None, "absent": [],
            "trusted": [{"alias": "smtls-ca", "cert": ca_cert}]})
        path.write_bytes(ks.dump(plan.keystore, PASSWORD))
        listed = ks.load(path.read_bytes(), PASSWORD)
        assert listed.get("smtls-ca") is not None
    return rounds / (time.perf_counter() - start)


def keytool_way(data, ca_pem_path, workdir, rounds):
    env = dict(os.environ, KT_PASS=PASSWORD)
    start = time.perf_counter()
    for i in range(rounds):
        path = Path(workdir) / ("keytool-%d" % i)
        path.write_bytes(data)
        subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "smtls-ca", "-file",
                        str(ca_pem_path), "-keystore", str(path), "-storepass:env", "KT_PASS"],
                       env=env, check=True, capture_output=True)
        out = subprocess.run(["keytool", "-list", "-alias", "smtls-ca", "-keystore", str(path),
                              "-storepass:env", "KT_PASS"], env=env, check=True,
                             capture_output=True, text=True).stdout
        assert "trustedCertEntry" in out
    return rounds / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds-keytool", type=int, default=10)
    parser.add_argument("--rounds-smtls", type=int, default=50)
    args = parser.parse_args()
    if not shutil.which("keytool"):
        sys.exit("keytool (Java 17) is needed for the comparison")
    with tempfile.TemporaryDirectory() as workdir:
        data = source_cacerts(workdir)
        ca_key, ca_cert = pki.create_ca("bench CA", key_size=2048)
        ca_pem = Path(workdir) / "ca.pem"
        ca_pem.write_text(pki.cert_pem(ca_cert))
        ours = smtls_way(data, ca_cert, workdir, args.rounds_smtls)
        theirs = keytool_way(data, ca_pem, workdir, args.rounds_keytool)
    entries = len(ks.load(data, PASSWORD).entries)
    print("work: import a CA into a %d-entry JKS cacerts, then list it" % entries)
    print("%-28s %10s" % ("way", "ops/s"))
    print("%-28s %10.2f" % ("smtls engine (in-process)", ours))
    print("%-28s %10.2f" % ("keytool (JVM per operation)", theirs))
    print("keystore ratio smtls/keytool = %.1f" % (ours / theirs))


if __name__ == "__main__":
    main()
