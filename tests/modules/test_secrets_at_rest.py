"""Secrets at rest: every file the writing modules manage ends no wider than 0640 - also when
its content stays - a backup is never wider than its source after the write, and a proven
restart prunes the recorded files' old backups to a bound. Real files, real modes.
"""

import grp
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

import sm_ini
import sm_keystore
import sm_pending_restart
import sm_truststore
import sm_webtier_config
from ansible.module_utils import smtls_files
from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_restart as restart
from ansible.module_utils.basic import AnsibleModule
from conftest import module_result

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "filter"))
from smtls_plan import smtls_written  # noqa: E402

PASSWORD = "store-Secret-1"
BACKUP_NAME = r"\.%d\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~\Z" % os.getpid()


def mode(path):
    return os.stat(path).st_mode & 0o7777


def backups(path):
    directory, name = os.path.split(str(path))
    return sorted(os.path.join(directory, n) for n in os.listdir(directory)
                  if re.match(re.escape(name) + BACKUP_NAME, n))


@pytest.fixture
def props(tmp_path):
    path = tmp_path / "webtier.properties"
    path.write_text("ssl=false\nkeystorePassword=Old-Secret-1\n")
    path.chmod(0o644)  # as the web tier's installer leaves it
    return path


# The group the files already have: as root, a root:root 0644 file is capped only with a group
# given (else Tomcat, which reads it as "other", would be locked out - see the group section).
OWN_GROUP = grp.getgrgid(os.getegid()).gr_name


def web_args(path, ssl="true", **extra):
    return dict(dict(properties_file=str(path), properties={"ssl": ssl}, backup=True,
                     group=OWN_GROUP), **extra)


# --- the cap: 0644 -> 0640, with and without a content change --------------------------------

def test_a_wide_file_that_changes_is_capped_and_so_is_its_backup(props):
    result = module_result(sm_webtier_config, web_args(props))
    entry = result["files"][0]
    assert result["changed"] and entry["written"] and entry["changed"]
    assert "cap mode 0644 to 0640 (the file holds secrets)" in entry["actions"]
    assert mode(props) == 0o640 and "ssl=true" in props.read_text()
    backup = entry["backup_file"]
    assert backups(props) == [backup], "named <file>.<pid>.<YYYY-MM-DD@HH:MM:SS>~ as before"
    assert mode(backup) == 0o640
    with open(backup) as handle:
        assert handle.read() == "ssl=false\nkeystorePassword=Old-Secret-1\n"
    again = module_result(sm_webtier_config, web_args(props))
    assert not again["changed"] and again["files"][0]["actions"] == []
    assert backups(props) == [backup]


def test_a_wide_file_whose_content_stays_is_capped_and_check_mode_predicts_it(props):
    content = props.read_bytes()
    args = web_args(props, ssl="false")
    checked = module_result(sm_webtier_config, args, check_mode=True)
    entry = checked["files"][0]
    assert checked["changed"] and entry["changed"] and not entry["written"]
    assert entry["actions"] == ["cap mode 0644 to 0640 (the file holds secrets)"]
    assert mode(props) == 0o644, "check mode changes nothing"
    real = module_result(sm_webtier_config, args)
    assert real["changed"] and real["files"][0]["actions"] == entry["actions"]
    assert mode(props) == 0o640 and props.read_bytes() == content
    assert "backup_file" not in real["files"][0] and backups(props) == []
    # a mode alone is no restart: smtls_written (the check-mode prediction) leaves it out
    assert smtls_written([checked]) == [] and smtls_written([real]) == []
    assert not module_result(sm_webtier_config, args)["changed"]
    assert not module_result(sm_webtier_config, args, check_mode=True)["changed"]


@pytest.mark.parametrize("start,end", [(0o600, 0o600), (0o640, 0o640), (0o400, 0o400),
                                       (0o666, 0o640), (0o755, 0o640), (0o4750, 0o640)])
