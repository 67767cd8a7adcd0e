"""A rollout must never leave a host unable to serve: proven on the demo fleet.

The demo fleet's SM servers are the SM stand-in (a test double) running as processes on
127.0.0.1; its web tiers are directories with their own keystore and cacerts. These tests
refuse bad input before any write, inject a fault that only shows after a restart (and
expect a rollback), kill rollouts at random points (and expect a rerun to converge), renew,
and run a probe loop from a web tier's own material through a mode change and a CA
rotation, allowing failures only on the server being restarted.
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from demofleet import playbook_path, recap, task_results, tree_digest

from ansible.module_utils import smtls_inputs as inputs
from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_probe as tls
from ansible.module_utils import smtls_x509 as pki

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "filter"))
from smtls_inputs import smtls_input_check, smtls_input_names  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
# not 24080/24443: the shared fleet's (demofleet.py, 23080/23443) second servlets listen there
HTTP_BASE, HTTPS_BASE = 25080, 25443
SERVERS = ["sm1.demo.invalid", "sm2.demo.invalid"]
WEBTIERS = ["web1.demo.invalid", "web2.demo.invalid"]
CLIENT_AUTH = {"encryption": 0, "client_auth": 1, "trusted_clients": 2}  # ssl_reqClientAuth
# the web tier's cacerts keeps the password it came with (no web tier parameter carries one)
WEB_KS_PW, WEB_TRUST_PW, SERVER_KS_PW = "demo-Web-ks1", "changeit", "demo-Server-ks1"


def inventory(fleet):
    """The demo inventory without its Windows clients: these tests are about servers and web
    tiers, and every run is a third shorter without the bundles (tested on their own)."""
    path = Path("%s-inventory" % fleet)
    if not path.exists():
        (path / "group_vars").mkdir(parents=True)
        (path / "group_vars" / "all").symlink_to(ROOT / "inventories/demo/group_vars/all")
        hosts = yaml.safe_load((ROOT / "inventories/demo/hosts.yml").read_text())
        hosts["all"]["children"].pop("sm_windows_clients", None)
        (path / "hosts.yml").write_text(yaml.safe_dump(hosts))
    return path


def command(fleet, playbook, *args, hosts=None):
    return [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(hosts or inventory(fleet)),
            str(playbook_path(playbook)), "-e", "smtls_demo_dir=%s" % fleet,
            "-e", "smtls_demo_http_base=%d" % HTTP_BASE, "-e", "smtls_demo_https_base=%d" % HTTPS_BASE,
            *args]


def env():
    return dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                ANSIBLE_FORCE_COLOR="0")


def run(fleet, playbook, *args, expect_rc=0, hosts=None):
    proc = subprocess.run(command(fleet, playbook, *args, hosts=hosts), env=env(), capture_output=True,
                          text=True, cwd=ROOT)
    if expect_rc is not None:
        assert (proc.returncode == 0) == (expect_rc == 0), proc.stdout[-5000:] + proc.stderr[-2000:]
    return proc


def changed(output):
    """Changes counted over the last PLAY RECAP, which must be there and name every host."""
    hosts = recap(output, SERVERS + WEBTIERS)
    return sum(counts["changed"] for counts in hosts.values())


def run_dir(fleet, host):
    return Path(fleet) / host / "ServiceManager9.61/Server/RUN"


def webapp(fleet, host="web1.demo.invalid"):
    return Path(fleet) / host / "ServiceManager9.61/tomcat/webapps/webtier-9.61/WEB-INF"


def stop_standins(fleet):
    for host in SERVERS:
        subprocess.run(["bash", str(ROOT / "tests/standin/standin-ctl"), "stop",
                        str(run_dir(fleet, host)), "-"], check=False)


def material(fleet, web="web1.demo.invalid"):
    """The web tier's own files, as they are now."""
    trust = ks.load((webapp(fleet, web) / "cacerts").read_bytes(), WEB_TRUST_PW)
    cas = [e.cert for e in trust.entries if e.kind == "trusted_cert"]
    keystore = webapp(fleet, web) / "webtier.keystore"
    if keystore.exists():
        entry = ks.load(keystore.read_bytes(), WEB_KS_PW).entries[0]
        return tls.ProbeMaterial(cas, entry.private_key(), entry.chain)
    return tls.ProbeMaterial(cas)


def served(fleet, host, index):
    return tls.probe("127.0.0.1", HTTPS_BASE + index, material(fleet), server_name=host, timeout=5)


def server_leaf_sha(fleet, host):
    store = ks.load((run_dir(fleet, host) / "server.keystore").read_bytes(), SERVER_KS_PW)
    return pki.sha256_hex(store.entries[0].leaf)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    root = tmp_path_factory.mktemp("safety")
    try:
        run(root, "demo_fleet.yml")
        run(root, "site.yml", "-e", "smtls_ssl_mode=trusted_clients")
        yield root
    finally:
        stop_standins(root)


def _expired_ca(tmp_path):
    import datetime as dt
    key, cert = pki.create_ca("expired", valid_days=1, key_size=2048, at=pki.now() - dt.timedelta(days=5))
    (tmp_path / "ca.crt").write_text(pki.cert_pem(cert))
    (tmp_path / "ca.key").write_text(pki.key_pem(key, "demo-ca-passphrase"))
    return tmp_path


def _damage(path):
    data = path.read_bytes()
    path.write_bytes(data[:100] + b"\x00" * 16 + data[116:])
    return data


