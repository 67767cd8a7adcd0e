"""The fleet report: findings from a host's facts, the JSON and the self-contained HTML page,
and the two modules behind it (sm_tls_inventory reads, sm_fleet_report writes).

Table-driven, no mocks: findings are decided from plain records as sm_tls_inventory returns
them; the host side reads real keystores written by our codec.
"""

import datetime
import json
import re
from html.parser import HTMLParser

import pytest

import sm_fleet_report
import sm_tls_inventory
from ansible.module_utils import smtls_findings as engine
from ansible.module_utils import smtls_inventory as inv
from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_report_render as render
from ansible.module_utils import smtls_x509 as pki
from conftest import module_result

AT = datetime.datetime(2030, 1, 1, tzinfo=pki.UTC)
SAMPLE_CA = "CN=Sample CA (fictitious),O=Service Manager sample"
OUR_CA = "CN=smtls demo CA"


def entry(alias, days=200, kind="private_key", issuer=OUR_CA, sha=None, **flags):
    """An entry as sm_tls_inventory lists it, expiring `days` (and an hour) after AT."""
    not_after = AT + datetime.timedelta(days=days, hours=1)
    facts = {"alias": alias, "kind": kind, "subject": "CN=%s" % alias, "issuer": issuer,
             "sans": ["DNS:%s" % alias], "not_after": not_after.isoformat(),
             "not_before": (AT - datetime.timedelta(days=1)).isoformat(),
             "sha256": sha or (alias.encode().hex() + "0" * 64)[:64], "chain_length": 1,
             "chain_sha256": [], "self_signed": False, "untrusted": False,
             "issued_by_untrusted": False, "known_ca": False,
             "issued_by_known_ca": issuer == OUR_CA}
    facts.update(flags)
    return facts


def store(purpose, entries=(), path=None, **facts):
    out = {"path": path or "/sm/%s" % purpose, "purpose": purpose, "label": purpose,
           "required": False, "default_password_expected": False, "exists": True, "type": "jks",
           "password_used": "configured", "well_known_password": False,
           "entry_count": len(entries), "entries": list(entries), "listed": "all"}
    out.update(facts)
    return out


def record(name, kind="server", mode="trusted_clients", stores=(), known_cas=1, **parts):
    context = {"name": name, "kind": kind, "mode": mode, "renew_days": 30}
    context.update(parts.pop("context", {}))
    out = {"context": context, "stores": list(stores), "known_ca_count": known_cas}
    out.update(parts)
    return out


def ini(mode="trusted_clients", plain=()):
    return {"path": "/sm/sm.ini", "exists": True, "settings": {"ssl": "1"}, "encrypted": [],
            "plain_passwords": list(plain), "mode": mode}


WEB_CERT = "ab" * 32


def web(name="web1", days=200, **kw):
    kw.setdefault("webtier", {"exists": True, "settings": {}, "mode": "client_certificate"})
    return record(name, "webtier", stores=[store("identity", [entry("sm-webtier", days, sha=WEB_CERT)])],
                  context={"client_alias": "sm-webtier"}, **kw)


def server(name="sm1", stores=None, **kw):
    kw.setdefault("sm_ini", ini())
    kw.setdefault("context", {"allowlist_clients": ["web1"]})
    default = [store("identity", [entry(name)]),
               store("truststore", [entry("smtls-ca", 3000, kind="trusted_cert", known_ca=True)]),
               store("allowlist", [entry("sm-webtier", kind="trusted_cert", sha=WEB_CERT)])]
    return record(name, stores=default if stores is None else stores, **kw)


def found(built):
    return {(f["host"], f["severity"], f["code"]) for f in engine.findings_list(built)}


