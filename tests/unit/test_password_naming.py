"""One naming of a store's passwords in every module's options (issue 25).

`password` is the one the store has when the run is done (the inventory's), `initial_passwords` a
list of those it may still have now instead (the vendor's `changeit`). The names the modules had
before (sm_keystore's `new_password`, sm_truststore's single `initial_password`, the reads'
`fallback_passwords`) must not come back, nested options included.
"""

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# every module file, whatever its name (tests/conftest.py puts plugins/modules on the path)
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py")
                 if not p.stem.startswith("_"))
OLD_NAMES = {"new_password", "fallback_passwords", "initial_password"}


def options(spec, where):
    """(dotted name, option) of every option of an argument spec, suboptions included."""
    for name, option in spec.items():
        yield "%s.%s" % (where, name), option
        yield from options(option.get("options") or {}, "%s.%s" % (where, name))


def test_every_module_is_checked():
    assert len(MODULES) >= 15 and "sm_keystore" in MODULES and "sm_truststore" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_no_option_has_an_old_password_name(name):
    spec = importlib.import_module(name).ARGUMENT_SPEC
    found = [where for where, _ in options(spec, name) if where.rsplit(".", 1)[1] in OLD_NAMES]
    assert found == [], "use password (the one it ends with) and initial_passwords (a list)"


@pytest.mark.parametrize("name", MODULES)
def test_initial_passwords_are_a_secret_list_beside_password(name):
    spec = importlib.import_module(name).ARGUMENT_SPEC
    for where, option in options(spec, name):
        if where.rsplit(".", 1)[1] == "initial_passwords":
            found = (option.get("type"), option.get("elements"), option.get("no_log"), option.get("default"))
            assert found == ("list", "str", True, []), where


def test_the_stores_use_the_one_naming():
    # the modules that open a store with more than one password
    for name, where in [("sm_keystore", []), ("sm_keystore_info", []),
                        ("sm_truststore", ["truststores"]), ("sm_server_info", ["keystore"]),
                        ("sm_server_info", ["truststore_plan", "truststores"]),
                        ("sm_webtier_info", ["truststore_plan", "truststores"]),
                        ("sm_tls_probe", ["keystore"]), ("sm_tls_probe", ["truststore"]),
                        ("sm_tls_inventory", ["stores"])]:
        spec = importlib.import_module(name).ARGUMENT_SPEC
        for key in where:
            spec = spec[key]["options"]
        assert {"password", "initial_passwords"} <= set(spec), (name, where)