BAD_INPUT = [
    # label, extra vars (JSON), host named, text in the message
    ("unknown mode", {"smtls_ssl_mode": "bogus"}, "sm1.demo.invalid", "must be one of"),
    ("wrong server keystore password", {"sm_server_keystore_password": "nope-1",
                                        "sm_server_keystore_initial_password": "nope-2"},
     "sm1.demo.invalid", "server.keystore: wrong store password"),
    ("wrong server truststore password", {"sm_server_truststore_password": "nope-1",
                                          "sm_server_truststore_initial_password": "nope-2"},
     "sm1.demo.invalid", "cacerts: wrong store password"),
    ("wrong trusted-clients password", {"sm_server_trustedclients_password": "nope-1"},
     "sm1.demo.invalid", "trustedclients.keystore: wrong store password"),
    ("wrong web tier keystore password", {"sm_webtier_keystore_password": "nope-1"},
     "web1.demo.invalid", "webtier.keystore: wrong store password"),
    ("wrong web tier truststore password", {"sm_webtier_truststore_password": "nope-1"},
     "web1.demo.invalid", "cacerts: wrong store password"),
    ("wrong CA passphrase", {"smtls_ca_passphrase": "not-the-passphrase"}, "", "wrong passphrase"),
    ("expired CA", "expired-ca", "", "expired"),
    ("new CA passphrase too short", "short-passphrase", "", "at least 8 characters"),
    ("malformed PEM of an allowed client", {"sm_server_trusted_clients_extra": [
        {"alias": "x", "pem": "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----"}]},
     "sm1.demo.invalid", "malformed PEM"),
    ("SAN missing the host name", {"sm_server_dns_names": ["other.invalid", "smgroup.demo.invalid"]},
     "sm1.demo.invalid",
     "clients reach this server as sm1.demo.invalid"),
    ("not an IP address", {"sm_server_ip_addresses": ["10.0.0.999"]}, "sm1.demo.invalid",
     "sm_server_ip_addresses=['10.0.0.999'] holds '10.0.0.999', which is not an IP address. Fix:"),
    ("unreadable RUN dir", {"sm_server_run_dir": "/nonexistent/RUN"}, "sm1.demo.invalid",
     "point sm_server_run_dir at the RUN directory"),
    ("no web tier where named", {"sm_webtier_webapp_dir": "/nonexistent/webtier"}, "web1.demo.invalid",
     "Fix sm_webtier_webapp_dir"),
    ("unknown keystore type", {"sm_server_keystore_type": "jceks"}, "sm1.demo.invalid",
     "sm_server_keystore_type='jceks' must be one of auto, jks, pkcs12. Fix:"),
    ("trusted sign-on without unique client certificates",
     {"smtls_ssl_mode": "trusted_signon", "sm_webtier_common_name": "webtier"}, "web1.demo.invalid",
     "unique client certificate per web tier"),
    ("corrupt truststore", "corrupt", "sm1.demo.invalid", "cacerts: "),
    ("missing required password", {"sm_server_keystore_password": None}, "sm1.demo.invalid",
     "sm_server_keystore_password"),
    ("SSLv3 without the opt-in", {"smtls_ssl_protocols": ["SSLv3", "TLSv1.2"]}, "sm1.demo.invalid",
     "SSLv3 is older than TLS 1.2 and refused. Fix:"),
    ("protocol typo", {"smtls_ssl_protocols": ["TLSv1.2", "TLSv13"]}, "sm1.demo.invalid",
     "TLSv13 is not a protocol JSSE knows"),
    ("TLSv1.3 on a server whose JRE lacks it", {"smtls_ssl_protocols": ["TLSv1.2", "TLSv1.3"]},
     "sm2.demo.invalid", "openjdk Java 1.8.0_262; TLS 1.3 needs Java 11, or Java 8 from 8u261 on Oracle and "
     "8u272 on OpenJDK), so SM would not start"),
    ("cacsignon:1 left in sm.ini, mode encryption", "cacsignon", "sm2.demo.invalid",
     "sm.ini has cacsignon:1 (CAC sign-on), with which SM forces ssl:1"),
    ("cipher typo", {"smtls_ssl_ciphers": ["TLS_AES_128_GCM_SHA257"]}, "sm1.demo.invalid",
     "TLS_AES_128_GCM_SHA257 is not a cipher suite the JRE implements"),
    ("invalid DNS name", {"sm_server_dns_names": SERVERS + ["bad name!"]}, "sm1.demo.invalid",
     "holds 'bad name!', which is not a valid DNS name. Fix: letters, digits and hyphens"),
    ("trusted-client group typo", {"sm_server_trusted_client_groups": ["sm_webtier"]}, "sm1.demo.invalid",
     "names sm_webtier, which is no group of this inventory"),
    ("web tier names a server not in the inventory", {"sm_webtier_server_host": "sm9.demo.invalid"},
     "web1.demo.invalid", "neither a host of the sm_servers group nor a name"),
    ("batch size typo", {"smtls_server_batch": "25 percent"}, "",
     "smtls_server_batch='25 percent' is not a batch size. Fix:"),
    ("unsupported key type", {"smtls_key_type": "dsa"}, "", "smtls_key_type='dsa' must be one of rsa, ec"),
    ("RSA key too small", {"smtls_key_size": 1024}, "", "smtls_key_size=1024 is not an RSA key size"),
    ("failure threshold typo", {"smtls_webtier_batch": 1, "smtls_max_fail_percentage": "ten"}, "",
     "smtls_max_fail_percentage='ten' is out of range. Fix: a percentage"),
    ("--limit leaves an allowed client out", "limit-without-a-client", "sm1.demo.invalid",
     "web2.demo.invalid are left out of this run (--limit)"),
    ("internal CA without its key", "ca-without-key", "",
     "ca.crt is there but ca.key is missing, so this CA cannot sign. Fix:"),
    ("CA key of another CA", "ca-key-mismatch", "", "does not match the CA certificate"),
    # the input model (module_utils/smtls_inputs.py): ranges, rules across variables and hosts
    ("certificates valid for 0 days", {"smtls_valid_days": 0}, "",
     "smtls_valid_days=0 is out of range. Fix:"),
    ("a new CA valid for 0 days", "ca-valid-0", "", "smtls_ca_valid_days=0 is out of range. Fix:"),
    ("a new CA shorter than a certificate", "ca-too-short", "",
     "holds a CA with 100 day(s) left, less than the 427 the certificates need"),
    ("renewal window beyond the validity", {"smtls_renew_days": 400}, "",
     "smtls_renew_days=400 is not below smtls_valid_days=397"),
    ("negative renewal window", {"smtls_renew_days": -1}, "", "smtls_renew_days=-1 is out of range. Fix:"),
    ("HTTPS port out of range", {"sm_server_https_port": 70000}, "sm1.demo.invalid",
     "sm_server_https_port=70000 is out of range. Fix: a TCP port from 1 to 65535"),
    ("HTTPS port equal to the HTTP port", {"sm_server_http_port": 24443, "sm_server_https_port": 24443},
     "sm1.demo.invalid", "sm_server_https_port=24443 is the port sm_server_http_port has too"),
    ("no protocols", {"smtls_ssl_protocols": []}, "",
     "smtls_ssl_protocols=[] is neither auto nor a non-empty list"),
    ("negative probe wait", {"smtls_probe_wait": -5}, "", "smtls_probe_wait=-5 is out of range. Fix:"),
    ("a keystore password keytool refuses", {"sm_server_keystore_password": "abc"}, "sm1.demo.invalid",
     "sm_server_keystore_password=(secret) is shorter than 6 characters"),
    ("the mode set in one host's host_vars", "mode-in-host-vars", "",
     "the fleet: smtls_ssl_mode='(differs)' is fleet-wide but sm2.demo.invalid set it apart"),
    ("a host in two host roles", "two-host-roles", "web1.demo.invalid",
     "puts this host in more than one host role (sm_server, sm_webtier)"),
    ("an expired extra allowed client", "expired-client", "sm1.demo.invalid",
     "sm_server_trusted_clients_extra=(list of 1) is refused: sm_server_trusted_clients_extra old-client: "),
    # production installations (issue 23): the installation model and the fleet's shape
    ("a Windows-hosted SM server", "windows-server", "",
     "ansible_connection='winrm' makes this sm server a Windows host"),
    ("the horizontal pair restarted in one batch", {"smtls_server_batch": 2}, "",
     "smtls_server_batch=2 restarts every server behind smgroup.demo.invalid"),
    ("the group's alias not on a certificate", {"sm_server_dns_names": ["{{ inventory_hostname }}"]},
     "sm1.demo.invalid", "sm_server_cluster_alias='smgroup.demo.invalid' is not among sm_server_dns_names"),
    ("a start file named that SM does not start from", {"sm_server_start_file": "smstart"},
     "sm1.demo.invalid",
     "smstart (sm_server_start_file) starts no servlet (an sm line with -httpPort/-httpsPort): it does not "
     "exist"),
    # set up on the fleet itself, one at a time (see SOLO)
    ("no start file lists a servlet", "no-start-file", "sm1.demo.invalid",
     "starts a servlet (an sm line with -httpPort/-httpsPort), so SM would serve nothing to prove"),
    ("a load balancer redirecting to a name no certificate carries", "wrong-redirect", "",
     "sends clients to https://sm1-old.demo.invalid:25443/, a host no server certificate "
     "carries"),
    ("fipsmode:1 on OpenJDK, a JKS keystore asked for", "fips-on-openjdk", "sm1.demo.invalid",
     "and SM does not support FIPS mode with OpenJDK. Fix: run SM on the Oracle or IBM JRE"),
    ("immutable webtier.properties on one web tier", "immutable-properties", "web2.demo.invalid",
     "is immutable or append-only (chattr +i/+a), so it cannot be replaced. Fix: chattr -i"),
    ("malformed server.xml on one web tier", "malformed-server-xml", "web2.demo.invalid",
     "server.xml is not well-formed XML"),
    ("latin-1 sm.ini and a password latin-1 lacks", "latin1-sm-ini", "sm2.demo.invalid",
     "-encoded, and the new value of keystorePass has characters"),
]