# (id, records, findings that must be there, findings that must not)
CASES = [
    ("a converged fleet has no warning", [server(), web()], set(),
     {("sm1", "warning", "expiring"), ("sm1", "warning", "allowlist_unknown")}),
    ("sample CA in a truststore", [server(stores=[store("truststore", [
        entry("sampleca", 900, kind="trusted_cert", issuer=SAMPLE_CA, untrusted=True,
              issued_by_untrusted=True)])]), web()],
     {("sm1", "critical", "sample_ca_trusted")}, set()),
    ("sample certificate served", [server(stores=[store("identity", [
        entry("sample", 300, issuer=SAMPLE_CA, issued_by_untrusted=True)])]), web()],
     {("sm1", "critical", "sample_certificate")}, {("sm1", "warning", "other_issuer")}),
    ("expired server certificate", [server(stores=[store("identity", [entry("sm1", -2)])]), web()],
     {("sm1", "critical", "expired")}, set()),
    ("expiring within the renewal window", [server(), web(days=12)],
     {("web1", "warning", "expiring")}, {("sm1", "warning", "expiring")}),
    ("on the last day of the window", [server(stores=[store("identity", [entry("sm1", 30)])]), web()],
     {("sm1", "warning", "expiring")}, set()),
    ("a day outside the window", [server(stores=[store("identity", [entry("sm1", 31)])]), web()],
     set(), {("sm1", "warning", "expiring")}),
    ("our CA expired in a truststore", [server(stores=[store("truststore", [
        entry("smtls-ca", -1, kind="trusted_cert", known_ca=True)])]), web()],
     {("sm1", "critical", "expired")}, set()),
    ("well-known password on a managed store", [server(stores=[
        store("identity", [entry("sm1")], well_known_password=True, password_used="initial")]), web()],
     {("sm1", "warning", "default_password")}, {("sm1", "warning", "initial_password")}),
    ("well-known password where smtls keeps it", [server(stores=[
        store("truststore", [], well_known_password=True, default_password_expected=True)]), web()],
     {("sm1", "info", "expected_default_password")}, {("sm1", "warning", "default_password")}),
    ("initial password still in use", [server(stores=[
        store("identity", [entry("sm1")], password_used="initial")]), web()],
     {("sm1", "warning", "initial_password")}, set()),
    ("no given password opens it", [server(stores=[
        store("identity", [entry("sm1")], password_used="unknown")]), web()],
     {("sm1", "warning", "wrong_password")}, set()),
    ("a corrupt store", [server(stores=[store("identity", [], error="not a JKS or PKCS12 keystore",
                                              problem="unreadable")]), web()],
     {("sm1", "warning", "store_unreadable")}, set()),
    ("a PKCS12 no given password opens", [server(stores=[store("identity", [], error="none opens it",
                                                               problem="password")]), web()],
     {("sm1", "warning", "wrong_password")}, set()),
    ("a store the mode needs is missing", [server(stores=[
        store("allowlist", exists=False, required=True)]), web()],
     {("sm1", "warning", "store_missing")}, set()),
    ("a store the mode does not need is missing", [server(stores=[
        store("allowlist", exists=False)]), web()], set(), {("sm1", "warning", "store_missing")}),
    ("allowlist holds a stranger", [server(stores=[store("allowlist", [
        entry("sm-webtier", kind="trusted_cert", sha=WEB_CERT),
        entry("intruder", kind="trusted_cert")])]), web()],
     {("sm1", "warning", "allowlist_unknown")}, {("sm1", "warning", "allowlist_missing")}),
    ("allowlist with clients not read in this run", [server(stores=[store("allowlist", [
        entry("sm-webtier", kind="trusted_cert", sha=WEB_CERT)])])],
     {("sm1", "info", "allowlist_unchecked")}, {("sm1", "warning", "allowlist_unknown")}),
    ("allowlist lacks a client", [server(stores=[store("allowlist", [])]), web()],
     {("sm1", "warning", "allowlist_missing")}, set()),
    ("client_auth has no allowlist to keep", [server(mode="client_auth", sm_ini=ini("client_auth"),
                                                     stores=[store("allowlist", [])]),
                                              web(mode="client_auth")],
     set(), {("sm1", "warning", "allowlist_missing")}),
    ("allowlist holds an expired client", [server(stores=[store("allowlist", [
        entry("sm-webtier", -5, kind="trusted_cert", sha=WEB_CERT)])]), web()],
     {("sm1", "warning", "allowlist_expired")}, {("sm1", "critical", "expired")}),
    ("a Windows client on the allowlist by alias", [
        server(context={"allowlist_clients": ["win1"]}, stores=[store("allowlist", [
            entry("win1", kind="trusted_cert"), entry("win1-next", kind="trusted_cert")])]),
        record("win1", "windows_client", context={"read": "controller", "client_alias": "win1"})],
     {("win1", "info", "controller_only")}, {("sm1", "warning", "allowlist_unknown")}),
    ("sm.ini in another mode", [server(sm_ini=ini("encryption")), web()],
     {("sm1", "warning", "mode_drift")}, set()),
    ("web tier in another mode", [server(), record("web1", "webtier", webtier={
        "exists": True, "settings": {}, "mode": "none"})],
     {("web1", "warning", "mode_drift")}, set()),
    ("plain password in sm.ini", [server(sm_ini=ini(plain=["keystorePass"])), web()],
     {("sm1", "info", "plain_password")}, set()),
    # the installation read: SM 9.4x never encrypts sm.ini's passwords; a model it refuses is a warning
    ("plain password on SM 9.41", [server(sm_ini=ini(plain=["keystorePass"]), installation={
        "release": {"version": "9.41", "encrypts_passwords": False}}), web()],
     {("sm1", "warning", "plain_password_kept")}, {("sm1", "info", "plain_password")}),
    ("FIPS on OpenJDK", [server(installation={"release": {}, "problems": [
        "fipsmode:1, but the JRE at /j is an OpenJDK build"]}), web()],
     {("sm1", "warning", "installation")}, set()),
    ("sm.ini missing", [server(sm_ini={"path": "/sm/sm.ini", "exists": False}), web()],
     {("sm1", "warning", "store_unreadable")}, set()),
    ("SSL off", [server(mode="none", sm_ini=ini("none"), stores=[]), web(mode="none", webtier={
        "exists": True, "settings": {}, "mode": "none"})],
     {("sm1", "info", "ssl_off")}, {("sm1", "warning", "mode_drift")}),
    ("certificate from another CA", [server(stores=[store("identity", [
        entry("sm1", issuer="CN=Corp CA")])]), web()], {("sm1", "warning", "other_issuer")}, set()),
    ("no CA yet: nothing to compare with", [server(known_cas=0, stores=[store("identity", [
        entry("sm1", issuer="CN=Corp CA")]), store("truststore", [])]), web()],
     set(), {("sm1", "warning", "other_issuer"), ("sm1", "warning", "ca_missing")}),
    ("a truststore without our CA", [server(stores=[store("truststore", [])]), web()],
     {("sm1", "warning", "ca_missing")}, set()),
]


@pytest.mark.parametrize("label,records,present,absent", CASES, ids=[c[0] for c in CASES])
def test_findings(label, records, present, absent):
    built = engine.build(records, at=AT)
    assert present <= found(built), found(built)
    assert not absent & found(built), found(built)


def test_a_converged_fleet_is_ok():
    built = engine.build([server(), web()], at=AT)
    assert [h["status"] for h in built["hosts"]] == ["ok", "ok"]
    assert built["summary"]["findings"] == {"critical": 0, "warning": 0, "info": 0}


def test_every_host_of_the_inventory_is_shown():
    built = engine.build([server()], expected={"server": ["sm1", "sm2"], "webtier": ["web9"]},
                         run_hosts=["sm1", "sm2"], at=AT)
    assert {(h["name"], h["read"]) for h in built["hosts"]} == {
        ("sm1", "host"), ("sm2", "not_read"), ("web9", "not_in_run")}
    assert ("sm2", "critical", "not_read") in found(built)
    assert ("web9", "info", "not_in_run") in found(built)


def test_host_status_is_its_worst_finding_and_counts_add_up():
    built = engine.build([server(sm_ini=ini("encryption", plain=["keystorePass"])), web(days=-1)], at=AT)
    status = {h["name"]: h["status"] for h in built["hosts"]}
    assert status == {"sm1": "warning", "web1": "critical"}
    total = sum(len(h["findings"]) for h in built["hosts"])
    assert sum(built["summary"]["findings"].values()) == total


@pytest.mark.parametrize("days,expected", [(0, 0), (1, 1), (-1, -1), (396, 396)])
def test_days_to_expiry_count_whole_days(days, expected):
    not_after = (AT + datetime.timedelta(days=days, hours=5)).isoformat()
    assert engine.days_left(not_after, AT) == expected


# --- rendering -----------------------------------------------------------------------------


