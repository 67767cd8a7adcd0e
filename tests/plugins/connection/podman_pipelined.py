# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test infrastructure only: the Molecule hosts' podman connection, with pipelining."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
    name: podman_pipelined
    short_description: containers.podman.podman with pipelining, for smtls' Molecule test hosts
    description:
      - The containers.podman.podman connection runs a module as several podman calls (mount,
        make a temporary directory, copy the module in, run it, remove the directory). With
        pipelining, one C(podman exec -i) takes the module on its standard input instead, so
        each task costs one podman call. Files that action plugins copy still go through
        C(podman cp).
      - Used only by the Molecule scenarios of this repository; production hosts use SSH.
    options:
      remote_addr:
        description: The name or ID of the container.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
          - name: ansible_podman_host
      remote_user:
        description: User to run commands as inside the container.
        ini:
          - section: defaults
            key: remote_user
        env:
          - name: ANSIBLE_REMOTE_USER
        vars:
          - name: ansible_user
      podman_extra_args:
        description: Extra arguments to pass to the podman command line.
        default: ''
        vars:
          - name: ansible_podman_extra_args
      podman_executable:
        description: Executable for the podman command.
        default: podman
        vars:
          - name: ansible_podman_executable
      pipelining:
        description: Pipe modules into the container instead of copying them (on by default).
        type: boolean
        default: true
        vars:
          - name: ansible_pipelining
"""

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection


class Connection(PodmanConnection):
    transport = "podman_pipelined"
    has_pipelining = True

    def _connect(self):
        # No 'podman mount' per task: a pipelined module needs no file on the host side,
        # and put_file falls back to 'podman cp' without a mount point.
        ConnectionBase._connect(self)
        self._mount_point = None
        self._connected = True
        return self

    def exec_command(self, cmd, in_data=None, sudoable=False):
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        # '-i' keeps the container command's standard input open: that is where a
        # pipelined module arrives.
        args = ["exec", "-i"] if in_data is not None else ["exec"]
        if self.user:
            args.extend(("--user", self.user))
        return self._podman(args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)
