# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SSL modes smtls rolls out, in one table: what each asks of every side.

The roles read it through the smtls_mode filters, the report and the inventory readers import
it, and a unit test fails when any list of modes (argument-spec choices, the roles' layer
tables) drifts from it. Adding a mode means a row here and its layer in each role's tables.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Each mode asks more than the one before it (the layer tables rely on this order).
#   ssl                 SSL between every client and the servers (ssl:1)
#   client_auth         the servers' ssl_reqClientAuth level: 0 none, 1 any client certificate
#                       from a CA they trust, 2 only those in the trusted-clients keystore
#   trusted_clients     the servers keep an allowlist of the fleet's client certificates
#   trusted_signon      the servers trust the web tiers' sign-on (trustedsignon:1)
#   client_certificate  how the web tiers get theirs: "" none, "shared" one for all (held on the
#                       controller, as the vendor's single web tier certificate implies),
#                       "per_host" one each, made on the host (trusted sign-on tells them apart)
_TABLE = (
    # name              ssl    client_auth trusted_clients trusted_signon client_certificate
    ("none",            False, 0,          False,          False,         ""),
    ("encryption",      True,  0,          False,          False,         ""),
    ("client_auth",     True,  1,          False,          False,         "shared"),
    ("trusted_clients", True,  2,          True,           False,         "shared"),
    ("trusted_signon",  True,  2,          True,           True,          "per_host"),
)

NAMES = tuple(row[0] for row in _TABLE)
MODES = dict(
    (name, dict(name=name, rank=rank, ssl=ssl, client_auth=level, trusted_clients=allowlist,
                trusted_signon=tso, client_certificate=bool(certificate),
                client_certificate_per_host=certificate == "per_host"))
    for rank, (name, ssl, level, allowlist, tso, certificate) in enumerate(_TABLE))


class ModeError(ValueError):
    pass


def mode(name):
    """What the mode asks, as a dict (a copy)."""
    if name not in MODES:
        raise ModeError("unknown SSL mode %r: smtls_ssl_mode is one of %s" % (name, ", ".join(NAMES)))
    return dict(MODES[name])


def layers_up_to(layers, name, what="layers"):
    """The settings of a mode from a table of layers (mode -> what it adds to the one before):
    the layers up to it, combined. The table must name exactly the modes of this one."""
    if set(layers) != set(NAMES):
        raise ModeError("%s name the modes %s, the mode table %s: add or remove the layer"
                        % (what, ", ".join(sorted(layers)), ", ".join(NAMES)))
    combined = {}
    for step in NAMES[:mode(name)["rank"] + 1]:
        combined.update(layers[step] or {})
    return combined


def webtiers_first(was_ssl, was_level, name):
    """Whether the web tiers move before the servers: when the servers stop speaking SSL, or
    start asking more of their clients (a higher ssl_reqClientAuth level) than they do now."""
    new = mode(name)
    return bool(was_ssl and (not new["ssl"] or new["client_auth"] > was_level))


def from_server_settings(settings):
    """The mode sm.ini puts in effect (ssl, ssl_reqClientAuth, trustedsignon)."""
    if str(settings.get("ssl", "0")).strip() != "1":
        return "none"
    level = str(settings.get("ssl_reqClientAuth", "0")).strip()
    if level == "2":
        return "trusted_signon" if str(settings.get("trustedsignon", "0")).strip() == "1" \
            else "trusted_clients"
    return "client_auth" if level == "1" else "encryption"


def webtier_view(name):
    """What a web tier's settings show of a mode: none, encryption, client_certificate (client_auth
    and trusted_clients look alike from there) or trusted_signon."""
    wanted = mode(name)
    if not wanted["ssl"]:
        return "none"
    if wanted["trusted_signon"]:
        return "trusted_signon"
    return "client_certificate" if wanted["client_certificate"] else "encryption"


# The phases a run goes through, and what each host role's steps do in each. site.yml runs
# "rollout"; rotate_ca.yml runs "rotation_trust", "rotation_reissue" and "rotation_retire", in
# that order. Every phase runs the same grid: each role's `trust` step (never restarts), then its
# `apply` (or `retire`) step. The stages are those of the smtls identity flow:
#   all      read, decide, and where due a new key, CSR, signature and install
#   current  read and publish what is installed; nothing decided, nothing written
#   issue    decide and sign, install later (published as the next certificate)
#   install  install what the issue stage signed
#   client_certificate_trust  the client certificate's stage in the trust step (web tiers and
#                             Windows clients; servers build their allowlists from what it
#                             publishes)
#   client_certificate_apply  its stage in the apply step (all: only when no trust step of this
#                             run made it)
#   host_identity             the stage of the certificates a host serves (the SM server's, the
#                             web tier's browser-side connector's)
#   retire_previous_ca        the CA a rotation replaces leaves the stores and the client CAs
#   webtiers_may_go_first     the web tiers apply before the servers when the servers tighten
#                             what they ask of clients (a rotation keeps the mode: never), then
#                             retire the old CAs once every server has moved
#   plan_holds                the preflight's plan still describes the host when the phase
#                             writes, so a write step it found nothing for is left out; a
#                             rotation's phases change the stores the next phase writes (and are
#                             given what the preflight did not plan): every step runs
_PHASE_TABLE = (
    # name               cert_trust  cert_apply  host_identity  retire_previous_ca  webtiers_first  plan_holds
    ("rollout",          "all",      "all",      "all",         False,              True,           True),
    ("rotation_trust",   "current",  "current",  "current",     False,              False,          False),
    ("rotation_reissue", "issue",    "install",  "all",         False,              False,          False),
    ("rotation_retire",  "all",      "all",      "all",         True,               False,          False),
)
PHASE_NAMES = tuple(row[0] for row in _PHASE_TABLE)
PHASES = dict(
    (name, dict(name=name, client_certificate_trust=trust, client_certificate_apply=apply_stage,
                host_identity=identity, retire_previous_ca=retire, webtiers_may_go_first=first,
                plan_holds=holds))
    for name, trust, apply_stage, identity, retire, first, holds in _PHASE_TABLE)


# The grid's host roles, by the inventory group whose hosts run them (README "The rollout as a
# grid"); a host in several groups runs each of their roles.
HOST_ROLES = (
    ("sm_servers", "sm_server"),
    ("sm_webtiers", "sm_webtier"),
    ("sm_windows_clients", "sm_windows_client"),
)


def host_roles(group_names):
    """The host roles a host with these inventory groups runs, in the grid's order."""
    return [role for group, role in HOST_ROLES if group in (group_names or ())]


def phase(name):
    """What the host roles' steps do in a phase of a run, as a dict (a copy)."""
    if name not in PHASES:
        raise ModeError("unknown phase %r: smtls_phase is one of %s" % (name, ", ".join(PHASE_NAMES)))
    return dict(PHASES[name])