class Page(HTMLParser):
    """What the tests look at in the page: tags with their attributes, rows in order."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.fleet_rows, self.scripts, self._table = [], [], 0, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "table":
            self._table = attrs.get("id")
        if tag == "tr" and self._table == "fleet-table" and "data-host" in attrs:
            self.fleet_rows.append((attrs["data-host"], attrs["class"]))
        if tag == "script":
            self.scripts += 1


def test_fleet_table_is_sorted_by_days_to_expiry_hosts_without_a_certificate_last():
    records = [server("sm1", stores=[store("identity", [entry("sm1", 400)])]),
               server("sm2", stores=[store("identity", [entry("sm2", -3)])]),
               server("sm3", stores=[store("identity", [entry("sm3", 5)])]),
               server("sm4", stores=[])]
    page = Page(render.render_html(engine.build(records, at=AT)))
    assert [name for name, _ in page.fleet_rows] == ["sm2", "sm3", "sm1", "sm4"]


def test_certificates_of_a_host_are_sorted_by_days_to_expiry():
    built = engine.build([server(stores=[store("allowlist", [
        entry("c", 90, kind="trusted_cert"), entry("a", 10, kind="trusted_cert"),
        entry("b", -1, kind="trusted_cert")])])], at=AT)
    assert [e["alias"] for e in built["hosts"][0]["stores"][0]["entries"]] == ["b", "a", "c"]
    html = render.render_html(built)
    assert html.index(">b<") < html.index(">a<") < html.index(">c<")


@pytest.mark.parametrize("records,host,css", [
    ([server(stores=[store("identity", [entry("sm1", -1)])])], "sm1", "finding-critical"),
    ([server(), web(days=3)], "web1", "finding-warning"),
    ([server(stores=[store("identity", [entry("sm1")])], sm_ini=ini(plain=["keystorePass"]))], "sm1",
     "finding-info"),
    ([server(), web()], "web1", "finding-none"),
])
def test_rows_and_sections_carry_the_severity_class(records, host, css):
    built = engine.build(records, at=AT)
    page = Page(render.render_html(built))
    assert css in dict(page.fleet_rows)[host].split()
    sections = [a for t, a in page.tags if t == "section" and a.get("data-host") == host]
    assert css in sections[0]["class"].split()
    severity = css.split("-")[1]
    if severity != "none":
        items = [a for t, a in page.tags if t == "li" and "finding-%s" % severity in a.get("class", "")]
        assert items


HOSTILE = '<script>alert("x")</script>&\'"'


def test_every_text_is_escaped():
    hostile = server(name=HOSTILE, stores=[store("identity", [
        entry("sm1", -1, subject=HOSTILE, issuer=HOSTILE, sans=[HOSTILE])], path="/opt/" + HOSTILE)],
        sm_ini=dict(ini(), settings={"ssl": HOSTILE}))
    html = render.render_html(engine.build([hostile], title=HOSTILE, at=AT))
    assert HOSTILE not in html
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#x27;&quot;" in html
    assert Page(html).scripts == 1  # only the page's own script


def test_the_page_is_self_contained():
    built = engine.build([server(), web(), server("sm2", stores=[store("identity", [
        entry("sm2", issuer=SAMPLE_CA, issued_by_untrusted=True, sans=["URI:https://evil.example/x"])])])],
        at=AT)
    html = render.render_html(built)
    # data may mention a URL; as text it is harmless - the markup itself loads nothing
    markup = re.sub(r">[^<]*<", "><", html)
    assert "://" not in markup and "url(" not in html and "@import" not in html
    page = Page(html)
    for tag, attrs in page.tags:
        assert "src" not in attrs, tag
        assert tag not in ("link", "img", "iframe", "object", "embed", "base", "form"), tag
        if "href" in attrs:
            assert attrs["href"].startswith("#"), attrs
    policy = next(a["content"] for t, a in page.tags if a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy
    script = html.split("<script>")[1].split("</script>")[0]
    style = html.split("<style>")[1].split("</style>")[0]
    assert render._csp_hash(script) in policy and render._csp_hash(style) in policy


def test_json_is_stable_and_the_time_of_generation_is_not_content():
    first = engine.build([server(), web()], at=AT)
    later = engine.build([server(), web()], at=AT + datetime.timedelta(minutes=5))
    assert engine.same_content(first, later)
    assert render.render_json(first) == render.render_json(engine.build([web(), server()], at=AT))
    a_day_later = engine.build([server(), web()], at=AT + datetime.timedelta(days=1))
    assert not engine.same_content(first, a_day_later)  # days to expiry moved
    loaded = json.loads(render.render_json(first))
    assert loaded["format"] == engine.FORMAT and [h["name"] for h in loaded["hosts"]] == ["sm1", "web1"]


def test_every_finding_code_is_documented_with_a_known_severity():
    assert all(sev in engine.SEVERITIES and meaning for sev, meaning in engine.FINDINGS.values())
    html = render.render_html(engine.build([], at=AT))
    for code in engine.FINDINGS:
        assert "<code>%s</code>" % code in html


# --- the host side: real keystores and settings files -------------------------------------


@pytest.fixture(scope="module")
def material(ca, sample_ca):
    our_key, our_cert = ca.key, ca.cert
    server_key, server_cert = ca.issue("sm1.example.com")
    sample_key, sample_cert = sample_ca.issue("sample.servicemanager.invalid")
    others = [pki.create_ca("Public Root %d" % i, key_size=2048)[1] for i in range(3)]
    return {"ca": ca, "sample_ca": sample_ca, "server": (server_key, server_cert),
            "sample": (sample_key, sample_cert), "others": others, "our": (our_key, our_cert)}


def write_store(path, entries, password, store_type="jks"):
    path.write_bytes(ks.dump(ks.Keystore(store_type, entries), password))
    return str(path)


UNTRUSTED = [{"subject": "CN=Sample CA (fictitious)"}]


def read(spec, data, material, well_known=inv.WELL_KNOWN_PASSWORDS):
    return inv.read_store(spec, data, inv.Selectors(UNTRUSTED), [material["ca"].cert], well_known)


@pytest.mark.parametrize("configured,initial,actual,used,well_known", [
    ("S3cret-pw", [], "S3cret-pw", "configured", False),
    ("S3cret-pw", ["Old-pw1"], "Old-pw1", "initial", False),
    ("S3cret-pw", ["serverkeystore"], "serverkeystore", "initial", True),
    ("S3cret-pw", [], "changeit", "well_known", True),
    ("changeit", [], "changeit", "configured", True),
    ("S3cret-pw", [], "Nobody-knows1", "unknown", False),
])
def test_which_password_opens_a_store(tmp_path, material, configured, initial, actual, used,
                                      well_known):
    key, cert = material["server"]
    path = write_store(tmp_path / "server.keystore", [ks.KeyEntry("smserver", [cert], key=key)], actual)
    facts = read({"path": path, "purpose": "identity", "password": configured,
                  "initial_passwords": initial}, open(path, "rb").read(), material)
    assert (facts["password_used"], facts["well_known_password"]) == (used, well_known)
    assert facts["entries"][0]["alias"] == "smserver"  # listed either way (JKS)


def test_an_unopenable_pkcs12_is_an_error_not_a_crash(tmp_path, material):
    key, cert = material["server"]
    path = write_store(tmp_path / "s.p12", [ks.KeyEntry("smserver", [cert], key=key)], "Nobody-knows1",
                       "pkcs12")
    facts = read({"path": path, "purpose": "identity", "password": "S3cret-pw"},
                 open(path, "rb").read(), material)
    assert "none of the given passwords" in facts["error"] and facts["entries"] == []


def test_entries_are_classified_and_a_cacerts_lists_what_matters(tmp_path, material):
    sample_key, sample_cert = material["sample"]
    entries = ([ks.CertEntry("publicroot%d" % i, c) for i, c in enumerate(material["others"])]
               + [ks.CertEntry("sampleca", material["sample_ca"].cert),
                  ks.CertEntry("smtls-ca", material["ca"].cert),
                  ks.KeyEntry("sample", [sample_cert], key=sample_key)])
    path = write_store(tmp_path / "cacerts", entries, "changeit")
    facts = read({"path": path, "purpose": "truststore", "password": "changeit",
                  "entries": "notable"}, open(path, "rb").read(), material)
    assert facts["entry_count"] == 6
    listed = {e["alias"]: e for e in facts["entries"]}
    assert set(listed) == {"sampleca", "smtls-ca", "sample"}
    assert listed["sampleca"]["untrusted"] and not listed["smtls-ca"]["untrusted"]
    assert listed["sample"]["issued_by_untrusted"] and not listed["sample"]["untrusted"]
    assert listed["smtls-ca"]["known_ca"] and not listed["smtls-ca"]["issued_by_known_ca"]


SM_INI = ("smmasterkey:0123456789abcdef\n*sqllogin:aabb\nssl:1\nsslConnector:1\n"
          "ssl_reqClientAuth:2\nkeystoreFile:server.keystore\n*keystorePass:deadbeef\n"
          "truststorePass:Plain-Secret1\nssl:0\nsessiontimeout:1800\nhttpsPort:13443\n")


def test_sm_ini_settings_are_read_with_credentials_masked():
    facts = inv.read_sm_ini(SM_INI.encode())
    assert facts["settings"] == {"ssl": "1", "sslConnector": "1", "ssl_reqClientAuth": "2",
                                 "keystoreFile": "server.keystore", "keystorePass": inv.MASK,
                                 "truststorePass": inv.MASK, "httpsPort": "13443"}
    assert facts["encrypted"] == ["keystorePass"] and facts["plain_passwords"] == ["truststorePass"]
    assert facts["mode"] == "trusted_clients"
    assert "Plain-Secret1" not in json.dumps(facts) and "deadbeef" not in json.dumps(facts)


@pytest.mark.parametrize("settings,mode", [
    ({}, "none"), ({"ssl": "0"}, "none"), ({"ssl": "1"}, "encryption"),
    ({"ssl": "1", "ssl_reqClientAuth": "1"}, "client_auth"),
    ({"ssl": "1", "ssl_reqClientAuth": "2"}, "trusted_clients"),
    ({"ssl": "1", "ssl_reqClientAuth": "2", "trustedsignon": "1"}, "trusted_signon"),
])
def test_sm_ini_mode(settings, mode):
    assert inv.ini_mode(settings) == mode


WEB_XML = b"""<?xml version="1.0"?>
<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee">
  <context-param><param-name>ssl</param-name><param-value>false</param-value></context-param>
  <context-param><param-name>serverHost</param-name><param-value>localhost</param-value></context-param>
  <context-param><param-name>customize-folder</param-name><param-value>/x</param-value></context-param>
