"""The fleet report split in two: the findings engine (smtls_findings) decides, the renderers
(smtls_report_render) only show. A report loaded back from its JSON renders the same bytes as the
one the engine built, so a renderer needs nothing but the report data; the renderers call no
deciding part of the engine; module_utils imports form no cycle."""

import ast
import copy
import json
from pathlib import Path

import pytest

from ansible.module_utils import smtls_findings as engine
from ansible.module_utils import smtls_report_render as render
from ansible.module_utils import smtls_x509 as pki
from test_liveness import seen
from test_report import AT, HOSTILE, ODD, SAMPLE_CA, WEB_CERT, entry, ini, probe, record, server, store, web

MODULE_UTILS = Path(__file__).resolve().parents[2] / "plugins" / "module_utils"
RENDERERS = (render.render_json, render.render_prom, render.render_html, render.summary_lines)


def fleet(extra_pem):
    """Records, and build's other arguments, for a fleet with every finding of FINDINGS and every
    part of the page: settings tables, servlets, connectors, probes, hosts not read."""
    extra_sha = pki.sha256_hex(pki.parse_pem_certs(extra_pem, "extra")[0])
    records = [
        server("sm1", sm_ini=dict(ini("encryption", plain=["keystorePass"]), encrypted=["truststorePass"],
                                  settings={"ssl": "1", "keystorePass": "***", "truststorePass": "***"}),
               installation={"release": {"version": "9.41", "encrypts_passwords": False},
                             "start_file": "/sm/RUN/smstart", "problems": ["fipsmode:1, but OpenJDK"]},
               sm_cfg={"servlets": [{"line": 1, "http_port": 13080, "load_balancer": True},
                                    {"line": 2, "http_port": 13081, "https_port": 13443}]},
               probe=probe("2029-12-31T00:00:00Z"),
               stores=[store("identity", [entry("sample", 300, issuer=SAMPLE_CA, issued_by_untrusted=True),
                                          entry("sm1", 12, issuer="CN=Corp CA")],
                             well_known_password=True, password_used="initial"),
                       store("truststore", [entry("sampleca", 900, kind="trusted_cert", issuer=SAMPLE_CA,
                                                  untrusted=True, issued_by_untrusted=True)],
                             path="/jre/cacerts", well_known_password=True, default_password_expected=True,
                             listed="notable", entry_count=150),
                       store("allowlist", [entry("sm-webtier", -5, kind="trusted_cert", sha=WEB_CERT),
                                           entry("intruder", 40, kind="trusted_cert"),
                                           entry("extra", 40, kind="trusted_cert", sha=extra_sha)],
                             password_used="unknown"),
                       store("identity", path="/sm/missing", exists=False, required=True),
                       store("identity", path="/sm/corrupt", error="not a keystore", problem="unreadable"),
                       store("truststore", path="/sm/typed", type="pkcs12", type_mismatch="jks"),
                       store("identity", [entry("old", -30)], path="/sm/expired")],
               context={"allowlist_clients": ["web1", "win1", "web2", "web7"],
                        "allowlist_extra": [{"alias": "extra", "pem": extra_pem}]}),
        server("sm2", mode="client_auth", sm_ini={"path": "/sm/sm.ini", "exists": False},
               sm_cfg={"error": "cannot read"}, probe=probe(error="not a smtls probe record"),
               stores=[store("truststore", [])], installation={"error": "no start file"}),
        server("sm3", mode="none", sm_ini=ini("none"), stores=[], probe=probe()),
        server("sm4", sm_ini=ini(plain=["truststorePass"]), context={"allowlist_clients": ["web1"]},
               stores=[store("allowlist", [entry("stranger", 70, kind="trusted_cert")]),
                       store("identity", [entry("sm4", 100)], password_used="initial", path="/sm/sm4")]),
        web("web1", days=12, tomcat={"connectors": [{"port": 8443, "keystore": "/conf/t.jks",
                                                      "protocols": "TLSv1.2"}]},
            webtier={"exists": True, "settings": {"ssl": "true"}, "source": {"ssl": "web.xml"},
                     "mode": "none"}),
        record("web2", "webtier", webtier={"exists": False}, tomcat={"error": "broken"}),
        record("win1", "windows_client", context={"read": "controller", "client_alias": "win1"},
               stores=[store("identity", [entry("win1", 50)], path="C:\\bundle\\win1.p12")]),
        server(HOSTILE, context={"allowlist_clients": []}, sm_ini=dict(ini(), settings={"ssl": HOSTILE}),
               stores=[store("identity", [entry("h", 5, subject=HOSTILE, sans=[HOSTILE])],
                             path="/opt/" + HOSTILE)]),
        server(ODD, context={"allowlist_clients": []}, sm_ini=ini(mode=ODD),
               stores=[store("identity", [entry(ODD, 5, subject=ODD)], path="/opt/" + ODD)]),
    ]
    kwargs = {"expected": {"server": ["sm1", "sm9", "sm10"], "windows_client": ["win1"]},
              "run_hosts": ["sm1", "sm2", "sm3", "sm4", "sm9", "web1", "web2", "win1", HOSTILE, ODD],
              "liveness": [seen(14443, answered=False), seen(13443, name="sm4", sha="00" * 32)],
              "title": HOSTILE}
    return records, kwargs


