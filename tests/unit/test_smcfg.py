"""The servlets of an SM server, as its sm.cfg starts them (smtls_smcfg), and the probes and
preflight check the roles build from them."""

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from ansible.module_utils import smtls_smcfg as smcfg

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "filter"))
from smtls_installation import smtls_servlet_probes, smtls_servlet_problem  # noqa: E402

SM_CFG = """# sm.cfg of a real-looking server
sm -httpPort:13080 -loadBalancer
sm -httpPort:13081 -httpsPort:13443   # first servlet
  sm -httpsPort:13444 -httpPort:13082 -debugnode

sm -que:ir
sm -sync
smtools -httpPort:9999
"""


def test_servlets_are_the_sm_lines_with_ports():
    assert [(p["line"], p["role"], p["http_port"], p["https_port"]) for p in smcfg.parse(SM_CFG)] == [
        (2, "load_balancer", 13080, None), (3, "servlet", 13081, 13443), (4, "servlet", 13082, 13444)]
    assert smcfg.parse("") == [] and smcfg.parse("sm -que:ir\n") == []
    assert [p["role"] for p in smcfg.processes(SM_CFG)] == [
        "load_balancer", "servlet", "servlet", "background", "background"]


SMSTART = """#!/bin/sh
# smstart - start Service Manager (Unix)
RUN=/opt/MicroFocus/ServiceManager9.61/Server/RUN
cd $RUN
nohup ./sm -loadBalancer -httpPort:13080 > lb.log 2>&1 &
LD_LIBRARY_PATH=$RUN ./sm -httpPort:13081 -httpsPort:13443&
"$RUN/sm" '-httpPort:13082' -httpsPort:13444 -debugnode >>servlet2.log 2>&1 &
exec $RUN/sm -que:ir &   # background
echo "sm -httpPort:9999 is not a process"
if [ -x ./sm ]; then ./sm system.start; fi
wait
"""


def test_smstart_is_read_as_a_shell_reads_it():
    found = smcfg.processes(SMSTART, "/opt/sm/RUN/smstart")
    assert [(p["line"], p["role"], p["http_port"], p["https_port"]) for p in found] == [
        (5, "load_balancer", 13080, None), (6, "servlet", 13081, 13443), (7, "servlet", 13082, 13444),
        (8, "background", None, None)]
    # an open quote (a string continued on the next line) is no command line
    assert smcfg.processes("echo 'sm -httpPort:1\n", "smstart") == []


def _start_files(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).write_text(text)

    def read(path):
        return Path(path).read_bytes() if Path(path).exists() else None
    return read


@pytest.mark.parametrize("files,windows,choice,name,problem", [
    ({"smstart": SMSTART, "sm.cfg": SM_CFG}, False, "auto", "smstart", ""),
    ({"smstart": SMSTART, "sm.cfg": SM_CFG}, True, "auto", "sm.cfg", ""),
    ({"smstart": "#!/bin/sh\nexit 0\n", "sm.cfg": SM_CFG}, False, "auto", "sm.cfg", ""),
    ({"sm.cfg": SM_CFG}, False, "auto", "sm.cfg", ""),
    ({"smstart": SMSTART, "sm.cfg": SM_CFG}, False, "sm.cfg", "sm.cfg", ""),
    ({}, False, "auto", "sm.cfg", "neither"),
    ({"sm.cfg": "sm -que:ir\n"}, False, "auto", "sm.cfg", "neither"),
    ({"sm.cfg": SM_CFG}, False, "smstart", "smstart", "it does not exist"),
])
def test_the_start_file_sm_uses(tmp_path, files, windows, choice, name, problem):
    chosen = smcfg.choose(str(tmp_path), windows, choice, _start_files(tmp_path, files))
    assert chosen["name"] == name and chosen["why"]
    assert (problem in chosen["problem"]) if problem else chosen["problem"] == ""
    if problem == "neither":  # both files named, and the fix
        assert all(str(tmp_path / n) in chosen["problem"] for n in ("sm.cfg", "smstart"))
    others = set(files) - {name}
    assert sorted(chosen["ignored"]) == sorted(str(tmp_path / o) for o in others)


@pytest.mark.parametrize("line", ["sm -httpsPort:abc", "sm -httpPort:0", "sm -httpPort:70000",
                                  "sm -httpsPort"])
