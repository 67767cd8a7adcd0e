"""Web tier settings edited in place."""

import pytest

from ansible.module_utils import smtls_inventory as inv
from ansible.module_utils import smtls_webtier as web

PROPS = ("# custom settings\n"
         "viewrecordlist=true\n"
         "serverHost = old.example.com\n"
         "long.value=first \\\n"
         "    second\n"
         "cacerts:/WEB-INF/cacerts\n")


def test_properties_set_add_remove_keep_the_rest():
    new, actions = web.plan_properties(PROPS, {"serverHost": "sm1.example.com", "ssl": "true",
                                               "cacerts": None, "long.value": "first second"})
    assert new == ("# custom settings\n"
                   "viewrecordlist=true\n"
                   "serverHost=sm1.example.com\n"
                   "long.value=first \\\n"
                   "    second\n"
                   "ssl=true\n")
    assert len(actions) == 3
    again, more = web.plan_properties(new, {"serverHost": "sm1.example.com", "ssl": "true",
                                            "cacerts": None})
    assert again == new and more == []


def test_properties_escape_windows_paths_and_round_trip():
    new, _ = web.plan_properties("", {"keystore": "C:\\SM\\web tier.keystore", "name": " lead"})
    assert "keystore=C\\:" not in new and "keystore=C:\\\\SM\\\\web tier.keystore" in new
    assert web.properties_values(new) == {"keystore": "C:\\SM\\web tier.keystore", "name": " lead"}


def test_password_masked_and_encrypted_value_in_sync():
    text = "masterKey=abc123\nkeystorePassword=ENCRYPTEDVALUE\n"
    new, actions = web.plan_properties(text, {"keystorePassword": "wanted"}, {"keystorePassword"},
                                       in_sync=lambda key, current: True)
    assert new == text and actions == []
    new, actions = web.plan_properties(text, {"keystorePassword": "wanted"}, {"keystorePassword"})
    assert "keystorePassword=wanted" in new and "wanted" not in " ".join(actions)
    shown = web.masked_properties(new, {"keystorePassword"})
    assert "wanted" not in shown and "abc123" not in shown


WEB_XML = """<?xml version="1.0"?>
<web-app>
  <context-param>
    <param-name>serverHost</param-name>
    <param-value>localhost</param-value>
  </context-param>
  <!-- keep me -->
  <context-param>
    <param-name>ssl</param-name>
    <param-value>false</param-value>
  </context-param>
</web-app>
"""


def test_context_params_in_place():
    new, actions = web.plan_context_params(WEB_XML, {"ssl": "true", "serverPort": "13443",
                                                     "serverHost": None})
    web.check_xml(new, "web.xml")
    assert "<param-value>true</param-value>" in new and "<!-- keep me -->" in new
    assert "serverHost" not in new and "<param-name>serverPort</param-name>" in new
    assert len(actions) == 3
    assert web.plan_context_params(new, {"ssl": "true", "serverPort": "13443"}) == (new, [])


@pytest.mark.parametrize("chain", [
    '<sec:filter-chain pattern="/**" filters="securityContextPersistenceFilter,anonymousAuthFilter"/>',
    '<sec:filter-chain filters="securityContextPersistenceFilter,anonymousAuthFilter" pattern="/**"/>',
    "<value>/**=securityContextPersistenceFilter,anonymousAuthFilter</value>",
])
def test_pre_authentication_filter_both_release_forms(chain):
    text = '<beans xmlns:sec="urn:x">%s</beans>' % chain
    on, actions = web.plan_pre_authentication(text, True)
    assert "securityContextPersistenceFilter,preAuthenticationFilter,anonymousAuthFilter" in on
    web.check_xml(on, "application-context.xml")
    assert web.plan_pre_authentication(on, True) == (on, [])
    off, actions = web.plan_pre_authentication(on, False)
    assert off == text and actions


def test_missing_filter_chain_is_an_error():
    with pytest.raises(web.WebTierError, match="no filter chain"):
        web.plan_pre_authentication("<beans/>", True)


SERVER_XML = """<Server>
  <Service name="Catalina">
    <Connector port="8080" protocol="HTTP/1.1"/>
    <Connector port="8009" protocol="AJP/1.3" redirectPort="8443" />
  </Service>
</Server>
"""


def test_tomcat_authentication_on_the_ajp_connector_only():
    new, actions = web.plan_tomcat_authentication(SERVER_XML, False)
    assert ('<Connector port="8009" protocol="AJP/1.3" redirectPort="8443" '
            'tomcatAuthentication="false"/>') in new
    assert '<Connector port="8080" protocol="HTTP/1.1"/>' in new
    assert web.plan_tomcat_authentication(new, False) == (new, [])
    back, _ = web.plan_tomcat_authentication(new, True)
    assert 'tomcatAuthentication' not in back
    web.check_xml(back, "server.xml")


