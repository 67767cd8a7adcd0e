# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The processes an SM server starts, as its start file lists them.

The vendor's start file is `RUN/sm.cfg` on Windows (the service reads it) and the shell script
`RUN/smstart` on Unix ("Start up file (sm.cfg or smstart)", the loadBalancer parameter page). Each
`sm` command starts one process, in one of three roles:
- the load balancer (`sm -loadBalancer -httpPort:N`): HTTP only, it sends clients on to a
  servlet; never a TLS endpoint (the vertical and horizontal scaling pages);
- a servlet (`-httpPort` and/or `-httpsPort`): SSL is served only on its httpsPort, so the
  probes, the rollback decision and the report cover each one;
- a background process (`-que:ir`, `-sync`, `system.start`): no port.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shlex

_OPTION = re.compile(r"^-(?P<name>[A-Za-z_]+)(?::(?P<value>.*))?$")
START_FILES = ("sm.cfg", "smstart")
# words in front of the command that leave it the command (smstart is a shell script)
_PREFIXES = ("nohup", "exec", "env", "nice", "setsid")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SHELL_OPERATOR = re.compile(r"^[&;|<>()]")


class SmCfgError(Exception):
    pass


def _words(raw, shell):
    """The words of one line: sm.cfg's split at blanks after a `#` comment; smstart's as a shell
    reads them (quotes, comments, operators apart) - None when the shell could not (an open
    quote continues on the next line: not an sm command line)."""
    if not shell:
        return raw.split("#", 1)[0].split()
    lexer = shlex.shlex(raw, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:
        return None


def _command(words):
    """(command, its arguments up to a shell operator) of a line's words."""
    while words and (words[0] in _PREFIXES or _ASSIGNMENT.match(words[0])):
        words = words[1:]
    if not words:
        return None, []
    args = []
    for word in words[1:]:
        if _SHELL_OPERATOR.match(word) or re.match(r"^[0-9]+[<>]", word):
            break
        args.append(word)
    return words[0], args


def processes(data, path="sm.cfg", shell=None):
    """[{line, role, http_port, https_port, load_balancer, args}] of every `sm` process the start
    file (its bytes, or text) starts, in file order; role is load_balancer, servlet or
    background; a port is None when the line has none. shell: parse as a shell script (smstart);
    None decides by the file name. A malformed port is an error naming file and line."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    shell = os.path.basename(path) == "smstart" if shell is None else shell
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        command, args = _command(_words(raw, shell) or [])
        if not command or os.path.basename(command.strip("\"'")).lower() not in ("sm", "sm.exe"):
            continue
        ports, load_balancer = {}, False
        for word in args:
            match = _OPTION.match(word.rstrip("&;"))
            if not match:
                continue
            name, value = match.group("name"), match.group("value")
            if name in ("httpPort", "httpsPort"):
                if value is None or not value.isdigit() or not 0 < int(value) < 65536:
                    raise SmCfgError("%s line %d: -%s:%s is not a port. Fix the line (a number "
                                     "from 1 to 65535)" % (path, number, name, value or ""))
                ports[name] = int(value)
            elif name == "loadBalancer":
                load_balancer = True
        role = "load_balancer" if load_balancer else "servlet" if ports else "background"
        found.append(dict(line=number, role=role, http_port=ports.get("httpPort"),
                          https_port=ports.get("httpsPort"), load_balancer=load_balancer,
                          args=" ".join(args)))
    return found


def parse(data, path="sm.cfg"):
    """The processes of the start file that listen on a port (servlets and the load balancer),
    as processes() gives them."""
    return listening(processes(data, path))


def listening(found):
    return [p for p in found if p["role"] != "background"]


def balancer_ports(found):
    """The load balancer's HTTP port(s) among the processes (HTTP only, never a TLS port)."""
    return [int(p["http_port"]) for p in found or []
            if p.get("role") == "load_balancer" and p.get("http_port")]


def choose(run_dir, windows=False, choice="auto", read=None):
    """The start file SM uses in run_dir, and why: {path, name, why, ignored, processes, problem}.

    Windows: sm.cfg (the service reads it). Unix: smstart (the vendor starts SM from it) when it
    starts an sm process, else sm.cfg (an installation started from sm.cfg by a unit of its own).
    choice sm.cfg or smstart: that file, as the inventory says (sm_server_start_file). problem
    is set when the file used lists no servlet (SM would serve nothing the probes can prove).
    read(path) returns the bytes or None when absent (FileProblem when unreadable)."""
    found = {}
    for name in START_FILES:
        path = os.path.join(run_dir, name)
        data = read(path)
        if data is not None:
            found[name] = (path, processes(data, path))
    if choice in START_FILES:
        name, why = choice, "sm_server_start_file: %s" % choice
    elif windows:
        name, why = "sm.cfg", "Windows: the SM service reads sm.cfg"
    elif found.get("smstart", (None, []))[1]:
        name, why = "smstart", "Unix: SM starts from smstart"
    else:
        name = "sm.cfg"
        why = ("Unix, smstart starts no sm process: sm.cfg" if "smstart" in found
               else "Unix, no smstart: sm.cfg")
    path, started = found.get(name, (os.path.join(run_dir, name), []))
    chosen = dict(path=path, name=name, why=why, exists=name in found, processes=started,
                  ignored=[found[other][0] for other in START_FILES if other != name and other in found],
                  problem="")
    chosen["problem"] = start_file_problem(run_dir, chosen, choice)
    return chosen


def start_file_problem(run_dir, chosen, choice="auto"):
    """Why the start file chosen lists no servlet SM would serve (refused: nothing to prove), or ''."""
    if listening(chosen["processes"]):
        return ""
    if choice not in START_FILES:
        return ("neither %s nor %s starts a servlet (an sm line with -httpPort/-httpsPort), so SM would "
                "serve nothing to prove. Fix: sm_server_run_dir (the RUN directory), or the start file's "
                "servlet lines, or sm_server_start_file if SM starts from the other one"
                % tuple(os.path.join(run_dir, n) for n in START_FILES))
    return ("%s (sm_server_start_file) starts no servlet (an sm line with -httpPort/-httpsPort)%s. Fix: "
            "sm_server_start_file: auto, or the file's servlet lines"
            % (chosen["path"], "" if chosen["exists"] else ": it does not exist"))


def servlet_probes(probe, servlets, ssl, http_port, https_port, redirect_names=()):
    """The probe of every process the start file starts on a port (servlets: the processes, as
    sm_server_info returns them), in one sm_tls_probe call: each servlet on its httpsPort, or
    httpPort with SSL off (port, and more_ports); the load balancer on its HTTP port (plain_ports),
    which must answer and redirect to one of redirect_names; the inventory's port (http_port or
    https_port) when the start file names none. probe: the call's other options."""
    key = "https_port" if ssl else "http_port"
    nodes = [s for s in servlets or [] if s.get("role", "servlet") != "load_balancer"]
    ports = [int(servlet[key]) for servlet in nodes if servlet.get(key)] or [
        int(https_port if ssl else http_port)]
    balancers = balancer_ports(servlets)
    extra = dict(plain_ports=balancers, redirect_names=list(redirect_names)) if balancers else {}
    return [dict(probe, port=ports[0], more_ports=ports[1:], **extra)]


def servlet_problem(servlets, ssl):
    """Why SSL cannot be served by every servlet the start file starts (one without httpsPort;
    the load balancer is HTTP only by design), or ''."""
    missing = [str(servlet["line"]) for servlet in servlets or []
               if not servlet.get("https_port") and servlet.get("role", "servlet") != "load_balancer"]
    if not ssl or not missing:
        return ""
    return ("start file line %s starts a servlet without -httpsPort, so it would serve no HTTPS with "
            "ssl:1. Fix: give every servlet line an -httpsPort of its own (the vendor asks for one per "
            "servlet; only the load balancer, sm -loadBalancer, has none), then run again"
            % ", ".join(missing))
