"""Windows client bundles keep backups as the hosts do: a bundle keystore's backup is for its
owner alone (0600, or the keystore's own mode when narrower), and the backups of the bundle's
files - which no restart record names, nothing restarts for a bundle - are pruned to
smtls_backup_keep by the call given them. Real files.
"""

import os
import re

import sm_keystore
import sm_pending_restart
from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_x509 as pki
from conftest import module_result

PASSWORD = "store-Secret-1"
BACKUP_NAME = r"\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~\Z"


def mode(path):
    return os.stat(path).st_mode & 0o7777


def backups(path):
    directory, name = os.path.split(str(path))
    return sorted(os.path.join(directory, n) for n in os.listdir(directory)
                  if re.match(re.escape(name) + BACKUP_NAME, n))


def test_a_private_backup_is_for_its_owner_alone(tmp_path, ca, sample_ca):
    """A Windows client bundle's keystore: the backup 0600 even when the keystore is 0640, and
    never wider than the keystore (0400 stays 0400); through a link, beside the target."""
    real = tmp_path / "real"
    real.mkdir()
    path = tmp_path / "client.keystore"
    path.symlink_to("real/client.keystore")
    for start, wanted in ((0o640, 0o600), (0o400, 0o400)):
        (real / "client.keystore").write_bytes(ks.dump(ks.Keystore("jks", [ks.CertEntry(
            "sampleca", sample_ca.cert)]), PASSWORD))
        (real / "client.keystore").chmod(start)
        done = module_result(sm_keystore, dict(
            path=str(path), password=PASSWORD, backup=True, private_backup=True,
            trusted_certs=[dict(alias="smtls-ca", pem=ca.pem)],
            absent=[dict(sha256=pki.sha256_hex(sample_ca.cert))]))
        assert done["written"] and mode(done["backup_file"]) == wanted
        assert os.path.dirname(done["backup_file"]) == str(real) and os.path.islink(path)
        # a host's backup keeps the keystore's mode (a rollback restores it)
        (real / "client.keystore").write_bytes(ks.dump(ks.Keystore("jks", []), PASSWORD))
        (real / "client.keystore").chmod(start)
        host = module_result(sm_keystore, dict(
            path=str(path), password=PASSWORD, backup=True,
            trusted_certs=[dict(alias="smtls-ca", pem=ca.pem)]))
        assert mode(host["backup_file"]) == start


def test_files_without_a_record_are_pruned_too(tmp_path):
    """A Windows client bundle: nothing restarts for it, so no record names its files; the call
    that prunes is given them."""
    keystore = tmp_path / "win1.keystore"
    keystore.write_bytes(b"store")
    for day in (3, 1, 5, 2, 4):
        (tmp_path / ("win1.keystore.%d.2030-01-0%d@12:00:00~" % (100 + day, day))).write_text("old")
    other = tmp_path / "cacerts.7.2030-01-01@12:00:00~"
    other.write_text("another file's backup")
    args = dict(path=str(tmp_path / ".smtls-restart-pending"), state="absent",
                files=[dict(path=str(keystore)), dict(path=str(tmp_path / "cacerts-not-there"))])
    checked = module_result(sm_pending_restart, dict(args, backup_keep=1), check_mode=True)
    assert "pruned" not in checked and len(backups(keystore)) == 5
    done = module_result(sm_pending_restart, dict(args, backup_keep=1))
    assert not done["changed"] and len(done["pruned"]) == 4
    assert backups(keystore) == [str(tmp_path / "win1.keystore.105.2030-01-05@12:00:00~")]
    assert other.exists()
    module_result(sm_pending_restart, dict(args, backup_keep=0))
    assert backups(keystore) == [] and keystore.read_bytes() == b"store"
