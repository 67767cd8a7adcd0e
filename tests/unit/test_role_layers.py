"""Roles with one job each (issue 25, item 5): the layers the roles form, and no cycle between them.

    smtls        the shared flows (identity, truststore, validate, apply/restart, detected) and
                 the fleet-wide settings; the host roles and smtls_ca depend on it and include it
    sm_server, sm_webtier, sm_windows_client, smtls_ca
                 the host roles (and the CA): each reads its own host and publishes facts
    smtls_fleet  the fleet's decisions across what the host roles publish - the run's order and
                 plan, the fleet report; only the playbooks run it

The shared flows never read what a host role publishes (a host role includes them, so a read
back would be a cycle): no file of roles/smtls reads hostvars or names a host role's variable.
The facts the host roles publish for the fleet are read in smtls_fleet (and the playbooks).
"""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "roles"
HOST_ROLES = ("sm_server", "sm_webtier", "sm_windows_client")
# A read of other hosts' variables, or a name a host role publishes or owns (sm_server_state,
# sm_webtier_plan, sm_windows_client_report, sm_server_report_..., and their inputs).
# (A leading __ counts: __sm_server_plan is the role's own.)
HOST_ROLE_READ = re.compile(r"\bhostvars\b|(?<![A-Za-z0-9])(?:%s)_\w+" % "|".join(HOST_ROLES))
# Reads of that kind the shared flows may keep, as (file under roles/smtls, name): none. A read
# added here makes the shared flows depend on a host role - move the task to smtls_fleet instead.
ALLOWED = set()


def _strings(node):
    """Every key and string of a parsed YAML file (comments are not read)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, str):
        yield node


def _meta(role):
    return yaml.safe_load((ROLES / role / "meta" / "main.yml").read_text()) or {}


def _dependencies(role):
    return [d["role"] if isinstance(d, dict) else d for d in _meta(role).get("dependencies") or []]


def _included_roles(path):
    """The roles a task file includes or imports (with include_role / import_role)."""
    found = []
    todo = list(yaml.safe_load(path.read_text()) or [])
    while todo:
        task = todo.pop()
        todo += [t for section in ("block", "rescue", "always") for t in task.get(section) or []]
        for key in ("ansible.builtin.include_role", "ansible.builtin.import_role"):
            if key in task:
                found.append(task[key]["name"])
    return found


SHARED_FILES = sorted(path for part in ("tasks", "vars", "defaults")
                      for path in (ROLES / "smtls" / part).glob("*.yml"))


def test_the_shared_flows_have_files_to_check():
    names = {p.relative_to(ROLES / "smtls").as_posix() for p in SHARED_FILES}
    assert {"tasks/identity.yml", "tasks/truststore.yml", "tasks/validate.yml", "tasks/detected.yml",
            "vars/main.yml", "defaults/main.yml"} <= names


@pytest.mark.parametrize("path", SHARED_FILES, ids=lambda p: p.relative_to(ROLES).as_posix())
def test_the_shared_flows_read_nothing_a_host_role_publishes(path):
    where = path.relative_to(ROLES / "smtls").as_posix()
    found = {(where, name) for text in _strings(yaml.safe_load(path.read_text()))
             for name in HOST_ROLE_READ.findall(text)}
    assert found - ALLOWED == set(), "the shared flows read a host role's variables: move it to smtls_fleet"


def test_the_fleet_decisions_are_not_in_the_shared_role():
    assert not (ROLES / "smtls" / "tasks" / "order.yml").exists()
    assert not (ROLES / "smtls" / "tasks" / "report.yml").exists()
    spec = yaml.safe_load((ROLES / "smtls_fleet" / "meta" / "argument_specs.yml").read_text())
    assert set(spec["argument_specs"]) == {"order", "report"}
    for entry in spec["argument_specs"]:
        assert (ROLES / "smtls_fleet" / "tasks" / (entry + ".yml")).is_file(), entry
    shared = yaml.safe_load((ROLES / "smtls" / "meta" / "argument_specs.yml").read_text())
    assert not {"order", "report"} & set(shared["argument_specs"])


def test_the_roles_form_layers_without_a_cycle():
    # meta dependencies: the shared role depends on none, the fleet role on the shared one only
    assert _dependencies("smtls") == []
    assert _dependencies("smtls_fleet") == ["smtls"]
    for role in (*HOST_ROLES, "smtls_ca"):
        assert "smtls_fleet" not in _dependencies(role), role
    # includes: the shared flows include only themselves; no role includes the fleet role (the
    # playbooks run it, after the host roles have published what it reads)
    for path in sorted(ROLES.glob("*/tasks/*.yml")):
        role = path.relative_to(ROLES).parts[0]
        included = _included_roles(path)
        if role == "smtls":
            assert set(included) <= {"smtls"}, path.relative_to(ROOT)
        assert "smtls_fleet" not in included, path.relative_to(ROOT)
