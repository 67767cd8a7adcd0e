#!/usr/bin/env python3
"""Fleet benchmark: the rollout on simulated hosts against the Ansible floor.

Each simulated host is a directory holding a sample SM installation (the demo fleet's TEST
DOUBLE), reached with the local connection; half are SM servers, half web tiers. For each
fleet size the benchmark runs, in the same process environment:

* the first rollout (`playbooks/site.yml`: sample certificate to trusted_clients) and a
  no-change rerun, with restarts and probes off (no SM to restart here: `none`, `never`);
* two floors, on the same hosts in the same batches, each host running `ansible.builtin.ping`
  tasks (a module on the host, as ours are): one ping - the least any run that reads each host
  costs, the floor of a no-change rerun - and as many pings as the first rollout ran modules on
  its busiest host, which is what that rollout costs in Ansible's own overhead.

Prints seconds per host, both runs against their floors (goals: rerun <= 1.5 x one ping, first
rollout <= 1.3 x its floor), and the module runs per host of each kind (smtls_module_runs
callback: every task result that ran a module on the host or delegated, loop items one by one;
controller-only tasks left out) against the budgets: 2 on a no-change rerun, 15 on a first
rollout.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TEMPLATE_SERVER = "sm1.demo.invalid"
TEMPLATE_WEBTIER = "web1.demo.invalid"
BATCH = "25%"


BUDGET = {"first": 15, "rerun": 2}
GOAL = {"first": 1.3, "rerun": 1.5}  # run / its floor (issue 25)


def run(args, label, count_modules=None):
    """Seconds and output of a playbook run; with count_modules (a path), the module runs per
    host are written there."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    if count_modules:
        env.update(ANSIBLE_CALLBACKS_ENABLED="smtls_module_runs", SMTLS_MODULE_RUNS_FILE=str(count_modules))
    start = time.perf_counter()
    proc = subprocess.run(args, env=env, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if proc.returncode:
        sys.exit("%s failed (rc %d):\n%s%s" % (label, proc.returncode, proc.stdout[-3000:],
                                                proc.stderr[-2000:]))
    return elapsed, proc.stdout


def module_runs(path):
    """{kind: (fewest, most)} module runs per host, by host kind (srv / web)."""
    runs = json.loads(Path(path).read_text())
    kinds = {}
    for host, count in runs.items():
        kinds.setdefault(host[:3], []).append(count)
    return {kind: (min(counts), max(counts)) for kind, counts in sorted(kinds.items())}


def build_template(workdir):
    """One sample server and one sample web tier, made by the demo fleet playbook; the server
    runs one servlet (the sample role's default), not the demo's two."""
    template = workdir / "template"
    one_servlet = {"sm_sample_servlets": [{"http_port": "{{ sm_server_http_port }}",
                                           "https_port": "{{ sm_server_https_port }}"}]}
    run([str(BIN / "ansible-playbook"), "-i", str(ROOT / "inventories/demo"),
         str(ROOT / "tests/demo_fleet.yml"), "-e", "smtls_demo_dir=%s" % template,
         "-e", "sm_sample_service=none", "-e", json.dumps(one_servlet),
         "--limit", "%s,%s" % (TEMPLATE_SERVER, TEMPLATE_WEBTIER)],
        "demo fleet template")
    return template


def build_fleet(template, root, size):
    """size simulated hosts copied from the template, an inventory beside them."""
    servers = ["srv%03d.bench.invalid" % i for i in range(1, size // 2 + 1)]
    webtiers = ["web%03d.bench.invalid" % i for i in range(1, size - size // 2 + 1)]
    root.mkdir()
    shutil.copytree(template / "controller" / "sample-ca", root / "controller" / "sample-ca")
    for name in servers:
        shutil.copytree(template / TEMPLATE_SERVER, root / name, symlinks=True)
    for name in webtiers:
        shutil.copytree(template / TEMPLATE_WEBTIER, root / name, symlinks=True)
    inventory = root / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "group_vars" / "all").symlink_to(ROOT / "inventories/demo/group_vars/all")
    lines = ["all:", "  children:", "    sm_servers:", "      hosts:"]
    lines += ["        %s:" % name for name in servers]
    lines += ["    sm_webtiers:", "      hosts:"]
    lines += ["        %s:" % name for name in webtiers]
    (inventory / "hosts.yml").write_text("\n".join(lines) + "\n")
    return inventory


def rollout(inventory, root):
    return [str(BIN / "ansible-playbook"), "-i", str(inventory), str(ROOT / "playbooks/site.yml"),
            "-e", "smtls_demo_dir=%s" % root, "-e", "smtls_probe=never",
            "-e", "sm_server_service_manager=none", "-e", "sm_webtier_service_manager=none",
            "-e", "smtls_server_batch=%s smtls_webtier_batch=%s" % (BATCH, BATCH)]


def floor_playbook(path, modules):
    """The same hosts, in the same batches, each running `modules` ping modules."""
    lines = ["- name: Floor", "  hosts: all", "  gather_facts: false",
             "  serial: \"%s\"" % BATCH, "  tasks:"]
    for i in range(modules):
        lines += ["    - name: ping %d" % i, "      ansible.builtin.ping:"]
    path.write_text("\n".join(lines) + "\n")
    return path


def measure(template, workdir, size):
    root = workdir / ("fleet-%d" % size)
    inventory = build_fleet(template, root, size)
    first, _ = run(rollout(inventory, root), "first rollout (%d hosts)" % size, root / "runs-first.json")
    again, again_out = run(rollout(inventory, root), "rerun (%d hosts)" % size, root / "runs-rerun.json")
    changed = re.findall(r"changed=(\d+)", again_out.split("PLAY RECAP")[-1])
    if not changed or any(int(c) for c in changed):
        sys.exit("the rerun on %d hosts changed something (or ran nothing):\n%s" % (size, again_out[-3000:]))
    runs = {label: module_runs(root / ("runs-%s.json" % label)) for label in ("first", "rerun")}
    busiest = max(high for _low, high in runs["first"].values())
    floors = {}
    for label, modules in (("rerun", 1), ("first", busiest)):
        floor_yml = floor_playbook(root / ("floor-%d.yml" % modules), modules)
        floors[label] = (modules, run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(floor_yml),
                                       "-e", "smtls_demo_dir=%s" % root],
                                      "floor of %d ping(s) (%d hosts)" % (modules, size))[0])
    shutil.rmtree(root)
    return first, again, floors, runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,300",
                        help="fleet sizes, comma separated (default 10,100,300)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="smtls-fleet-bench-") as tmp:
        workdir = Path(tmp)
        template = build_template(workdir)
        print("%6s | %-34s | %-34s" % ("hosts", "first rollout s (s/host) / floor s",
                                         "no-change rerun s (s/host) / floor s"))
        runs = {}
        for size in sizes:
            first, again, floors, runs = measure(template, workdir, size)
            cells = []
            for label, seconds in (("first", first), ("rerun", again)):
                modules, floor = floors[label]
                ratio = seconds / floor
                cells.append("%6.1f (%5.3f) / %5.1f (%d ping%s) = %.2f x %s" % (
                    seconds, seconds / size, floor, modules, "" if modules == 1 else "s", ratio,
                    "ok" if ratio <= GOAL[label] else "over the %.1f x goal" % GOAL[label]))
            print("%6d | %s | %s" % (size, cells[0], cells[1]), flush=True)
        kinds = {"srv": "SM server", "web": "web tier"}
        for label in ("first", "rerun"):
            print("module runs per host, %s (budget %d): %s" % (
                "first rollout" if label == "first" else "no-change rerun", BUDGET[label],
                ", ".join("%s %s" % (kinds.get(kind, kind), low if low == high else "%d-%d" % (low, high))
                          for kind, (low, high) in runs[label].items())))


if __name__ == "__main__":
    main()
