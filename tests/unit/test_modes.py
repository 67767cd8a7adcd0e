"""One mode model: the table in module_utils/smtls_modes.py is what every list of modes, every
layer table and the order logic follow. These checks fail when anything drifts from it."""

import re
import sys
from pathlib import Path

import pytest
import yaml

from ansible.module_utils import smtls_modes as modes
from ansible.module_utils import smtls_findings as engine

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugins" / "filter"))
from smtls_plan import smtls_host_roles, smtls_mode, smtls_mode_layers, smtls_webtiers_first  # noqa: E402

MODE_NAMES = list(modes.NAMES)


def _choices(node, found, where):
    if isinstance(node, dict):
        choices = node.get("choices")
        if isinstance(choices, list) and "trusted_signon" in choices:
            found.append((where, choices))
        for key, value in node.items():
            _choices(value, found, "%s.%s" % (where, key))
    elif isinstance(node, list):
        for item in node:
            _choices(item, found, where)


def test_every_argument_spec_lists_the_modes_of_the_table_in_its_order():
    found = []
    for spec in sorted(ROOT.glob("roles/*/meta/argument_specs.yml")):
        _choices(yaml.safe_load(spec.read_text()), found, spec.parent.parent.name)
    assert len(found) >= 4  # smtls, sm_server, sm_webtier, sm_windows_client
    for where, choices in found:
        assert choices == MODE_NAMES, where


@pytest.mark.parametrize("role,table", [("sm_server", "__sm_server_ini_layers"),
                                        ("sm_webtier", "__sm_webtier_settings_layers")])
def test_every_layer_table_names_exactly_the_modes(role, table):
    layers = yaml.safe_load((ROOT / "roles" / role / "vars/main.yml").read_text())[table]
    assert list(layers) == MODE_NAMES


def test_no_role_keeps_a_mode_table_of_its_own():
    for path in ROOT.glob("roles/*/vars/main.yml"):
        text = path.read_text()
        assert "_modes:" not in text and "mode_order" not in text, path
        assert "smtls_ssl_mode | smtls_mode }}" in text or "smtls_mode" not in text, path


def test_the_table_asks_more_at_each_step():
    ranks = [modes.mode(name) for name in MODE_NAMES]
    for before, after in zip(ranks, ranks[1:]):
        assert after["client_auth"] >= before["client_auth"]
        assert after["ssl"] >= before["ssl"] and after["trusted_clients"] >= before["trusted_clients"]
    assert [m["rank"] for m in ranks] == list(range(len(MODE_NAMES)))


def test_layers_combine_up_to_the_mode_and_refuse_a_table_that_drifted():
    layers = {name: {name: True} for name in MODE_NAMES}
    assert smtls_mode_layers(layers, "client_auth") == {"none": True, "encryption": True,
                                                         "client_auth": True}
    with pytest.raises(Exception, match="add or remove the layer"):
        smtls_mode_layers(dict(layers, extra={}), "none")
    with pytest.raises(Exception, match="unknown SSL mode 'tls_only'"):
        smtls_mode("tls_only")


@pytest.mark.parametrize("states,mode,first", [
    ([], "trusted_clients", False),                                   # a fresh fleet: servers first
    ([{"ssl": True, "client_auth": 0}], "client_auth", True),         # asks more: web tiers first
    ([{"ssl": True, "client_auth": 2}], "client_auth", False),        # asks less
    ([{"ssl": "True", "client_auth": "1"}], "none", True),            # SSL off: web tiers first
    ([{"ssl": False, "client_auth": 0}], "trusted_signon", False),    # SSL on: servers first
])
def test_which_side_moves_first_follows_the_table(states, mode, first):
    assert smtls_webtiers_first(states, mode) is first


def test_readers_follow_the_table():
    assert engine.TRUSTED_MODES == ("trusted_clients", "trusted_signon")
    assert [modes.webtier_view(name) for name in MODE_NAMES] == [
        "none", "encryption", "client_certificate", "client_certificate", "trusted_signon"]
    for name in MODE_NAMES:  # sm.ini written for a mode reads back as that mode
        wanted = modes.mode(name)
        settings = {"ssl": "1" if wanted["ssl"] else "0", "ssl_reqClientAuth": str(wanted["client_auth"]),
                    "trustedsignon": "1" if wanted["trusted_signon"] else "0"}
        assert modes.from_server_settings(settings) == name


def test_the_readme_mode_table_has_a_row_per_mode():
    readme = (ROOT / "README.md").read_text()
    rows = [line.split("|")[1].strip().strip("`") for line in readme.splitlines()
            if line.startswith("| `") and "` |" in line]
    assert [row for row in rows if row in MODE_NAMES] == MODE_NAMES


