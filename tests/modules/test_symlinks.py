"""A managed file that is a symbolic link is written through it: the link's final target is
replaced atomically in its own directory (mode, owner and backup the target's, the backup beside
it and named after it, so pruning finds it), the link stays a link, and a rollback restores the
target through the link. A link to nothing, or a loop, is refused before anything is written -
in check mode too, which predicts what a real run does. Real files, real links.
"""

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

import sm_ini
import sm_keystore
import sm_pending_restart
import sm_server_info
import sm_truststore
import sm_webtier_config
from ansible.module_utils import smtls_files
from ansible.module_utils import smtls_inventory as inventory
from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_restart as restart
from ansible.module_utils import smtls_x509 as pki
from conftest import module_result

PASSWORD = "store-Secret-1"
BACKUP_NAME = r"\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~\Z"


def mode(path):
    return os.stat(path).st_mode & 0o7777


def listing(directory):
    """Every entry of a directory, links as links (name -> where they point)."""
    found = {}
    for entry in sorted(os.listdir(directory)):
        full = os.path.join(directory, entry)
        if os.path.islink(full):
            found[entry] = "-> " + os.readlink(full)
        elif os.path.isdir(full):
            found[entry] = listing(full)
        else:
            with open(full, "rb") as handle:
                found[entry] = hashlib.sha256(handle.read()).hexdigest()
    return found


def backups(path):
    directory, name = os.path.split(str(path))
    return sorted(os.path.join(directory, n) for n in os.listdir(directory)
                  if re.match(re.escape(name) + BACKUP_NAME, n))


def trusted(path, password=PASSWORD):
    return {pki.sha256_hex(e.cert) for e in ks.load(Path(path).read_bytes(), password).entries
            if e.kind == "trusted_cert"}


@pytest.fixture
def layout(tmp_path):
    """run/ holds the links the modules are given; real/ the files they point to."""
    run, real = tmp_path / "run", tmp_path / "real"
    run.mkdir()
    real.mkdir()
    return run, real


def link(run, real, name, kind):
    """run/<name> pointing at real/<name>: absolute, relative, or a chain of two (relative, then
    absolute, through a link in a third directory)."""
    target = real / name
    path = run / name
    if kind == "absolute":
        path.symlink_to(target)
    elif kind == "relative":
        path.symlink_to(os.path.relpath(target, run))
    else:
        hop = run.parent / "hop"
        hop.mkdir(exist_ok=True)
        (hop / name).symlink_to(target)
        path.symlink_to(os.path.relpath(hop / name, run))
    return path


def keystore_file(path, sample_ca):
    path.write_bytes(ks.dump(ks.Keystore("jks", [ks.CertEntry("sampleca", sample_ca.cert)]), PASSWORD))
    path.chmod(0o640)


def keystore_args(path, ca, sample_ca, **extra):
    return dict(dict(path=str(path), password=PASSWORD, backup=True,
                     trusted_certs=[dict(alias="smtls-ca", pem=ca.pem)],
                     absent=[dict(sha256=pki.sha256_hex(sample_ca.cert))]), **extra)


# --- written through: link kept, target new, backup beside the target ------------------------

@pytest.mark.parametrize("kind", ["absolute", "relative", "chain"])
def test_a_keystore_link_is_written_through(layout, ca, sample_ca, kind):
    run, real = layout
    keystore_file(real / "server.keystore", sample_ca)
    path = link(run, real, "server.keystore", kind)
    links_before = listing(run)
    record = run / ".smtls-restart-pending"
    args = keystore_args(path, ca, sample_ca, restart_record=str(record))
    checked = module_result(sm_keystore, args, check_mode=True)
    real_run = module_result(sm_keystore, args)
    assert (checked["changed"], checked["actions"]) == (real_run["changed"], real_run["actions"])
    assert real_run["changed"] and real_run["written"], real_run
    assert os.path.islink(path) and listing(run) == dict(links_before, **{
        ".smtls-restart-pending": listing(run)[".smtls-restart-pending"]}), "only the record is new"
    assert trusted(real / "server.keystore") == {pki.sha256_hex(ca.cert)}
    assert mode(real / "server.keystore") == 0o640, "the target keeps its mode"
    # the backup: the target's old content, beside it, named after it, not world-readable
    backup = real_run["backup_file"]
    assert backups(real / "server.keystore") == [backup]
    assert trusted(backup) == {pki.sha256_hex(sample_ca.cert)}
    assert mode(backup) == 0o640 and not mode(backup) & 0o007
    # no temp file left anywhere
    assert sorted(os.listdir(real)) == sorted(["server.keystore", os.path.basename(backup)])
    # the record names the path the module was given (a rollback writes through it)
    assert json.loads(record.read_text())["files"] == [{"path": str(path), "backup": backup}]
    assert not module_result(sm_keystore, args)["changed"]
    assert not module_result(sm_keystore, args, check_mode=True)["changed"]