</web-app>
"""


@pytest.mark.parametrize("properties,mode", [
    (None, "none"),
    (b"ssl=true\ncacerts=/WEB-INF/cacerts\n", "encryption"),
    (b"ssl=true\nkeystore=/WEB-INF/webtier.keystore\nkeystorePassword=Web-Secret1\n", "client_certificate"),
    (b"ssl=true\nkeystore=/WEB-INF/w.keystore\nisCustomAuthenticationUsed=false\n", "trusted_signon"),
])
def test_web_tier_settings_properties_win_over_web_xml(properties, mode):
    facts = inv.read_webtier(properties, WEB_XML)
    assert facts["mode"] == mode
    assert facts["settings"]["serverHost"] == "localhost" and "customize-folder" not in facts["settings"]
    assert facts["source"]["ssl"] == ("web.xml" if properties is None else "webtier.properties")
    assert "Web-Secret1" not in json.dumps(facts)


def test_web_tier_settings_three_layers_the_webapp_properties_in_the_middle():
    webapp = b"ssl=true\nserverPort=13443\nserverHost=from-webapp\n"
    facts = inv.read_webtier(b"serverHost=from-custom\n", WEB_XML, webapp)
    assert facts["settings"]["serverHost"] == "from-custom"
    assert facts["source"]["serverHost"] == "webtier.properties"
    assert (facts["settings"]["ssl"], facts["source"]["ssl"]) == ("true", "WEB-INF/webtier.properties")
    assert inv.read_webtier(None, WEB_XML, webapp)["settings"]["serverHost"] == "from-webapp"


# --- the modules -----------------------------------------------------------------------------


def test_inventory_module_reads_everything_in_one_call_and_shows_no_secret(tmp_path, material):
    key, cert = material["server"]
    run = tmp_path / "RUN"
    run.mkdir()
    keystore = write_store(run / "server.keystore", [ks.KeyEntry("smserver", [cert], key=key)], "S3cret-pw")
    cacerts = write_store(run / "cacerts", [ks.CertEntry("smtls-ca", material["ca"].cert)], "changeit")
    (run / "sm.ini").write_text(SM_INI)
    (run / "corrupt.keystore").write_bytes(b"\xfe\xed\xfe\xed\x00")
    args = dict(
        stores=[{"path": keystore, "purpose": "identity", "password": "S3cret-pw", "required": True},
                {"path": cacerts, "purpose": "truststore", "password": "Trust-pw1",
                 "initial_passwords": ["changeit"], "entries": "notable"},
                {"path": str(run / "trustedclients.keystore"), "purpose": "allowlist"},
                {"path": str(tmp_path / "no-such-dir" / "bundle.keystore"), "purpose": "identity"},
                {"path": str(run / "corrupt.keystore"), "purpose": "identity", "password": "x"}],
        untrusted_cas=UNTRUSTED, known_cas=[material["ca"].pem], sm_ini=str(run / "sm.ini"),
        context={"name": "sm1", "kind": "server"})
    result = module_result(sm_tls_inventory, args, check_mode=True)
    assert result["changed"] is False and result["context"]["name"] == "sm1"
    assert result["known_ca_count"] == 1
    server_ks, trust, clients, bundle, corrupt = result["stores"]
    assert server_ks["password_used"] == "configured" and server_ks["entries"][0]["issued_by_known_ca"]
    assert trust["password_used"] == "initial" and trust["well_known_password"]
    assert clients["exists"] is False and "error" not in clients
    assert bundle["exists"] is False and "error" not in bundle  # a bundle not built yet
    assert "error" in corrupt
    assert result["sm_ini"]["mode"] == "trusted_clients"
    text = json.dumps(result)
    for secret in ("S3cret-pw", "Trust-pw1", "Plain-Secret1", "deadbeef", "0123456789abcdef"):
        assert secret not in text
    assert "PRIVATE KEY" not in text


def test_foreign_issuer_of_a_key_entry(material):
    """The issuer no known CA is: by SHA-256 where the chain carries it, by subject alone where
    it does not; nothing for our own certificate or a trusted-certificate entry."""
    key, cert = material["sample"]
    sample_ca = material["sample_ca"].cert
    with_ca = ks.KeyEntry("sample", [cert, sample_ca], key=key)
    assert inv.foreign_issuer(with_ca, [material["ca"].cert]) == {
        "subject": sample_ca.subject.rfc4514_string(), "sha256": pki.sha256_hex(sample_ca)}
    leaf_only = ks.KeyEntry("sample", [cert], key=key)
    assert inv.foreign_issuer(leaf_only, [material["ca"].cert]) == {
        "subject": sample_ca.subject.rfc4514_string()}
    own_key, own_cert = material["server"]
    assert inv.foreign_issuer(ks.KeyEntry("smserver", [own_cert], key=own_key), [material["ca"].cert]) == {}
    assert inv.foreign_issuer(ks.CertEntry("x", sample_ca), []) == {}
    # a chain whose second certificate did not sign the leaf names the issuer by subject only
    wrong = ks.KeyEntry("sample", [cert, material["others"][0]], key=key)
    assert "sha256" not in inv.foreign_issuer(wrong, [material["ca"].cert])
    # an ACME CA's certificate comes through an intermediate: its root is the known CA, and the
    # intermediate is no foreign issuer to distrust
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    root = material["ca"]
    mid_key = pki.generate_key("ec")
    day = datetime.timedelta(days=1)
    mid = (x509.CertificateBuilder()
           .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "mid")]))
           .issuer_name(root.cert.subject).public_key(mid_key.public_key())
           .serial_number(x509.random_serial_number()).not_valid_before(pki.now() - day)
           .not_valid_after(pki.now() + 90 * day)
           .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
           .sign(root.key, hashes.SHA256()))
    leaf = pki.sign(mid_key, mid, own_key.public_key(), "sm1", ["sm1"], None, 90, "server")
    assert inv.foreign_issuer(ks.KeyEntry("smserver", [leaf, mid, root.cert], key=own_key), [root.cert]) == {}


def test_inventory_module_finds_the_sample_ca_with_no_configuration(tmp_path, material):
    """A fresh server: no untrusted_cas, no CA of ours yet. The issuer of the certificate the
    server presents is distrusted in every store of the call - the truststore listed before the
    keystore too - and returned for the rest of the fleet."""
    key, cert = material["sample"]
    sample_ca = material["sample_ca"].cert
    keystore = write_store(tmp_path / "server.keystore", [ks.KeyEntry("sample", [cert, sample_ca], key=key)],
                           "serverkeystore")
    others = [ks.CertEntry("public%d" % i, c) for i, c in enumerate(material["others"])]
    cacerts = write_store(tmp_path / "cacerts", others + [ks.CertEntry("sampleca", sample_ca)], "changeit")
    stores = [{"path": cacerts, "purpose": "truststore", "password": "changeit", "entries": "notable"},
              {"path": keystore, "purpose": "identity", "password": "serverkeystore"}]
    result = module_result(sm_tls_inventory, dict(stores=stores, detect_foreign_issuers=True),
                           check_mode=True)
    trust, identity = result["stores"]
    assert identity["foreign_issuers"] == [{"subject": sample_ca.subject.rfc4514_string(),
                                            "sha256": pki.sha256_hex(sample_ca)}]
    assert identity["entries"][0]["issued_by_untrusted"]
    assert [e["alias"] for e in trust["entries"] if e["untrusted"]] == ["sampleca"]
    assert len(trust["entries"]) == 1   # the public CAs are not notable
    # without detection nothing is flagged: the finding comes from the detection
    plain = module_result(sm_tls_inventory, dict(stores=stores), check_mode=True)
    assert not any(e["untrusted"] for e in plain["stores"][0]["entries"])
    assert "foreign_issuers" not in plain["stores"][1]


def fleet_records():
    return [server(), web()]


def test_report_module_writes_once_then_keeps_the_files(tmp_path):
    dest = tmp_path / "report"
    args = dict(dest=str(dest), records=fleet_records(), expected={"server": ["sm1", "sm2"]},
                run_hosts=["sm1", "web1"])
    checked = module_result(sm_fleet_report, args, check_mode=True)
    assert checked["changed"] and not dest.exists()
    first = module_result(sm_fleet_report, args)
    assert first["changed"] and sorted(first["written"]) == sorted([first["html_file"], first["json_file"]])
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    assert set(before) == {"smtls-report.json", "smtls-report.html"}
    assert oct((dest / "smtls-report.html").stat().st_mode & 0o777) == "0o644"
    second = module_result(sm_fleet_report, args, diff=True)
    assert not second["changed"] and second["written"] == []
    assert second["generated_at"] == first["generated_at"]
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before
    assert second["summary"]["hosts"] == 3  # sm2 not read, still shown
    (dest / "smtls-report.html").unlink()  # a lost page comes back, the JSON stays
    third = module_result(sm_fleet_report, args)
    assert third["written"] == [third["html_file"]]


def test_report_module_check_mode_and_diff_on_a_change(tmp_path):
    dest = tmp_path / "r"
    module_result(sm_fleet_report, dict(dest=str(dest), records=fleet_records()))
    before = (dest / "smtls-report.json").read_bytes()
    changed = [server(sm_ini=ini("encryption")), web()]
    result = module_result(sm_fleet_report, dict(dest=str(dest), records=changed), check_mode=True,
                           diff=True)
    assert result["changed"] and (dest / "smtls-report.json").read_bytes() == before
    assert "mode_drift" in result["diff"]["after"] and "mode_drift" not in result["diff"]["before"]


def test_report_module_fails_on_a_finding_after_writing(tmp_path):
    dest = tmp_path / "r"
    records = [server(stores=[store("identity", [entry("sm1", -3000)])])]  # expired in 2021
    result = module_result(sm_fleet_report, dict(dest=str(dest), records=records, fail_on="critical"))
    assert result["failed"] and "1 finding(s)" in result["msg"]
    assert (dest / "smtls-report.html").exists()


# --- Prometheus metrics (smtls.prom) -------------------------------------------------------

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

import sm_pending_restart  # noqa: E402

GENERATED = int(AT.timestamp())
DAY = 86400


def parse_prom(text):
    """{name: family} of an exposition, after checking what node_exporter's textfile collector
    needs: every family documented and typed once, one set of label names per family, no two
    samples with the same labels, no client-side timestamp."""
    families = {}
    for family in text_string_to_metric_families(text):
        assert family.name not in families, "family %s appears twice" % family.name
        assert family.documentation and family.type == "gauge", family
        label_sets = {tuple(sorted(s.labels)) for s in family.samples}
        assert len(label_sets) <= 1, (family.name, label_sets)
        keys = [tuple(sorted(s.labels.items())) for s in family.samples]
        assert len(keys) == len(set(keys)), "duplicate series in %s" % family.name
        assert all(s.timestamp is None for s in family.samples)
        families[family.name] = family
    assert text.endswith("\n") and "\n\n" not in text
    return families


def series(families):
    """{(name, frozenset(labels)): value} of every sample."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in families.values() for s in family.samples}