# The grid: the phase table, the host roles' entry points, and the playbooks that run them.
HOST_ROLES = ("sm_server", "sm_webtier", "sm_windows_client")
GRID_STEPS = ("preflight", "trust", "apply", "retire", "report")
STAGES = {"all", "issue", "install", "current"}


def _phase_choices():
    found = []
    for role in HOST_ROLES:
        spec = yaml.safe_load((ROOT / "roles" / role / "meta/argument_specs.yml").read_text())
        found.append((role, spec["argument_specs"]["main"]["options"]["smtls_phase"]["choices"]))
    return found


def test_every_host_role_lists_the_phases_of_the_table():
    for role, choices in _phase_choices():
        assert choices == list(modes.PHASE_NAMES), role


def test_every_phase_names_identity_stages_the_identity_flow_knows():
    spec = yaml.safe_load((ROOT / "roles/smtls/meta/argument_specs.yml").read_text())
    identity = spec["argument_specs"]["identity"]["options"]["smtls_identity"]
    known = set(identity["options"]["stage"]["choices"])
    assert known == STAGES
    for name in modes.PHASE_NAMES:
        steps = modes.phase(name)
        assert {steps["client_certificate_trust"], steps["client_certificate_apply"],
                steps["host_identity"]} <= STAGES, name
    # a certificate signed in a trust step is installed by the apply step of the same phase
    for name in modes.PHASE_NAMES:
        steps = modes.phase(name)
        signed, installed = steps["client_certificate_trust"], steps["client_certificate_apply"]
        assert (signed == "issue") == (installed == "install"), name
    with pytest.raises(modes.ModeError, match="smtls_phase is one of rollout"):
        modes.phase("rotation")


# The grid's cells: (host role, step). A server's and a Windows client's old CAs leave in their
# apply step (the phase chooses what leaves); only a web tier that went first has a retire step.
GRID_CELLS = {(role, step) for role in HOST_ROLES for step in GRID_STEPS} - {
    ("sm_server", "retire"), ("sm_windows_client", "retire")}


@pytest.mark.parametrize("role", HOST_ROLES)
def test_every_host_role_has_the_grid_entry_points(role):
    spec = yaml.safe_load((ROOT / "roles" / role / "meta/argument_specs.yml").read_text())
    entry_points = set(spec["argument_specs"])
    assert entry_points == {"main"} | {step for each, step in GRID_CELLS if each == role}, role
    for step in entry_points:
        assert (ROOT / "roles" / role / "tasks" / (step + ".yml")).is_file(), (role, step)


def test_the_grid_is_real_every_cell_runs_from_a_playbook_and_no_other_does():
    """No entry point kept on paper: each cell is run by a playbook, and no playbook runs a host
    role through anything but a cell."""
    ran = {(role, step) for playbook in ("grid.yml", "preflight.yml", "report.yml")
           for role, step in _included(playbook) if role in HOST_ROLES}
    assert ran == GRID_CELLS


def _included(playbook):
    """(role, tasks_from) of every role the plays of a playbook include or import."""
    found = []
    for play in yaml.safe_load((ROOT / "playbooks" / playbook).read_text()):
        for task in play.get("tasks", []) + play.get("pre_tasks", []):
            for key in ("ansible.builtin.include_role", "ansible.builtin.import_role"):
                if key in task:
                    name, step = task[key]["name"], task[key].get("tasks_from", "main")
                    # a name chosen per host (smtls_host_roles): any host role
                    names = HOST_ROLES if "{{" in name else [name]
                    found += [(each, step) for each in names]
        found += [(r["role"], "main") for r in play.get("roles", [])]
    return found


@pytest.mark.parametrize("playbook", ["grid.yml", "preflight.yml", "report.yml", "site.yml", "rotate_ca.yml"])
def test_playbooks_reach_the_host_roles_only_through_grid_steps(playbook):
    for role, step in _included(playbook):
        if role in HOST_ROLES:
            assert (role, step) in GRID_CELLS, (playbook, role, step)


def test_the_host_roles_by_group_are_the_roles_the_grid_knows():
    assert tuple(role for _, role in modes.HOST_ROLES) == HOST_ROLES
    assert smtls_host_roles(["sm_webtiers", "dc1"]) == ["sm_webtier"]
    assert smtls_host_roles(["sm_webtiers", "sm_servers"]) == ["sm_server", "sm_webtier"]
    assert smtls_host_roles([]) == []


