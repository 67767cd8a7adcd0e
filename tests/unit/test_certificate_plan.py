"""The action smtls_certificate_plan: what sm_certificate would do, on the controller, signing a
CSR in memory once per task and writing nothing (module_utils/smtls_ca.certificate_plan). No
filter signs: a template may be evaluated more than once."""

import importlib.util
from pathlib import Path
from unittest import mock

import pytest

from ansible.errors import AnsibleActionFail
from ansible.module_utils import smtls_ca as authority
from ansible.module_utils import smtls_files as files
from ansible.module_utils import smtls_x509 as pki

ROOT = Path(__file__).resolve().parents[2]


def action(args, check_mode=False):
    """The action plugin run as Ansible runs it, with these task arguments."""
    spec = importlib.util.spec_from_file_location("smtls_certificate_plan_action",
                                                  ROOT / "plugins/action/smtls_certificate_plan.py")
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    task = mock.MagicMock(args=args, check_mode=check_mode, async_val=0, action="smtls_certificate_plan")
    plugin = loaded.ActionModule(task, mock.MagicMock(), mock.MagicMock(), loader=None, templar=None,
                                 shared_loader_obj=None)
    return plugin.run(task_vars={})


def test_the_plan_is_the_modules_decision_without_writing(tmp_path):
    """write_due says whether sm_certificate must run; the plan writes nothing."""
    import sm_certificate
    from conftest import module_result

    ca_dir = tmp_path / "ca"
    request = {"ca_dir": str(ca_dir), "ca_passphrase": "plan-Pass-1"}
    new = action({"request": request})
    assert new["write_due"] and new["ca_created"] and new["changed"] and not ca_dir.exists()
    module_result(sm_certificate, dict(request))  # the module writes what such a plan holds
    assert (ca_dir / "ca.crt").is_file()
    again = action({"request": request})
    assert (again["write_due"], again["ca_created"], again["changed"]) == (False, False, False)
    # a CSR is signed in memory: a change as the module reports it, with nothing to write
    key = pki.generate_key("rsa", 2048)
    csr = pki.csr_pem(pki.make_csr(key, "sm1.example.invalid", ["sm1.example.invalid"]))
    signed = action({"request": dict(request, common_name="sm1.example.invalid", dns=["sm1.example.invalid"],
                                     csr=csr, force=True)})
    assert (signed["action"], signed["changed"], signed["write_due"]) == ("issued", True, False)
    leaf = pki.parse_pem_certs(signed["chain"], "chain")[0]
    assert pki.key_matches(leaf, key) and leaf.issuer.rfc4514_string() == again["ca_subject"]
    # a corporate CA (ca.crt alone) cannot sign: the CSR is exported, which the module writes
    (ca_dir / "ca.key").unlink()
    (tmp_path / "out").mkdir()
    exported = authority.certificate_plan(dict(request, common_name="sm1.example.invalid", ca_create=False,
                                               dns=["sm1.example.invalid"], csr=csr, force=True,
                                               csr_export_dir=str(tmp_path / "out")), files.read_optional)
    assert exported["action"] == "issue" and exported["write_due"]
    assert exported["csr_file"] == str(tmp_path / "out" / "sm1.example.invalid.csr")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_problem_fails_the_task_or_comes_back_as_one_line(tmp_path):
    request = {"ca_dir": str(tmp_path / "nothing"), "ca_create": False}
    with pytest.raises(AnsibleActionFail):
        action({"request": request})
    returned = action({"request": request, "errors": "return"})
    assert returned["error"] and not returned["changed"]
    with pytest.raises(AnsibleActionFail, match="unknown options bogus"):
        action({"request": dict(request, bogus=1)})
    with pytest.raises(AnsibleActionFail, match="request"):
        action({})


def test_an_acme_ca_signs_when_the_order_is_finalized_nothing_is_planned(tmp_path):
    ordered = action({"request": {"ca_dir": str(tmp_path / "nothing")}, "acme": True})
    assert (ordered["action"], ordered["changed"], ordered["write_due"]) == ("order", True, False)
    assert ordered["chain"] == ""


def test_no_filter_signs_or_writes():
    """The filter files never reach the engines that sign or write (the plan is the action's)."""
    for path in (ROOT / "plugins/filter").glob("*.py"):
        text = path.read_text()
        assert "certificate_plan(" not in text and "plan_certificate(" not in text, path.name
        assert "write_atomic" not in text and ".sign(" not in text, path.name