def test_no_ajp_connector_is_an_error_for_tso():
    with pytest.raises(web.WebTierError, match="no AJP connector"):
        web.plan_tomcat_authentication("<Server/>", False)
    assert web.plan_tomcat_authentication("<Server/>", True) == ("<Server/>", [])


def test_broken_xml_is_refused():
    with pytest.raises(web.WebTierError, match="not well-formed"):
        web.check_xml("<web-app><context-param></web-app>", "web.xml")


PASSWORD = "Old-Secret-9"


def test_a_removed_password_line_is_masked_in_actions_and_diff():
    """A mode change that drops keystorePassword no longer passes it as a password: the line
    it removes is still a secret (it once leaked into --diff and diff.before at -vvv)."""
    text = "ssl=true\nkeystorePassword=%s\nkeystore=/WEB-INF/web.keystore\n" % PASSWORD
    new, actions = web.plan_properties(text, {"keystorePassword": None, "keystore": None})
    assert new == "ssl=true\n"
    assert actions == ["remove keystorePassword", "remove keystore"]
    shown = web.masked_properties(text, set())
    assert PASSWORD not in shown and "keystorePassword=********" in shown
    new, actions = web.plan_properties("truststorePassword=a\n", {"truststorePassword": PASSWORD})
    assert actions == ["set truststorePassword=******** (was ********)"]


@pytest.mark.parametrize("xml", [
    # Tomcat's HTTPS connector in server.xml, both quote styles, and a JSSE truststore password
    '<Connector port="8443" keystoreFile="conf/t.jks" keystorePass="%s" />' % PASSWORD,
    "<Connector port='8443' truststorePassword='%s'\n certificateKeystorePassword=\"x%s\"/>"
    % (PASSWORD, PASSWORD),
    # a web tier parameter given as a servlet init-param or a context-param
    "<init-param><param-name>keystorePassword</param-name>\n  <param-value>%s</param-value>"
    "</init-param>" % PASSWORD,
    "<context-param>\n <param-name>masterKey</param-name>\n <param-value>%s</param-value>\n"
    "</context-param>" % PASSWORD,
])
def test_secrets_in_xml_files_are_masked_for_display(xml):
    shown = web.masked_xml(xml)
    assert PASSWORD not in shown and web.MASK in shown


def test_xml_masking_leaves_other_values_alone():
    xml = ('<Connector port="8009" protocol="AJP/1.3" tomcatAuthentication="false" />'
           "<context-param><param-name>serverHost</param-name><param-value>sm1</param-value>"
           "</context-param>")
    assert web.masked_xml(xml) == xml


def test_context_param_actions_mask_secret_names():
    xml = ("<web-app><context-param><param-name>keystorePassword</param-name>"
           "<param-value>%s</param-value></context-param></web-app>" % PASSWORD)
    _new, actions = web.plan_context_params(xml, {"keystorePassword": "New-Secret-1"})
    assert actions == ["set context-param keystorePassword=******** (was ********)"]
    _new, actions = web.plan_context_params("<web-app></web-app>", {"sslPassword": "New-Secret-1"})
    assert "New-Secret-1" not in actions[0]


# --- capping a file Tomcat reads as "other": the decision, with explicit inputs ---------------

@pytest.mark.parametrize("mode,uid,gid,group_given,refused", [
    (0o644, 0, 0, False, True),     # the installer's root:root 0644: Tomcat reads it as other
    (0o604, 0, 0, False, True),
    (0o666, 0, 0, False, True),
    (0o755, 0, 0, False, True),
    (0o644, 0, 0, True, False),     # a group given: Tomcat reads it through that group
    (0o644, 0, 91, False, False),   # root:tomcat - read through its group, smtls trusts that
    (0o644, 91, 0, False, False),   # tomcat:root (or the owner the call gives) - read as owner
    (0o644, 1000, 1000, False, False),  # a user's own files (the demo run by a developer)
    (0o640, 0, 0, False, False),    # already no wider than 0640: nothing capped, nothing lost
    (0o600, 0, 0, False, False),
    (0o660, 0, 0, False, False),    # capped (group write goes), but others could not read it
    (0o4750, 0, 0, False, False),
])
def test_capping_refuses_only_a_root_root_file_others_read_without_a_group(mode, uid, gid,
                                                                          group_given, refused):
    assert web.locks_tomcat_out(mode, uid, gid, group_given) is refused
    if refused:
        with pytest.raises(web.WebTierError) as caught:
            web.refuse_tomcat_lockout("/opt/w/web.xml", mode, uid, gid, group_given)
        message = str(caught.value)
        assert message.startswith("/opt/w/web.xml is root:root with mode %04o" % mode)
        assert ("Fix: set sm_webtier_file_group to the group Tomcat runs as (e.g. tomcat), or "
                "make the file readable by its group first (chgrp tomcat /opt/w/web.xml)") in message
    else:
        web.refuse_tomcat_lockout("/opt/w/web.xml", mode, uid, gid, group_given)