def test_only_the_bits_beyond_0640_go(props, start, end):
    props.chmod(start)
    result = module_result(sm_webtier_config, web_args(props))
    assert result["files"][0]["written"] and mode(props) == end
    assert mode(result["files"][0]["backup_file"]) == end
    assert (start != end) == any(a.startswith("cap mode") for a in result["files"][0]["actions"])


def test_sm_ini_capped_without_a_change_records_no_restart(tmp_path):
    ini = tmp_path / "sm.ini"
    ini.write_text("ssl:1\n")
    ini.chmod(0o644)
    record = tmp_path / ".smtls-restart-pending"
    args = dict(path=str(ini), parameters={"ssl": "1"}, backup=True, restart_record=str(record))
    checked = module_result(sm_ini, args, check_mode=True)
    assert checked["changed"] and not checked["written"] and mode(ini) == 0o644
    assert checked["actions"] == ["cap mode 0644 to 0640 (the file holds secrets)"]
    real = module_result(sm_ini, args)
    assert real["changed"] and mode(ini) == 0o640 and ini.read_text() == "ssl:1\n"
    assert not record.exists() and backups(ini) == []
    assert not module_result(sm_ini, args)["changed"]
    # a write: the record names a backup at the capped mode
    ini.chmod(0o664)
    written = module_result(sm_ini, dict(args, parameters={"ssl": "0"}))
    assert written["written"] and mode(ini) == 0o640 and mode(written["backup_file"]) == 0o640
    assert json.loads(record.read_text())["files"] == [
        {"path": str(ini), "backup": written["backup_file"]}]


def test_a_keystore_and_its_pending_key_are_capped(tmp_path, ca):
    path = tmp_path / "server.keystore"
    path.write_bytes(ks.dump(ks.Keystore("jks", [ks.CertEntry("smtls-ca", ca.cert)]), PASSWORD))
    request = dict(path=str(path), password=PASSWORD, key_alias="smserver", csr_key="new",
                   csr=dict(common_name="sm1", dns=["sm1"]))
    assert module_result(sm_keystore, request)["pending"]
    pending = tmp_path / "server.keystore.smtls-pending"
    assert mode(pending) == 0o600
    path.chmod(0o644)
    pending.chmod(0o604)
    checked = module_result(sm_keystore, request, check_mode=True)
    assert checked["changed"] and not checked["written"]
    assert checked["actions"] == ["cap mode 0644 to 0640 (the file holds secrets)",
                                  "pending key: cap mode 0604 to 0600 (the file holds secrets)"]
    assert (mode(path), mode(pending)) == (0o644, 0o604)
    before = pending.read_bytes()
    real = module_result(sm_keystore, request)
    assert real["changed"] and real["actions"] == checked["actions"]
    assert (mode(path), mode(pending)) == (0o640, 0o600) and pending.read_bytes() == before
    assert not module_result(sm_keystore, request)["changed"]


def test_an_explicit_mode_wins_within_0640_and_a_wider_one_is_refused(tmp_path, ca):
    path = tmp_path / "cacerts"
    path.write_bytes(ks.dump(ks.Keystore("jks", []), PASSWORD))
    path.chmod(0o644)
    base = dict(path=str(path), password=PASSWORD, trusted_certs=[dict(alias="ca", pem=ca.pem)])
    before = path.read_bytes()
    for wide in ("0644", "0666", 0o604, "u=rw,g=r,o=r", "o+r"):
        for check_mode in (True, False):
            refused = module_result(sm_keystore, dict(base, mode=wide), check_mode=check_mode)
            assert refused.get("failed"), (wide, refused)
            assert "is wider than 0640" in refused["msg"] and "Fix: give 0640" in refused["msg"]
    assert path.read_bytes() == before and mode(path) == 0o644
    done = module_result(sm_keystore, dict(base, mode="u=rw,g=,o="))
    assert done["changed"] and done["written"] and mode(path) == 0o600
    assert not module_result(sm_keystore, dict(base, mode="0600"))["changed"]
    assert module_result(sm_keystore, dict(base, mode="0640"))["changed"] and mode(path) == 0o640


