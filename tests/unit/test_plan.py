"""The run's plan (module_utils/smtls_plan.py): a host is due exactly when one of its write steps
is, a restart is pending, its allowlist would change, or every host is; a host with nothing due
gets the liveness check its skipped apply step would have made. And the roles' step entries are
the ones their tasks and the plan read (no entry kept on paper, none read that is not declared)."""

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible.module_utils import smtls_plan as plan
from ansible.module_utils import smtls_x509 as pki
from test_liveness import seen

ROOT = Path(__file__).resolve().parents[2]


def _cert(name):
    _key, cert = pki.create_ca(name, key_size=2048)
    return {"alias": name, "pem": pki.cert_pem(cert), "sha256": pki.sha256_hex(cert)}


CLIENTS = {name: _cert(name) for name in ("web1", "web2", "extra")}


def allowlist_read(*names, mode=0o640):
    return {"exists": True, "password_used": "primary", "type": "jks", "attributes": {"mode": mode},
            "entries": [{"alias": n, "kind": "trusted_cert", "sha256": CLIENTS[n]["sha256"],
                         "subject": "CN=" + n, "issuer": "CN=" + n} for n in names]}


def client_plan(name, due=False):
    return {"role": "sm_webtier", "steps": {"client_certificate": due}, "restart_pending": False,
            "client_certificate_due": due,
            "client_certificate": {} if due else {"alias": name, "pem": CLIENTS[name]["pem"]}}


def server_plan(read, steps=None, pending=False, liveness=None):
    return {"role": "sm_server", "steps": steps or {"sm_ini": False, "keystore": False},
            "restart_pending": pending,
            "allowlist": {"read": read, "trusted": [{"alias": "extra", "pem": CLIENTS["extra"]["pem"]}],
                          "clients": ["web1", "web2"], "store_type": "jks", "mode": "0640"},
            "liveness": liveness or {}}


def fleet(server, clients=None, observations=(), always=""):
    plans = {"sm1": server, "web1": client_plan("web1"), "web2": client_plan("web2")}
    plans.update(clients or {})
    return plan.fleet(list(plans), plans, list(observations), always)


def test_a_converged_fleet_has_nothing_due():
    found = fleet(server_plan(allowlist_read("web1", "web2", "extra")))
    assert {h: (p["due"], p["why"]) for h, p in found.items()} == {
        "sm1": (False, []), "web1": (False, []), "web2": (False, [])}


@pytest.mark.parametrize("read,clients,why", [
    (allowlist_read("web1", "extra"), {}, "allowlist: not exactly the clients' certificates"),
    (allowlist_read("web1", "web2", "extra", mode=0o644), {},
     "allowlist: not exactly the clients' certificates"),
    (allowlist_read("web1", "web2"), {}, "allowlist: not exactly the clients' certificates"),
    (dict(allowlist_read("web1", "web2", "extra"), password_used="initial"), {},
     "allowlist: not exactly the clients' certificates"),
    ({"error": "wrong store password"}, {}, "allowlist: not exactly the clients' certificates"),
    (allowlist_read("web1", "web2", "extra"), {"web2": client_plan("web2", due=True)},
     "allowlist: client web2 may get a new certificate in this run"),
    (allowlist_read("web1", "web2", "extra"), {"web2": {}}, "allowlist: client web2 has no plan in this run"),
])
def test_an_allowlist_that_would_change_makes_its_server_due(read, clients, why):
    found = fleet(server_plan(read), clients)
    assert found["sm1"]["due"] and found["sm1"]["why"] == [why]


# every combination of a host's own signals: due exactly when one of them says so, and why names each
@settings(max_examples=60, deadline=None)
@given(steps=st.dictionaries(st.sampled_from(["sm_ini", "keystore", "trust", "truststores", "client_cas"]),
                             st.booleans()),
       pending=st.booleans(), always=st.sampled_from(["", "a CA rotation"]))