def one_problem(text):
    """A problem as the product words it: Ansible's prefix, the host or 'the fleet', the closing
    sentence and the paths (a test fleet's are long and arbitrary) taken out."""
    text = re.sub(r"^.*?(Action failed|FAILED!.*?msg): '?", "", text.strip())
    text = re.sub(r"^(the fleet|[\w.-]+\.invalid): ", "", text)
    text = re.sub(r"/[^\s:,;']+", "<path>", text)
    return text.replace("Nothing has been written.", "").strip(" '")


def _chattr(flag, path):
    subprocess.run(["chattr", flag, str(path)], check=True)


def _solo_immutable_properties(fleet):
    path = Path(fleet) / "web2.demo.invalid/ServiceManager9.61/webtier-customize/config/webtier.properties"
    _chattr("+i", path)
    return lambda: _chattr("-i", path)


def _edited(path, change):
    """The file rewritten as change(its bytes) gives it (None: removed); undone by the returned call."""
    def damage(file):
        original = file.read_bytes()
        changed = change(original)
        if changed is None:
            file.unlink()
        else:
            file.write_bytes(changed)
        return original
    return _restore_after(damage, path)


def _solo_malformed_server_xml(fleet):
    return _edited(Path(fleet) / "web2.demo.invalid/ServiceManager9.61/tomcat/conf/server.xml",
                   lambda data: data.replace(b"</Server>", b"</Serve>"))


def _solo_cacsignon(fleet):
    return _edited(run_dir(fleet, "sm2.demo.invalid") / "sm.ini", lambda data: data + b"cacsignon:1\n")


def _solo_latin1_sm_ini(fleet):
    return _edited(run_dir(fleet, "sm2.demo.invalid") / "sm.ini",
                   lambda data: b"# Caf\xe9 - this sm.ini is latin-1\n" + data)


def _solo_no_start_file(fleet):
    return _edited(run_dir(fleet, "sm1.demo.invalid") / "sm.cfg", lambda data: None)


def _solo_fips_on_openjdk(fleet):
    return _edited(run_dir(fleet, "sm1.demo.invalid") / "sm.ini", lambda data: data + b"fipsmode:1\n")


def _solo_wrong_redirect(fleet):
    """sm1's load balancer (the stand-in, a test double) sends clients to a name of another time."""
    def restart(name):
        subprocess.run(["bash", str(ROOT / "tests/standin/standin-ctl"), "restart",
                        str(run_dir(fleet, "sm1.demo.invalid")),
                        str(Path(fleet) / "controller/standin-classes"), name],
                       check=True, capture_output=True)
    restart("sm1-old.demo.invalid")
    return lambda: restart("sm1.demo.invalid")