def test_truststores_capped_each_and_a_wide_item_mode_refused(tmp_path, ca):
    stores = []
    for name, start in (("a", 0o644), ("b", 0o600)):
        path = tmp_path / name
        path.write_bytes(ks.dump(ks.Keystore("jks", [ks.CertEntry("smtls-ca", ca.cert)]), "changeit"))
        path.chmod(start)
        stores.append(dict(path=str(path), password="changeit"))
    args = dict(truststores=stores, trusted_certs=[dict(alias="smtls-ca", pem=ca.pem)])
    checked = module_result(sm_truststore, args, check_mode=True)
    assert [(r["changed"], r["written"]) for r in checked["truststores"]] == [(True, False),
                                                                            (False, False)]
    assert smtls_written([checked]) == []
    module_result(sm_truststore, args)
    assert (mode(stores[0]["path"]), mode(stores[1]["path"])) == (0o640, 0o600)
    assert not module_result(sm_truststore, args)["changed"]
    stores[1]["mode"] = "0644"
    refused = module_result(sm_truststore, args)
    assert refused.get("failed") and stores[1]["path"] in refused["msg"]
    assert mode(stores[1]["path"]) == 0o600


def test_a_shared_truststore_keeps_its_mode(tmp_path, ca, sample_ca):
    """A JRE's or the system's cacerts (private: false) is read by every Java on the host: its
    mode stays, written or not, and so does its backup's - as before."""
    path = tmp_path / "jre-cacerts"
    path.write_bytes(ks.dump(ks.Keystore("jks", [ks.CertEntry("sample", sample_ca.cert)]), "changeit"))
    path.chmod(0o644)
    args = dict(truststores=[dict(path=str(path), password="changeit", create=False, private=False)],
                absent=[dict(subject="CN=Sample CA (fictitious)")], backup=True)
    checked = module_result(sm_truststore, args, check_mode=True)
    assert checked["truststores"][0]["written"] and mode(path) == 0o644
    assert not any(a.startswith("cap mode") for a in checked["truststores"][0]["actions"])
    done = module_result(sm_truststore, args)
    assert done["truststores"][0]["written"] and mode(path) == 0o644
    assert mode(done["truststores"][0]["backup_file"]) == 0o644
    assert not module_result(sm_truststore, args)["changed"]


def test_a_file_only_its_owner_may_chmod_is_refused_before_any_write(props, monkeypatch):
    content = props.read_bytes()
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(props).st_uid + 4711)
    for check_mode in (True, False):
        result = module_result(sm_webtier_config, web_args(props), check_mode=check_mode)
        assert result.get("failed") and "only its owner or root may tighten it" in result["msg"]
    assert props.read_bytes() == content and mode(props) == 0o644


# --- owner and group: Tomcat still reads what was capped ------------------------------------

AS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not AS_ROOT, reason="root:root files, and giving a file away, "
                                "need root (the decision itself: tests/unit/test_webtier.py)")
WEB_XML = "<web-app>\n</web-app>\n"
APP_CONTEXT = ('<beans xmlns:sec="urn:x"><sec:filter-chain pattern="/**" '
               'filters="securityContextPersistenceFilter,anonymousAuthFilter"/></beans>\n')
SERVER_XML = '<Server><Service><Connector port="8009" protocol="AJP/1.3"/></Service></Server>\n'


def other_ids():
    """A user and a group of this host other than root's (daemon, on Debian and Red Hat)."""
    import pwd
    user = next(u for u in pwd.getpwall() if u.pw_uid != 0)
    group = next(g for g in grp.getgrall() if g.gr_gid not in (0, os.getegid()))
    return user, group


@pytest.fixture
def webtier(tmp_path):
    """The four files as an installer leaves them: 0644, this user's (root:root, as root)."""
    files = dict(properties_file=tmp_path / "webtier.properties", web_xml=tmp_path / "web.xml",
                 application_context=tmp_path / "application-context.xml",
                 server_xml=tmp_path / "server.xml")
    for path, text in zip(files.values(), ("ssl=false\n", WEB_XML, APP_CONTEXT, SERVER_XML)):
        path.write_text(text)
        path.chmod(0o644)
    return files