def test_site_and_rotation_run_the_same_grid():
    def imports(playbook):
        return [(p["ansible.builtin.import_playbook"], (p.get("vars") or {}).get("smtls_phase", "rollout"))
                for p in yaml.safe_load((ROOT / "playbooks" / playbook).read_text())
                if "ansible.builtin.import_playbook" in p]
    # both writing playbooks take the fleet lock before the preflight and release it last
    lock, unlock = ("lock.yml", "rollout"), ("lock.yml", "rollout")
    assert imports("site.yml") == [lock, ("preflight.yml", "rollout"), ("grid.yml", "rollout"), unlock]
    assert imports("rotate_ca.yml") == [lock, ("preflight.yml", "rollout")] + [
        ("grid.yml", name) for name in modes.PHASE_NAMES if name.startswith("rotation_")] + [unlock]


@pytest.mark.parametrize("playbook", ["site.yml", "rotate_ca.yml"])
def test_writing_playbooks_take_the_fleet_lock_first_and_release_it_last(playbook):
    plays = [p for p in yaml.safe_load((ROOT / "playbooks" / playbook).read_text())
             if "ansible.builtin.import_playbook" in p]
    assert (plays[0]["ansible.builtin.import_playbook"], plays[0]["vars"].get("smtls_lock_state")) == \
        ("lock.yml", None)
    assert (plays[-1]["ansible.builtin.import_playbook"], plays[-1]["vars"]["smtls_lock_state"]) == \
        ("lock.yml", "absent")
    for read_only in ("preflight.yml", "report.yml"):
        assert "smtls_run_lock" not in (ROOT / "playbooks" / read_only).read_text()


def test_no_role_reads_another_roles_private_variables():
    # what one role publishes for another is a documented fact without the __ prefix
    private = re.compile(
        r"\b__(sm_server|sm_webtier|sm_windows_client|smtls_ca|smtls_fleet|smtls)(?:_\w+|\b)")
    for path in list((ROOT / "roles").glob("*/*/*.yml")) + list((ROOT / "playbooks").glob("*.yml")):
        text = path.read_text()
        owner = path.parts[len(ROOT.parts) + 1] if path.parts[len(ROOT.parts)] == "roles" else None
        for name in set(private.findall(text)):
            assert name == owner, "%s reads __%s_ variables" % (path.relative_to(ROOT), name)


def test_no_task_reads_every_hosts_variables():
    # hostvars[host] builds that host's variables: a per-host expression over every host (or
    # every client) costs hosts x hosts builds; read them once per batch (run_once), as the
    # servers' allowlist does with smtls_client_certificates
    whole = re.compile(r"hostvars\s*\|\s*dict2items|hostvars\.(values|items)\(\)")
    for path in list((ROOT / "roles").glob("*/*/*.yml")) + list((ROOT / "playbooks").glob("*.yml")):
        assert not whole.search(path.read_text()), path.relative_to(ROOT)


def test_what_a_phase_does_is_in_the_phase_table_not_in_the_grids_conditions():
    """The grid asks the phase table (smtls_phase_steps) what a phase does; no `when:` of it names
    a phase (one meaning per phase name, kept in one place)."""
    grid = (ROOT / "playbooks/grid.yml").read_text()
    conditions = re.findall(r"^\s*(?:when|__webtiers_first):.*$", grid, re.M)
    assert conditions
    assert not [c for c in conditions if re.search(r"__phase\s*(==|!=)|'(rollout|rotation_\w+)'", c)]
    assert all(isinstance(modes.phase(name)["webtiers_may_go_first"], bool) for name in modes.PHASE_NAMES)


def test_which_steps_a_rotation_runs_is_in_the_phase_table_not_in_the_roles_conditions():
    """Whether a write step may be left out where the preflight's plan found nothing is the phase
    table's plan_holds (a rotation's phases change the stores the next phase writes): no role's
    `when:` or step entry asks whether a rotation is running."""
    asked = re.compile(r"smtls_rotation\s+is\s+(not\s+)?defined")
    found = []
    for path in sorted((ROOT / "roles").glob("*/tasks/*.yml")):
        todo = list(yaml.safe_load(path.read_text()) or [])
        while todo:
            task = todo.pop()
            todo += [t for section in ("block", "rescue", "always") for t in task.get(section) or []]
            if asked.search(str(task.get("when", ""))):
                found.append("%s: %r" % (path.relative_to(ROOT), task.get("name")))
    for role in ("sm_server", "sm_webtier", "sm_windows_client", "smtls"):
        steps = (yaml.safe_load((ROOT / "roles" / role / "vars/main.yml").read_text()) or {})
        for name, value in steps.items():
            if name.endswith(("_steps", "_in_place")) and asked.search(str(value)):
                found.append("%s/vars/main.yml: %s" % (role, name))
    assert found == []
    assert [modes.phase(name)["plan_holds"] for name in modes.PHASE_NAMES] == [True, False, False, False]
