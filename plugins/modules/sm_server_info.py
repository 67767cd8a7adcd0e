#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sm_server_info
short_description: What an SM server installation tells about itself
description:
  - Reads, without changing anything, what the SSL settings of an SM server depend on and
    no inventory should have to guess - today the JRE the server runs, so that
    C(sslEnabledProtocols) only names protocols that JRE can enable.
  - The JRE's version comes from its C(release) file (C(JAVA_VERSION)), else from
    C(bin/java -version) of that JRE (one JVM start, only when the file does not tell).
  - Also proves the host answers, so the preflight needs no separate ping for a server.
version_added: "1.1.0"
author: smtls contributors
options:
  jre_dir:
    description:
      - Home of the JRE the SM server runs (SM bundles one as C(<RUN>/jre)). When it is
        missing or tells no version, C(jre.version) is empty and C(jre.tls13) is null; the
        roles then write C(TLSv1.2) only, the one protocol the vendor documents.
    type: path
    required: true
notes:
  - Supports check mode (it never changes anything).
seealso:
  - module: sm_ini
"""

EXAMPLES = r"""
- name: Server | the installation
  sm_server_info:
    jre_dir: /opt/MicroFocus/ServiceManager9.61/Server/RUN/jre
  register: server_info

- name: Server | TLS 1.3 only where the JRE has it
  ansible.builtin.debug:
    msg: "{{ ['TLSv1.2', 'TLSv1.3'] if server_info.jre.tls13 else ['TLSv1.2'] }}"
"""

RETURN = r"""
jre:
  description: The JRE the server runs.
  returned: always
  type: dict
  contains:
    home:
      description: I(jre_dir).
      type: str
    found:
      description: Whether I(jre_dir) exists.
      type: bool
    version:
      description: Its Java version as the JRE states it; empty when unknown.
      type: str
      sample: 1.8.0_202
    source:
      description: Where the version was read - C(release), C(java -version) or C(none).
      type: str
    tls13:
      description: Whether this JRE can enable TLSv1.3 (Java 11+, 8u261+); null when unknown.
      type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import smtls_jre as jre

ARGUMENT_SPEC = dict(jre_dir=dict(type="path", required=True))


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)

    def run_java(argv):
        rc, out, err = module.run_command(argv)
        return rc, (err or "") + (out or "")

    module.exit_json(changed=False, jre=jre.detect(module.params["jre_dir"], run_java))


if __name__ == "__main__":
    main()
