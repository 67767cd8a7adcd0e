"""The liveness engine (smtls_liveness): which ports a target means, what a problem line says,
and how the fleet report turns what hosts saw of each other into critical findings. What a port
serves is read for real in tests/modules/test_probe.py."""

import pytest

from ansible.module_utils import smtls_liveness as liveness
from ansible.module_utils import smtls_findings as engine
from test_report import AT, entry, record, server, store, web

SERVLETS = [{"line": 3, "http_port": 13080, "https_port": 13443},
            {"line": 4, "http_port": 14080, "https_port": 14443}]
OURS = "cd" * 32


def seen(port, answered=True, sha=OURS, name="sm1", **more):
    out = {"name": name, "kind": "server", "host": "10.0.0.1", "port": port, "answered": answered,
           "reason": "ok" if answered else "nothing_listening", "sha256": sha if answered else None,
           "subject": "CN=%s" % name, "probed_from": "web1", "plain_http": False,
           "reason_text": "handshake and request succeeded" if answered else "nothing listens on that port",
           "message": None if answered else "ConnectionRefusedError: [Errno 111] Connection refused"}
    out.update(more)
    return out


@pytest.mark.parametrize("target,servlets,connectors,ports", [
    ({"ports": [1, 2]}, SERVLETS, None, [1, 2]),
    ({"ports": [], "default_port": 9}, SERVLETS, None, [13443, 14443]),
    ({"ports": [], "default_port": 9, "plain_http": True}, SERVLETS, None, [13080, 14080]),
    ({"ports": [], "default_port": 9}, [], None, [9]),
    ({"ports": [], "kind": "connector"}, None, [{"port": 8080, "keystore": ""},
                                                {"port": 8443, "keystore": "/k"}], [8443]),
    ({"ports": [], "kind": "connector"}, None, [], []),
])
def test_ports_as_given_else_from_the_read_of_the_same_call(target, servlets, connectors, ports):
    assert liveness.resolve(target, servlets, connectors) == ports


def test_expected_is_the_key_entries_of_the_keystore_read():
    read = {"entries": [entry("smserver", sha=OURS), entry("ca", kind="trusted_cert", sha="ef" * 32)]}
    assert liveness.expected_fingerprints(read) == [OURS]
    assert liveness.expected_fingerprints({"error": "wrong password"}) == []


def test_problems_name_host_port_what_was_found_and_the_fix():
    observed = [seen(13443), seen(14443, answered=False), seen(13443, name="sm2", sha="00" * 32)]
    [down] = liveness.liveness_problems(observed, "sm1", [OURS], "/RUN/server.keystore", [13443, 14443])
    assert down.startswith("sm1 port 14443 (probed at 10.0.0.1 from web1) does not answer: nothing listens")
    assert "Fix: start the SM server" in down and "run it again once the port answers" in down
    [other] = liveness.liveness_problems(observed, "sm2", [OURS], "/RUN/server.keystore")
    assert "serves a certificate that is not the one in its keystore /RUN/server.keystore" in other
    assert "found CN=sm2 (sha256 %s), expected sha256 %s" % ("00" * 32, OURS) in other
    # a keystore that could not be read: any certificate counts, answering is what is checked
    assert liveness.liveness_problems(observed, "sm2", []) == []


def test_a_port_nobody_looked_at_is_a_problem_not_a_pass():
    [missing] = liveness.liveness_problems([seen(13443)], "sm1", [OURS], ports=[13443, 14443])
    assert missing.startswith("sm1 port 14443 was not probed in this run")
    [nothing] = liveness.liveness_problems([], "sm1", [OURS], ports=[13443])
    assert "sm1 port 13443 was not probed" in nothing


def test_connector_problem_says_tomcat():
    line = liveness.port_problem(seen(8443, answered=False, kind="connector", name="web1"), [OURS])
    assert "Fix: start Tomcat" in line


def test_report_makes_a_down_servlet_and_a_wrong_certificate_critical_findings():
    keystore = store("identity", [entry("smserver", sha=OURS)], path="/sm/RUN/server.keystore")
    connector = store("identity", [entry("tomcat", sha="aa" * 32)], path="/conf/tomcat.jks",
                      browser_connector=8443)
    records = [server("sm1", stores=[keystore]), server("sm2", stores=[keystore]),
               record("web1", "webtier", stores=web()["stores"] + [connector],
                      webtier={"exists": True, "settings": {}, "mode": "client_certificate"},
                      context={"client_alias": "sm-webtier"})]
    observed = [seen(13443), seen(14443, answered=False), seen(13443, name="sm2", sha="00" * 32),
                seen(8443, name="web1", kind="connector", sha="aa" * 32)]
    built = engine.build(records, at=AT, liveness=observed)
    findings = {h["name"]: {f["code"]: f for f in h["findings"]} for h in built["hosts"]}
    down = findings["sm1"]["not_serving"]
    assert down["severity"] == "critical" and "sm1 port 14443" in down["message"]
    assert "Fix: start the SM server" in down["message"]
    wrong = findings["sm2"]["wrong_certificate"]
    assert wrong["severity"] == "critical" and "/sm/RUN/server.keystore" in wrong["message"]
    assert not {"not_serving", "wrong_certificate"} & set(findings["web1"])
    assert built["summary"]["hosts_by_status"]["critical"] >= 2


def test_a_load_balancer_redirect_to_a_name_no_certificate_carries_is_a_fleet_problem():
    seen = [{"name": "sm1", "load_balancer": True, "host": "127.0.0.1", "port": 13080,
             "location": "https://sm1-old.example.com:13443/"},
            {"name": "sm2", "load_balancer": True, "host": "127.0.0.1", "port": 13081,
             "location": "https://sm2.example.com:13444/"},
            {"name": "sm1", "port": 13443, "answered": True}]
    names = {"sm1": ["sm1.example.com", "sm.example.com"], "sm2": ["sm2.example.com"]}
    problems = liveness.redirect_problems(seen, names)
    assert len(problems) == 1 and problems[0].startswith("sm1: the load balancer at 127.0.0.1:13080 sends")
    assert "Fix:" in problems[0]
    assert liveness.balancer_ports({"kind": "server"}, [{"role": "load_balancer", "http_port": 13080},
                                                         {"role": "servlet", "http_port": 14080}]) == [13080]
    assert liveness.balancer_ports({"kind": "connector"}, [{"role": "load_balancer", "http_port": 1}]) == []
