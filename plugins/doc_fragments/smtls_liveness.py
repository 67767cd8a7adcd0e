# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The liveness option of the reads every run makes anyway (smtls_liveness.TARGET_OPTIONS)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  liveness:
    description:
      - Ports to look at in the same call, from this host - what certificate each serves (no
        client certificate offered, nothing verified), or with I(plain_http) whether it answers
        HTTP - returned as C(liveness), one observation per port (name, port, answered, reason,
        reason_text, sha256, subject, protocol). The controller compares it with the keystore's
        certificate (the liveness check of every run and of the report).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The inventory name of the host whose ports these are.
        type: str
        required: true
      kind:
        description: C(server) (SM servlets) or C(connector) (a web tier's HTTPS connector).
        type: str
        choices: [server, connector]
        default: server
      host:
        description: The address to connect to.
        type: str
        required: true
      server_name:
        description: The name sent as SNI.
        type: str
      ports:
        description:
          - The ports. Empty - those the installation read of the same call finds (every servlet of the
            start file; the first HTTPS connector with a keystore in C(server.xml)), else I(default_port).
        type: list
        elements: int
        default: []
      default_port:
        description: The port when none is given or found.
        type: int
      plain_http:
        description: An HTTP request without TLS (a server in mode C(none)).
        type: bool
        default: false
      balancer_ports:
        description:
          - With SSL on, the load balancer's HTTP ports (C(sm -loadBalancer)), asked in plain HTTP; the
            observation carries C(load_balancer) and the redirect's C(location). Empty - those of the
            installation read of the same call.
        type: list
        elements: int
        default: []
      probed_from:
        description: The host the probe is made from, for the message.
        type: str
"""
