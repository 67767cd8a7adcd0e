# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The web tier's settings files (module_utils/smtls_webtier_files.OPTIONS): sm_webtier_config's
options, and the same options as sm_webtier_info's config_plan - documented once."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from textwrap import indent

_FILE_OPTIONS = r"""
properties_file:
  description: The custom webtier.properties (created when absent).
  type: path
properties:
  description: Properties to set (C(key -> value)) or remove (C(key -> null)).
  type: dict
  default: {}
passwords:
  description: Password properties (C(keystorePassword)); never shown.
  type: dict
  default: {}
password_keystores:
  description:
    - For each password property, the keystore it opens. Once the web tier has encrypted
      the value under its C(masterKey), the property counts as in sync when that keystore
      opens with the wanted password.
  type: dict
  default: {}
web_xml:
  description: The webapp's WEB-INF/web.xml.
  type: path
context_params:
  description: Context parameters to set or remove (C(null)) in I(web_xml).
  type: dict
  default: {}
application_context:
  description: WEB-INF/classes/application-context.xml.
  type: path
pre_authentication:
  description: Whether the C(/**) filter chain has C(preAuthenticationFilter) (trusted sign-on).
  type: bool
server_xml:
  description: Tomcat's conf/server.xml.
  type: path
tomcat_authentication:
  description:
    - C(false) sets C(tomcatAuthentication="false") on every AJP connector (trusted sign-on
      behind IIS or Apache); C(true) restores Tomcat's default by removing the attribute.
  type: bool
https_port:
  description:
    - The browser-side HTTPS connector of I(server_xml) whose protocols I(https_protocols) sets
      (its default C(SSLHostConfig)'s C(protocols), or C(sslEnabledProtocols) in the older form).
  type: int
https_protocols:
  description:
    - The protocols that connector enables, written comma-separated; a value naming the same
      protocols in Tomcat's C(+) spelling is left as it is.
  type: list
  elements: str
https_keystore_password:
  description:
    - The password of that connector's keystore as Tomcat reads it (C(certificateKeystorePassword),
      or C(keystorePass) in the older form), set when the keystore is given a password of its
      own; never shown.
  type: str
owner:
  description:
    - Owner every file named here ends with (a user name or number; omitted - left as it is).
  type: str
group:
  description:
    - Group every file named here ends with (a group name or number; omitted - left as it is).
      The group Tomcat runs as, so that Tomcat still reads the files once their mode is capped
      at C(0640).
  type: str
backup:
  description: Keep a timestamped copy of each file before changing it.
  type: bool
  default: false
"""


class ModuleDocFragment(object):
    DOCUMENTATION = "options:" + indent(_FILE_OPTIONS, "  ")

    PLAN = r"""
options:
  config_plan:
    description:
      - The web tier's settings files, planned in the same call as M(sm_webtier_config) plans them
        with these options, nothing written - returned as C(config_plan), so the preflight needs
        no check-mode run of M(sm_webtier_config). The suboptions are M(sm_webtier_config)'s.
    type: dict
    suboptions:""" + indent(_FILE_OPTIONS, "      ")
