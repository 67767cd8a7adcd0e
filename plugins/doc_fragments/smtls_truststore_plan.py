# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The truststore_plan option of the installation reads (smtls_truststore.PLAN_OPTIONS)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  truststore_plan:
    description:
      - The host's truststores, planned in the same call as M(sm_truststore) plans them, nothing
        written - returned as C(truststore_plan), so a preflight needs no check-mode run of
        M(sm_truststore). The suboptions are M(sm_truststore)'s.
    type: dict
    suboptions:
      truststores:
        description: The stores, as M(sm_truststore) takes them.
        type: list
        elements: dict
        required: true
        suboptions:
          path:
            description: The store file.
            type: path
            required: true
          password:
            description: Its wanted password.
            type: str
            required: true
          initial_passwords:
            description: Passwords it may have now instead, tried before I(password).
            type: list
            elements: str
            default: []
          type:
            description: Its type when it is created.
            type: str
            choices: [jks, pkcs12]
          create:
            description: Whether a missing store is created (else it stays absent).
            type: bool
            default: true
          owner:
            description: Its owner.
            type: str
          group:
            description: Its group.
            type: str
          mode:
            description: Its mode.
            type: raw
          private:
            description: Whether its mode is capped as a file that holds secrets.
            type: bool
            default: true
          convert:
            description: Convert an existing store to I(type) (else only a new store takes it).
            type: bool
            default: false
      trusted_certs:
        description: Certificates every store trusts (alias, PEM).
        type: list
        elements: dict
        default: []
        suboptions:
          alias:
            description: Its alias.
            type: str
            required: true
          pem:
            description: The certificate (PEM).
            type: str
            required: true
      absent:
        description: Selectors of certificates no store may trust.
        type: list
        elements: dict
        default: []
        suboptions:
          alias:
            description: By alias.
            type: str
          sha256:
            description: By SHA-256 fingerprint.
            type: str
          subject:
            description: By subject.
            type: str
          issuer:
            description: By issuer.
            type: str
      change_passwords:
        description: Whether a store's password is changed to I(password).
        type: bool
        default: true
"""