@pytest.mark.parametrize("kind", ["absolute", "relative", "chain"])
def test_sm_ini_link_is_written_through(layout, kind):
    run, real = layout
    (real / "sm.ini").write_text("# SM\nssl:0\nsessiontimeout:900\n")
    (real / "sm.ini").chmod(0o600)
    path = link(run, real, "sm.ini", kind)
    args = dict(path=str(path), parameters={"ssl": "1"}, backup=True)
    checked = module_result(sm_ini, args, check_mode=True, diff=True)
    assert (real / "sm.ini").read_text() == "# SM\nssl:0\nsessiontimeout:900\n"
    done = module_result(sm_ini, args, diff=True)
    assert (checked["changed"], checked["actions"], checked["diff"]) == \
        (done["changed"], done["actions"], done["diff"])
    assert os.path.islink(path) and os.path.realpath(path) == str(real / "sm.ini")
    assert (real / "sm.ini").read_text() == "# SM\nssl:1\nsessiontimeout:900\n"
    assert path.read_text() == (real / "sm.ini").read_text()
    assert backups(real / "sm.ini") == [done["backup_file"]] and mode(done["backup_file"]) == 0o600
    assert backups(path) == [], "no backup beside the link"
    assert not module_result(sm_ini, args)["changed"]


def test_web_tier_files_and_their_attributes_go_to_the_target(layout):
    run, real = layout
    (real / "webtier.properties").write_text("ssl=false\nkeystorePassword=Old-Secret-1\n")
    (real / "webtier.properties").chmod(0o644)
    path = link(run, real, "webtier.properties", "absolute")
    os.lchown(path, 0, 0)
    args = dict(properties_file=str(path), properties={"ssl": "true"}, backup=True,
                group=str(os.getegid()))
    checked = module_result(sm_webtier_config, args, check_mode=True)
    done = module_result(sm_webtier_config, args)
    assert checked["files"][0]["actions"] == done["files"][0]["actions"]
    assert "cap mode 0644 to 0640 (the file holds secrets)" in done["files"][0]["actions"]
    assert os.path.islink(path) and mode(real / "webtier.properties") == 0o640
    assert "ssl=true" in (real / "webtier.properties").read_text()
    assert mode(done["files"][0]["backup_file"]) == 0o640
    assert os.path.dirname(done["files"][0]["backup_file"]) == str(real)
    assert not module_result(sm_webtier_config, args)["changed"]