INIT_XML = """<?xml version="1.0" encoding="UTF-8"?>
<web-app>
  <context-param>
    <param-name>serverHost</param-name>
    <param-value>localhost</param-value>
  </context-param>
  <servlet>
    <servlet-name>webtier</servlet-name>
    <init-param>
      <param-name>ssl</param-name>
      <param-value>false</param-value>
    </init-param>
    <init-param>
      <param-name>serverHost</param-name>
      <param-value>old.example.com</param-value>
    </init-param>
  </servlet>
  <context-param>
    <param-name>serverHost</param-name>
    <param-value>second.example.com</param-value>
  </context-param>
</web-app>
"""


def test_init_params_are_set_where_they_are_and_no_name_keeps_two_values():
    new, actions = web.plan_context_params(INIT_XML, {"ssl": "true", "serverHost": "sm.example.com",
                                                      "serverPort": "13443"})
    assert actions == ["set init-param ssl=true (was false)",
                       "set context-param serverHost=sm.example.com (was localhost)",
                       "set init-param serverHost=sm.example.com (was old.example.com)",
                       "remove duplicate context-param serverHost",
                       "add context-param serverPort=13443"]
    web.check_xml(new, "web.xml")
    assert new.count("<param-name>serverHost</param-name>") == 2   # one context-param, one init-param
    assert "old.example.com" not in new and "second.example.com" not in new
    assert new.count("<param-name>ssl</param-name>") == 1
    assert "<context-param>\n    <param-name>ssl" not in new
    assert web.plan_context_params(new, {"ssl": "true", "serverHost": "sm.example.com",
                                         "serverPort": "13443"}) == (new, [])
    settings = inv.read_webtier(None, new.encode())["settings"]
    assert settings["ssl"] == "true" and settings["serverHost"] == "sm.example.com"
    gone, actions = web.plan_context_params(new, {"serverHost": None})
    assert "serverHost" not in gone and actions == ["remove init-param serverHost",
                                                    "remove context-param serverHost"]


# Tomcat's own layout: the HTTPS connector it ships is commented out; a site enables one.
TOMCAT_SERVER_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Server port="8005" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector port="8080" protocol="HTTP/1.1" redirectPort="8443"/>
    <!-- Define an SSL/TLS HTTP/1.1 Connector on port 8443
    <Connector port="8443" SSLEnabled="true">
        <SSLHostConfig>
            <Certificate certificateKeystoreFile="conf/commented.jks" type="RSA" />
        </SSLHostConfig>
    </Connector>
    -->
    <Connector port="8443" protocol="org.apache.coyote.http11.Http11NioProtocol"
               maxThreads="150" SSLEnabled="true">
        <SSLHostConfig hostName="other.example.invalid" protocols="TLSv1">
            <Certificate certificateKeystoreFile="conf/other.jks" type="RSA" />
        </SSLHostConfig>
        <SSLHostConfig>
            <Certificate certificateKeystoreFile="conf/localhost-rsa.jks"
                         certificateKeystorePassword="sample-pass" type="RSA" />
        </SSLHostConfig>
    </Connector>
    <Connector port="9443" SSLEnabled="true" keystoreFile="${catalina.base}/conf/old.p12"
               keystorePass="old-pass" keystoreType="PKCS12" keyAlias="tomcat"
               sslEnabledProtocols="TLSv1.2"/>
    <Connector port="10443" SSLEnabled="true">
        <SSLHostConfig>
            <Certificate certificateFile="conf/cert.pem" certificateKeyFile="conf/key.pem"/>
        </SSLHostConfig>
    </Connector>
  </Service>
