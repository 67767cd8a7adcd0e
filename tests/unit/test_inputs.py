"""The input model (module_utils/smtls_inputs.py, through the roles' filters): every variable's
type, range and cross-field rules on one host, and the rules across the hosts of a run - as a
table of bad inputs grouped by kind, and as properties generated within and just outside each
variable's range."""

import datetime as dt
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ansible.module_utils import smtls_inputs as model
from ansible.module_utils import smtls_x509 as pki

ROOT = Path(__file__).resolve().parents[2]
ROLES = str(ROOT / "roles")
sys.path.insert(0, str(ROOT / "plugins" / "filter"))
from smtls_inputs import smtls_fleet_problems, smtls_input_check, smtls_input_names  # noqa: E402

# what a host of each role is given in a small, valid inventory (the rest stays unset)
BASE = {
    "sm_server": {
        "smtls_ssl_mode": "trusted_clients",
        "smtls_ca_passphrase": "demo-ca-passphrase",
        "sm_server_keystore_password": "server-ks-1",
        "sm_server_truststore_password": "changeit",
        "sm_server_trustedclients_password": "trusted-1",
        "sm_server_http_port": 13080,
        "sm_server_https_port": 13443,
    },
    "sm_webtier": {
        "smtls_ssl_mode": "trusted_clients",
        "smtls_ca_passphrase": "demo-ca-passphrase",
        "sm_webtier_keystore_password": "webtier-ks-1",
        "sm_webtier_server_http_port": 13080,
        "sm_webtier_server_https_port": 13443,
    },
    "sm_windows_client": {"smtls_ssl_mode": "trusted_clients", "smtls_ca_passphrase": "demo-ca-passphrase"},
    "smtls_ca": {"smtls_ca_passphrase": "demo-ca-passphrase"},
}
GROUPS = {
    "sm_server": ["sm_servers"],
    "sm_webtier": ["sm_webtiers"],
    "sm_windows_client": ["sm_windows_clients"],
    "smtls_ca": [],
}
# what no bad-input message may be: an argument-spec dump, a traceback, a filter's wrapper
NOT_ONE_LINE = ("Traceback", "filter plugin", "Validation of arguments failed", "\n")


def check(role, **changes):
    """The model's verdict on a host of role given BASE with changes (_groups: more groups)."""
    groups = changes.pop("_groups", [])
    names = smtls_input_names(role, ROLES)
    values = dict(BASE[role], **changes)
    given_values = [values.get(name, model.UNSET) for name in names]
    return smtls_input_check(given_values, names, role, ROLES, GROUPS[role] + groups)


def problems(role, **changes):
    return check(role, **changes)["problems"]


def assert_one_line(problem, variable, secret=None):
    assert len(problem) <= model.MAX_LINE, problem
    assert not any(word in problem for word in NOT_ONE_LINE), problem
    assert problem.startswith(variable) or variable in problem, (variable, problem)
    assert "Fix:" in problem, problem
    assert secret is None or secret not in problem, problem


@pytest.mark.parametrize("role", sorted(BASE))
def test_a_valid_inventory_has_no_problem(role):
    assert problems(role) == []