# Bad inputs that are a state of the fleet: each set up, tried alone, and undone
SOLO = {"no-start-file": _solo_no_start_file, "fips-on-openjdk": _solo_fips_on_openjdk,
        "wrong-redirect": _solo_wrong_redirect,
        "corrupt": lambda fleet: _restore_after(_damage, run_dir(fleet, "sm1.demo.invalid") / "cacerts"),
        "immutable-properties": _solo_immutable_properties,
        "malformed-server-xml": _solo_malformed_server_xml,
        "latin1-sm-ini": _solo_latin1_sm_ini,
        "cacsignon": _solo_cacsignon}
SOLO_EXTRA = {"latin1-sm-ini": {"sm_server_keystore_password": "demo-\u4e2d\u6587-ks1"},
              # a mode change that must rewrite webtier.properties (an unchanged file is left alone)
              "immutable-properties": {"smtls_ssl_mode": "encryption"},
              "cacsignon": {"smtls_ssl_mode": "encryption"},
              # both refusals in one line: the JRE, and the JKS store FIPS would not open
              "fips-on-openjdk": {"sm_server_keystore_type": "jks"}}


def _restore_after(damage, path):
    original = damage(path)
    return lambda: path.write_bytes(original)


def _inventory_variant(fleet, tmp_path, case):
    """The fleet's inventory with one fleet invariant broken: a mode in one host's host_vars, or a
    web tier listed among the servers too."""
    path = tmp_path / "inventory"
    shutil.copytree(inventory(fleet), path, symlinks=True)
    if case in ("mode-in-host-vars", "windows-server"):
        (path / "host_vars").mkdir()
        (path / "host_vars" / "sm2.demo.invalid.yml").write_text(
            "smtls_ssl_mode: encryption\n" if case == "mode-in-host-vars" else "ansible_connection: winrm\n")
    else:
        hosts = yaml.safe_load((path / "hosts.yml").read_text())
        hosts["all"]["children"]["sm_servers"]["hosts"]["web1.demo.invalid"] = None
        (path / "hosts.yml").write_text(yaml.safe_dump(hosts))
    return path


def _refused(fleet, tmp_path, extra):
    """The rollout run with one bad input (extra vars, or a named case set up here); each with a
    fleet lock of its own (tmp_path/run.lock), as they run at once."""
    lock = ("-e", "smtls_lock_file=%s" % (tmp_path / "run.lock"))
    if extra == "expired-ca":
        extra = {"smtls_ca_dir": str(_expired_ca(tmp_path))}
    elif extra == "ca-without-key":
        shutil.copy(Path(fleet) / "controller/ca/ca.crt", tmp_path / "ca.crt")
        extra = {"smtls_ca_dir": str(tmp_path)}
    elif extra == "ca-key-mismatch":
        shutil.copy(Path(fleet) / "controller/ca/ca.crt", tmp_path / "ca.crt")
        other_key, _other = pki.create_ca("other", key_size=2048)
        (tmp_path / "ca.key").write_text(pki.key_pem(other_key, "demo-ca-passphrase"))
        extra = {"smtls_ca_dir": str(tmp_path)}
    elif extra == "limit-without-a-client":
        return run(fleet, "site.yml", "--limit", ",".join(SERVERS + WEBTIERS[:1]), *lock, expect_rc=None)
    elif extra == "expired-client":
        import datetime as dt
        _key, cert = pki.create_ca("old client", valid_days=1, key_size=2048,
                                   at=pki.now() - dt.timedelta(days=5))
        extra = {"sm_server_trusted_clients_extra": [{"alias": "old-client", "pem": pki.cert_pem(cert)}]}
    elif extra == "ca-valid-0":
        extra = {"smtls_ca_dir": str(tmp_path / "new-ca"), "smtls_ca_valid_days": 0}
    elif extra == "ca-too-short":
        extra = {"smtls_ca_dir": str(tmp_path / "new-ca"), "smtls_ca_valid_days": 100}
    elif extra in ("mode-in-host-vars", "two-host-roles", "windows-server"):
        return run(fleet, "site.yml", *lock, expect_rc=None, hosts=_inventory_variant(fleet, tmp_path, extra))
    elif extra == "short-passphrase":
        extra = {"smtls_ca_dir": str(tmp_path / "new-ca"), "smtls_ca_passphrase": "short"}
    return run(fleet, "site.yml", "-e", json.dumps(extra), *lock, expect_rc=None)


@pytest.fixture(scope="module")
def refusals(fleet, tmp_path_factory):
    """Every bad input tried at once (the preflight writes nothing, so the runs cannot
    disturb each other) and compared with the fleet as it was before all of them - except
    the corrupt truststore, which changes the fleet under the others and runs alone."""
    solo = [c for c in BAD_INPUT if isinstance(c[1], str) and c[1] in SOLO]
    together = [c for c in BAD_INPUT if c not in solo]
    before = tree_digest(fleet)
    with ThreadPoolExecutor(max_workers=3) as pool:
        dirs = {c[0]: tmp_path_factory.mktemp("bad") for c in together}
        runs = {c[0]: pool.submit(_refused, fleet, dirs[c[0]], c[1]) for c in together}
        procs = {label: future.result() for label, future in runs.items()}
    unchanged = tree_digest(fleet) == before
    results = {label: (proc, unchanged, dirs[label] / "run.lock") for label, proc in procs.items()}
    for label, case, _host, _text in solo:
        undo = SOLO[case](fleet)
        try:
            before = tree_digest(fleet)
            scratch = tmp_path_factory.mktemp("bad")
            proc = _refused(fleet, scratch, SOLO_EXTRA.get(case, {}))
            results[label] = (proc, tree_digest(fleet) == before, scratch / "run.lock")
        finally:
            undo()
    return results


