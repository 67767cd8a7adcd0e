"""Windows client bundles, built on the controller, proven on the demo fleet.

The demo fleet (SSL mode trusted_clients) has two Windows clients that are bundle targets
only (delivery none). On a fresh copy of it: every client gets a bundle whose keystore
`keytool` opens, holding one private-key entry under the client's FQDN issued by our CA;
the bundle truststore holds our CA and not the sample CA; each SM server's trusted-clients
keystore holds exactly the web tier certificate and the Windows client certificates; a
second run changes nothing; no password reaches the output. A small inventory of its own
shows the rest: check mode on a new bundle writes nothing, a client reached over WinRM is
never contacted when its bundle stays on the controller, a preference fragment that carries
the password is private and never shown, renewal reissues with its reason. The WinRM
delivery itself cannot run here (no Windows host): it is syntax-checked.
"""

import json
import re
import shutil
import stat
import sys
from pathlib import Path

import pytest
from demofleet import DEMO_HTTPS_BASE, recap, run_playbook, tree_digest
import yaml

from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_x509 as pki

ROOT = Path(__file__).resolve().parents[2]
SERVERS = ["sm1.demo.invalid", "sm2.demo.invalid"]
WEBTIERS = ["web1.demo.invalid", "web2.demo.invalid"]
WINDOWS = ["win1.demo.invalid", "win2.demo.invalid"]
WIN_PW, WEB_PW, CLIENTS_PW = "demo-Win-ks1", "demo-Web-ks1", "demo-Clients-1"
SECRETS = [WIN_PW, "demo-ca-passphrase"]


def playbook(fleet, name, *args, **kwargs):
    return run_playbook(fleet, name, *args, **kwargs)


def bundle(fleet, host):
    return Path(fleet) / "controller/windows-clients" / host


def keytool_list(java_tools, path, password):
    """keytool -list -v, the password through the environment: [{alias, type, owner, issuer, sha256}]."""
    out = java_tools.keytool("-list", "-v", "-keystore", str(path), "-storepass:env", "KT_PASS",
                             password=password).stdout
    entries = []
    for block in out.split("Alias name: ")[1:]:
        entries.append({
            "alias": block.splitlines()[0].strip(),
            "type": re.search(r"Entry type: (\S+)", block).group(1),
            "owner": re.search(r"Owner: (.*)", block).group(1).strip(),
            "issuer": re.search(r"Issuer: (.*)", block).group(1).strip(),
            # the first fingerprint of an entry is its own certificate's (the leaf)
            "sha256": re.search(r"SHA256: ([0-9A-F:]+)", block).group(1).replace(":", "").lower(),
        })
    assert re.search(r"Your keystore contains %d entr" % len(entries), out), out
    return entries


def leaf_sha(path, password):
    store = ks.load(Path(path).read_bytes(), password)
    return {pki.sha256_hex(e.leaf) for e in store.entries if e.kind == "private_key"}


def ca_sha(fleet, name):
    return pki.sha256_hex(pki.parse_pem_certs((Path(fleet) / "controller" / name / "ca.crt").read_text(),
                                              name)[0])


def test_every_windows_client_gets_a_private_bundle(rollout, fleet):
    assert set(recap(rollout["first"])) >= set(WINDOWS)
    for host in WINDOWS:
        directory = bundle(fleet, host)
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        names = sorted(p.name for p in directory.iterdir() if not p.name.endswith("~"))
        assert names == sorted(["%s.keystore" % host, "cacerts", "smtls-client.prefs"]), names
        for name in names:
            assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600, name


@pytest.mark.parametrize("host", WINDOWS)
def test_keystore_holds_one_key_entry_under_the_fqdn_from_our_ca(rollout, fleet, java_tools, host):
    entries = keytool_list(java_tools, bundle(fleet, host) / ("%s.keystore" % host), WIN_PW)
    assert len(entries) == 1, entries
    entry = entries[0]
    assert entry["alias"] == host and entry["type"] == "PrivateKeyEntry"
    assert entry["owner"] == "CN=%s" % host
    assert entry["issuer"] == "CN=smtls demo CA"
    # the chain ends in our CA (by fingerprint, not by name)
    store = ks.load((bundle(fleet, host) / ("%s.keystore" % host)).read_bytes(), WIN_PW)
    assert pki.sha256_hex(store.entries[0].chain[-1]) == ca_sha(fleet, "ca")
    assert "DNS:%s" % host in pki.sans_list(store.entries[0].leaf)