# label -> (role, variable named, changes); each a bad input refused by the model on its own
BAD = {
    # types
    "type: port as text": ("sm_server", "sm_server_https_port", {"sm_server_https_port": "https"}),
    "type: port as float text": ("sm_server", "sm_server_http_port", {"sm_server_http_port": "80.5"}),
    "type: days as text": ("sm_server", "smtls_valid_days", {"smtls_valid_days": "a year"}),
    "type: renew days as list": ("sm_server", "smtls_renew_days", {"smtls_renew_days": [30]}),
    "type: bool as word": (
        "sm_server",
        "smtls_ssl_allow_legacy_protocols",
        {"smtls_ssl_allow_legacy_protocols": "maybe"},
    ),
    "type: list as dict": ("sm_server", "sm_server_dns_names", {"sm_server_dns_names": {"a": 1}}),
    "type: dict list as strings": ("sm_server", "smtls_client_cas", {"smtls_client_cas": "a-ca"}),
    "type: browser probe as word": (
        "sm_webtier",
        "sm_webtier_browser_probe",
        {"sm_webtier_browser_probe": "often"},
    ),
    "type: prefs keys as list": (
        "sm_windows_client",
        "sm_windows_client_prefs_keys",
        {"sm_windows_client_prefs_keys": ["a"]},
    ),
    "type: CA valid days as text": ("smtls_ca", "smtls_ca_valid_days", {"smtls_ca_valid_days": "ten years"}),
    "type: ACME timeout as text": ("smtls_ca", "smtls_ca_acme_timeout", {"smtls_ca_acme_timeout": "soon"}),
    "type: probe wait as text": ("sm_server", "smtls_probe_wait", {"smtls_probe_wait": "a minute"}),
    # sets of values
    "choice: unknown mode": ("sm_server", "smtls_ssl_mode", {"smtls_ssl_mode": "bogus"}),
    "choice: mode in capitals": ("sm_webtier", "smtls_ssl_mode", {"smtls_ssl_mode": "ENCRYPTION"}),
    "choice: keystore type": ("sm_server", "sm_server_keystore_type", {"sm_server_keystore_type": "jceks"}),
    "choice: truststore type": (
        "sm_webtier",
        "sm_webtier_truststore_type",
        {"sm_webtier_truststore_type": "bks"},
    ),
    "choice: service manager": (
        "sm_server",
        "sm_server_service_manager",
        {"sm_server_service_manager": "systemd"},
    ),
    "choice: CA source": ("smtls_ca", "smtls_ca_source", {"smtls_ca_source": "vault"}),
    "choice: ACME challenge": (
        "smtls_ca",
        "smtls_ca_acme_challenge",
        {"smtls_ca_acme_challenge": "tls-alpn-01"},
    ),
    "choice: key type": ("sm_server", "smtls_key_type", {"smtls_key_type": "dsa"}),
    "choice: probe": ("sm_server", "smtls_probe", {"smtls_probe": "sometimes"}),
    "choice: report fail_on": ("sm_server", "smtls_report_fail_on", {"smtls_report_fail_on": "error"}),
    "choice: delivery": (
        "sm_windows_client",
        "sm_windows_client_delivery",
        {"sm_windows_client_delivery": "ssh"},
    ),
    "choice: browser https": (
        "sm_webtier",
        "sm_webtier_browser_https",
        {"sm_webtier_browser_https": "sometimes"},
    ),
    "choice: config target": ("sm_webtier", "sm_webtier_config_target", {"sm_webtier_config_target": "yaml"}),
    # required
    "required: keystore password empty": (
        "sm_server",
        "sm_server_keystore_password",
        {"sm_server_keystore_password": ""},
    ),
    "required: keystore password null": (
        "sm_server",
        "sm_server_keystore_password",
        {"sm_server_keystore_password": None},
    ),
    "required: web tier keystore password unset": (
        "sm_webtier",
        "sm_webtier_keystore_password",
        {"sm_webtier_keystore_password": model.UNSET},
    ),
    "required: CA passphrase unset": (
        "smtls_ca",
        "smtls_ca_passphrase",
        {"smtls_ca_passphrase": model.UNSET},
    ),
    # ranges
    "range: validity 0 days": ("sm_server", "smtls_valid_days", {"smtls_valid_days": 0}),
    "range: validity negative": ("sm_webtier", "smtls_valid_days", {"smtls_valid_days": -5}),
    "range: validity 20 years": ("sm_server", "smtls_valid_days", {"smtls_valid_days": 7300}),
    "range: renewal negative": ("sm_server", "smtls_renew_days", {"smtls_renew_days": -1}),
    "range: CA validity 0": ("smtls_ca", "smtls_ca_valid_days", {"smtls_ca_valid_days": 0}),
    "range: HTTPS port 0": ("sm_server", "sm_server_https_port", {"sm_server_https_port": 0}),
    "range: HTTPS port 70000": ("sm_server", "sm_server_https_port", {"sm_server_https_port": 70000}),
    "range: HTTP port negative": ("sm_server", "sm_server_http_port", {"sm_server_http_port": -80}),
    "range: web tier server port": (
        "sm_webtier",
        "sm_webtier_server_https_port",
        {"sm_webtier_server_https_port": 65536},
    ),
    "range: browser port": (
        "sm_webtier",
        "sm_webtier_browser_https_port",
        {"sm_webtier_browser_https_port": -1},
    ),
    "range: Windows client port": (
        "sm_windows_client",
        "sm_windows_client_server_https_port",
        {"sm_windows_client_server_https_port": 99999},
    ),
    "range: ACME http port": ("sm_server", "smtls_acme_http_port", {"smtls_acme_http_port": 0}),
    "range: ACME DNS port": ("smtls_ca", "smtls_ca_acme_dns_port", {"smtls_ca_acme_dns_port": 65536}),
    "range: probe wait negative": ("sm_server", "smtls_probe_wait", {"smtls_probe_wait": -1}),
    "range: probe wait zero": ("sm_webtier", "smtls_probe_wait", {"smtls_probe_wait": 0}),
    "range: backups negative": ("sm_server", "smtls_backup_keep", {"smtls_backup_keep": -2}),
    "range: responder lifetime": (
        "sm_server",
        "smtls_acme_responder_lifetime",
        {"smtls_acme_responder_lifetime": 1},
    ),
    "range: ACME timeout zero": ("smtls_ca", "smtls_ca_acme_timeout", {"smtls_ca_acme_timeout": 0}),
    "range: RSA key 1024": ("sm_server", "smtls_key_size", {"smtls_key_size": 1024}),
    "range: RSA key huge": ("sm_server", "smtls_key_size", {"smtls_key_size": 65536}),
    "range: failure percentage": (
        "sm_server",
        "smtls_max_fail_percentage",
        {"smtls_max_fail_percentage": 101},
    ),
    "range: failure percentage word": (
        "smtls_ca",
        "smtls_max_fail_percentage",
        {"smtls_max_fail_percentage": "ten"},
    ),
    # play keywords
    "batch: words": ("sm_server", "smtls_server_batch", {"smtls_server_batch": "25 percent"}),
    "batch: zero": ("sm_server", "smtls_webtier_batch", {"smtls_webtier_batch": 0}),
    "batch: over 100%": ("smtls_ca", "smtls_server_batch", {"smtls_server_batch": "150%"}),
    "batch: list with junk": ("smtls_ca", "smtls_webtier_batch", {"smtls_webtier_batch": [1, "x"]}),
    # lists that must not be empty
    "list: no protocols": ("sm_server", "smtls_ssl_protocols", {"smtls_ssl_protocols": []}),
    "list: no ciphers": ("sm_server", "smtls_ssl_ciphers", {"smtls_ssl_ciphers": []}),
    "list: protocols as text": (
        "sm_server",
        "smtls_ssl_protocols",
        {"smtls_ssl_protocols": "TLSv1.2,TLSv1.3"},
    ),
    "list: ciphers as text": ("sm_server", "smtls_ssl_ciphers", {"smtls_ssl_ciphers": "ALL"}),
    "list: restart command empty": (
        "sm_server",
        "sm_server_restart_command",
        {"sm_server_service_manager": "command", "sm_server_restart_command": []},
    ),
    "list: web tier restart command unset": (
        "sm_webtier",
        "sm_webtier_restart_command",
        {"sm_webtier_service_manager": "command"},
    ),
    # formats
    "format: file mode word": ("sm_server", "sm_server_file_mode", {"sm_server_file_mode": "rw-r-----"}),
    "format: file mode digits 8": ("sm_webtier", "sm_webtier_file_mode", {"sm_webtier_file_mode": "0680"}),
    "format: file mode as int": (
        "sm_windows_client",
        "sm_windows_client_file_mode",
        {"sm_windows_client_file_mode": "644444"},
    ),
    "format: password too short": (
        "sm_server",
        "sm_server_keystore_password",
        {"sm_server_keystore_password": "abc"},
    ),
    "format: web tier password too short": (
        "sm_webtier",
        "sm_webtier_keystore_password",
        {"sm_webtier_keystore_password": "12345"},
    ),
    # names a certificate carries
    "name: DNS name with a space": (
        "sm_server",
        "sm_server_dns_names",
        {"sm_server_dns_names": ["sm1", "bad name"]},
    ),
    "name: URL as DNS name": (
        "sm_webtier",
        "sm_webtier_dns_names",
        {"sm_webtier_dns_names": ["https://web1"]},
    ),
    "name: IP out of range": (
        "sm_server",
        "sm_server_ip_addresses",
        {"sm_server_ip_addresses": ["10.0.0.999"]},
    ),
    "name: host name among IPs": (
        "sm_webtier",
        "sm_webtier_browser_ips",
        {"sm_webtier_browser_ips": ["web1"]},
    ),
    # across variables
    "cross: renewal equals validity": ("sm_server", "smtls_renew_days", {"smtls_renew_days": 397}),
    "cross: renewal beyond validity": (
        "sm_webtier",
        "smtls_renew_days",
        {"smtls_renew_days": 60, "smtls_valid_days": 30},
    ),
    "cross: HTTPS port is the HTTP port": (
        "sm_server",
        "sm_server_https_port",
        {"sm_server_https_port": 13080},
    ),
    "cross: web tier ports equal": (
        "sm_webtier",
        "sm_webtier_server_https_port",
        {"sm_webtier_server_https_port": 13080},
    ),
    "cross: Windows client ports equal": (
        "sm_windows_client",
        "sm_windows_client_server_https_port",
        {"sm_windows_client_server_http_port": 8080, "sm_windows_client_server_https_port": "8080"},
    ),
    "cross: host in two host roles": ("sm_server", "group_names", {"_groups": ["sm_webtiers"]}),
    "cross: host in three host roles": (
        "sm_windows_client",
        "group_names",
        {"_groups": ["sm_webtiers", "sm_servers"]},
    ),
}


