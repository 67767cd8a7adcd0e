#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sm_acme_responder
short_description: Answer an ACME http-01 challenge on the host, for as long as the validation takes
description:
  - C(started) binds I(address):I(port) and leaves a small HTTP responder behind that serves
    only C(/.well-known/acme-challenge/<token>) for the I(challenges) given, and nothing else.
    The bind happens before the module returns, so a port in use is reported here; the module
    then fetches one token from the responder to prove it answers.
  - The responder stops on its own after I(lifetime) seconds (an alarm, which also ends a request
    that hangs), so an interrupted run never leaves it running; C(stopped) ends it at once (the
    caller runs it in an C(always) block). Its pid file is trusted only while the responder holds
    the file's lock, so a stale file never has another process killed.
  - Python standard library only (the host needs nothing installed).
options:
  state:
    description: C(started) or C(stopped).
    type: str
    choices: [started, stopped]
    default: started
  address:
    description: Address to bind (empty - every address of the host, IPv6 and IPv4).
    type: str
    default: ""
  port:
    description: TCP port the CA connects to (80 unless the CA's validation uses another).
    type: int
    default: 80
  challenges:
    description:
      - The tokens to serve, each a dict with C(token) and C(content) (sm_acme_order's C(challenges)).
    type: list
    elements: dict
    default: []
  lifetime:
    description: Seconds after which the responder exits by itself.
    type: int
    default: 300
  state_dir:
    description:
      - Directory of the responder's pid file, made C(0700) when absent; refused when it is a link, or
        another user's, or writable by others (a planted pid file would have this user kill a process).
    type: path
    default: ~/.smtls
"""

EXAMPLES = r"""
- name: Serve the tokens while the CA validates
  sm_acme_responder:
    port: 80
    challenges: "{{ order.challenges }}"
"""

RETURN = r"""
pid:
  description: Process id of the responder (0 when none runs).
  returned: always
  type: int
"""

import fcntl
import os
import re
import signal
import socket
import stat
import time

try:  # Python 3; the host's interpreter, nothing installed
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from urllib.request import ProxyHandler, build_opener
except ImportError:  # pragma: no cover - Python 2 hosts are not supported
    BaseHTTPRequestHandler = HTTPServer = ProxyHandler = build_opener = None

from ansible.module_utils.basic import AnsibleModule

TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,}$")
PREFIX = "/.well-known/acme-challenge/"


class ResponderError(Exception):
    pass


def pid_file(state_dir, address, port):
    """The responder's pid file for address:port, in a directory of this user's that no one else
    can write: a pid file others could plant or swap would have this user kill their process."""
    if not os.path.isdir(state_dir):
        os.makedirs(state_dir, 0o700)
    info = os.lstat(state_dir)
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise ResponderError(
            "%s holds the ACME responder's pid file, so it must be a directory of this "
            "user that no one else can write. Fix: remove it, or set another state_dir" % state_dir
        )
    return os.path.join(state_dir, "acme-responder-%s-%d.pid" % (address.replace(":", "_") or "all", port))


def _held(fd):
    """True when a live responder holds the lock of this pid file."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (IOError, OSError):
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def stop(path):
    """End the responder of this pid file; True if one ran. The pid is trusted only while the
    responder holds the file's lock, so a stale file never has another process killed."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        if not _held(fd):
            return False
        pid = int((os.read(fd, 32).split() or [b"0"])[0])
        if pid > 0:
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                if not _held(fd):
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        return True
    except (OSError, ValueError):
        return False
    finally:
        os.close(fd)
        if os.path.lexists(path):
            os.unlink(path)


def _serve(server, path, lifetime):
    """The responder process: answers until its lifetime ends (an alarm, which also ends a
    request that hangs) or it is told to stop; then its pid file goes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, ("%d\n" % os.getpid()).encode("ascii"))

    def leave(*_):
        try:
            os.unlink(path)
        finally:
            os._exit(0)

    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGALRM, leave)
    signal.alarm(lifetime)
    while True:
        server.handle_request()


