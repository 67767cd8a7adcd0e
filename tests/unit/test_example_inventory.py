"""inventories/example: resolves with its example vault password, defines every input the
roles require for each host, keeps every secret in the vault, and passes the preflight's
argument-spec validation - all without contacting a host.
"""

import ipaddress
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventories" / "example"
VAULT = INVENTORY / "group_vars" / "all" / "vault.yml"
PASSWORD_FILE = INVENTORY / ".vault-pass.example"
BIN = Path(sys.executable).parent
# Which hosts each inventory-facing role runs on ("all": every host of the inventory).
ROLE_HOSTS = {
    "smtls_ca": "all",
    "sm_server": "sm_servers",
    "sm_webtier": "sm_webtiers",
    "sm_windows_client": "sm_windows_clients",
}
# Roles whose entry points get their inputs from the other roles, not from an inventory: the
# shared flows, and the fleet's decisions over what the host roles publish.
INTERNAL_ROLES = {"smtls", "smtls_fleet"}
SECRET_NAME = re.compile(r"pass(word|phrase)?|pwd|secret|token", re.I)
VAULT_REFERENCE = re.compile(r"^\{\{\s*(vault_\w+)\s*\}\}$")


def run(*command, check=True):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run([str(BIN / command[0]), *command[1:]], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc


def specs():
    """{role: argument_specs} for every role that has them."""
    found = {}
    for path in sorted((ROOT / "roles").glob("*/meta/argument_specs.yml")):
        found[path.parents[1].name] = yaml.safe_load(path.read_text())["argument_specs"]
    return found


def role_defaults(role):
    """The role's defaults and those of the roles it depends on."""
    values = {}
    meta = yaml.safe_load((ROOT / "roles" / role / "meta" / "main.yml").read_text()) or {}
    for dep in meta.get("dependencies") or []:
        values.update(role_defaults(dep["role"] if isinstance(dep, dict) else dep))
    path = ROOT / "roles" / role / "defaults" / "main.yml"
    if path.exists():
        values.update(yaml.safe_load(path.read_text()) or {})
    return values


def secret_options():
    """Names of every no_log option in any role's argument spec."""
    return {name for spec in specs().values() for entry in spec.values()
            for name, option in (entry.get("options") or {}).items() if option.get("no_log")}


def plain_files():
    return sorted(p for p in INVENTORY.rglob("*.yml") if p != VAULT)


def walk(value, path=()):
    """(key path, value) of every scalar, for the keys of nested dicts and lists."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, path + (str(key),))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, path + ("[%d]" % index,))
    else:
        yield path, value


@pytest.fixture(scope="module")
def inventory():
    proc = run("ansible-inventory", "-i", str(INVENTORY), "--list",
               "--vault-password-file", str(PASSWORD_FILE))
    data = json.loads(proc.stdout)
    hostvars = data["_meta"]["hostvars"]

    def members(group):
        if group == "all":
            return sorted(hostvars)
        node = data.get(group, {})
        hosts = list(node.get("hosts", []))
        for child in node.get("children", []):
            hosts += members(child)
        return sorted(set(hosts))

    return hostvars, members


@pytest.fixture(scope="module")
def vault():
    proc = run("ansible-vault", "view", "--vault-password-file", str(PASSWORD_FILE), str(VAULT))
    return yaml.safe_load(proc.stdout)


def test_shape_of_the_fleet(inventory):
    hostvars, members = inventory
    assert len(members("sm_servers")) == 3
    assert len(members("sm_webtiers")) == 2
    assert len(members("sm_windows_clients")) == 2
    documentation = ipaddress.ip_network("192.0.2.0/24")
    for host, variables in hostvars.items():
        assert host.endswith(".example.com"), host
        addresses = [variables.get("ansible_host")] + variables.get("sm_server_ip_addresses", [])
        for address in filter(None, addresses):
            assert ipaddress.ip_address(address) in documentation, (host, address)


def test_every_role_with_a_main_entry_point_is_mapped_to_hosts():
    for role, spec in specs().items():
        if "main" in spec:
            assert role in ROLE_HOSTS or role in INTERNAL_ROLES, (
                "role %s: add it to ROLE_HOSTS (the group it runs on)" % role)


def test_required_inputs_are_defined_for_every_host(inventory):
    hostvars, members = inventory
    missing = []
    for role, spec in specs().items():
        if role in INTERNAL_ROLES or "main" not in spec:
            continue
        defaults = role_defaults(role)
        hosts = members(ROLE_HOSTS[role])
        assert hosts, "no host in %s for role %s" % (ROLE_HOSTS[role], role)
        for name, option in spec["main"]["options"].items():
            if not option.get("required"):
                continue
            for host in hosts:
                value = hostvars[host].get(name, defaults.get(name))
                if value in (None, ""):
                    missing.append("%s: %s (role %s)" % (host, name, role))
    assert missing == []


def test_the_mode_finds_its_conditionally_required_inputs(inventory):
    hostvars, members = inventory
    for host in members("sm_servers"):
        if hostvars[host]["smtls_ssl_mode"] in ("trusted_clients", "trusted_signon"):
            assert hostvars[host].get("sm_server_trustedclients_password"), host


def test_vault_is_encrypted_and_holds_only_vault_names(vault):
    assert VAULT.read_text().startswith("$ANSIBLE_VAULT;1.1;AES256")
    assert vault and all(name.startswith("vault_") for name in vault), sorted(vault)
    assert all(isinstance(value, str) and value for value in vault.values())


def test_every_vault_reference_resolves_and_every_vault_entry_is_used(vault):
    referenced = set()
    for path in plain_files():
        referenced |= set(re.findall(r"\bvault_\w+", path.read_text()))
    assert referenced - set(vault) == set(), "referenced, not in the vault"
    assert set(vault) - referenced == set(), "in the vault, used nowhere"


def test_no_secret_in_plain_text():
    secret_names = secret_options()
    found = []
    for path in plain_files():
        data = yaml.safe_load(path.read_text()) or {}
        for keys, value in walk(data):
            name = [k for k in keys if not k.startswith("[")][-1]
            if isinstance(value, bool) or value is None:
                continue  # a switch, not a secret (sm_windows_client_prefs_include_password)
            if name in secret_names or SECRET_NAME.search(name):
                if not (isinstance(value, str) and VAULT_REFERENCE.match(value)):
                    found.append("%s: %s" % (path.relative_to(INVENTORY), ".".join(keys)))
    assert found == [], "secrets must be '{{ vault_... }}' references"


def test_every_secret_input_of_the_roles_is_mapped_to_the_vault():
    mapped = {}
    for path in plain_files():
        mapped.update(yaml.safe_load(path.read_text()) or {})
    wanted = set()
    for role, spec in specs().items():
        if role in INTERNAL_ROLES or "main" not in spec:
            continue
        wanted |= {name for name, option in spec["main"]["options"].items() if option.get("no_log")}
    unmapped = sorted(name for name in wanted
                      if not VAULT_REFERENCE.match(str(mapped.get(name, ""))))
    assert unmapped == []


def test_inputs_pass_the_preflight_validation():
    """The preflight's own validation (smtls `validate` entry point) over every host."""
    proc = run("ansible-playbook", "-i", str(INVENTORY),
               str(ROOT / "tests" / "unit" / "example_inventory_validate.yml"),
               "--vault-password-file", str(PASSWORD_FILE), "-e", "ansible_connection=local")
    assert "PLAY RECAP" in proc.stdout


def test_the_validation_catches_a_wrong_input():
    proc = run("ansible-playbook", "-i", str(INVENTORY),
               str(ROOT / "tests" / "unit" / "example_inventory_validate.yml"),
               "--vault-password-file", str(PASSWORD_FILE), "-e", "ansible_connection=local",
               "-e", "sm_server_keystore_password=", "--limit", "smsrv01.example.com",
               check=False)
    assert proc.returncode != 0
    assert ("smsrv01.example.com: sm_server_keystore_password=(secret) is required but empty. Fix:"
            in proc.stdout)


def test_playbooks_pass_syntax_check_with_this_inventory():
    playbooks = sorted(str(p) for p in (ROOT / "playbooks").glob("*.yml"))
    assert any(p.endswith("/site.yml") for p in playbooks)
    run("ansible-playbook", "-i", str(INVENTORY), "--syntax-check",
        "--vault-password-file", str(PASSWORD_FILE), *playbooks)