@pytest.mark.parametrize("label", sorted(BAD))
def test_bad_input_is_one_line_naming_variable_and_fix(label):
    role, variable, changes = BAD[label]
    found = problems(role, **changes)
    assert found, "%s: accepted" % label
    named = [p for p in found if p.startswith(variable)]
    assert named, found
    secret = changes.get(variable) if model.is_secret(variable) and changes.get(variable) else None
    for problem in found:
        assert_one_line(problem, problem.split("=")[0], secret)


def test_the_table_is_large_and_covers_every_kind():
    kinds = {label.split(":")[0] for label in BAD}
    assert len(BAD) >= 60 and kinds >= {
        "type",
        "choice",
        "required",
        "range",
        "batch",
        "list",
        "format",
        "name",
        "cross",
    }


def _spec_options():
    for path in sorted(Path(ROLES).glob("*/meta/argument_specs.yml")):
        for entry, spec in yaml.safe_load(path.read_text())["argument_specs"].items():
            for name, option in (spec.get("options") or {}).items():
                yield path.parts[-3], entry, name, option


def test_every_int_input_has_a_range_and_every_range_an_input():
    ints = {
        name
        for role, _entry, name, option in _spec_options()
        if option.get("type") == "int" and (role != "smtls" or name in model.SHARED)
    }
    assert ints - set(model.RANGES) == set(), "int inputs without a range in smtls_inputs.RANGES"
    spec_names = {name for _role, _entry, name, _option in _spec_options()}
    assert set(model.RANGES) - spec_names - set(model.PLAY_KEYWORDS) == set()