def labels(**kw):
    return frozenset(kw.items())


def cert(host, kind, store_path, purpose, alias, usage, subject=None):
    return labels(host=host, kind=kind, store=store_path, purpose=purpose, alias=alias,
                  subject=subject or "CN=%s" % alias, usage=usage)


def expiry(days):
    """Seconds from AT to an entry made with entry(days=days): days and an hour."""
    return days * DAY + 3600


def probe(when=None, error=None):
    out = {"path": "/sm/.smtls-last-probe", "exists": when is not None, "last_success": when}
    if error:
        out["error"] = error
    return out


ODD = 'a"b\\c\nd {x="y",z} #é–✓'

# (id, records, build kwargs, samples that must be there {(name, labels): value},
#  series that must not be there {(name, labels)})
METRIC_CASES = [
    ("a converged fleet", [server(probe=probe("2029-12-31T00:00:00Z")), web(probe=probe())], {}, {
        ("smtls_report_generated_timestamp_seconds", labels()): GENERATED,
        ("smtls_host_read_ok", labels(host="sm1", kind="server")): 1,
        ("smtls_host_read_ok", labels(host="web1", kind="webtier")): 1,
        ("smtls_host_findings", labels(host="sm1", kind="server", severity="critical")): 0,
        ("smtls_host_findings", labels(host="sm1", kind="server", severity="warning")): 0,
        ("smtls_host_findings", labels(host="sm1", kind="server", severity="info")): 0,
        ("smtls_host_ssl_mode_info", labels(host="sm1", kind="server", mode="trusted_clients",
                                            inventory_mode="trusted_clients")): 1,
        ("smtls_host_ssl_mode_info", labels(host="web1", kind="webtier", mode="client_certificate",
                                            inventory_mode="trusted_clients")): 1,
        ("smtls_host_probe_last_success_timestamp_seconds", labels(host="sm1", kind="server")):
            GENERATED - DAY,
        # a host whose probe record is absent: never proven (0), not unknown
        ("smtls_host_probe_last_success_timestamp_seconds", labels(host="web1", kind="webtier")): 0,
        ("smtls_certificate_expiry_seconds", cert("sm1", "server", "/sm/identity", "identity", "sm1",
                                                  "own")): expiry(200),
        ("smtls_certificate_not_after_timestamp_seconds", cert(
            "sm1", "server", "/sm/identity", "identity", "sm1", "own")): GENERATED + expiry(200),
        ("smtls_certificate_expiry_seconds", cert("sm1", "server", "/sm/truststore", "truststore",
                                                  "smtls-ca", "ca")): expiry(3000),
        ("smtls_certificate_expiry_seconds", cert("sm1", "server", "/sm/allowlist", "allowlist",
                                                  "sm-webtier", "client")): expiry(200),
        ("smtls_certificate_expiry_seconds", cert("web1", "webtier", "/sm/identity", "identity",
                                                  "sm-webtier", "own")): expiry(200),
    }, set()),
    ("findings by severity count, and an expired certificate goes negative",
     [server(stores=[store("identity", [entry("sm1", -2)])], sm_ini=ini(plain=["keystorePass"])),
      web(days=12)], {}, {
         ("smtls_host_findings", labels(host="sm1", kind="server", severity="critical")): 1,
         ("smtls_host_findings", labels(host="sm1", kind="server", severity="info")): 1,
         ("smtls_host_findings", labels(host="web1", kind="webtier", severity="warning")): 1,
         ("smtls_host_findings", labels(host="web1", kind="webtier", severity="critical")): 0,
         ("smtls_certificate_expiry_seconds", cert("sm1", "server", "/sm/identity", "identity",
                                                   "sm1", "own")): expiry(-2),
     }, set()),
    ("the sample material is labelled untrusted", [server(stores=[
        store("truststore", [entry("sampleca", 900, kind="trusted_cert", issuer=SAMPLE_CA,
                                   untrusted=True)]),
        store("identity", [entry("sample", 300, issuer=SAMPLE_CA, issued_by_untrusted=True)])])],
     {}, {
         ("smtls_certificate_expiry_seconds", cert("sm1", "server", "/sm/truststore", "truststore",
                                                   "sampleca", "untrusted")): expiry(900),
         ("smtls_certificate_expiry_seconds", cert("sm1", "server", "/sm/identity", "identity",
                                                   "sample", "untrusted")): expiry(300),
         ("smtls_host_findings", labels(host="sm1", kind="server", severity="critical")): 2,
     }, set()),
    ("hosts not read, or left out", [server()],
     {"expected": {"server": ["sm1", "sm2"], "webtier": ["web9"]}, "run_hosts": ["sm1", "sm2"]}, {
         ("smtls_host_read_ok", labels(host="sm2", kind="server")): 0,
         ("smtls_host_read_ok", labels(host="web9", kind="webtier")): 0,
         ("smtls_host_findings", labels(host="sm2", kind="server", severity="critical")): 1,
         ("smtls_host_findings", labels(host="web9", kind="webtier", severity="info")): 1,
         ("smtls_host_ssl_mode_info", labels(host="sm2", kind="server", mode="unknown",
                                             inventory_mode="unknown")): 1,
     }, {
         # nothing known about their probes: no sample rather than a false 0
         ("smtls_host_probe_last_success_timestamp_seconds", labels(host="sm2", kind="server")),
         ("smtls_host_probe_last_success_timestamp_seconds", labels(host="sm1", kind="server")),
     }),
    ("a Windows client: read on the controller, never probed", [
        record("win1", "windows_client", context={"read": "controller", "client_alias": "win1"},
               stores=[store("identity", [entry("win1", 50)], path="C:\\bundle\\win1.p12")])], {}, {
         ("smtls_host_read_ok", labels(host="win1", kind="windows_client")): 1,
         ("smtls_host_ssl_mode_info", labels(host="win1", kind="windows_client", mode="unknown",
                                             inventory_mode="trusted_clients")): 1,
         ("smtls_certificate_expiry_seconds", cert("win1", "windows_client", "C:\\bundle\\win1.p12",
                                                   "identity", "win1", "own")): expiry(50),
     }, {("smtls_host_probe_last_success_timestamp_seconds",
          labels(host="win1", kind="windows_client"))}),
    ("a host in two groups is two series, not a duplicate", [
        server("both"), record("both", "webtier", webtier={"exists": True, "settings": {},
                                                           "mode": "client_certificate"})], {}, {
         ("smtls_host_read_ok", labels(host="both", kind="server")): 1,
         ("smtls_host_read_ok", labels(host="both", kind="webtier")): 1,
     }, set()),
    ("the same store listed twice: one series", [server(stores=[
        store("identity", [entry("sm1", 10)], path="/sm/keystore"),
        store("identity", [entry("sm1", 10)], path="/sm/keystore")])], {}, {
         ("smtls_certificate_expiry_seconds", cert("sm1", "server", "/sm/keystore", "identity",
                                                   "sm1", "own")): expiry(10),
     }, set()),
    ("odd characters in every label are escaped and come back intact", [
        server(ODD, context={"allowlist_clients": []}, sm_ini=ini(mode=ODD), stores=[
            store("identity", [entry(ODD, 5, subject=ODD)], path="/opt/" + ODD)])], {}, {
         ("smtls_host_read_ok", labels(host=ODD, kind="server")): 1,
         ("smtls_host_ssl_mode_info", labels(host=ODD, kind="server", mode=ODD,
                                             inventory_mode="trusted_clients")): 1,
         ("smtls_certificate_expiry_seconds", cert(ODD, "server", "/opt/" + ODD, "identity", ODD,
                                                   "own", subject=ODD)): expiry(5),
     }, set()),
]


