"""The web tier's browser side: Tomcat's HTTPS connector as sm_webtier_info reads it, as
sm_webtier_config sets it, and as the fleet report reads it. Real files, real keystores
(checked with keytool where Tomcat's view matters)."""

import grp
import os
import subprocess

import pytest

import sm_tls_inventory
import sm_webtier_config
import sm_webtier_info
from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_x509 as pki
from conftest import module_result

SERVER_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Server port="8005" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <!--
    <Connector port="8443" SSLEnabled="true"><SSLHostConfig>
      <Certificate certificateKeystoreFile="conf/commented.jks"/></SSLHostConfig></Connector>
    -->
    <Connector port="8443" protocol="org.apache.coyote.http11.Http11NioProtocol" SSLEnabled="true">
        <SSLHostConfig>
            <Certificate certificateKeystoreFile="conf/localhost-rsa.jks"
                         certificateKeystorePassword="changeit" type="RSA" />
        </SSLHostConfig>
    </Connector>
    <Connector port="8009" protocol="AJP/1.3" redirectPort="8443"/>
  </Service>
</Server>
"""


@pytest.fixture
def tomcat(tmp_path, sample_ca):
    """A CATALINA_BASE with conf/server.xml, its connector keystore (a certificate from the
    sample CA, password changeit) and a webapp; and a JRE release file saying Java 8."""
    conf = tmp_path / "tomcat" / "conf"
    conf.mkdir(parents=True)
    (conf / "server.xml").write_text(SERVER_XML)
    key, cert = sample_ca.issue("localhost")
    store = ks.Keystore("jks", [ks.KeyEntry("tomcat", [cert, sample_ca.cert], key)])
    (conf / "localhost-rsa.jks").write_bytes(ks.dump(store, "changeit"))
    webinf = tmp_path / "tomcat" / "webapps" / "webtier" / "WEB-INF"
    webinf.mkdir(parents=True)
    (webinf / "web.xml").write_text("<web-app/>")
    jre = tmp_path / "jre8"
    jre.mkdir()
    (jre / "release").write_text('JAVA_VERSION="1.8.0_202"\n')
    return tmp_path


def info(base, **extra):
    args = dict(webapp_dir=str(base / "tomcat" / "webapps" / "webtier"),
                server_xml=str(base / "tomcat" / "conf" / "server.xml"),
                catalina_base=str(base / "tomcat"), jre_dirs=[str(base / "nowhere"), str(base / "jre*")])
    args.update(extra)
    return module_result(sm_webtier_info, args)


def test_info_finds_the_connector_its_keystore_and_tomcats_jre(tomcat):
    result = info(tomcat)
    assert result["webapp_found"] and not result["changed"]
    # the first existing directory of the list, a glob pattern resolved
    assert result["jre"]["home"] == str(tomcat / "jre8")
    assert (result["jre"]["version"], result["jre"]["tls13"]) == ("1.8.0_202", False)
    [connector] = result["https_connectors"]  # the commented-out one is no connector
    assert connector["port"] == 8443 and connector["form"] == "SSLHostConfig"
    assert connector["keystore"] == str(tomcat / "tomcat" / "conf" / "localhost-rsa.jks")
    assert connector["keystore_found"] and connector["keystore_opens"]


def test_info_keystore_opening_with_the_wanted_password_only_counts(tomcat):
    path = tomcat / "tomcat" / "conf" / "localhost-rsa.jks"
    path.write_bytes(ks.dump(ks.load(path.read_bytes(), "changeit"), "new-Tomcat-1"))
    assert not info(tomcat)["https_connectors"][0]["keystore_opens"]
    # a run stopped between the keystore and server.xml writes left it so
    assert info(tomcat, keystore_password="new-Tomcat-1")["https_connectors"][0]["keystore_opens"]


def test_info_refuses_a_server_xml_that_does_not_parse(tomcat):
    (tomcat / "tomcat" / "conf" / "server.xml").write_text("<Server><Connector port='1'>")
    result = info(tomcat)
    assert result["failed"] and "not well-formed XML" in result["msg"]


def test_config_sets_protocols_and_password_in_place_masked(tomcat):
    server_xml = tomcat / "tomcat" / "conf" / "server.xml"
    args = dict(server_xml=str(server_xml), https_port=8443, https_protocols=["TLSv1.2"],
                https_keystore_password="new-Tomcat-1", backup=True,
                # Tomcat's group: capping a root:root 0644 server.xml without one is refused
                group=grp.getgrgid(os.getgid()).gr_name)
    checked = module_result(sm_webtier_config, args, check_mode=True, diff=True)
    assert server_xml.read_text() == SERVER_XML
    result = module_result(sm_webtier_config, args, diff=True)
    assert checked["files"][0]["actions"] == result["files"][0]["actions"] == [
        "set protocols=\"TLSv1.2\" on the HTTPS connector 8443 (was Tomcat's default: every "
        "protocol the JRE enables)",
        "set certificateKeystorePassword=******** on the HTTPS connector 8443",
        "cap mode 0644 to 0640 (the file holds secrets)"]
    assert "new-Tomcat-1" not in str(result) and "changeit" not in str(result)
    text = server_xml.read_text()
    assert '<SSLHostConfig protocols="TLSv1.2">' in text
    assert 'certificateKeystorePassword="new-Tomcat-1"' in text
    assert '<Connector port="8009" protocol="AJP/1.3" redirectPort="8443"/>' in text
    assert not module_result(sm_webtier_config, args)["changed"]


def test_report_reads_the_connector_keystore_as_tomcat_does(tomcat, sample_ca, ca, java_tools):
    path = tomcat / "tomcat" / "conf" / "localhost-rsa.jks"
    # Tomcat's own view of the store: keytool opens it with server.xml's password
    listing = subprocess.run(["keytool", "-list", "-keystore", str(path), "-storepass", "changeit"],
                             capture_output=True, text=True, check=True).stdout
    assert "tomcat," in listing and "PrivateKeyEntry" in listing
    result = module_result(sm_tls_inventory, dict(
        stores=[], known_cas=[ca.pem], untrusted_cas=[dict(sha256=pki.sha256_hex(sample_ca.cert))],
        tomcat_server_xml=str(tomcat / "tomcat" / "conf" / "server.xml"),
        catalina_base=str(tomcat / "tomcat")))
    assert result["tomcat"]["connectors"] == [dict(port=8443, form="SSLHostConfig", keystore=str(path),
                                                   protocols=None)]
    [store] = result["stores"]
    assert store["browser_connector"] == 8443 and store["purpose"] == "identity"
    assert store["well_known_password"] and "changeit" not in str(result)
    [entry] = [e for e in store["entries"] if e["kind"] == "private_key"]
    assert entry["subject"] == "CN=localhost" and entry["issued_by_untrusted"]


def test_info_returns_the_connector_password_also_when_a_password_option_has_the_same_value(tomcat):
    """A client keystore password (or a wanted connector password) equal to server.xml's
    would otherwise be masked in the result by Ansible's no_log handling, and the rollout would
    open the connector keystore with the mask."""
    same = info(tomcat, client_keystore=dict(path=str(tomcat / "client.jks"), password="changeit"),
                keystore_password="changeit")
    assert same["https_connectors"][0]["keystore_password"] == "changeit"
    assert same["https_connectors"][0]["keystore_opens"]
    # ... and the passwords of the plans the same read makes (the truststores', the settings'):
    # the web tier's cacerts is changeit as often as Tomcat's connector keystore is
    cacerts = dict(path=str(tomcat / "cacerts"), password="changeit")
    settings = dict(properties_file=str(tomcat / "webtier.properties"),
                    passwords={"keystorePassword": "changeit"},
                    server_xml=str(tomcat / "tomcat" / "conf" / "server.xml"),
                    https_port=8443, https_keystore_password="changeit")
    planned = info(tomcat, truststore_plan=dict(truststores=[cacerts]), config_plan=settings)
    assert planned["https_connectors"][0]["keystore_password"] == "changeit"
    assert "changeit" not in str(planned["config_plan"]) + str(planned["truststore_plan"])


def test_info_chooses_the_connector_and_plans_its_protocols_and_password_as_the_write_would(tomcat):
    """The settings plan of the read knows the connector only from the read itself: with
    browser_connector managed, it sets the port, the protocols for the JRE found (Java 8 here:
    TLSv1.2 alone for auto) and the wanted keystore password - what sm_webtier_config, given the
    values the role derives from this read, then does (the two results' actions are the same)."""
    server_xml = tomcat / "tomcat" / "conf" / "server.xml"
    settings = dict(server_xml=str(server_xml), group=grp.getgrgid(os.getgid()).gr_name)
    left = info(tomcat, config_plan=settings, keystore_password="new-Tomcat-1",
                browser_connector=dict(port=0, manage=False))
    assert left["browser_connector"]["port"] == 8443
    assert not [a for f in left["config_plan"]["files"] for a in f["actions"] if "HTTPS connector" in a]
    managed = info(tomcat, config_plan=settings, keystore_password="new-Tomcat-1",
                   browser_connector=dict(port=0, manage=True, protocols="auto"))
    assert managed["config_plan"]["changed"]
    [planned] = managed["config_plan"]["files"]
    write = dict(settings, https_port=8443, https_protocols=["TLSv1.2"],
                 https_keystore_password="new-Tomcat-1")
    written = module_result(sm_webtier_config, write, check_mode=True)
    assert planned["actions"] == written["files"][0]["actions"]
    assert "new-Tomcat-1" not in str(managed["config_plan"])
    # a port no connector serves: none chosen, nothing planned for a connector
    elsewhere = info(tomcat, config_plan=settings, keystore_password="new-Tomcat-1",
                     browser_connector=dict(port=9443, manage=True))
    assert elsewhere["browser_connector"] == {}
    assert not [a for f in elsewhere["config_plan"]["files"] for a in f["actions"] if "HTTPS connector" in a]
