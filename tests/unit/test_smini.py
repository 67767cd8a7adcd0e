"""sm.ini editing: only the SSL lines move, everything else stays byte for byte."""

import pytest

from ansible.module_utils import smtls_smini as smini

SAMPLE = (
    "smmasterkey:0123456789abcdef\n"
    "# Service Manager server configuration\n"
    "sqldb:smdb\n"
    "*sqllogin:aabbcc\n"
    "\n"
    "httpPort:13080\n"
    "ssl:1\n"
    "*keystorePass:deadbeef\n"
    "keystoreFile:server.keystore\n"
    "sslConnector:0\n"
    "sessiontimeout:1800\n"
)


def other_lines(text, names):
    return [line for line in text.splitlines() if line.split(":")[0].lstrip("*").lower() not in names]


CASES = [
    ("add a parameter at the end", {"ssl_reqClientAuth": "2"}, {}, "ssl_reqClientAuth:2\n", True),
    ("change a value in place", {"sslConnector": "1"}, {}, "sslConnector:1\n", True),
    ("same value is no change", {"ssl": "1"}, {}, None, False),
    ("remove a parameter", {"sslConnector": None}, {}, None, True),
    ("remove an absent parameter", {"trustedsignon": None}, {}, None, False),
]


@pytest.mark.parametrize("label,wanted,passwords,expect_line,changed", CASES,
                         ids=[c[0] for c in CASES])
def test_only_named_lines_change(label, wanted, passwords, expect_line, changed):
    new, actions, did = smini.plan(SAMPLE, wanted)
    assert did is changed and bool(actions) is changed
    names = {n.lower() for n in wanted}
    assert other_lines(new, names) == other_lines(SAMPLE, names)
    if expect_line:
        assert expect_line in new
    if wanted.get("sslConnector", 1) is None:
        assert "sslConnector" not in new


def test_order_is_kept_when_changing_in_place():
    new, _, _ = smini.plan(SAMPLE, {"sslConnector": "1"})
    assert new.splitlines().index("sslConnector:1") == SAMPLE.splitlines().index("sslConnector:0")


def test_encrypted_password_in_sync_is_left_alone():
    new, actions, changed = smini.plan(SAMPLE, {"keystorePass": "wanted"}, ["keystorePass"],
                                       in_sync=lambda name: True)
    assert not changed and new == SAMPLE and actions == []


def test_encrypted_password_out_of_sync_is_written_in_plain_text_in_place():
    new, actions, changed = smini.plan(SAMPLE, {"keystorePass": "new-Secret"}, ["keystorePass"],
                                       in_sync=lambda name: False)
    assert changed and "keystorePass:new-Secret\n" in new and "*keystorePass" not in new
    assert new.splitlines().index("keystorePass:new-Secret") == 7
    assert "new-Secret" not in " ".join(actions)


def test_master_key_is_never_edited():
    with pytest.raises(smini.SmIniError, match="never edits smmasterkey"):
        smini.plan(SAMPLE, {"smmasterkey": None})
    new, _, _ = smini.plan(SAMPLE, {"ssl": None, "keystorePass": None})
    assert new.startswith("smmasterkey:0123456789abcdef\n")


def test_windows_line_endings_and_missing_final_newline():
    text = "a:1\r\nb:2\r\nc:3"
    new, _, _ = smini.plan(text, {"ssl": "1", "b": "5"})
    assert new == "a:1\r\nb:5\r\nc:3\r\nssl:1\r\n"


def test_duplicates_collapse_to_the_first_line():
    new, actions, _ = smini.plan("ssl:0\nx:1\nSSL:1\n", {"ssl": "1"})
    assert new == "ssl:1\nx:1\n" and any("duplicate" in a for a in actions)


def test_vendor_spelling_is_applied():
    new, actions, changed = smini.plan("trustedSignOn:1\n", {"trustedsignon": "1"})
    assert changed and new == "trustedsignon:1\n" and actions[0].startswith("respell")


def test_masking_hides_credentials_and_master_key():
    shown = smini.masked_text(smini.parse(SAMPLE + "truststorePass:plain-secret\n"))
    for hidden in ("0123456789abcdef", "aabbcc", "deadbeef", "plain-secret"):
        assert hidden not in shown
    assert "sessiontimeout:1800" in shown


def test_values_with_line_breaks_are_refused():
    with pytest.raises(smini.SmIniError, match="line break"):
        smini.plan(SAMPLE, {"ciphers": "a\nevil:1"})


def test_comment_lines_that_look_like_parameters_are_not_touched():
    new, _, changed = smini.plan("#ssl:0\nssl:0\n", {"ssl": "1"})
    assert new == "#ssl:0\nssl:1\n" and changed


def test_credential_named_parameters_are_masked_even_when_smtls_does_not_manage_them():
    text = "sqlpassword:db-Secret-1\nmyapp_pwd:app-Secret-2\nssl:1\n"
    shown = smini.masked_text(smini.parse(text))
    assert "db-Secret-1" not in shown and "app-Secret-2" not in shown and "ssl:1" in shown
    _new, actions, _changed = smini.plan(text, {"sqlpassword": None, "myapp_pwd": "app-Secret-3"})
    assert not any("Secret" in action for action in actions), actions