@pytest.mark.parametrize("label,records,kwargs,present,absent", METRIC_CASES,
                         ids=[c[0] for c in METRIC_CASES])
def test_metrics(label, records, kwargs, present, absent):
    built = engine.build(records, at=AT, **kwargs)
    families = parse_prom(render.render_prom(built))
    # every family, in the documented order, even one without samples
    assert list(families) == list(render.METRIC_NAMES)
    got = series(families)
    missing = {key: value for key, value in present.items() if got.get(key) != value}
    assert not missing, {k: (v, got.get(k)) for k, v in missing.items()}
    assert not absent & set(got), absent & set(got)


def test_metrics_of_every_host_and_severity_are_there_zero_or_not():
    built = engine.build([server(), web()], expected={"server": ["sm1", "sm2"]}, at=AT)
    got = series(parse_prom(render.render_prom(built)))
    hosts = {(h["name"], h["kind"]) for h in built["hosts"]}
    for name, kind in hosts:
        assert ("smtls_host_read_ok", labels(host=name, kind=kind)) in got
        for severity in engine.SEVERITIES:
            assert ("smtls_host_findings", labels(host=name, kind=kind, severity=severity)) in got
    findings = sum(v for (n, _), v in got.items() if n == "smtls_host_findings")
    assert findings == sum(built["summary"]["findings"].values())
    # one certificate series per listed entry, both the timestamp and the countdown
    entries = sum(len(s["entries"]) for h in built["hosts"] for s in h["stores"])
    for name in ("smtls_certificate_expiry_seconds", "smtls_certificate_not_after_timestamp_seconds"):
        assert sum(1 for n, _ in got if n == name) == entries