def all_four(files, **extra):
    """Every file edited: ssl on, a context parameter, trusted sign-on."""
    return dict(dict(properties_file=str(files["properties_file"]), properties={"ssl": "true"},
                     web_xml=str(files["web_xml"]), context_params={"ssl": "true"},
                     application_context=str(files["application_context"]),
                     pre_authentication=True, server_xml=str(files["server_xml"]),
                     tomcat_authentication=False, backup=True), **extra)


def owned(path):
    found = os.stat(path)
    return found.st_uid, found.st_gid, found.st_mode & 0o7777


@needs_root
def test_owner_and_group_go_to_every_file_and_check_mode_predicts_them(webtier):
    user, group = other_ids()
    args = all_four(webtier, owner=user.pw_name, group=group.gr_name)
    before = {name: (path.read_bytes(), owned(path)) for name, path in webtier.items()}
    checked = module_result(sm_webtier_config, args, check_mode=True)
    assert checked["changed"] and len(checked["files"]) == 4
    for entry in checked["files"]:
        assert entry["written"] and entry["actions"][-3:] == [
            "cap mode 0644 to 0640 (the file holds secrets)", "owner root to %s" % user.pw_name,
            "group root to %s" % group.gr_name], entry
    assert {name: (path.read_bytes(), owned(path)) for name, path in webtier.items()} == before
    real = module_result(sm_webtier_config, args)
    assert [e["actions"] for e in real["files"]] == [e["actions"] for e in checked["files"]]
    for entry in real["files"]:
        assert owned(entry["path"]) == (user.pw_uid, group.gr_gid, 0o640)
        # the backup: the old content, taken once the file was Tomcat's to read
        assert owned(entry["backup_file"]) == (user.pw_uid, group.gr_gid, 0o640)
    assert "ssl=true" in webtier["properties_file"].read_text()
    assert 'tomcatAuthentication="false"' in webtier["server_xml"].read_text()
    assert not module_result(sm_webtier_config, args)["changed"]
    assert not module_result(sm_webtier_config, args, check_mode=True)["changed"]


@needs_root
def test_a_group_alone_is_a_change_but_no_restart(props, tmp_path):
    _user, group = other_ids()
    props.chmod(0o640)
    record = tmp_path / ".smtls-restart-pending"
    args = web_args(props, ssl="false", group=group.gr_name, restart_record=str(record))
    checked = module_result(sm_webtier_config, args, check_mode=True)
    assert checked["changed"] and checked["files"][0]["actions"] == ["group root to %s" % group.gr_name]
    assert not checked["files"][0]["written"] and os.stat(props).st_gid == 0
    done = module_result(sm_webtier_config, args)
    assert done["changed"] and owned(props) == (0, group.gr_gid, 0o640)
    assert smtls_written([checked]) == smtls_written([done]) == []
    assert not record.exists() and backups(props) == [] and "backup_file" not in done["files"][0]
    assert not module_result(sm_webtier_config, args)["changed"]


@needs_root
def test_a_new_properties_file_gets_the_group_and_a_rollback_keeps_it(tmp_path):
    _user, group = other_ids()
    path = tmp_path / "webtier.properties"
    record = tmp_path / ".smtls-restart-pending"
    args = web_args(path, group=group.gr_name, restart_record=str(record))
    checked = module_result(sm_webtier_config, args, check_mode=True)
    assert checked["files"][0]["actions"] == ["add ssl=true", "group root to %s" % group.gr_name]
    assert not path.exists()
    module_result(sm_webtier_config, args)
    assert owned(path) == (0, group.gr_gid, 0o640)
    # a later change rolled back: the old content and mode come back, the group stays
    later = tmp_path / "later-restart-pending"
    module_result(sm_webtier_config, web_args(path, ssl="false", group=group.gr_name,
                                              restart_record=str(later)))
    rolled = module_result(sm_pending_restart, dict(path=str(later), state="rollback"))
    assert rolled["changed"] and "ssl=true" in path.read_text()
    assert owned(path) == (0, group.gr_gid, 0o640)


