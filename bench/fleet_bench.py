#!/usr/bin/env python3
"""Fleet benchmark: the rollout on simulated hosts against the Ansible floor.

Each simulated host is a directory holding a sample SM installation (the demo fleet's TEST
DOUBLE), reached with the local connection; half are SM servers, half web tiers. For each
fleet size the benchmark runs, in the same process environment:

* the first rollout (`playbooks/site.yml`: sample certificate to trusted_clients) and a
  no-change rerun, with restarts and probes off (no SM to restart here: `none`, `never`);
* the floor: the same hosts, in the same batches, each running FLOOR_MODULES
  `ansible.builtin.ping` tasks - a module on the host, as ours are - which is what a rollout
  at the module budget costs in Ansible's own overhead.

Prints seconds per host, the ratio rollout/floor for each size, and the module runs per host
of each kind (smtls_module_runs callback: every task result that ran a module on the host or
delegated, loop items one by one; controller-only tasks left out) - the budget is 8 on a
no-change rerun and 15 on a first rollout.
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


FLOOR_MODULES = 8
BUDGET = {"first": 15, "rerun": 8}


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


def floor_playbook(path):
    """The same hosts, in the same batches, each running FLOOR_MODULES ping modules."""
    lines = ["- name: Floor", "  hosts: all", "  gather_facts: false",
             "  serial: \"%s\"" % BATCH, "  tasks:"]
    for i in range(FLOOR_MODULES):
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
    floor_yml = floor_playbook(root / "floor.yml")
    floor, _ = run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(floor_yml),
                    "-e", "smtls_demo_dir=%s" % root], "floor (%d hosts)" % size)
    runs = {label: module_runs(root / ("runs-%s.json" % label)) for label in ("first", "rerun")}
    shutil.rmtree(root)
    return first, again, floor, runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,300",
                        help="fleet sizes, comma separated (default 10,100,300)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="smtls-fleet-bench-") as tmp:
        workdir = Path(tmp)
        template = build_template(workdir)
        print("%6s | %-24s | %-24s | %-20s | %s" % (
            "hosts", "first rollout s (s/host)", "no-change rerun s (s/host)",
            "floor s (%d pings)" % FLOOR_MODULES, "ratio to floor (first / rerun)"))
        runs = {}
        for size in sizes:
            first, again, floor, runs = measure(template, workdir, size)
            print("%6d | %8.1f (%6.3f)        | %8.1f (%6.3f)          | %8.1f (%6.3f)    | %.2f / %.2f"
                  % (size, first, first / size, again, again / size, floor, floor / size,
                     first / floor, again / floor), flush=True)
        kinds = {"srv": "SM server", "web": "web tier"}
        for label in ("first", "rerun"):
            print("module runs per host, %s (budget %d): %s" % (
                "first rollout" if label == "first" else "no-change rerun", BUDGET[label],
                ", ".join("%s %s" % (kinds.get(kind, kind), low if low == high else "%d-%d" % (low, high))
                          for kind, (low, high) in runs[label].items())))


if __name__ == "__main__":
    main()
