"""The CA passphrase never leaves the controller: every task that is given it runs there, and
the web tiers' shared key - which does travel - has a passphrase of its own."""

import os
from pathlib import Path

import yaml

from ansible.module_utils import smtls_ca as authority
from ansible.module_utils import smtls_x509 as pki

ROOT = Path(__file__).resolve().parents[2]
CONTROL = {"block", "rescue", "always", "name", "when", "vars", "register", "loop", "loop_control",
           "delegate_to", "run_once", "check_mode", "changed_when", "failed_when", "tags", "notify",
           "no_log", "become", "until", "retries", "delay", "ignore_errors", "environment", "args"}


def tasks(items):
    for task in items or []:
        yield task
        for key in ("block", "rescue", "always"):
            yield from tasks(task.get(key))


def test_every_task_given_the_ca_passphrase_runs_on_the_controller():
    given = []
    for path in sorted(ROOT.glob("roles/*/tasks/*.yml")) + sorted(ROOT.glob("playbooks/*.yml")):
        data = yaml.safe_load(path.read_text()) or []
        plays = [p for p in data if isinstance(p, dict)]
        items = [t for p in plays for key in ("tasks", "pre_tasks", "post_tasks")
                 for t in p.get(key) or []]
        for task in tasks(items or plays):
            args = {k: v for k, v in task.items() if k not in CONTROL}
            if "smtls_ca_passphrase" in yaml.safe_dump(args):
                given.append((path.relative_to(ROOT), task.get("name")))
                assert task.get("delegate_to") == "localhost", (path, task.get("name"))
    # the CA role, identity signing, the shared web tier certificate: the guard ran (certificate
    # decisions are made by a filter from the CA certificate, with no passphrase at all)
    assert len(given) >= 3, given


def test_the_shared_web_tier_key_has_its_own_passphrase():
    values = yaml.safe_load((ROOT / "roles/sm_webtier/vars/main.yml").read_text())
    assert "smtls_derived_secret" in values["__sm_webtier_shared_key_passphrase"]
    # the identity of the shared certificate is opened with it, never with the CA's passphrase
    identity = values["__sm_webtier_client_identity"]
    assert "__sm_webtier_shared_key_passphrase" in identity["private_key_passphrase"]
    assert "smtls_ca_passphrase" not in str(identity)


def test_a_key_under_the_ca_passphrase_is_re_encrypted_with_its_own(tmp_path):
    key = pki.generate_key("rsa", 2048)
    path = tmp_path / "sm-webtier.key"
    path.write_text(pki.key_pem(key, "the-CA-passphrase"))
    held = authority.HeldKey(str(path), None, "its-own-passphrase", "the-CA-passphrase")
    assert held.rekeyed and not held.created
    reopened = pki.parse_pem_key(held.key_pem, "its-own-passphrase", "k")
    assert reopened.private_numbers() == key.private_numbers()
    path.write_text(held.key_pem)
    again = authority.HeldKey(str(path), None, "its-own-passphrase", "the-CA-passphrase")
    assert not again.rekeyed and again.key_pem is None
    try:
        pki.parse_pem_key(path.read_text(), "the-CA-passphrase", "k")
        raise AssertionError("the CA passphrase still opens the shared key")
    except pki.PkiError:
        pass
    assert not os.path.exists(str(path) + ".crt")