@needs_root
def test_a_root_root_file_others_read_is_refused_without_a_group(webtier):
    before = {name: (path.read_bytes(), owned(path)) for name, path in webtier.items()}
    for check_mode in (True, False):
        refused = module_result(sm_webtier_config, all_four(webtier), check_mode=check_mode)
        assert refused.get("failed"), refused
        assert refused["msg"] == (
            '%s is root:root with mode 0644, so Tomcat (not root) reads it as "other"; capping it '
            "at 0640 for the secrets it holds would lock Tomcat out at its next restart. Fix: set "
            "sm_webtier_file_group to the group Tomcat runs as (e.g. tomcat), or make the file "
            "readable by its group first (chgrp tomcat %s)"
            % (webtier["properties_file"], webtier["properties_file"]))
    assert {name: (path.read_bytes(), owned(path)) for name, path in webtier.items()} == before


@needs_root
def test_no_refusal_with_a_group_an_owner_or_a_mode_no_wider_than_0640(webtier):
    user, _group = other_ids()
    # a group given - root's own, as the demo run as root gives it: capped, no owner change
    done = module_result(sm_webtier_config, all_four(webtier, group="root"))
    assert not done.get("failed") and all(owned(p) == (0, 0, 0o640) for p in webtier.values())
    # an owner given (Tomcat reads as owner), no group
    webtier["web_xml"].chmod(0o644)
    owner = module_result(sm_webtier_config, dict(web_xml=str(webtier["web_xml"]),
                                                  context_params={"x": "1"}, owner=user.pw_name))
    assert not owner.get("failed") and owned(webtier["web_xml"]) == (user.pw_uid, 0, 0o640)
    # root:root 0640: nothing capped, nothing refused
    webtier["server_xml"].chmod(0o640)
    kept = module_result(sm_webtier_config, dict(server_xml=str(webtier["server_xml"]),
                                                 tomcat_authentication=True))
    assert kept["changed"] and owned(webtier["server_xml"]) == (0, 0, 0o640)


def test_an_owner_or_group_this_user_may_not_give_is_refused_before_any_write(props, monkeypatch):
    props.chmod(0o640)
    content = props.read_bytes()
    _user, group = other_ids()
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(props).st_uid + 4711)
    for check_mode in (True, False):
        result = module_result(sm_webtier_config, web_args(props, group=group.gr_name),
                               check_mode=check_mode)
        assert result.get("failed") and "needs root (only root gives a file away" in result["msg"]
        assert "chown %s %s once" % (smtls_files.owner_names(os.stat(props).st_uid, group.gr_gid),
                                     props) in result["msg"]
    assert props.read_bytes() == content and owned(props)[2] == 0o640


def test_an_unknown_owner_or_group_is_refused(props):
    content = props.read_bytes()
    for option, words in (("owner", "is no user on this host"), ("group", "is no group on this host")):
        result = module_result(sm_webtier_config, web_args(props, **{option: "no-such-smtls-name"}),
                               check_mode=False)
        assert result.get("failed") and words in result["msg"], result
    assert props.read_bytes() == content and mode(props) == 0o644


# --- backups: the capped mode from the first byte, the same name ---------------------------

class Module:
    """The two AnsibleModule methods the file helpers use, without an AnsibleModule."""

    atomic_move = AnsibleModule.atomic_move
    cleanup = AnsibleModule.cleanup

    def selinux_enabled(self):
        return False