def test_a_port_that_is_not_one_names_file_and_line(line):
    with pytest.raises(smcfg.SmCfgError) as error:
        smcfg.parse("# head\n" + line + "\n", "/opt/sm/RUN/sm.cfg")
    assert str(error.value).startswith("/opt/sm/RUN/sm.cfg line 2: -http")


def test_one_probe_per_servlet_port():
    servlets = smcfg.parse(SM_CFG)
    probe = {"from": "web1", "host": "sm1", "port": 1, "truststore": {"path": "/x"}}
    # every servlet's port in one call (sm_tls_probe port and more_ports)
    def ports(probes):
        return [[p["port"]] + p["more_ports"] for p in probes]
    assert ports(smtls_servlet_probes(probe, servlets, True, 13080, 13443)) == [[13443, 13444]]
    assert ports(smtls_servlet_probes(probe, servlets, False, 13080, 13443)) == [[13081, 13082]]
    # the load balancer: its HTTP port asked in the same call, its redirect checked against the names
    balanced = smtls_servlet_probes(probe, servlets, True, 1, 2, ["sm1.example.com"])[0]
    assert balanced["plain_ports"] == [13080] and balanced["redirect_names"] == ["sm1.example.com"]
    assert "plain_ports" not in smtls_servlet_probes(probe, servlets[1:], True, 1, 2)[0]
    assert all(p["truststore"] == {"path": "/x"} for p in smtls_servlet_probes(probe, servlets, True, 1, 2))
    # no sm.cfg: the inventory's port
    assert ports(smtls_servlet_probes(probe, [], True, 13080, "13443")) == [[13443]]


def test_ssl_needs_an_https_port_on_every_servlet():
    servlets = smcfg.parse(SM_CFG)
    problem = smtls_servlet_problem(servlets, True)
    # the load balancer is HTTP only by design: not refused
    assert smtls_servlet_problem(servlets, True) == ""
    plain = smcfg.parse(SM_CFG + "sm -httpPort:13090\n")
    problem = smtls_servlet_problem(plain, True)
    assert problem.startswith("start file line 9 starts a servlet without -httpsPort") and "Fix:" in problem
    assert smtls_servlet_problem(plain, False) == ""
    assert smtls_servlet_problem([], True) == ""


# A start file written any way a site writes one: the same processes come out (property)
_PREFIX = st.sampled_from(["sm", "./sm", "$RUN/sm", '"$RUN/sm"', "/opt/sm/RUN/sm", "nohup ./sm",
                           "exec sm", "LD_LIBRARY_PATH=$RUN ./sm", "  sm"])
_SUFFIX = st.sampled_from(["", " &", "&", " > lb.log 2>&1 &", " >>servlet.log 2>&1&", "  # a comment",
                           " ;"])
_PROCESS = st.fixed_dictionaries({
    "http": st.integers(1, 65535), "https": st.one_of(st.none(), st.integers(1, 65535)),
    "lb": st.booleans(), "extra": st.sampled_from(["", " -debugnode", " -log:../logs/x.log"])})


@settings(max_examples=150, deadline=None)
@given(processes=st.lists(_PROCESS, min_size=1, max_size=5),
       prefixes=st.lists(_PREFIX, min_size=5, max_size=5),
       suffixes=st.lists(_SUFFIX, min_size=5, max_size=5), smstart=st.booleans())
def test_any_way_of_writing_the_start_file_gives_the_same_processes(processes, prefixes, suffixes, smstart):
    lines = ["#!/bin/sh", "RUN=/opt/sm/RUN", "cd $RUN"] if smstart else ["# sm.cfg"]
    for index, process in enumerate(processes):
        words = (["-loadBalancer"] if process["lb"] else []) + ["-httpPort:%d" % process["http"]] + (
            ["-httpsPort:%d" % process["https"]] if process["https"] else [])
        head = prefixes[index] if smstart else "sm"
        tail = suffixes[index] if smstart else ""
        lines.append("%s %s%s%s" % (head, " ".join(words), process["extra"], tail))
    lines.append(("nohup ./sm -que:ir &" if smstart else "sm -que:ir"))
    found = smcfg.processes("\n".join(lines) + "\n", "/opt/sm/RUN/" + ("smstart" if smstart else "sm.cfg"))
    assert [(p["role"], p["http_port"], p["https_port"]) for p in found] == [
        ("load_balancer" if p["lb"] else "servlet", p["http"], p["https"]) for p in processes] + [
        ("background", None, None)]