def test_every_literal_role_default_is_valid_under_the_model():
    for path in sorted(Path(ROLES).glob("*/defaults/main.yml")):
        defaults = {
            k: v
            for k, v in (yaml.safe_load(path.read_text()) or {}).items()
            if "{{" not in repr(v)  # a template is judged once rendered, by the playbook tests
        }
        for role in ("sm_server", "sm_webtier", "sm_windows_client"):
            names = set(smtls_input_names(role, ROLES))
            given_values = {k: v for k, v in defaults.items() if k in names}
            assert problems(role, **given_values) == [], (path, role)


# --- properties ---------------------------------------------------------------------------

RANGED = sorted(n for n in model.RANGES if n not in ("smtls_key_size",))
ROLE_OF = {}
for _role in ("sm_server", "sm_webtier", "sm_windows_client", "smtls_ca"):
    for _name in smtls_input_names(_role, ROLES):
        ROLE_OF.setdefault(_name, _role)


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(RANGED), data=st.data())
def test_a_ranged_variable_is_refused_exactly_outside_its_range(name, data):
    lowest, highest, _what = model.RANGES[name]
    value = data.draw(
        st.one_of(
            st.integers(lowest - 3, lowest + 3),
            st.integers(highest - 3, highest + 3),
            st.integers(-(10**6), 10**6),
        )
    )
    as_text = data.draw(st.booleans())
    role = ROLE_OF[name]
    changes = {name: str(value) if as_text else value}
    # keep the cross-field rules out of this property: the pairs it could break are moved aside
    if name == "smtls_valid_days":
        changes["smtls_renew_days"] = 0
    if name == "smtls_renew_days":
        changes["smtls_valid_days"] = 3650 if value < 3650 else 1
    for http, https in model.PORT_PAIRS:
        if name in (http, https):
            changes[https if name == http else http] = 1 if value != 1 else 2
    found = [p for p in problems(role, **changes) if p.startswith(name + "=")]
    inside = lowest <= value <= highest
    assert (found == []) == inside, (name, value, found)
    for problem in found:
        assert_one_line(problem, name)