def _handler(answers):
    class Answer(BaseHTTPRequestHandler):
        timeout = 5  # an idle connection does not hold the only thread

        def do_GET(self):
            token = self.path[len(PREFIX) :] if self.path.startswith(PREFIX) else None
            body = answers.get(token)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            data = body.encode("ascii")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # quiet: the CA's requests are the only ones expected
            pass

    return Answer


class _DualStack(HTTPServer):
    """Every address of the host, IPv6 and IPv4 alike."""

    address_family = socket.AF_INET6

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        HTTPServer.server_bind(self)


def _listen(address, port, answers):
    if ":" in address:
        server_class = type("_V6", (HTTPServer,), {"address_family": socket.AF_INET6})
        return server_class((address, port), _handler(answers))
    if address == "" and socket.has_ipv6:
        try:
            return _DualStack(("::", port), _handler(answers))
        except (OSError, socket.error):
            pass  # no IPv6 on this host: IPv4 below
    return HTTPServer((address, port), _handler(answers))


def start(module, path, address, port, answers, lifetime):
    stop(path)  # one left by an interrupted run (its lifetime had not ended yet)
    try:
        server = _listen(address, port, answers)
    except (OSError, socket.error) as exc:
        module.fail_json(
            msg="the ACME http-01 responder cannot listen on %s:%d: %s. Fix: stop what "
            "holds that port during the rollout, or set smtls_acme_http_port (and "
            "the CA's validation port) or smtls_acme_http_address"
            % (address or "*", port, exc.strerror or exc)
        )
    pid = os.fork()
    if pid == 0:  # the responder: detached from the module's session, directory and output
        try:
            os.setsid()
            if os.fork() == 0:
                os.chdir("/")
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                _serve(server, path, lifetime)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    server.server_close()
    token, content = next(iter(answers.items()))
    local = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(address, address)
    url = "http://%s:%d%s%s" % ("[%s]" % local if ":" in local else local, port, PREFIX, token)
    got, problem = None, None
    for _ in range(50):  # until the responder holds its pid file and answers
        try:
            got = build_opener(ProxyHandler({})).open(url, timeout=5).read().decode("ascii")
            break
        except Exception as exc:  # noqa: BLE001 - any failure means the CA could not fetch it either
            problem = exc
            time.sleep(0.1)
    if got is None:
        stop(path)
        module.fail_json(
            msg="the ACME http-01 responder on %s:%d does not answer: %s" % (address or "*", port, problem)
        )
    if got != content:
        stop(path)
        module.fail_json(
            msg="the ACME http-01 responder on %s:%d answers with other content" % (address or "*", port)
        )
    with open(path) as handle:
        return int(handle.read().split()[0])


ARGUMENT_SPEC = dict(
    state=dict(type="str", choices=["started", "stopped"], default="started"),
    address=dict(type="str", default=""),
    port=dict(type="int", default=80),
    challenges=dict(type="list", elements="dict", default=[]),
    lifetime=dict(type="int", default=300),
    state_dir=dict(type="path", default="~/.smtls"),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    try:
        path = pid_file(p["state_dir"], p["address"], p["port"])
    except (ResponderError, OSError) as exc:
        module.fail_json(msg=str(exc))
    if p["state"] == "stopped":
        if module.check_mode:
            module.exit_json(changed=False, pid=0)
        module.exit_json(changed=stop(path), pid=0)
    answers = {}
    for item in p["challenges"]:
        token, content = str(item.get("token", "")), str(item.get("content", ""))
        if not TOKEN.match(token) or not content.startswith(token + "."):
            module.fail_json(msg="an http-01 challenge needs a base64url token and its key authorization")
        answers[token] = content
    if not answers:
        module.fail_json(msg="no http-01 challenge to serve")
    if module.check_mode:
        module.exit_json(changed=True, pid=0)
    module.exit_json(changed=True, pid=start(module, path, p["address"], p["port"], answers, p["lifetime"]))


if __name__ == "__main__":
    main()
