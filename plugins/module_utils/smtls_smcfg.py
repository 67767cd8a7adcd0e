# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The servlets of an SM server, as its RUN/sm.cfg starts them.

Each `sm` line of sm.cfg starts one process; a line with -httpPort or -httpsPort is a servlet
with ports of its own (the load balancer's line too), the others are background processes
(-que:, -sync). SSL is served only on a servlet's httpsPort, so the probes, the rollback
decision and the report cover each one."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_OPTION = re.compile(r"^-(?P<name>[A-Za-z_]+)(?::(?P<value>.*))?$")


class SmCfgError(Exception):
    pass


def parse(data, path="sm.cfg"):
    """[{line, http_port, https_port, load_balancer}] of the servlets of sm.cfg (its bytes, or
    text), in file order; a port is None when the line has none. A malformed port is an error
    naming file and line."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    servlets = []
    for number, raw in enumerate(text.splitlines(), 1):
        words = raw.split("#", 1)[0].split()
        if not words or words[0] != "sm":
            continue
        ports, load_balancer = {}, False
        for word in words[1:]:
            match = _OPTION.match(word)
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
        if ports:
            servlets.append(dict(line=number, http_port=ports.get("httpPort"),
                                 https_port=ports.get("httpsPort"), load_balancer=load_balancer))
    return servlets