def test_a_backup_has_its_mode_before_it_holds_a_byte(tmp_path, monkeypatch):
    path = tmp_path / "cacerts"
    path.write_bytes(b"old secret")
    path.chmod(0o644)
    os.utime(path, (1000000000, 1000000000))
    seen = []
    real_copy = shutil.copyfileobj

    def copy(source, target, *args):
        seen.append(os.fstat(target.fileno()).st_mode & 0o7777)
        return real_copy(source, target, *args)

    monkeypatch.setattr(shutil, "copyfileobj", copy)
    backup = smtls_files.write_atomic(Module(), str(path), b"new secret", backup=True, secret=True)
    assert seen == [0o640], "the copy was wider while it was written"
    assert re.search(BACKUP_NAME, backup) and backup.startswith(str(path) + ".")
    assert (mode(backup), open(backup, "rb").read()) == (0o640, b"old secret")
    assert os.stat(backup).st_mtime == 1000000000, "the source's times, as copy2 kept them"
    assert sorted(os.listdir(tmp_path)) == sorted(["cacerts", os.path.basename(backup)])
    # a file that holds no secret (a report, the CA certificate) keeps its mode, as before
    report = tmp_path / "report.html"
    report.write_bytes(b"old")
    report.chmod(0o644)
    copy_of_report = smtls_files.write_atomic(Module(), str(report), b"new", backup=True,
                                              mode=0o644)
    assert mode(copy_of_report) == 0o644 and mode(report) == 0o644


def test_a_new_secret_file_is_never_wider_than_its_mode(tmp_path, monkeypatch):
    seen = []
    real_move = AnsibleModule.atomic_move

    def move(self, src, dest, **kwargs):
        real_move(self, src, dest, **kwargs)
        seen.append(mode(dest))  # before write_atomic's own chmod

    monkeypatch.setattr(Module, "atomic_move", move)
    old_umask = os.umask(0o022)
    try:
        smtls_files.write_atomic(Module(), str(tmp_path / "new.keystore"), b"k", secret=True)
        after = os.umask(0o022)
    finally:
        os.umask(old_umask)
    assert seen == [0o600] and mode(tmp_path / "new.keystore") == 0o600
    assert after == 0o022, "the umask is put back"


def test_a_rollback_restores_at_most_0640(tmp_path):
    ini = tmp_path / "sm.ini"
    ini.write_text("ssl:1\n")
    ini.chmod(0o600)
    old = tmp_path / "sm.ini.1.2030-01-01@00:00:00~"  # made before smtls capped backups
    old.write_text("ssl:0\n")
    old.chmod(0o644)
    record = tmp_path / ".smtls-restart-pending"
    record.write_text(json.dumps({"files": [{"path": str(ini), "backup": str(old)}]}))
    rolled = module_result(sm_pending_restart, dict(path=str(record), state="rollback"))
    assert rolled["changed"] and ini.read_text() == "ssl:0\n" and mode(ini) == 0o640
    assert os.stat(ini).st_mtime == os.stat(old).st_mtime


# --- pruning after a proven restart --------------------------------------------------------

def make_backups(path, stamps):
    made = []
    for n, stamp in enumerate(stamps):
        backup = "%s.%d.%s~" % (path, 100 + n, stamp)
        with open(backup, "w") as handle:
            handle.write("backup %d" % n)
        made.append(backup)
    return made


STAMPS = ["2030-01-0%d@12:00:00" % day for day in (3, 1, 5, 2, 4)]


@pytest.fixture
def run_dir(tmp_path):
    """sm.ini and cacerts with five backups each, and files that only look alike."""
    ini, cacerts = tmp_path / "sm.ini", tmp_path / "cacerts"
    ini.write_text("ssl:1\n")
    cacerts.write_bytes(b"store")
    others = [tmp_path / n for n in ("sm.ini.bak", "sm.ini.12.2030-01-09@12:00:00",
                                     "sm.ini.x.2030-01-09@12:00:00~", "sm.ini.old",
                                     "my-sm.ini.7.2030-01-01@12:00:00~")]
    for other in others:
        other.write_text("not a backup of sm.ini")
    others += [Path(p) for p in make_backups(tmp_path / "sm.ini.old", STAMPS[:2])]
    return dict(ini=ini, cacerts=cacerts, others=others,
                ini_backups=make_backups(ini, STAMPS), cacerts_backups=make_backups(cacerts, STAMPS))


