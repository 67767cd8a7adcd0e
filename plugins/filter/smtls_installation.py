# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters for what a host's installation reads lead to: the stores SM opens, the
installation model's problems and plan (module_utils/smtls_installation.py), the servlets' probes
and ports and the load balancer's (smtls_smcfg.py, smtls_liveness.py), what the liveness check
found, sm.ini settings left over from another mode, the web tier's browser-side connector
(smtls_webtier.py), and the SSL protocols and cipher suites for a JRE (smtls_jre.py).

Nothing here signs, writes a file or runs a command: each filter judges what a module read.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os

# what the filter files share (the module_utils loader): Ansible loads each filter file by its path
_spec = importlib.util.spec_from_file_location("smtls_controller", os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils", "smtls_controller.py"))
_controller = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_controller)

_jre = _controller.module_utils("smtls_jre")
_smcfg = _controller.module_utils("smtls_smcfg")
_installation = _controller.module_utils("smtls_installation")
_liveness = _controller.module_utils("smtls_liveness")
_webtier = _controller.module_utils("smtls_webtier")


def smtls_sm_stores(inputs, fips, client_ca_trust="exact"):
    """The stores SM opens (keystoreFile, truststoreFile, ssl_trustedClientsJKS): {store: {file,
    type, parameter, variables}}, `auto` resolved for sm.ini's fipsmode (module_utils/
    smtls_installation.py)."""
    return _installation.sm_stores(inputs, bool(fips), client_ca_trust)


def smtls_installation_problems(model, stores, mode):
    """What the installation model refuses for this mode, one sentence each with its fix: a start
    file without a servlet, FIPS on OpenJDK, a store of the mode that FIPS would not open."""
    return _installation.installation_problems(model, stores, mode)


def smtls_installation_plan(model, mode, client_ca_trust="exact"):
    """The installation model as the preflight plan shows it, with the warnings it leads to."""
    return _installation.preflight_plan(model, mode, client_ca_trust)


def smtls_servlet_probes(probe, servlets, ssl, http_port, https_port, redirect_names=()):
    """The probe of every process the server's start file starts on a port (sm_server_info's
    servlets), in one sm_tls_probe call: each servlet on its httpsPort, or httpPort with SSL off
    (port, and more_ports); the load balancer on its HTTP port (plain_ports), which must answer
    and redirect to one of redirect_names; the inventory's port when the start file names none."""
    return _smcfg.servlet_probes(probe, servlets, ssl, http_port, https_port, redirect_names)


def smtls_servlet_problem(servlets, ssl):
    """Why SSL cannot be served by every servlet the start file starts (one without httpsPort;
    the load balancer is HTTP only by design), or ''."""
    return _smcfg.servlet_problem(servlets, ssl)


def smtls_balancer_ports(servlets):
    """The load balancer's HTTP port(s) among the start file's processes (sm_server_info's servlets)."""
    return _smcfg.balancer_ports(servlets)


def smtls_liveness_ports(servlets, ssl, http_port, https_port):
    """The ports the liveness check looks at on a server: every servlet sm.cfg lists (as the
    restart probes do), else the inventory's."""
    return _liveness.servlet_ports(servlets, not ssl, https_port if ssl else http_port)


def smtls_liveness_problems(observations, name, keystore_read=None, keystore="", ports=None):
    """What is wrong with host name's ports in this run's liveness observations (anyone's), one
    line each: not answering, or serving a certificate other than the key entry of keystore_read
    (the installation read's; none read - any answer counts). ports: those meant to be probed."""
    return _liveness.keystore_problems(observations, name, keystore_read, keystore, ports)


def smtls_leftover_problems(parameters, mode, mode_name, client_cas):
    """What in sm.ini, beyond the parameters smtls manages, would make SM run another mode
    than the one asked for - one sentence each with its fix ([] when nothing does).

    parameters: sm.ini as sm_ini read it; mode: what the mode asks (ssl, client_auth, ...);
    client_cas: smtls_client_cas."""
    return _installation.leftover_problems(parameters, mode, mode_name, client_cas)


def smtls_leftover_notes(parameters, mode):
    """Parameters smtls leaves as they are but the operator should see in the plan, because
    they change what the mode means."""
    return _installation.leftover_notes(parameters, mode)


def smtls_browser_connector_problem(connector, setting, port, server_xml, managed):
    """Why the browser-side HTTPS connector cannot be given our certificate, or ''.

    connector: the one sm_webtier_info found ({} when none); setting: sm_webtier_browser_https
    (auto/true/false); port: sm_webtier_browser_https_port (0: the first); managed: whether the
    mode has SSL and the setting is not false."""
    return _webtier.browser_connector_problem(connector, setting, port, server_xml, managed)


def smtls_browser_https_plan(connector, managed, protocols, jre, names, probed, why_not):
    """One line of the preflight plan: what the browser-side connector gets, or why it stays."""
    return _webtier.browser_https_plan(connector, managed, protocols, jre, names, probed, why_not)


def smtls_ssl_protocols_for(requested, jre=None):
    """sslEnabledProtocols for a server whose JRE is jre (as sm_server_info reads it): the
    rule of module_utils/smtls_jre.py, which sm_server_info applies too."""
    return _jre.protocols_for(requested, jre)


def smtls_tls_problems(protocols, ciphers, allow_legacy=False, check_ciphers=True, jre=None,
                       service="SM"):
    """What is wrong with the SSL protocol and cipher lists, one sentence each with its fix
    ([] when nothing is). protocols is `auto` or a list; jre is what sm_server_info (or
    sm_webtier_info, with service Tomcat) read."""
    return _jre.tls_problems(protocols, ciphers, allow_legacy, check_ciphers, jre, service)


class FilterModule(object):
    def filters(self):
        return {"smtls_sm_stores": smtls_sm_stores,
                "smtls_installation_problems": smtls_installation_problems,
                "smtls_installation_plan": smtls_installation_plan,
                "smtls_servlet_probes": smtls_servlet_probes, "smtls_servlet_problem": smtls_servlet_problem,
                "smtls_balancer_ports": smtls_balancer_ports,
                "smtls_liveness_ports": smtls_liveness_ports,
                "smtls_liveness_problems": smtls_liveness_problems,
                "smtls_leftover_problems": smtls_leftover_problems,
                "smtls_leftover_notes": smtls_leftover_notes,
                "smtls_browser_connector_problem": smtls_browser_connector_problem,
                "smtls_browser_https_plan": smtls_browser_https_plan,
                "smtls_ssl_protocols_for": smtls_ssl_protocols_for,
                "smtls_tls_problems": smtls_tls_problems}