def test_the_preflight_plans_through_links_as_the_modules_write_through_them(layout, ca, sample_ca):
    """sm_server_info's ini_plan and truststore_plan (the preflight's) on links are what sm_ini
    and sm_truststore do: the truststore's mode asked for goes to the target (Ansible's
    attribute helpers act on a link itself - lchown, lstat - unless given the target)."""
    run, real = layout
    (real / "jre").mkdir()
    (real / "jre" / "release").write_text('JAVA_VERSION="17.0.9"\n')
    (real / "sm.ini").write_text("# site\nsslConnector:0\n")
    ini = link(run, real, "sm.ini", "chain")
    keystore_file(real / "cacerts", sample_ca)
    (real / "cacerts").chmod(0o644)
    cacerts = link(run, real, "cacerts", "relative")
    parameters = {"ssl": "1", "sslConnector": "1", "sslEnabledProtocols": "TLSv1.2"}
    ini_args = dict(path=str(ini), parameters=parameters, backup=True)
    trust_args = dict(truststores=[dict(path=str(cacerts), password=PASSWORD, mode="0600")],
                      trusted_certs=[dict(alias="smtls-ca", pem=ca.pem)],
                      absent=[dict(sha256=pki.sha256_hex(sample_ca.cert))])
    before = listing(run), listing(real)
    found = module_result(sm_server_info, dict(jre_dir=str(real / "jre"), ini_plan=ini_args,
                                               truststore_plan=trust_args))
    assert (listing(run), listing(real)) == before and mode(real / "cacerts") == 0o644

    def as_planned(result, plan):
        return {k: result.get(k) for k in plan}

    assert found["ini_plan"] == as_planned(module_result(sm_ini, ini_args, check_mode=True),
                                           found["ini_plan"])
    checked = module_result(sm_truststore, trust_args, check_mode=True)
    assert found["truststore_plan"] == as_planned(checked, found["truststore_plan"])
    assert (listing(run), listing(real)) == before
    written = module_result(sm_truststore, dict(trust_args, backup=True))
    store = written["truststores"][0]
    assert store["actions"] == checked["truststores"][0]["actions"] and store["changed"]
    assert os.path.islink(cacerts) and mode(real / "cacerts") == 0o600
    assert trusted(real / "cacerts") == {pki.sha256_hex(ca.cert)}
    assert os.path.dirname(store["backup_file"]) == str(real)
    assert not module_result(sm_truststore, trust_args)["changed"]
    done = module_result(sm_ini, ini_args)
    assert done["actions"] == found["ini_plan"]["actions"] and os.path.islink(ini)
    assert "ssl:1" in (real / "sm.ini").read_text()


# --- refused: a link to nothing, a loop ------------------------------------------------------

def dangling(run, real, name):
    path = run / name
    path.symlink_to(real / "gone" / name)
    return path


def loop(run, real, name):
    path = run / name
    (run / "other").symlink_to(path)
    path.symlink_to(run / "other")
    return path


def calls(path, ca, sample_ca):
    yield sm_keystore, keystore_args(path, ca, sample_ca)
    yield sm_truststore, dict(truststores=[dict(path=str(path), password=PASSWORD)],
                              trusted_certs=[dict(alias="smtls-ca", pem=ca.pem)], backup=True)
    yield sm_ini, dict(path=str(path), parameters={"ssl": "1"}, backup=True)
    yield sm_webtier_config, dict(properties_file=str(path), properties={"ssl": "true"}, backup=True)


@pytest.mark.parametrize("broken", [dangling, loop])
@pytest.mark.parametrize("check_mode", [True, False])
def test_a_dangling_link_or_a_loop_is_refused_with_nothing_written(layout, ca, sample_ca, broken,
                                                                   check_mode):
    run, real = layout
    path = broken(run, real, "store")
    record = run / ".smtls-restart-pending"
    before = listing(run), listing(real)
    for module, args in calls(path, ca, sample_ca):
        result = module_result(module, dict(args, restart_record=str(record)), check_mode=check_mode)
        assert result.get("failed"), (module.__name__, result)
        message = result["msg"]
        assert str(path) in message and "Fix: point the link at the real file" in message, message
        # one line, and short but for the paths it names
        short = message.replace(str(path), "P").replace(os.readlink(path), "T")
        assert "\n" not in message and len(short) < 300, message
        assert ("dangling link" if broken is dangling else "symbolic link loop") in message
        assert (listing(run), listing(real)) == before, module.__name__
    assert not os.path.exists(real / "gone")


def test_the_installation_read_and_the_engine_refuse_a_dangling_link(layout):
    run, real = layout
    path = dangling(run, real, "server.keystore")
    with pytest.raises(smtls_files.FileProblem, match="dangling link"):
        inventory.keystore_info(str(path), PASSWORD, writable=True)
    with pytest.raises(smtls_files.FileProblem, match="dangling link"):
        smtls_files.check_writable(str(path), "keystore")

    class Module(object):
        def selinux_enabled(self):
            return False

    with pytest.raises(smtls_files.FileProblem, match="dangling link"):
        smtls_files.write_atomic(Module(), str(path), b"x")
    assert os.path.islink(path) and sorted(os.listdir(real)) == []