def test_backups_of_finds_exactly_a_files_backups_newest_first(run_dir):
    found = restart.backups_of(str(run_dir["ini"]))
    assert found == [run_dir["ini_backups"][i] for i in (2, 4, 0, 3, 1)]


@pytest.mark.parametrize("keep", [0, 1, 3, 5, 9])
def test_pruning_keeps_exactly_the_newest(run_dir, keep):
    files = [dict(path=str(run_dir["ini"]), backup=run_dir["ini_backups"][1])]
    newest_first = restart.backups_of(str(run_dir["ini"]))
    removed, problems = restart.prune_backups(files, keep)
    assert problems == [] and sorted(removed) == sorted(newest_first[keep:])
    assert restart.backups_of(str(run_dir["ini"])) == newest_first[:keep]
    # another file's backups, and names that only look alike, are never touched
    assert all(os.path.exists(p) for p in run_dir["cacerts_backups"] + run_dir["others"])


def record_of(run_dir, *names):
    record = run_dir["ini"].parent / ".smtls-restart-pending"
    record.write_text(json.dumps({"files": [
        {"path": str(run_dir[n]), "backup": run_dir[n + "_backups"][1]} for n in names]}))
    return record


def test_a_proven_restart_prunes_the_recorded_files_backups(run_dir):
    record = record_of(run_dir, "ini")
    args = dict(path=str(record), state="absent", backup_keep=2)
    checked = module_result(sm_pending_restart, args, check_mode=True)
    assert "pruned" not in checked and record.exists()
    assert len(restart.backups_of(str(run_dir["ini"]))) == 5, "check mode never prunes"
    done = module_result(sm_pending_restart, args)
    newest = [run_dir["ini_backups"][i] for i in (2, 4)]
    assert not record.exists() and done["changed"] is True  # the record went: as before
    assert sorted(done["pruned"]) == sorted(set(run_dir["ini_backups"]) - set(newest))
    assert restart.backups_of(str(run_dir["ini"])) == newest
    assert all(os.path.exists(p) for p in run_dir["cacerts_backups"] + run_dir["others"])
    # nothing recorded, nothing pruned - and no change
    quiet = module_result(sm_pending_restart, args)
    assert quiet["pruned"] == [] and quiet["changed"] is False


def test_a_backup_that_cannot_go_is_a_warning_and_the_record_is_cleared_first(run_dir, monkeypatch,
                                                                              capfd):
    record = record_of(run_dir, "ini", "cacerts")
    stuck = run_dir["ini_backups"][1]
    real_unlink = os.unlink
    order = []

    def unlink(path, *args, **kwargs):
        order.append(str(path))
        if str(path) == stuck:
            raise PermissionError(13, "Permission denied", str(path))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    done = module_result(sm_pending_restart, dict(path=str(record), state="absent", backup_keep=3))
    monkeypatch.undo()
    assert not done.get("failed") and not record.exists()
    assert order[0] == str(record), "the record is cleared before any backup goes"
    assert stuck not in done["pruned"] and os.path.exists(stuck)
    assert len(done["pruned"]) == 3  # sm.ini's other old one, cacerts' two
    # the result's warning, or shown at once when another test set up Ansible's display
    warned = json.dumps(done.get("warnings", [])) + capfd.readouterr().err
    assert "an old backup was not removed: %s" % stuck in warned


def test_backup_keep_goes_with_absent_and_is_not_negative(run_dir):
    record = record_of(run_dir, "ini")
    for state in ("present", "rollback"):
        refused = module_result(sm_pending_restart, dict(path=str(record), state=state,
                                                         backup_keep=3))
        assert refused["failed"] and "backup_keep goes with state=absent" in refused["msg"]
    negative = module_result(sm_pending_restart, dict(path=str(record), state="absent",
                                                      backup_keep=-1))
    assert negative["failed"] and "backup_keep is -1" in negative["msg"]
    assert record.exists() and len(restart.backups_of(str(run_dir["ini"]))) == 5
