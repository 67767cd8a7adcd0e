"""The servlets of an SM server, as its sm.cfg starts them (smtls_smcfg), and the probes and
preflight check the roles build from them."""

import sys
from pathlib import Path

import pytest

from ansible.module_utils import smtls_smcfg as smcfg

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "filter"))
from smtls import smtls_servlet_probes, smtls_servlet_problem  # noqa: E402

SM_CFG = """# sm.cfg of a real-looking server
sm -httpPort:13080 -loadBalancer
sm -httpPort:13081 -httpsPort:13443   # first servlet
  sm -httpsPort:13444 -httpPort:13082 -debugnode

sm -que:ir
sm -sync
smtools -httpPort:9999
"""


def test_servlets_are_the_sm_lines_with_ports():
    assert smcfg.parse(SM_CFG) == [
        dict(line=2, http_port=13080, https_port=None, load_balancer=True),
        dict(line=3, http_port=13081, https_port=13443, load_balancer=False),
        dict(line=4, http_port=13082, https_port=13444, load_balancer=False)]
    assert smcfg.parse("") == [] and smcfg.parse("sm -que:ir\n") == []


@pytest.mark.parametrize("line", ["sm -httpsPort:abc", "sm -httpPort:0", "sm -httpPort:70000",
                                  "sm -httpsPort"])
def test_a_port_that_is_not_one_names_file_and_line(line):
    with pytest.raises(smcfg.SmCfgError) as error:
        smcfg.parse("# head\n" + line + "\n", "/opt/sm/RUN/sm.cfg")
    assert str(error.value).startswith("/opt/sm/RUN/sm.cfg line 2: -http")


def test_one_probe_per_servlet_port():
    servlets = smcfg.parse(SM_CFG)[1:]
    probe = {"from": "web1", "host": "sm1", "port": 1, "truststore": {"path": "/x"}}
    # every servlet's port in one call (sm_tls_probe port and more_ports)
    def ports(probes):
        return [[p["port"]] + p["more_ports"] for p in probes]
    assert ports(smtls_servlet_probes(probe, servlets, True, 13080, 13443)) == [[13443, 13444]]
    assert ports(smtls_servlet_probes(probe, servlets, False, 13080, 13443)) == [[13081, 13082]]
    assert all(p["truststore"] == {"path": "/x"} for p in smtls_servlet_probes(probe, servlets, True, 1, 2))
    # no sm.cfg: the inventory's port
    assert ports(smtls_servlet_probes(probe, [], True, 13080, "13443")) == [[13443]]


def test_ssl_needs_an_https_port_on_every_servlet():
    servlets = smcfg.parse(SM_CFG)
    problem = smtls_servlet_problem(servlets, True)
    assert problem.startswith("sm.cfg line 2 starts a servlet without -httpsPort") and "Fix:" in problem
    assert smtls_servlet_problem(servlets, False) == ""
    assert smtls_servlet_problem(servlets[1:], True) == ""
    assert smtls_servlet_problem([], True) == ""