@pytest.mark.parametrize("label,extra,host,text", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_refused_before_any_write(refusals, fleet, label, extra, host, text):
    proc, unchanged, lock = refusals[label]
    assert proc.returncode != 0, proc.stdout[-3000:]
    # a failed run releases its fleet lock (the smtls_run_lock callback): the next run finds none
    assert "another smtls run holds" not in proc.stdout and not lock.exists(), label
    output = proc.stdout + proc.stderr
    assert text in output, output[-4000:]
    if host:
        assert "fatal: [%s" % host in output
    assert unchanged, "a file changed"
    assert "PLAY [PKI" not in output, "the rollout went past the preflight"
    # one message, not an argument-spec dump nor a traceback: the problem that carries the text
    # is one line of at most 300 characters (the host and the run's closing words aside)
    for word in ("Traceback", "filter plugin", "Validation of arguments failed"):
        assert word not in output, output[-3000:]
    key = max(text.split("; "), key=len)[:25]  # problems are joined with "; "
    lines = [line for line in output.splitlines() if key in line]
    assert lines, output[-3000:]
    problems = [one_problem(p) for line in lines for p in line.split("; ") if key in p]
    assert min(len(p) for p in problems) <= 300, problems[:2]
    # no restart record was left behind to restart a host later
    for host in SERVERS:
        assert not (run_dir(fleet, host) / ".smtls-restart-pending").exists(), host


# Inventories drawn within and just outside the input model's ranges and rules (issue 24): the
# model is the oracle - where it finds a problem the preflight refuses with one line and no file
# changes; where it finds none the run converges and a second run changes nothing. Few examples
# (each is one or two rollouts); the ones hypothesis once found failing are kept as @example.
PROPERTY_SPACE = {
    "smtls_renew_days": st.sampled_from([-1, 0, 30, 396, 397, 500]),
    "smtls_valid_days": st.sampled_from([0, 1, 397, 3651]),
    "smtls_probe_wait": st.sampled_from([-1, 0, 1, 60, 3601]),
    "smtls_backup_keep": st.sampled_from([-1, 0, 3, 101]),
    "smtls_ssl_protocols": st.sampled_from(["auto", [], ["TLSv1.2"], "TLSv1.2"]),
}


# no shrinking: each example is a rollout, and a failing one is reported as drawn
@settings(max_examples=4, deadline=None, database=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.generate])
@given(chosen=st.fixed_dictionaries({}, optional=PROPERTY_SPACE))
@example(chosen={"smtls_renew_days": 397})
@example(chosen={"smtls_renew_days": 397, "smtls_ssl_protocols": []})
@example(chosen={"smtls_valid_days": 1, "smtls_ssl_protocols": ["TLSv1.2"], "smtls_backup_keep": 0})
@example(chosen={"smtls_ssl_protocols": ["TLSv1.2"], "smtls_backup_keep": 0})
def test_the_preflight_refuses_exactly_what_the_input_model_refuses(fleet, chosen):
    names = smtls_input_names("sm_server", str(ROOT / "roles"))
    found = smtls_input_check([chosen.get(n, inputs.UNSET) for n in names], names, "sm_server",
                              str(ROOT / "roles"), ["sm_servers"])["problems"]
    found = [p for p in found if any(name in p for name in chosen)]  # the inventory sets the rest
    before = tree_digest(fleet)
    proc = run(fleet, "site.yml", "-e", json.dumps(chosen), expect_rc=None)
    if found:
        assert proc.returncode != 0, (chosen, proc.stdout[-3000:])
        assert tree_digest(fleet) == before, (chosen, "a file changed")
        # the preflight stops at its first refusing play: one of the model's problems, not every one
        problem = next(line for line in (proc.stdout + proc.stderr).splitlines()
                       if any(p[:30] in line for p in found))
        assert len(one_problem(problem.split("; ")[0])) <= 300, problem
    else:
        assert proc.returncode == 0, (chosen, proc.stdout[-4000:])
        assert changed(run(fleet, "site.yml", "-e", json.dumps(chosen)).stdout) == 0, chosen
        if chosen.get("smtls_ssl_protocols", "auto") != "auto":  # back to the fleet the next tests expect
            run(fleet, "site.yml")


def _fleet_lock(fleet):
    return Path(fleet) / "controller/smtls-run.lock"  # beside the CA directory (controller/ca)


