# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restart_record option every writing smtls module shares (smtls_files.RESTART_RECORD_OPTION)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  restart_record:
    description:
      - The host's restart record (see M(sm_pending_restart)). The file is noted there, with its
        backup, before it is replaced, so its restart (and rollback) is due even when the run
        stops right after this write. A call that writes nothing leaves the record alone.
      - The file is noted under the path given; one that is a symbolic link is rolled back
        through the link, as it was written.
    type: path
notes:
  - A file that is a symbolic link (a chain, relative or absolute) is written through it - its
    final target replaced atomically in the target's directory, with the target's mode and owner
    and its backup beside it, named after it - and the link kept. A link to nothing (dangling)
    or a loop is refused before anything is written, in check mode too.
"""