def test_a_host_is_due_exactly_when_a_step_a_restart_or_the_run_says_so(steps, pending, always):
    found = fleet(server_plan(allowlist_read("web1", "web2", "extra"), steps, pending), always=always)["sm1"]
    wanted = [always] if always else sorted(s for s, due in steps.items() if due) + (
        ["restart pending from an earlier run"] if pending else [])
    assert found["why"] == wanted
    assert found["due"] == bool(wanted)


def test_a_host_without_a_plan_is_due():
    assert plan.fleet(["sm9"], {}, [])["sm9"] == {"due": True, "why": ["no plan from the preflight"],
                                                  "liveness": []}


def test_liveness_is_checked_where_nothing_is_due_and_only_there():
    keystore = {"entries": [{"alias": "sm", "kind": "private_key", "sha256": "ab" * 32}]}
    check = {"keystore_read": keystore, "keystore": "/RUN/server.keystore", "ports": [13443, 14443]}
    down = [seen(13443, name="sm1", sha="ab" * 32), seen(14443, answered=False, name="sm1")]
    settled = fleet(server_plan(allowlist_read("web1", "web2", "extra"), liveness=check), observations=down)
    assert settled["sm1"]["due"] is False
    assert len(settled["sm1"]["liveness"]) == 1 and "sm1 port 14443" in settled["sm1"]["liveness"][0]
    # a port nobody probed is a problem too: a probe that did not run never passes for a live host
    unseen = fleet(server_plan(allowlist_read("web1", "web2", "extra"), liveness=check),
                   observations=down[:1])
    assert "was not probed in this run" in unseen["sm1"]["liveness"][0]
    # due: the restart after the writes proves it (the apply step's own check)
    due = fleet(server_plan(allowlist_read("web1", "web2", "extra"), {"sm_ini": True}, liveness=check),
                observations=down)
    assert due["sm1"]["due"] and due["sm1"]["liveness"] == []


# The step entries (roles/*/vars/main.yml __<role>_steps): each is read by a task of its role (the
# step's `when:`), or is a prediction of a decision its flow makes itself - the identity flow
# decides a certificate and a keystore, the Windows bundle's template and file tasks compare what
# they write - listed here. A task may read no entry that is not declared.
PREDICTIONS = {"sm_server": {"keystore"}, "sm_webtier": {"client_certificate", "browser"},
               "sm_windows_client": {"bundle_dir", "client_certificate", "truststore", "preferences",
                                     "delivery"}}


@pytest.mark.parametrize("role", sorted(PREDICTIONS))
def test_every_step_entry_is_read_by_its_step_or_is_a_named_prediction(role):
    steps = yaml.safe_load((ROOT / "roles" / role / "vars/main.yml").read_text())["__%s_steps" % role]
    tasks = "\n".join(p.read_text() for p in sorted((ROOT / "roles" / role / "tasks").glob("*.yml")))
    read = set(re.findall(r"__%s_steps\.(\w+)" % role, tasks))
    assert read <= set(steps), "tasks read entries no plan declares: %s" % (read - set(steps))
    assert set(steps) - read == PREDICTIONS[role], role
    # the plan carries every entry
    plan_entry = yaml.safe_load((ROOT / "roles" / role / "vars/main.yml").read_text())["__%s_plan" % role]
    assert plan_entry["steps"] == "{{ __%s_steps }}" % role


def test_every_play_of_the_grid_lets_a_host_with_nothing_due_leave():
    """The grid's plays, not the CA step before them: that checks the CA (and an ACME CA's
    account) in every run, so a bad CA input is refused even when nothing is due."""
    for play in yaml.safe_load((ROOT / "playbooks/grid.yml").read_text()):
        first = play["tasks"][0]
        assert first.get("ansible.builtin.meta") == "end_host", play["name"]
        wanted = "not (smtls_fleet_due | default({})).get(inventory_hostname, {}).get('due', true)"
        assert first["when"] == wanted, play["name"]