def test_raw_escaping_follows_the_format():
    built = engine.build([server('x"y\\z\nw', context={"allowlist_clients": []}, stores=[])], at=AT)
    text = render.render_prom(built)
    assert 'host="x\\"y\\\\z\\nw"' in text
    assert all(line.startswith(("# HELP smtls_", "# TYPE smtls_", "smtls_"))
               for line in text.splitlines())


def test_metrics_are_a_function_of_the_report():
    first = engine.build([server(), web()], at=AT)
    again = engine.build([web(), server()], at=AT)
    assert render.render_prom(first) == render.render_prom(again)
    later = engine.build([server(), web()], at=AT + datetime.timedelta(minutes=5))
    later["generated_at"] = first["generated_at"]  # what the module does when nothing changed
    assert render.render_prom(later) == render.render_prom(first)
    moved = series(parse_prom(render.render_prom(engine.build(
        [server(), web()], at=AT + datetime.timedelta(days=1)))))
    assert moved[("smtls_certificate_expiry_seconds", cert(
        "sm1", "server", "/sm/identity", "identity", "sm1", "own"))] == expiry(200) - DAY


def test_the_report_shows_the_last_probe():
    built = engine.build([server(probe=probe("2029-12-31T00:00:00Z")), web(probe=probe()),
                          server("sm3", probe=probe(error="/sm/.smtls-last-probe: not a smtls "
                                                          "probe record"))], at=AT)
    hosts = {h["name"]: h for h in built["hosts"]}
    assert hosts["sm1"]["probe"]["last_success"] == "2029-12-31T00:00:00Z"
    assert hosts["web1"]["probe"]["last_success"] is None
    assert ("sm3", "warning", "store_unreadable") in found(built)
    html = render.render_html(built)
    assert "Last proven by a TLS handshake: 2029-12-31T00:00:00Z." in html
    assert "No successful TLS handshake probe recorded." in html