@pytest.fixture(scope="module")
def built(ca):
    records, kwargs = fleet(ca.pem)
    return engine.build(records, at=AT, **kwargs)


def test_the_fleet_has_every_finding(built):
    assert {f["code"] for f in engine.findings_list(built)} == set(engine.FINDINGS)


def test_a_report_loaded_from_its_json_renders_the_same_bytes(built):
    """The renderers need the report data and nothing else: not the engine's records, not
    anything build() keeps beside the dict, not Python types JSON does not have."""
    loaded = json.loads(render.render_json(built))
    assert loaded == built
    for renderer in RENDERERS:
        assert renderer(loaded) == renderer(built), renderer.__name__
    # and again from that rendering: a fixed point
    assert render.render_json(json.loads(render.render_json(loaded))) == render.render_json(built)


def test_renderers_change_nothing_in_the_report(built):
    before = copy.deepcopy(built)
    for renderer in RENDERERS:
        renderer(built)
    assert built == before


def engine_names_used(path, alias):
    """The smtls_* modules a module_utils file imports, and the attributes it reads of alias."""
    tree = ast.parse(path.read_text())
    imported = {a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module == "ansible.module_utils" for a in node.names}
    attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                  and isinstance(node.value, ast.Name) and node.value.id == alias}
    return imported, attributes


# What a renderer may take from the engine: its vocabulary and the helpers that read the data.
READERS = {"SEVERITIES", "RANK", "FINDINGS", "store_name", "store_status", "certificate_usage",
           "parse_time", "findings_list"}


def test_renderers_decide_nothing():
    imported, used = engine_names_used(MODULE_UTILS / "smtls_report_render.py", "engine")
    assert imported == {"smtls_findings"}  # not the liveness, mode or x509 engines behind it
    assert used <= READERS, used - READERS


def module_utils_imports():
    graph = {}
    for path in sorted(MODULE_UTILS.glob("*.py")):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.module == "ansible.module_utils":
                deps |= {a.name for a in node.names if a.name.startswith("smtls_")}
            elif (node.module or "").startswith("ansible.module_utils.smtls_"):
                deps.add(node.module.rsplit(".", 1)[1])
        graph[path.stem] = deps
    return graph


def test_module_utils_imports_are_layered_without_a_cycle():
    graph = module_utils_imports()
    assert graph["smtls_report_render"] == {"smtls_findings"}
    assert "smtls_report_render" not in graph["smtls_findings"]
    assert all(dep in graph for deps in graph.values() for dep in deps), graph
    done, path = set(), []

    def visit(name):
        assert name not in path, "import cycle: %s" % " -> ".join(path[path.index(name):] + [name])
        if name in done:
            return
        path.append(name)
        for dep in sorted(graph[name]):
            visit(dep)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