</Server>
"""


def test_https_connectors_found_outside_comments_in_both_forms():
    found = web.https_connectors(TOMCAT_SERVER_XML)
    assert [c["port"] for c in found] == [8443, 9443, 10443]
    modern, legacy, pem = found
    # the default SSLHostConfig, not the SNI one; Tomcat's default type when none is named
    assert modern["form"] == "SSLHostConfig" and modern["host_configs"] == 2
    assert (modern["keystore_file"], modern["keystore_password"], modern["keystore_type"]) == \
        ("conf/localhost-rsa.jks", "sample-pass", "JKS")
    assert modern["protocols"] is None and modern["key_alias"] is None
    assert (legacy["form"], legacy["keystore_type"], legacy["key_alias"], legacy["protocols"]) == \
        ("Connector", "PKCS12", "tomcat", "TLSv1.2")
    assert pem["keystore_file"] is None and pem["certificate_files"]
    assert pem["keystore_password"] == web.TOMCAT_KEYSTORE_PASSWORD


def test_tomcat_paths_resolve_from_catalina_base():
    assert web.tomcat_path("conf/a.jks", "/var/lib/tomcat10") == "/var/lib/tomcat10/conf/a.jks"
    assert web.tomcat_path("${catalina.base}/conf/a.jks", "/srv/t") == "/srv/t/conf/a.jks"
    assert web.tomcat_path("/etc/ssl/a.jks", "/srv/t") == "/etc/ssl/a.jks"


def test_https_protocols_set_on_the_default_host_config_only():
    new, actions = web.plan_https_connector(TOMCAT_SERVER_XML, 8443, ["TLSv1.2", "TLSv1.3"])
    assert actions == ['set protocols="TLSv1.2,TLSv1.3" on the HTTPS connector 8443 (was '
                       "Tomcat's default: every protocol the JRE enables)"]
    web.check_xml(new, "server.xml")
    modern = web.https_connectors(new)[0]
    assert modern["protocols"] == "TLSv1.2,TLSv1.3"
    assert 'hostName="other.example.invalid" protocols="TLSv1"' in new  # the SNI host stays
    assert "conf/commented.jks\" type=\"RSA\" />" in new and new.count("protocols=") == 2
    # the same protocols in Tomcat's + spelling count as set
    plus = new.replace("TLSv1.2,TLSv1.3", "+TLSv1.3+TLSv1.2")
    assert web.plan_https_connector(plus, 8443, ["TLSv1.2", "TLSv1.3"]) == (plus, [])
    assert web.plan_https_connector(new, 8443, ["TLSv1.2", "TLSv1.3"]) == (new, [])


def test_https_protocols_in_the_older_connector_form():
    new, actions = web.plan_https_connector(TOMCAT_SERVER_XML, 9443, ["TLSv1.2", "TLSv1.3"])
    assert actions == ['set sslEnabledProtocols="TLSv1.2,TLSv1.3" on the HTTPS connector 9443 '
                       '(was TLSv1.2)']
    assert web.https_connectors(new)[1]["protocols"] == "TLSv1.2,TLSv1.3"
    with pytest.raises(web.WebTierError, match="no HTTPS connector .* on port 8080"):
        web.plan_https_connector(TOMCAT_SERVER_XML, 8080, ["TLSv1.2"])


def test_a_commented_ajp_connector_is_not_one():
    commented = SERVER_XML.replace('<Connector port="8009" protocol="AJP/1.3" redirectPort="8443" />',
                                   '<!-- <Connector port="8009" protocol="AJP/1.3" /> -->')
    with pytest.raises(web.WebTierError, match="no AJP connector"):
        web.plan_tomcat_authentication(commented, False)


def test_connector_keystore_password_set_masked_where_tomcat_reads_it():
    new, actions = web.plan_https_connector(TOMCAT_SERVER_XML, 8443, keystore_password="n3w&<\"'pass")
    assert actions == ["set certificateKeystorePassword=******** on the HTTPS connector 8443"]
    web.check_xml(new, "server.xml")
    found = web.https_connectors(new)
    assert found[0]["keystore_password"] == "n3w&<\"'pass"
    assert "conf/other.jks\" type=\"RSA\" />" in new  # the SNI host's Certificate stays
    assert web.plan_https_connector(new, 8443, keystore_password="n3w&<\"'pass") == (new, [])
    assert "n3w" not in web.masked_xml(new)
    legacy, actions = web.plan_https_connector(TOMCAT_SERVER_XML, 9443, keystore_password="x")
    assert web.https_connectors(legacy)[1]["keystore_password"] == "x"
    # no password in server.xml is Tomcat's default: asking for it changes nothing
    pem_free = TOMCAT_SERVER_XML.replace('certificateKeystorePassword="sample-pass" ', "")
    assert web.plan_https_connector(pem_free, 8443, keystore_password="changeit") == (pem_free, [])
