"""The roles' Jinja filters."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "filter"))
from smtls import smtls_in_dir, smtls_key_entry, smtls_truststores_in  # noqa: E402


@pytest.mark.parametrize("path,base,expected", [
    ("server.keystore", "/opt/sm/RUN", "/opt/sm/RUN/server.keystore"),
    ("jre/lib/security/cacerts", "/opt/sm/RUN", "/opt/sm/RUN/jre/lib/security/cacerts"),
    ("../keys/server.p12", "/opt/sm/RUN", "/opt/sm/keys/server.p12"),
    ("/etc/ssl/certs/java/cacerts", "/opt/sm/RUN", "/etc/ssl/certs/java/cacerts"),
    ("C:/SM/RUN/cacerts", "/opt/sm/RUN", "C:/SM/RUN/cacerts"),
])
def test_paths_resolve_like_sm_resolves_keystore_names(path, base, expected):
    assert smtls_in_dir(path, base) == expected


def test_truststore_items_keep_their_other_keys():
    items = [{"path": "cacerts", "password": "x", "create": False}]
    assert smtls_truststores_in(items, "/r") == [{"path": "/r/cacerts", "password": "x", "create": False}]


SAMPLE = {"alias": "sample", "kind": "private_key", "chain_pem": "sample chain"}
OURS = {"alias": "smserver", "kind": "private_key", "chain_pem": "our chain"}
CA = {"alias": "smtls-ca", "kind": "trusted_cert", "chain_pem": "ca"}


@pytest.mark.parametrize("entries,alias,expected", [
    ([CA, SAMPLE, OURS], "SMServer", OURS),     # ours, by alias (keystore aliases are lower case)
    ([CA, SAMPLE], "smserver", SAMPLE),         # the sample certificate, before the first rollout
    ([CA], "smserver", {}),                     # a truststore has no key entry
    ([], "smserver", {}),
    (None, "smserver", {}),
])
def test_the_key_entry_a_keystore_serves(entries, alias, expected):
    assert smtls_key_entry(entries, alias) == expected
