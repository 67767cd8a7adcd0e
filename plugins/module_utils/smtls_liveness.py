# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Liveness: does every SSL servlet of a server, and a web tier's HTTPS connector, answer with
the certificate its keystore holds?

A run that changes nothing restarts nothing, so nothing proves the fleet is up. The read each
host's run makes anyway (an installation read, a report read) looks at what each port serves
(observe), from where the restart probes look from; the controller compares it with the
keystore's certificate (problems) for the hosts no restart proved in the run, and the report
does the same. One line per problem: host and port, what was found, what to do.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils import smtls_probe as tls
from ansible.module_utils import smtls_smcfg as smcfg
from ansible.module_utils import smtls_webtier as webtier

# A target, as the modules take it (option liveness): one host's ports, probed alike.
TARGET_OPTIONS = dict(
    name=dict(type="str", required=True),
    kind=dict(type="str", choices=["server", "connector"], default="server"),
    host=dict(type="str", required=True),
    server_name=dict(type="str"),
    # empty: the ports the installation read of the same call finds (sm.cfg's servlets, or the
    # first HTTPS connector with a keystore in server.xml), else default_port
    ports=dict(type="list", elements="int", default=[]),
    default_port=dict(type="int"),
    plain_http=dict(type="bool", default=False),
    # the load balancer's HTTP ports (sm -loadBalancer), asked in plain HTTP beside the TLS ports:
    # empty - those of the installation read of the same call
    balancer_ports=dict(type="list", elements="int", default=[]),
    # the host the probe is made from, for the message (the module runs there)
    probed_from=dict(type="str"),
)

FIX = {
    "server": "start the SM server (its service, or sm_server_restart_command) and read its log "
              "for why it is down",
    "connector": "start Tomcat and read its log (catalina.out) for why the connector is down",
}


def servlet_ports(servlets, plain, default_port=None):
    """Every servlet's port the start file lists (httpsPort, or httpPort with SSL off); the
    inventory's port when it lists none - the ports the restart probes prove (smtls_servlet_probes).
    The load balancer is HTTP only: its HTTP port counts with SSL off, never as a TLS port."""
    key = "http_port" if plain else "https_port"
    ports = [int(s[key]) for s in servlets or [] if s.get(key)
             and (plain or s.get("role", "servlet") != "load_balancer")]
    return ports or ([int(default_port)] if default_port else [])


def connector_port(connectors):
    """The browser-side connector smtls manages when no port is set (smtls_webtier's rule)."""
    chosen = webtier.browser_connector(connectors)
    return [int(chosen["port"])] if chosen else []


def resolve(target, servlets=None, connectors=None):
    """The ports to probe: as given, else from the installation read of the same call."""
    if target.get("ports"):
        return [int(p) for p in target["ports"]]
    if servlets is not None and target.get("kind", "server") == "server":
        return servlet_ports(servlets, target.get("plain_http"), target.get("default_port"))
    if connectors is not None and target.get("kind") == "connector":
        return connector_port(connectors)
    return [int(target["default_port"])] if target.get("default_port") else []


def observe(targets, servlets=None, connectors=None, timeout=10.0):
    """What each port of each target answers: a list of observations (one per port)."""
    observations = []
    for target in targets or []:
        plain = bool(target.get("plain_http"))
        # with SSL on, the load balancer is no TLS port: asked in plain HTTP, where it sends clients
        # (with SSL off its HTTP port is among the ports resolved)
        asked = [(port, plain, False) for port in resolve(target, servlets, connectors)] + [
            (port, True, True) for port in ([] if plain else balancer_ports(target, servlets))]
        for port, plain_port, balancer in asked:
            if plain_port:
                answer = tls.probe(target["host"], port, None, target.get("server_name"), False, timeout,
                                   plain=True)
                seen = {"port": port, "answered": answer["ok"], "reason": answer["reason"],
                        "reason_text": answer["reason_text"], "message": answer.get("message")}
                if balancer:
                    seen.update(load_balancer=True, location=answer.get("location"))
            else:
                seen = tls.served(target["host"], port, target.get("server_name"), timeout)
            seen.update(name=target["name"], kind=target.get("kind") or "server", host=target["host"],
                        plain_http=plain_port, probed_from=target.get("probed_from"))
            observations.append(seen)
    return observations