def test_a_second_rollout_while_one_runs_is_refused_at_once(fleet):
    """Two site.yml at once on one fleet: the second is refused by the fleet lock before the
    preflight reads a host, naming the holder; the first goes on and changes nothing."""
    before = tree_digest(fleet)
    first = subprocess.Popen(command(fleet, "site.yml", "-e", "smtls_ssl_mode=trusted_clients"),
                             env=env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    try:
        deadline = time.time() + 120
        while not _fleet_lock(fleet).exists() and first.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        holder = json.loads(_fleet_lock(fleet).read_text())
        started = time.time()
        second = run(fleet, "site.yml", "-e", "smtls_ssl_mode=trusted_clients", expect_rc=1)
        elapsed = time.time() - started
        assert first.poll() is None, "the first run ended before the second was refused"
    finally:
        output = first.communicate(timeout=900)[0]
    assert first.returncode == 0, output[-4000:]
    assert changed(output) == 0
    # one message (the YAML result callback folds it over lines: unfolded here)
    refusal = re.findall(r"another smtls run holds.*?remove \S+", " ".join(second.stdout.split()))
    assert refusal, second.stdout[-3000:]
    assert len(refusal[0]) < 400
    for part in (holder["run_id"], "%s@%s" % (holder["user"], holder["controller"]),
                 "pid %d" % first.pid, "site.yml", "since " + holder["since"]):
        assert part in refusal[0], part
    assert "PLAY [Preflight" not in second.stdout, "the refused run went on to read the hosts"
    assert elapsed < 60, "refused after %.0f s, not at once" % elapsed
    assert tree_digest(fleet) == before, "a file changed"  # the host locks aside
    assert not _fleet_lock(fleet).exists(), "the first run did not release its lock"
    # every host was claimed by the first run (its installation read), none by the refused one
    claims = [run_dir(fleet, host) / ".smtls-run-lock" for host in SERVERS] + [
        Path(fleet) / host / "ServiceManager9.61/webtier-customize/.smtls-run-lock" for host in WEBTIERS]
    assert [json.loads(path.read_text())["run_id"] for path in claims] == [holder["run_id"]] * 4


def test_a_lock_left_by_a_killed_run_is_taken_over_with_a_warning(fleet):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = {"format": "smtls-lock/1", "run_id": "0123456789ab", "user": "someone",
             "controller": socket.gethostname(), "pid": dead.pid, "pid_started": None,
             "playbook": "site.yml", "since": "2030-01-01T00:00:00Z"}
    _fleet_lock(fleet).write_text(json.dumps(stale))
    proc = run(fleet, "site.yml", "-e", "smtls_ssl_mode=trusted_clients")
    warning = re.findall(r"\[WARNING\]: the fleet lock \S+ named run 0123456789ab .*?taken over",
                         " ".join((proc.stdout + proc.stderr).split()))
    assert warning, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert changed(proc.stdout) == 0
    assert not _fleet_lock(fleet).exists()


def test_a_fault_seen_only_after_the_restart_is_rolled_back(fleet):
    """A valid suite the server's key cannot serve (DSS, with an RSA key): the JRE starts with
    it, every handshake fails, the probe fails - a fault no preflight can see."""
    before = {h: tree_digest(run_dir(fleet, h)) for h in SERVERS}
    old_sha = server_leaf_sha(fleet, "sm1.demo.invalid")
    fault = {"smtls_ssl_protocols": ["TLSv1.2"], "smtls_ssl_ciphers": ["TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"]}
    proc = run(fleet, "site.yml", "-e", json.dumps(fault), expect_rc=1)
    output = proc.stdout
    assert "fatal: [sm1.demo.invalid]" in output and "Rolled back: restored" in output
    assert "failed its check after the restart" in output
    after = {h: tree_digest(run_dir(fleet, h)) for h in SERVERS}

    def moved(host, ignore_backups):
        keys = set(after[host]) | set(before[host])
        return sorted(k for k in keys if after[host].get(k) != before[host].get(k)
                      and not (ignore_backups and k.endswith("~")))

    assert moved("sm1.demo.invalid", True) == [], "sm1 is not back on its old files"
    assert moved("sm2.demo.invalid", False) == [], "the rollout went on after a failed batch"
    assert not (run_dir(fleet, "sm1.demo.invalid") / ".smtls-restart-pending").exists()
    result = served(fleet, "sm1.demo.invalid", 0)
    assert result["ok"] and result["peer"]["sha256"] == old_sha, result


def test_killed_rollouts_converge_on_rerun(fleet):
    rng = random.Random(int(time.time()))
    modes = ["encryption", "trusted_clients", "client_auth"]
    for trial, mode in enumerate(modes):
        delay = rng.uniform(3, 20)
        proc = subprocess.Popen(command(fleet, "site.yml", "-e", "smtls_ssl_mode=%s" % mode), env=env(),
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        time.sleep(delay)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        run(fleet, "site.yml", "-e", "smtls_ssl_mode=%s" % mode)
        again = run(fleet, "site.yml", "-e", "smtls_ssl_mode=%s" % mode)
        assert changed(again.stdout) == 0, "trial %d (%s, killed at %.1fs): no convergence" % (
            trial, mode, delay)
        for index, host in enumerate(SERVERS):
            result = served(fleet, host, index)
            assert result["ok"], (trial, host, result)
            assert result["peer"]["sha256"] == server_leaf_sha(fleet, host)
            assert "(test double" not in result["peer"]["issuer"]
            assert not (run_dir(fleet, host) / ".smtls-restart-pending").exists()
            # the server runs what its files say: restarted after the last change, even when
            # the killed run wrote sm.ini and died before recording it
            running = re.findall(r"clientAuth=(\d)", (run_dir(fleet, host) / "standin.log").read_text())
            assert int(running[-1]) == CLIENT_AUTH[mode], (trial, host, mode, delay)
    assert mode == "client_auth"  # the last trial: what the servers accept at level 1
    _a_client_from_an_unrelated_ca_is_refused(fleet)


def _a_client_from_an_unrelated_ca_is_refused(fleet):
    """At ssl_reqClientAuth:1 the servers trust exactly the fleet's client CAs (truststoreFile
    smcacerts.jks), not the CAs their cacerts trusts for outbound use: a client certificate
    from such a CA (the sample install's stand-in for a public CA) is refused, while the web
    tier's own certificate from our CA passes."""
    other_dir = Path(fleet) / "controller/sample-ca-other"
    other_cert = pki.parse_pem_certs((other_dir / "ca.crt").read_text(), "other CA")[0]
    other_key = pki.parse_pem_key((other_dir / "ca.key").read_text(), "sample-ca-not-secret", "other CA key")
    client_key = pki.generate_key("rsa", 2048)
    client = pki.sign(other_key, other_cert, client_key.public_key(), "outsider", ["outsider"], None,
                      30, "client")
    ours = material(fleet)
    for index, host in enumerate(SERVERS):
        cacerts = ks.load((run_dir(fleet, host) / "cacerts").read_bytes(), "demo-Trust-ks1")
        assert pki.sha256_hex(other_cert) in {pki.sha256_hex(e.cert) for e in cacerts.entries
                                              if e.kind == "trusted_cert"}, "outbound trust was changed"
        ini = (run_dir(fleet, host) / "sm.ini").read_text().splitlines()
        assert "truststoreFile:smcacerts.jks" in ini and "ssl_reqClientAuth:1" in ini
        outsider = tls.probe("127.0.0.1", HTTPS_BASE + index, tls.ProbeMaterial(ours.ca_certs, client_key,
                                                                                 [client, other_cert]),
                             server_name=host, timeout=5)
        assert not outsider["ok"] and outsider["reason"] == "certificate_refused", outsider
        assert served(fleet, host, index)["ok"]


def test_renewal_reissues_what_is_due_and_only_that(fleet):
    before = {h: server_leaf_sha(fleet, h) for h in SERVERS}
    # a window past what every certificate has left, and a validity beyond it (the input model
    # refuses a window as long as the validity: every run would renew)
    renewed = run(fleet, "site.yml", "-e", "smtls_ssl_mode=trusted_clients", "-e", "smtls_renew_days=500",
                  "-e", "smtls_valid_days=501")
    assert "expiring" in renewed.stdout
    after = {h: server_leaf_sha(fleet, h) for h in SERVERS}
    assert all(before[h] != after[h] for h in SERVERS)
    quiet = run(fleet, "site.yml", "-e", "smtls_ssl_mode=trusted_clients")
    assert changed(quiet.stdout) == 0


SETTINGS_TASK = "TASK [sm_webtier : Web tier | connection and sign-on settings for this mode]"


def changed_by(output, header):
    """The hosts a task reported changed."""
    return {re.match(r"changed: \[([^\]]+)\]", line).group(1) for line in task_results(output, header)
            if line.startswith("changed: [")}


def test_a_new_connector_keystore_password_reaches_the_keystore_before_server_xml(fleet):
    """A converged web tier given another password for Tomcat's connector keystore: the keystore
    (whose certificate stays) is written under it and server.xml names it - not server.xml alone,
    which would lock Tomcat out of its keystore at the restart; the plan of check mode says so
    first (the settings read plans the connector it chose). Then back to the inventory's."""
    for password in ("demo-Tomcat-ks2", "demo-Tomcat-ks1"):
        predicted = run(fleet, "site.yml", "--check", "-e", "smtls_ssl_mode=trusted_clients",
                        "-e", "sm_webtier_browser_keystore_password=%s" % password)
        assert changed_by(predicted.stdout, SETTINGS_TASK) == set(WEBTIERS), predicted.stdout[-3000:]
        moved = run(fleet, "site.yml", "-e", "smtls_ssl_mode=trusted_clients",
                    "-e", "sm_webtier_browser_keystore_password=%s" % password)
        assert changed_by(moved.stdout, SETTINGS_TASK) == set(WEBTIERS)
        assert changed(moved.stdout) > 0
        for host in WEBTIERS:
            conf = next(Path(fleet).glob(host + "/**/tomcat/conf"))
            assert 'certificateKeystorePassword="%s"' % password in (conf / "server.xml").read_text(), host
            [entry] = ks.load((conf / "localhost-rsa.jks").read_bytes(), password).entries
            assert entry.alias == "tomcat", host
        again = run(fleet, "site.yml", "-e", "smtls_ssl_mode=trusted_clients",
                    "-e", "sm_webtier_browser_keystore_password=%s" % password)
        assert changed(again.stdout) == 0


def test_a_protocols_change_alone_reaches_the_browser_connector(fleet):
    """Only smtls_ssl_protocols changes: each web tier's connector gets the protocols its JRE can
    enable - planned (check mode) and written on every web tier whose server.xml differs from
    them, nothing on the others; then back to auto, which gives TLS 1.3 only where the JRE has it."""
    for protocols in (["TLSv1.2"], "auto"):
        wanted = {host: ("TLSv1.2" if protocols != "auto" or not jre_has_tls13(fleet, host)
                         else "TLSv1.2,TLSv1.3") for host in WEBTIERS}
        due = {host for host in WEBTIERS if 'protocols="%s"' % wanted[host] not in server_xml(fleet, host)}
        extra = ("-e", json.dumps({"smtls_ssl_mode": "trusted_clients", "smtls_ssl_protocols": protocols}))
        predicted = run(fleet, "site.yml", "--check", *extra)
        assert changed_by(predicted.stdout, SETTINGS_TASK) == due, predicted.stdout[-3000:]
        moved = run(fleet, "site.yml", *extra)
        assert changed_by(moved.stdout, SETTINGS_TASK) == due
        for host in WEBTIERS:
            assert '<SSLHostConfig protocols="%s">' % wanted[host] in server_xml(fleet, host), host
        assert changed(run(fleet, "site.yml", *extra).stdout) == 0


def server_xml(fleet, host):
    return next(Path(fleet).glob(host + "/**/tomcat/conf/server.xml")).read_text()


def jre_has_tls13(fleet, host):
    """Whether the web tier's JRE has TLS 1.3, read as sm_webtier_info reads it (its release file)."""
    from ansible.module_utils import smtls_jre

    [release] = Path(fleet).glob(host + "/**/tomcat/jre/release")
    return smtls_jre.detect(str(release.parent), lambda argv: (1, "no java here"))["tls13"]


class ProbeLoop(threading.Thread):
    """Handshakes from web1's own files to every server, over and over."""

    def __init__(self, fleet):
        super().__init__(daemon=True)
        self.fleet = fleet
        self.records = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            for index, host in enumerate(SERVERS):
                try:
                    result = served(self.fleet, host, index)
                except Exception as exc:  # unreadable material mid-write counts as a failure
                    result = {"ok": False, "reason": "material", "message": str(exc)}
                self.records.append((time.time(), host, result["ok"], result.get("reason")))
            time.sleep(0.2)


def restart_windows(fleet, host, margin=(0.5, 1.0)):
    """(stop, started) times of each restart of the stand-in, from its control log, widened by
    margin (seconds before the stop, after the start)."""
    windows, start = [], None
    log = (run_dir(fleet, host) / "standin.log").read_text()
    for line in log.splitlines():
        m = re.match(r"standin-ctl: (stop|started) (\S+)", line)
        if not m:
            continue
        stamp = datetime.strptime(m.group(2), "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=timezone.utc).timestamp()
        if m.group(1) == "stop":
            start = stamp
        elif start is not None:
            windows.append((start - margin[0], stamp + margin[1]))
            start = None
    return windows


def assert_no_failure_outside_restarts(fleet, loop):
    windows = {h: restart_windows(fleet, h) for h in SERVERS}
    failures = [r for r in loop.records if not r[2]]
    outside = [r for r in failures if not any(a <= r[0] <= b for a, b in windows[r[1]])]
    # a server stopping mid-handshake closes the connection: also a restart, not a TLS failure;
    # killed after the client sent its certificate, it resets it, which reads as a refusal - but
    # only between its stop and its start (its old process is going, its new one not yet there)
    stopped = {h: restart_windows(fleet, h, margin=(0, 0)) for h in SERVERS}
    wrong = [r for r in failures if r[3] not in ("nothing_listening", "timeout", "connection_closed")
             and not (r[3] == "certificate_refused" and any(a <= r[0] <= b for a, b in stopped[r[1]]))]
    assert len(loop.records) > 50
    assert outside == [] and wrong == [], (outside[:5], wrong[:5])


# Every secret the demo inventory configures (the sample's well-known initial passwords aside).
SECRETS = ["demo-ca-passphrase", SERVER_KS_PW, "demo-Trust-ks1", WEB_KS_PW, "demo-Clients-1"]


def test_probe_loop_through_a_mode_change_and_a_ca_rotation(fleet):
    # down (trusted_clients -> encryption drops the web tier's keystore and its password from
    # webtier.properties) and up again, at -vvv --diff: no secret in any line of either
    down = run(fleet, "site.yml", "-vvv", "--diff", "-e", "smtls_ssl_mode=encryption")
    assert "keystorePassword" in down.stdout, "the walk down did not remove the web tier password"
    loop = ProbeLoop(fleet)
    loop.start()
    try:
        up = run(fleet, "site.yml", "-vvv", "--diff", "-e", "smtls_ssl_mode=trusted_clients")
        for walk in (down, up):
            output = walk.stdout + walk.stderr
            assert changed(walk.stdout) > 0
            leaked = [secret for secret in SECRETS if secret in output]
            assert not leaked, "secrets in -vvv --diff output: %s" % leaked
        run(fleet, "rotate_ca.yml", "-e", "smtls_ssl_mode=trusted_clients",
            "-e", "smtls_previous_ca_dir=%s/controller/ca" % fleet,
            "-e", "smtls_ca_dir=%s/controller/ca-next" % fleet)
    finally:
        loop.stopping.set()
        loop.join(10)
    assert_no_failure_outside_restarts(fleet, loop)
    new_ca = pki.parse_pem_certs((Path(fleet) / "controller/ca-next/ca.crt").read_text(), "ca")[0]
    for index, host in enumerate(SERVERS):
        result = served(fleet, host, index)
        assert result["ok"] and result["peer"]["sha256"] == server_leaf_sha(fleet, host)
    trusted = ks.load((webapp(fleet) / "cacerts").read_bytes(), WEB_TRUST_PW)
    assert pki.sha256_hex(new_ca) in {pki.sha256_hex(e.cert) for e in trusted.entries}
    settled = run(fleet, "site.yml", "-e", "smtls_ssl_mode=trusted_clients",
                  "-e", "smtls_ca_dir=%s/controller/ca-next" % fleet)
    assert changed(settled.stdout) == 0


def test_a_server_left_down_fails_every_run_and_the_report_until_it_is_back(fleet, tmp_path):
    """Liveness in every run: a server stopped by hand (as a failed restart, rolled back, can
    leave it) fails the rerun that changes nothing, naming host, port and fix, and is a critical
    finding of the report; once it runs again the rerun passes, at 1 module run per host (the
    installation read, which plans every step)."""
    from demofleet import host_files
    host, ctl = "sm2.demo.invalid", str(ROOT / "tests/standin/standin-ctl")
    classes = Path(fleet) / "controller/standin-classes"
    # the CA the fleet has now (a rotation earlier in this module moves it to ca-next)
    ca_next = Path(fleet) / "controller/ca-next"
    ca = ("-e", "smtls_ca_dir=%s" % ca_next) if ca_next.is_dir() else ()
    assert changed(run(fleet, "site.yml", *ca).stdout) == 0, "the fleet is not converged to begin with"
    subprocess.run(["bash", ctl, "stop", str(run_dir(fleet, host)), "-"], check=True)
    try:
        before = host_files(fleet)
        proc = run(fleet, "site.yml", *ca, expect_rc=None)
        assert proc.returncode != 0, proc.stdout[-3000:]
        assert changed(proc.stdout) == 0
        assert host_files(fleet) == before, "the run over a down server wrote a file"
        lines = [line for line in proc.stdout.splitlines() if "does not answer" in line]
        assert lines, proc.stdout[-3000:]
        for port in (HTTPS_BASE + 1, HTTPS_BASE + 1001):  # both servlets sm.cfg lists
            assert any("%s port %d" % (host, port) in line and "Fix: start the SM server" in line
                       and "nothing listens on that port" in line for line in lines), (port, lines)
        assert recap(proc.stdout)[host]["failed"] == 1
        # the report says the same, as a critical finding of that host
        report = run(fleet, "report.yml", *ca, "-e", "smtls_report_fail_on=critical", expect_rc=None)
        assert report.returncode != 0
        data = json.loads((Path(fleet) / "report/smtls-report.json").read_text())
        findings = {h["name"]: h["findings"] for h in data["hosts"]}
        down = [f for f in findings[host] if f["code"] == "not_serving"]
        assert len(down) == 2 and all(f["severity"] == "critical" and "Fix: start the SM server"
                                      in f["message"] for f in down), findings[host]
        assert not [f for f in findings["sm1.demo.invalid"]
                    if f["code"] in ("not_serving", "wrong_certificate")]
    finally:
        subprocess.run(["bash", ctl, "start", str(run_dir(fleet, host)), str(classes)], check=True)
    counts = tmp_path / "runs.json"
    proc = subprocess.run(command(fleet, "site.yml", *ca), capture_output=True, text=True, cwd=ROOT,
                          env=dict(env(), ANSIBLE_CALLBACKS_ENABLED="smtls_module_runs",
                                   SMTLS_MODULE_RUNS_FILE=str(counts)))
    assert proc.returncode == 0 and changed(proc.stdout) == 0, proc.stdout[-3000:]
    runs = json.loads(counts.read_text())
    assert {h: runs.get(h) for h in SERVERS + WEBTIERS} == dict(
        [(h, 1) for h in SERVERS + WEBTIERS]), runs
    report = run(fleet, "report.yml", *ca, "-e", "smtls_report_fail_on=critical")
    assert "0 critical" in report.stdout