@settings(max_examples=100, deadline=None)
@given(valid=st.integers(-5, 4000), renew=st.integers(-5, 4000))
@example(valid=397, renew=397)
@example(valid=1, renew=0)
def test_lifetimes_renewal_below_validity(valid, renew):
    found = problems("sm_server", smtls_valid_days=valid, smtls_renew_days=renew)
    acceptable = 1 <= valid <= 3650 and 0 <= renew <= 3649 and renew < valid
    assert (found == []) == acceptable, (valid, renew, found)


@settings(max_examples=100, deadline=None)
@given(
    http=st.integers(1, 65535), https=st.integers(1, 65535), role=st.sampled_from(sorted(model.PORT_PAIRS))
)
def test_https_port_differs_from_http_port(http, https, role):
    http_name, https_name = role
    found = problems(ROLE_OF[https_name], **{http_name: http, https_name: https})
    assert (found == []) == (http != https), found


@settings(max_examples=60, deadline=None)
@given(
    protocols=st.one_of(
        st.just("auto"), st.lists(st.sampled_from(["TLSv1.2", "TLSv1.3"]), max_size=2), st.text(max_size=8)
    )
)
def test_protocols_are_auto_or_a_non_empty_list(protocols):
    found = [
        p for p in problems("sm_server", smtls_ssl_protocols=protocols) if p.startswith("smtls_ssl_protocols")
    ]
    assert (found == []) == (protocols == "auto" or (isinstance(protocols, list) and protocols != []))


# --- the fleet ----------------------------------------------------------------------------


class Host(dict):
    """A host's variables as hostvars gives them (a mapping with get)."""


def fleet(per_host, groups=None, **kwargs):
    hostvars, hosts = {}, sorted(per_host)
    for host, (role, changes) in per_host.items():
        checked = check(role, **changes)
        hostvars[host] = Host(dict(BASE[role], **changes), smtls_inputs=checked)
    groups = groups or {
        "all": hosts,
        "sm_servers": [h for h in hosts if per_host[h][0] == "sm_server"],
        "sm_webtiers": [h for h in hosts if per_host[h][0] == "sm_webtier"],
        "sm_windows_clients": [h for h in hosts if per_host[h][0] == "sm_windows_client"],
    }
    return smtls_fleet_problems(hosts, hostvars, groups, **kwargs)


ROLES_OF_HOSTS = {
    "sm1": "sm_server",
    "sm2": "sm_server",
    "web1": "sm_webtier",
    "web2": "sm_webtier",
    "win1": "sm_windows_client",
}


def test_a_fleet_that_agrees_has_no_problem():
    assert fleet({h: (r, {}) for h, r in ROLES_OF_HOSTS.items()}) == []


FLEET_VALUES = {
    "smtls_ssl_mode": st.sampled_from(["encryption", "client_auth", "trusted_clients", "trusted_signon"]),
    "smtls_valid_days": st.sampled_from([90, 397]),
    "smtls_renew_days": st.sampled_from([10, 30]),
    "smtls_ssl_protocols": st.sampled_from(["auto", ["TLSv1.2"], ["TLSv1.2", "TLSv1.3"]]),
    "smtls_key_type": st.sampled_from(["rsa", "ec"]),
    "smtls_ca_passphrase": st.sampled_from(["demo-ca-passphrase", "another-passphrase"]),
}


