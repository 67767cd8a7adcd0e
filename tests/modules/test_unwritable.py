"""What a write would trip on is refused before any write - in check mode too, so the
preflight (the modules in check mode) finds it: an immutable file or directory, a directory
the user cannot write, a value the file's encoding cannot hold. Real chattr flags, real files.
"""

import hashlib
import subprocess
from pathlib import Path

import pytest

import sm_ini
import sm_truststore
import sm_webtier_config
from ansible.module_utils import smtls_files
from ansible.module_utils import smtls_keystore as ks
from conftest import module_result

PASSWORD = "store-Secret-1"


def digests(root):
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(root).rglob("*")) if p.is_file()}


@pytest.fixture
def immutable():
    """chattr +i on paths; always undone (a leftover immutable file defeats rm -rf)."""
    flagged = []

    def flag(path):
        proc = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip("chattr +i is not supported here: %s" % proc.stderr.strip())
        flagged.append(path)

    yield flag
    for path in flagged:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def webtier(tmp_path):
    props = tmp_path / "webtier.properties"
    props.write_text("ssl=false\nkeystorePassword=Old-Secret-1\n")
    return dict(properties_file=str(props), properties={"ssl": "true", "keystorePassword": None},
                backup=True)


@pytest.mark.parametrize("check_mode", [True, False])
def test_an_immutable_file_is_refused_before_any_write(tmp_path, immutable, check_mode):
    args = webtier(tmp_path)
    immutable(tmp_path / "webtier.properties")
    before = digests(tmp_path)
    result = module_result(sm_webtier_config, args, check_mode=check_mode)
    assert result.get("failed"), result
    assert "webtier.properties" in result["msg"] and "chattr -i" in result["msg"]
    assert "Old-Secret-1" not in result["msg"]
    assert digests(tmp_path) == before


def test_an_immutable_directory_is_refused_too(tmp_path, immutable):
    args = webtier(tmp_path)
    immutable(tmp_path)
    result = module_result(sm_webtier_config, args, check_mode=True)
    assert result.get("failed") and "immutable" in result["msg"], result


def test_an_unchanged_immutable_file_is_left_alone(tmp_path, immutable):
    props = tmp_path / "webtier.properties"
    props.write_text("ssl=true\n")
    props.chmod(0o640)
    immutable(props)
    result = module_result(sm_webtier_config, dict(properties_file=str(props),
                                                   properties={"ssl": "true"}))
    assert not result.get("failed") and not result["changed"], result


@pytest.mark.parametrize("check_mode", [True, False])
def test_an_unchanged_immutable_file_too_open_is_refused(tmp_path, immutable, check_mode):
    """Its mode must be capped (it holds a secret), and an immutable file's mode cannot be
    changed: refused with the fix, in check mode too (the preflight finds it)."""
    props = tmp_path / "webtier.properties"
    props.write_text("ssl=true\nkeystorePassword=Old-Secret-1\n")
    props.chmod(0o644)
    immutable(props)
    result = module_result(sm_webtier_config, dict(properties_file=str(props),
                                                   properties={"ssl": "true"}),
                           check_mode=check_mode)
    assert result.get("failed"), result
    assert "has mode 0644, wider than 0640" in result["msg"] and "chattr -i -a" in result["msg"]
    assert "Old-Secret-1" not in result["msg"]
    assert props.stat().st_mode & 0o777 == 0o644


def test_a_truststore_that_cannot_be_replaced_is_refused(tmp_path, immutable, ca):
    path = tmp_path / "cacerts"
    path.write_bytes(ks.dump(ks.Keystore("jks", []), PASSWORD))
    immutable(path)
    result = module_result(sm_truststore, dict(
        truststores=[dict(path=str(path), password=PASSWORD)],
        trusted_certs=[dict(alias="smtls-ca", pem=ca.pem)]), check_mode=True)
    assert result.get("failed") and str(path) in result["msg"], result


def test_a_latin1_sm_ini_refuses_a_value_latin1_lacks_before_writing(tmp_path):
    ini = tmp_path / "sm.ini"
    ini.write_bytes("# Caf\xe9 server\nssl:1\n".encode("latin-1"))
    before = digests(tmp_path)
    for check_mode in (True, False):
        result = module_result(sm_ini, dict(path=str(ini), parameters={"keystoreFile": "ks"},
                                            passwords={"keystorePass": "p\u0101ss-\u4e2d"}),
                               check_mode=check_mode)
        assert result.get("failed"), result
        assert "latin-1" in result["msg"] and "keystorePass" in result["msg"]
        assert "\u4e2d" not in result["msg"]
    assert digests(tmp_path) == before
    # a latin-1 value is fine, and the file stays latin-1
    result = module_result(sm_ini, dict(path=str(ini), parameters={"keystoreFile": "k\xe9"}))
    assert result["changed"] and ini.read_bytes().startswith(b"# Caf\xe9")


def test_no_room_for_the_file_and_its_backup_is_refused(tmp_path):
    with pytest.raises(smtls_files.FileProblem, match="not enough free space"):
        smtls_files.check_writable(str(tmp_path / "big"), "keystore", size=2 ** 62)