def test_every_client_certificate_is_its_own(rollout, fleet):
    shas = [leaf_sha(bundle(fleet, h) / ("%s.keystore" % h), WIN_PW) for h in WINDOWS]
    assert all(len(s) == 1 for s in shas) and len(set.union(*shas)) == len(WINDOWS)


@pytest.mark.parametrize("host", WINDOWS)
def test_truststore_holds_our_ca_and_not_the_sample_ca(rollout, fleet, java_tools, host):
    entries = keytool_list(java_tools, bundle(fleet, host) / "cacerts", "changeit")
    fingerprints = {e["sha256"] for e in entries}
    assert all(e["type"] == "trustedCertEntry" for e in entries)
    assert ca_sha(fleet, "ca") in fingerprints
    assert ca_sha(fleet, "sample-ca") not in fingerprints


def test_servers_allow_exactly_the_web_tier_and_the_windows_client_certificates(rollout, fleet):
    web = set().union(*(leaf_sha(next(Path(fleet).glob("%s/**/WEB-INF/webtier.keystore" % h)), WEB_PW)
                        for h in WEBTIERS))
    windows = set().union(*(leaf_sha(bundle(fleet, h) / ("%s.keystore" % h), WIN_PW) for h in WINDOWS))
    assert len(web) == 1  # one certificate shared by the web tiers (trusted_clients)
    for server in SERVERS:
        path = next(Path(fleet).glob("%s/**/RUN/trustedclients.keystore" % server))
        store = ks.load(path.read_bytes(), CLIENTS_PW)
        allowed = {pki.sha256_hex(e.cert) for e in store.entries}
        assert allowed == web | windows, server
        assert {e.alias for e in store.entries} >= set(WINDOWS)


def _prefs(path):
    values = {}
    for line in Path(path).read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key] = value
    return values


def test_preferences_carry_the_mode_and_no_password(rollout, fleet):
    values = _prefs(bundle(fleet, "win1.demo.invalid") / "smtls-client.prefs")
    assert values == {
        "ssl": "true", "trustedsignon": "false", "serverHost": "sm1.demo.invalid",
        "serverPort": str(DEMO_HTTPS_BASE),
        # Java properties escaping, as the client writes its own .prefs file
        "cacerts": r"C\:\\ProgramData\\smtls\\cacerts",
        "keystore": r"C\:\\ProgramData\\smtls\\win1.demo.invalid.keystore"}


def test_second_run_changes_nothing(rollout):
    hosts = recap(rollout["second"], WINDOWS)
    assert all(h["changed"] == 0 for h in hosts.values()), rollout["second"][-3000:]


def test_no_password_in_the_output(rollout):
    for secret in SECRETS:
        assert secret not in rollout["first"] + rollout["second"], "secret %r leaked" % secret


# A Windows client with bad input stops the rollout in its preflight, before any write.
BAD_INPUT = [
    ("missing keystore password", {"sm_windows_client_keystore_password": None},
     "sm_windows_client_keystore_password"),
    ("empty keystore password", {"sm_windows_client_keystore_password": ""},
     "sm_windows_client_keystore_password"),
    ("unknown delivery", {"sm_windows_client_delivery": "ftp"},
     "sm_windows_client_delivery='ftp' must be one of none, winrm. Fix:"),
    ("unknown mode", {"smtls_ssl_mode": "bogus"}, "smtls_ssl_mode='bogus' must be one of none, encryption"),
    ("shared certificate subject", {"sm_windows_client_common_name": "windows-client"},
     "unique client certificate"),
]