@settings(max_examples=120, deadline=None)
@given(name=st.sampled_from(sorted(FLEET_VALUES)), data=st.data())
def test_a_fleet_wide_setting_that_differs_is_refused_naming_the_hosts(name, data):
    chosen = {h: data.draw(FLEET_VALUES[name], label=h) for h in ROLES_OF_HOSTS}
    found = fleet({h: (r, {name: chosen[h]}) for h, r in ROLES_OF_HOSTS.items()})
    distinct = {
        repr(v)
        for h, v in chosen.items()
        if name in smtls_input_names(ROLES_OF_HOSTS[h], ROLES) or model.is_secret(name)
    }
    named = [p for p in found if p.startswith(name + "=")]
    assert bool(named) == (len(distinct) > 1), (chosen, found)
    for problem in named:
        assert_one_line(problem, name, "another-passphrase")
        assert "another-passphrase" not in problem and "demo-ca-passphrase" not in problem


def test_a_host_named_by_another_must_have_the_right_role():
    found = fleet(
        {
            "sm1": ("sm_server", {}),
            "web1": ("sm_webtier", {"sm_webtier_server_host": "web2"}),
            "web2": ("sm_webtier", {}),
        }
    )
    assert any(p.startswith("sm_webtier_server_host='web2'") and "not in sm_servers" in p for p in found), (
        found
    )
    found = fleet(
        {
            "sm1": ("sm_server", {}),
            "win1": ("sm_windows_client", {"sm_windows_client_server_host": "win1"}),
        }
    )
    assert any(p.startswith("sm_windows_client_server_host='win1'") for p in found), found
    # a name no host has is the role's to judge (a DNS alias of the servers)
    assert (
        fleet({"sm1": ("sm_server", {}), "web1": ("sm_webtier", {"sm_webtier_server_host": "sm.example"})})
        == []
    )


NOW = dt.datetime(2026, 12, 6, tzinfo=dt.timezone.utc)


@settings(max_examples=100, deadline=None)
@given(left=st.integers(-10, 2000), valid=st.integers(1, 800), renew=st.integers(0, 120), signs=st.booleans())
def test_the_ca_outlives_a_renewal_window_and_a_certificate(left, valid, renew, signs):
    found = model.ca_life_problems(NOW + dt.timedelta(days=left, hours=1), valid, renew, signs, at=NOW)
    needed = renew + valid if signs else renew
    assert bool(found) == (left + 1 / 24 < needed), (left, valid, renew, found)
    for problem in found:
        assert_one_line(problem, "smtls_ca_dir")


def test_a_new_ca_made_expired_is_refused_by_the_fleet_check():
    key, cert = pki.create_ca("born expired", valid_days=0, key_size=2048)
    found = fleet(
        {"sm1": ("sm_server", {})}, ca_certificate=pki.cert_pem(cert), valid_days=397, renew_days=30
    )
    assert len(found) == 1 and "0 day(s) left" in found[0], found


def test_an_expired_allowed_client_is_a_problem_before_any_write():
    from smtls_certs import smtls_pem_problem

    key, cert = pki.create_ca("old client", valid_days=1, key_size=2048, at=pki.now() - dt.timedelta(days=3))
    problem = smtls_pem_problem(
        [{"alias": "old", "pem": pki.cert_pem(cert)}], "sm_server_trusted_clients_extra"
    )
    assert "sm_server_trusted_clients_extra old: CN=old client expired on" in problem
    _key, current = pki.create_ca("new client", valid_days=30, key_size=2048)
    assert smtls_pem_problem([{"alias": "new", "pem": pki.cert_pem(current)}], "x") == ""


def _pem(days_ago, valid_days, name="a client"):
    _key, cert = pki.create_ca(
        name, valid_days=valid_days, key_size=2048, at=pki.now() - dt.timedelta(days=days_ago)
    )
    return pki.cert_pem(cert)


@pytest.mark.parametrize(
    "name,value,refused",
    [
        ("smtls_client_cas", [{"alias": "old", "pem": "__EXPIRED__"}], "expired on"),
        ("sm_server_trusted_clients_extra", [{"alias": "x", "pem": "__EXPIRED__"}], "expired on"),
        ("smtls_accepted_ca_certificates", ["__EXPIRED__"], "expired on"),
        ("smtls_accepted_ca_certificates", ["__LATER__"], "is not valid before"),
        (
            "smtls_client_cas",
            [{"alias": "junk", "pem": "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----"}],
            "malformed PEM",
        ),
        ("smtls_client_cas", [{"alias": "ok", "pem": "__CURRENT__"}], ""),
    ],
)
def test_certificates_put_into_stores_are_current(name, value, refused):
    pems = {"__EXPIRED__": _pem(5, 1), "__LATER__": _pem(-3, 30), "__CURRENT__": _pem(1, 30)}
    value = [
        dict(v, pem=pems.get(v["pem"], v["pem"])) if isinstance(v, dict) else pems.get(v, v) for v in value
    ]
    found = [p for p in problems("sm_server", **{name: value}) if p.startswith(name)]
    if refused:
        assert len(found) == 1 and refused in found[0], found
        assert_one_line(found[0], name)
    else:
        assert found == []