def test_the_checks_look_at_the_target_and_its_directory(layout):
    run, real = layout
    (real / "sm.ini").write_text("ssl:0\n")
    path = link(run, real, "sm.ini", "relative")
    proc = subprocess.run(["chattr", "+i", str(real)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip("chattr +i is not supported here: %s" % proc.stderr.strip())
    try:
        result = module_result(sm_ini, dict(path=str(path), parameters={"ssl": "1"}), check_mode=True)
    finally:
        subprocess.run(["chattr", "-i", str(real)], check=False)
    assert result.get("failed") and "%s is immutable" % real in result["msg"], result
    # the link's own directory being immutable does not matter: nothing is written there
    subprocess.run(["chattr", "+i", str(run)], check=True)
    try:
        done = module_result(sm_ini, dict(path=str(path), parameters={"ssl": "1"}, backup=True))
    finally:
        subprocess.run(["chattr", "-i", str(run)], check=False)
    assert done["written"] and (real / "sm.ini").read_text() == "ssl:1\n", done


# --- rollback and pruning through the link ---------------------------------------------------

def test_rollback_restores_the_target_through_the_link(layout, ca, sample_ca):
    run, real = layout
    (real / "sm.ini").write_text("ssl:0\n")
    (real / "sm.ini").chmod(0o640)
    ini = link(run, real, "sm.ini", "chain")
    keystore_file(real / "cacerts", sample_ca)
    cacerts = link(run, real, "cacerts", "relative")
    record = run / ".smtls-restart-pending"
    module_result(sm_ini, dict(path=str(ini), parameters={"ssl": "1"}, backup=True,
                               restart_record=str(record)))
    module_result(sm_truststore, dict(truststores=[dict(path=str(cacerts), password=PASSWORD)],
                                      trusted_certs=[dict(alias="smtls-ca", pem=ca.pem)],
                                      absent=[dict(sha256=pki.sha256_hex(sample_ca.cert))],
                                      backup=True, restart_record=str(record)))
    assert [f["path"] for f in json.loads(record.read_text())["files"]] == [str(ini), str(cacerts)]
    pending = module_result(sm_pending_restart, dict(path=str(record)))
    assert pending["pending"]
    rolled = module_result(sm_pending_restart, dict(path=str(record), state="rollback"))
    assert rolled["changed"] and not record.exists()
    assert os.path.islink(ini) and os.path.islink(cacerts)
    assert (real / "sm.ini").read_text() == "ssl:0\n" and mode(real / "sm.ini") == 0o640
    assert trusted(real / "cacerts") == {pki.sha256_hex(sample_ca.cert)}
    # what is in run/: the links and the (now cleared) record's absence, nothing else
    assert sorted(os.listdir(run)) == ["cacerts", "sm.ini"]


def test_a_rollback_through_a_link_gone_dangling_is_refused(layout):
    run, real = layout
    (real / "sm.ini").write_text("ssl:0\n")
    ini = link(run, real, "sm.ini", "absolute")
    record = run / ".smtls-restart-pending"
    module_result(sm_ini, dict(path=str(ini), parameters={"ssl": "1"}, backup=True,
                               restart_record=str(record)))
    (real / "sm.ini").unlink()
    rolled = module_result(sm_pending_restart, dict(path=str(record), state="rollback"))
    assert rolled.get("failed") and "dangling link" in rolled["msg"], rolled
    assert os.path.islink(ini) and record.exists()


def test_pruning_finds_the_backups_beside_the_target(layout):
    run, real = layout
    (real / "sm.ini").write_text("ssl:1\n")
    ini = link(run, real, "sm.ini", "relative")
    made = []
    for day in (3, 1, 5, 2, 4):
        backup = real / ("sm.ini.%d.2030-01-0%d@12:00:00~" % (100 + day, day))
        backup.write_text("old")
        made.append(str(backup))
    assert restart.backups_of(str(ini)) == sorted(made, key=lambda p: p.split(".")[-1], reverse=True)
    record = run / ".smtls-restart-pending"
    record.write_text(json.dumps({"files": [{"path": str(ini), "backup": made[0]}]}))
    done = module_result(sm_pending_restart, dict(path=str(record), state="absent", backup_keep=2))
    assert len(done["pruned"]) == 3 and len(backups(real / "sm.ini")) == 2
    assert os.path.islink(ini) and (real / "sm.ini").read_text() == "ssl:1\n"