@pytest.mark.parametrize("label,extra,text", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_refused_before_any_write(rollout, fleet, label, extra, text):
    before = tree_digest(fleet)
    proc = playbook(fleet, "site.yml", "-e", json.dumps(extra), "--limit", ",".join(WINDOWS),
                    expect_ok=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and text in output, output[-4000:]
    # the message itself names the host (not only the fatal line)
    assert "fatal: [win1.demo.invalid" in output and re.search(r"win1\.demo\.invalid[:,] ", output)
    assert "PLAY [PKI" not in output, "the rollout went past the preflight"
    assert tree_digest(fleet) == before, "a file changed"


def test_an_inventory_without_windows_clients_still_works(rollout, fleet, tmp_path):
    inventory = yaml.safe_load((ROOT / "inventories/demo/hosts.yml").read_text())
    del inventory["all"]["children"]["sm_windows_clients"]
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    shutil.copytree(ROOT / "inventories/demo/group_vars", tmp_path / "group_vars")
    proc = playbook(fleet, "preflight.yml", inventory=tmp_path)
    assert set(recap(proc.stdout)) == set(SERVERS + WEBTIERS)
    listed = playbook(fleet, "site.yml", "--list-hosts", inventory=tmp_path).stdout
    assert "win1" not in listed and "pattern: ['sm_windows_clients']" in listed


def test_winrm_delivery_passes_syntax_check(tmp_path):
    for name in ("site.yml", "rotate_ca.yml"):
        proc = playbook("/nonexistent", name, "--syntax-check", "-e", "sm_windows_client_delivery=winrm")
        assert "ERROR" not in proc.stdout + proc.stderr
    # the WinRM tasks are included only for delivery winrm (so ansible-core alone runs the rest):
    # import them here, which makes the syntax check resolve every module they name
    tasks = ROOT / "roles/sm_windows_client/tasks"
    play = [{"name": "WinRM tasks", "hosts": "localhost", "gather_facts": False,
             "tasks": [{"ansible.builtin.import_tasks": str(tasks / "winrm_ping.yml")},
                       {"ansible.builtin.import_tasks": str(tasks / "deliver.yml")}]}]
    (tmp_path / "winrm.yml").write_text(yaml.safe_dump(play))
    proc = playbook("/nonexistent", str(tmp_path / "winrm.yml"), "--syntax-check")
    assert "ERROR" not in proc.stdout + proc.stderr
    proc = playbook("/nonexistent", str(tmp_path / "winrm.yml"), "--list-tasks")
    for task in ("Preflight | the Windows client answers over WinRM",
                 "Deliver | install directory on the Windows client",
                 "Deliver | bundle files into the install directory"):
        assert task in proc.stdout, proc.stdout


def test_winrm_delivery_without_the_collection_is_refused_with_the_fix(rollout, fleet, tmp_path):
    """A controller with ansible-core alone (no ansible.windows) runs every other delivery;
    asked for winrm it stops in the preflight, naming the fix, before anything is written."""
    before = tree_digest(fleet)
    core_only = {"ANSIBLE_COLLECTIONS_PATH": str(tmp_path), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "False"}
    proc = playbook(fleet, "site.yml", "-e", "sm_windows_client_delivery=winrm",
                    "--limit", ",".join(WINDOWS), expect_ok=False, env=core_only)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-4000:]
    assert re.search(r"win1\.demo\.invalid: sm_windows_client_delivery is winrm, but the controller "
                     r"lacks\s+the ansible.windows collection", output), output[-4000:]
    assert "make venv-windows" in output
    assert "PLAY [PKI" not in output, "the rollout went past the preflight"
    assert tree_digest(fleet) == before, "a file changed"
    # the same controller, delivery none: the preflight passes (nothing needs the collection)
    proc = playbook(fleet, "preflight.yml", "--limit", ",".join(WINDOWS), env=core_only)
    assert set(recap(proc.stdout)) == set(WINDOWS)


# A small inventory of its own, on the demo fleet's CA: win8 keeps its bundle on the
# controller with the password in its preference fragment (trusted sign-on, a password with
# characters the .prefs syntax escapes); win9 is reached over WinRM on a loopback port nothing
# listens on (discard, 9), with delivery none - so nothing may try to reach it.
STANDALONE_PW = "s3cr:t=Win!8"
STANDALONE_PLAY = [
    {"name": "CA", "hosts": "sm_windows_clients", "gather_facts": False,
     "roles": [{"role": "smtls_ca"}]},
    {"name": "Bundles", "hosts": "sm_windows_clients", "gather_facts": False,
     "roles": [{"role": "sm_windows_client"}]},
]


@pytest.fixture(scope="module")
def standalone(rollout, fleet, tmp_path_factory):
    root = tmp_path_factory.mktemp("winalone")
    inventory = {"all": {
        "vars": {"smtls_ca_dir": str(Path(fleet) / "controller/ca"),
                 "smtls_ca_passphrase": "demo-ca-passphrase", "smtls_ssl_mode": "trusted_signon",
                 "smtls_untrusted_cas": [{"subject": "O=Service Manager sample,CN=Sample CA (fictitious)"}],
                 "sm_windows_client_bundle_dir": str(root / "bundles") + "/{{ inventory_hostname }}"},
        "children": {
            "sm_servers": {"hosts": {"sm1.demo.invalid": {"ansible_connection": "local",
                                                          "sm_server_https_port": 13443}}},
            "sm_windows_clients": {"hosts": {
                "win8.demo.invalid": {"ansible_connection": "local",
                                      "ansible_python_interpreter": sys.executable,
                                      "sm_windows_client_keystore_password": STANDALONE_PW,
                                      "sm_windows_client_prefs_include_password": True},
                "win9.demo.invalid": {"ansible_connection": "winrm", "ansible_host": "127.0.0.1",
                                      "ansible_port": 9,
                                      "ansible_user": "nobody", "ansible_password": "not-used",
                                      "sm_windows_client_keystore_password": "demo-Win-ks9"}}}}}}
    (root / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (root / "bundle.yml").write_text(yaml.safe_dump(STANDALONE_PLAY, sort_keys=False))

    def run(*args, **kwargs):
        return playbook(fleet, str(root / "bundle.yml"), *args, inventory=root / "hosts.yml", **kwargs)

    checked = run("--check", "--diff").stdout
    exists_after_check = (root / "bundles").exists()
    first = run("-vvv", "--diff").stdout
    second = run("--diff").stdout
    before = leaf_sha(root / "bundles/win8.demo.invalid/win8.demo.invalid.keystore", STANDALONE_PW)
    renewed = run("-e", "smtls_renew_days=500", "-e", "smtls_valid_days=501").stdout
    after = leaf_sha(root / "bundles/win8.demo.invalid/win8.demo.invalid.keystore", STANDALONE_PW)
    settled = run().stdout
    return {"root": root, "checked": checked, "exists_after_check": exists_after_check,
            "first": first, "second": second, "renewed": renewed, "settled": settled,
            "reissued": before != after}


def test_check_mode_on_a_new_bundle_writes_nothing(standalone):
    assert not standalone["exists_after_check"]
    assert all(h["changed"] > 0 and h["failed"] == 0 for h in recap(standalone["checked"]).values())


def test_a_bundle_only_client_is_never_contacted(standalone):
    for run in ("checked", "first", "second"):
        host = recap(standalone[run])["win9.demo.invalid"]
        assert host["unreachable"] == 0 and host["failed"] == 0
    assert (standalone["root"] / "bundles/win9.demo.invalid/win9.demo.invalid.keystore").is_file()


def test_preferences_with_the_password_are_private_and_never_shown(standalone):
    prefs = standalone["root"] / "bundles/win8.demo.invalid/smtls-client.prefs"
    assert stat.S_IMODE(prefs.stat().st_mode) == 0o600
    values = _prefs(prefs)
    assert values["keystorePassword"] == r"s3cr\:t\=Win\!8"
    assert values["trustedsignon"] == "true"
    output = "".join(standalone[k] for k in ("checked", "first", "second", "renewed", "settled"))
    for shown in (STANDALONE_PW, values["keystorePassword"], "demo-Win-ks9", "demo-ca-passphrase"):
        assert shown not in output, "secret %r leaked" % shown
    # win9's fragment carries no password, and its diff is shown
    win9 = _prefs(standalone["root"] / "bundles/win9.demo.invalid/smtls-client.prefs")
    assert "keystorePassword" not in win9
    assert "+serverHost=sm1.demo.invalid" in standalone["first"]


def test_renewal_reissues_with_its_reason_and_settles(standalone):
    assert all(h["changed"] == 0 for h in recap(standalone["second"], ["win9.demo.invalid"]).values())
    assert standalone["reissued"] and "expiring" in standalone["renewed"]
    assert all(h["changed"] == 0 for h in recap(standalone["settled"], ["win9.demo.invalid"]).values())


# Bundles keep backups as the hosts do (smtls_backup_keep), on an inventory and CA of their own
# (no demo fleet): each run below changes the client's names (its certificate is reissued) or
# its server port (the fragment is rewritten); the fragment carries the password and is a link
# into another directory after the first run.
def test_a_bundle_keeps_smtls_backup_keep_private_backups_and_writes_through_links(tmp_path):
    host = "win7.demo.invalid"
    directory = tmp_path / "bundles" / host
    inventory = {"all": {
        "vars": {"smtls_ca_dir": str(tmp_path / "ca"), "smtls_ca_passphrase": "own-ca-Passphrase-7",
                 "smtls_ssl_mode": "trusted_signon", "smtls_backup_keep": 2,
                 "sm_windows_client_bundle_dir": str(tmp_path / "bundles") + "/{{ inventory_hostname }}",
                 "sm_windows_client_file_mode": "0640"},
        "children": {
            "sm_servers": {"hosts": {"sm1.demo.invalid": {"ansible_connection": "local"}}},
            "sm_windows_clients": {"hosts": {host: {
                "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                "sm_windows_client_keystore_password": "own-Win-ks7",
                "sm_windows_client_prefs_include_password": True,
                "sm_windows_client_server_host": "sm1.demo.invalid",
                "sm_windows_client_server_http_port": 13080}}}}}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "bundle.yml").write_text(yaml.safe_dump(STANDALONE_PLAY, sort_keys=False))

    def run(dns, port, *args, **kwargs):
        extra = {"sm_windows_client_dns_names": [host, dns], "sm_windows_client_server_https_port": port}
        return playbook(tmp_path, str(tmp_path / "bundle.yml"), "-e", json.dumps(extra), *args,
                        inventory=tmp_path / "hosts.yml", **kwargs)

    def backups(path):
        return sorted(p for p in path.parent.iterdir() if re.fullmatch(
            re.escape(path.name) + r"\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~", p.name))

    keystore, prefs = directory / ("%s.keystore" % host), directory / "smtls-client.prefs"
    run("alt0.demo.invalid", 13443)
    assert backups(keystore) == [] and backups(prefs) == []
    # the fragment moved elsewhere, a relative link in its place: written through from now on
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    prefs.rename(elsewhere / "client.prefs")
    prefs.symlink_to(Path("../../elsewhere/client.prefs"))
    target = elsewhere / "client.prefs"
    for n in (1, 2, 3):
        done = run("alt%d.demo.invalid" % n, 13443 + n).stdout
        assert recap(done)[host]["changed"] > 0
        assert prefs.is_symlink() and "serverPort=%d" % (13443 + n) in target.read_text()
    kept = backups(keystore)
    assert len(kept) == 2 and len(backups(target)) == 2 and backups(prefs) == []
    # the key's backups and the fragment's (it holds the password) for the owner alone
    for backup in kept + backups(target):
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600, backup
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o640
    # the newest backup is the certificate before the last reissue
    names = {pki.sha256_hex(e.leaf) for e in ks.load(kept[-1].read_bytes(), "own-Win-ks7").entries}
    assert len(names) == 1 and names != leaf_sha(keystore, "own-Win-ks7")
    # a run that writes nothing prunes nothing and changes nothing
    assert recap(run("alt3.demo.invalid", 13446).stdout)[host]["changed"] == 0
    # 0 keeps none: a write of the keystore alone prunes every bundle file's backups
    run("alt4.demo.invalid", 13446, "-e", "smtls_backup_keep=0")
    assert backups(keystore) == [] and backups(target) == []
    # a fragment linked to nothing is refused before anything is written
    target.unlink()
    before = tree_digest(tmp_path)
    proc = run("alt5.demo.invalid", 13447, expect_ok=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "is a symbolic link to a file that does not exist" in output
    assert prefs.is_symlink() and not target.exists()
    assert tree_digest(tmp_path) == before