def test_a_server_may_probe_itself_or_from_localhost_but_not_from_nowhere():
    roles = {"sm1": ("sm_server", {"sm_server_probe_from": "sm1"}), "web1": ("sm_webtier", {})}
    assert fleet(roles) == []
    assert fleet({"sm1": ("sm_server", {"sm_server_probe_from": "localhost"})}) == []
    found = fleet({"sm1": ("sm_server", {"sm_server_probe_from": "nowhere.example"})})
    assert found and found[0].startswith("sm_server_probe_from='nowhere.example'"), found


def test_fleet_wide_values_compare_as_the_roles_take_them():
    # an INI inventory gives "397"; a host that sets the default agrees with one that sets nothing
    assert fleet({"sm1": ("sm_server", {"smtls_valid_days": "397"}), "sm2": ("sm_server", {})}) == []
    assert (
        fleet({"sm1": ("sm_server", {"smtls_ssl_allow_legacy_protocols": "no"}), "sm2": ("sm_server", {})})
        == []
    )
    # a setting whose default is a template is judged among the hosts that set it
    assert fleet({"sm1": ("sm_server", {"smtls_ca_dir": "/srv/ca"}), "sm2": ("sm_server", {})}) == []
    found = fleet(
        {"sm1": ("sm_server", {"smtls_ca_dir": "/srv/ca"}), "sm2": ("sm_server", {"smtls_ca_dir": "/x"})}
    )
    assert found and found[0].startswith("smtls_ca_dir="), found
    # a shared web tier secret is compared among the web tiers only
    tiers = {
        "sm1": ("sm_server", {}),
        "web1": ("sm_webtier", {"sm_webtier_shared_key_passphrase": "shared-one"}),
        "web2": ("sm_webtier", {"sm_webtier_shared_key_passphrase": "shared-two"}),
    }
    found = fleet(tiers)
    assert [p for p in found if p.startswith("sm_webtier_shared_key_passphrase")], found
    assert not any("shared-one" in p or "shared-two" in p for p in found)


def test_the_renewal_rule_is_for_what_smtls_signs():
    assert problems("sm_server", smtls_renew_days=3000) != []
    assert problems("sm_server", smtls_renew_days=3000, smtls_ca_source="acme") == []
    assert problems("sm_server", smtls_renew_days=3000, smtls_ca_source="files") == []


class _Lazy(list):
    """A list as Jinja hands one to a filter under ansible-core 2.19: deep-copying it templates it
    again (seconds per host, measured); the model must read such a value, never copy it."""

    def __deepcopy__(self, memo):
        raise AssertionError("the input model deep-copied a value Jinja handed it")


class _LazyMap(dict):
    def __deepcopy__(self, memo):
        raise AssertionError("the input model deep-copied a value Jinja handed it")


@pytest.mark.parametrize("role", sorted(BASE))
def test_the_model_reads_lazy_values_without_copying_them(role):
    names = smtls_input_names(role, ROLES)
    given = dict(BASE[role], smtls_keep_cas=[{"subject": "CN=kept"}], smtls_ca_acme_contact=["a@b.invalid"])
    values = [given.get(n, model.UNSET) for n in names]

    def lazy(value):
        if isinstance(value, dict):
            return _LazyMap((k, lazy(v)) for k, v in value.items())
        if isinstance(value, list):
            return _Lazy(lazy(v) for v in value)
        return value

    plain_result = smtls_input_check(values, names, role, ROLES, GROUPS[role])
    lazy_result = smtls_input_check([lazy(v) for v in values], names, role, ROLES, GROUPS[role])
    assert lazy_result == plain_result
    assert any(isinstance(v, list) for v in values), "the base inventory holds no list to try"