def balancer_ports(target, servlets=None):
    """The load balancer's HTTP ports of a server target: as given, else the installation read's."""
    if target.get("kind", "server") != "server":
        return []
    if target.get("balancer_ports"):
        return [int(p) for p in target["balancer_ports"]]
    return smcfg.balancer_ports(servlets)


def redirect_problems(observations, names_by_server):
    """Where a load balancer (as the liveness check saw it) sends clients to a host no certificate
    of its group carries - known before any write, so refused then. names_by_server: server ->
    the names its group's certificates will carry."""
    problems = []
    for seen in observations or []:
        names = names_by_server.get(seen.get("name"))
        if seen.get("load_balancer") and seen.get("location") and names:
            problem = tls.redirect_problem(seen, names)
            if problem:
                problems.append("%s: %s" % (seen["name"], problem))
    return sorted(set(problems))


def expected_fingerprints(read):
    """The certificates a port may serve: the key entries' of a keystore read (sm_keystore_info's
    entries, or the report's), none when it could not be read (then any answer counts)."""
    return [e["sha256"] for e in (read or {}).get("entries") or []
            if e.get("kind") == "private_key" and e.get("sha256")]


def port_problem(observation, expected, keystore=""):
    """One line: what is wrong with one observation, or '' when it answered as it should."""
    where = "%s port %s" % (observation.get("name"), observation.get("port"))
    seen_from = " (probed at %s%s)" % (observation.get("host"), " from %s" % observation["probed_from"]
                                        if observation.get("probed_from") else "")
    fix = FIX.get(observation.get("kind"), FIX["server"])
    if not observation.get("answered"):
        return ("%s%s does not answer: %s (%s). Fix: %s; this run changed nothing there, so run it again "
                "once the port answers" % (where, seen_from,
                                           observation.get("reason_text") or observation.get("reason"),
                                           observation.get("message") or "no detail", fix))
    if observation.get("plain_http") or not expected or observation.get("sha256") in expected:
        return ""
    return ("%s%s serves a certificate that is not the one in its keystore%s: found %s (sha256 %s), "
            "expected sha256 %s. Fix: restart it so that it loads its keystore, or stop whatever else "
            "listens on that port, then run again (this run changed nothing there)" % (
                where, seen_from, " " + keystore if keystore else "", observation.get("subject"),
                observation.get("sha256"), " or ".join(expected)))


def liveness_problems(observations, name, expected, keystore="", ports=None):
    """The problems of host name in observations (anyone's), one line each. ports: the ports the
    run meant to probe - a port (or the whole host) that no observation covers is a problem too,
    so a probe that did not run never passes for a live host."""
    mine = [o for o in observations or [] if o.get("name") == name]
    found = [line for line in (port_problem(o, expected, keystore) for o in mine) if line]
    seen = {o.get("port") for o in mine}
    missing = [p for p in ports or [] if p not in seen]
    if missing:
        found.append("%s port %s was not probed in this run (the host that probes it failed or was left "
                     "out). Fix: run again with that host (sm_server_probe_from) in the run"
                     % (name, ", ".join(str(p) for p in missing)))
    return found


def keystore_problems(observations, name, keystore_read=None, keystore="", ports=None):
    """liveness_problems() against the key entries of a keystore read (none read: any answer
    counts); ports as given, or None for whatever was observed."""
    return liveness_problems(observations, name, expected_fingerprints(keystore_read), keystore,
                             [int(p) for p in ports] if ports else None)