def test_report_module_writes_the_metrics_with_the_report_and_keeps_them(tmp_path):
    dest = tmp_path / "report"
    metrics = tmp_path / "textfile" / "smtls.prom"  # elsewhere: node_exporter's directory
    args = dict(dest=str(dest), records=fleet_records(), metrics_file=str(metrics))
    checked = module_result(sm_fleet_report, args, check_mode=True)
    assert checked["changed"] and str(metrics) in checked["written"] and not metrics.exists()
    first = module_result(sm_fleet_report, args)
    assert first["metrics_file"] == str(metrics) and str(metrics) in first["written"]
    assert oct(metrics.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in metrics.parent.iterdir()] == ["smtls.prom"]  # no temporary left
    text = metrics.read_text()
    got = series(parse_prom(text))
    assert got[("smtls_report_generated_timestamp_seconds", labels())] == int(
        engine.parse_time(first["generated_at"]).timestamp())
    second = module_result(sm_fleet_report, args)
    assert not second["changed"] and metrics.read_text() == text
    metrics.unlink()  # a lost file comes back the same, the report stays
    third = module_result(sm_fleet_report, args)
    assert third["written"] == [str(metrics)] and metrics.read_text() == text
    changed = module_result(sm_fleet_report, dict(args, records=[server(sm_ini=ini("encryption")),
                                                                 web()]))
    assert str(metrics) in changed["written"]
    got = series(parse_prom(metrics.read_text()))
    assert got[("smtls_host_findings", labels(host="sm1", kind="server", severity="warning"))] == 1
    assert ("smtls_host_ssl_mode_info", labels(host="sm1", kind="server", mode="encryption",
                                               inventory_mode="trusted_clients")) in got


def test_probe_record_is_bookkeeping_beside_the_restart_record(tmp_path):
    """The call that clears the restart record after the probes passed records their time; it
    is never a change, check mode writes nothing, and sm_tls_inventory reads it back."""
    record, proven = tmp_path / ".smtls-restart-pending", tmp_path / ".smtls-last-probe"

    def call(check_mode=False, **args):
        return module_result(sm_pending_restart, dict(path=str(record), **args), check_mode=check_mode)

    checked = call(state="absent", probe_record=str(proven), check_mode=True)
    assert checked["changed"] is False and not proven.exists()
    # smtls_probe=always, nothing pending: a probe, no change
    quiet = call(state="absent", probe_record=str(proven))
    assert quiet["changed"] is False and proven.exists()
    assert oct(proven.stat().st_mode & 0o777) == "0o640"
    stamp = quiet["probe_recorded"]
    when = engine.parse_time(stamp)
    assert abs((when - pki.now()).total_seconds()) < 60 and stamp.endswith("Z")
    # after a restart: the record goes (a change), the time is recorded again
    record.write_text(json.dumps({"files": [{"path": str(tmp_path / "sm.ini"), "backup": None}]}))
    cleared = call(state="absent", probe_record=str(proven))
    assert cleared["changed"] is True and not record.exists()
    assert json.loads(proven.read_text())["last_success"] == cleared["probe_recorded"]
    # not probed (smtls_probe=never): the time stays as it was
    before = proven.read_bytes()
    assert "probe_recorded" not in call(state="absent")
    assert proven.read_bytes() == before
    refused = call(state="rollback", probe_record=str(proven))
    assert refused["failed"] and "state=absent" in refused["msg"]
    read = module_result(sm_tls_inventory, dict(probe_record=str(proven),
                                                context={"name": "sm1", "kind": "server"}))
    assert read["probe"] == {"path": str(proven), "exists": True,
                             "last_success": cleared["probe_recorded"]}
    missing = module_result(sm_tls_inventory, dict(probe_record=str(tmp_path / "nothing")))
    assert missing["probe"]["exists"] is False and missing["probe"]["last_success"] is None
    proven.write_text("garbage")
    broken = module_result(sm_tls_inventory, dict(probe_record=str(proven)))
    assert "not a smtls probe record" in broken["probe"]["error"]
    assert broken["probe"]["last_success"] is None


@pytest.mark.parametrize("text,expected", [
    ('{"last_success": "2030-01-01T00:00:00Z"}', "2030-01-01T00:00:00Z"),
    ('{"last_success": "2030-01-01T01:00:00+01:00"}', "2030-01-01T00:00:00Z"),
    ('{"last_success": "2030-01-01T00:00:00.123456"}', "2030-01-01T00:00:00Z"),
    ('{"last_success": 12}', None), ('{"when": "2030-01-01"}', None), ("[]", None), ("", None),
    ('{"last_success": "yesterday"}', None),
])
def test_probe_record_format(text, expected):
    if expected is None:
        with pytest.raises(ValueError):
            inv.read_probe_record(text.encode())
    else:
        assert inv.read_probe_record(text.encode()) == {"last_success": expected}


def test_a_probe_record_that_cannot_be_written_warns_and_fails_nothing(tmp_path, capfd):
    record = tmp_path / ".smtls-restart-pending"
    record.write_text('{"files": []}')
    result = module_result(sm_pending_restart, dict(path=str(record), state="absent",
                                                    probe_record=str(tmp_path / "gone" / "x")))
    assert not result.get("failed") and result["changed"] is True and not record.exists()
    assert "probe_recorded" not in result
    # returned as the result's warning, or shown at once when Ansible's display is set up
    # in this process (other tests do)
    assert "not recorded" in json.dumps(result.get("warnings", [])) + capfd.readouterr().err
