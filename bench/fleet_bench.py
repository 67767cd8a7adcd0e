#!/usr/bin/env python3
"""Fleet benchmark: the rollout on simulated hosts against the Ansible floor.

Each simulated host is a directory holding a sample SM installation (the demo fleet's TEST
DOUBLE), reached with the local connection; half are SM servers, half web tiers. For each
fleet size the benchmark runs, in the same process environment:

* the first rollout (`playbooks/site.yml`: sample certificate to trusted_clients) and a
  no-change rerun, with restarts and probes off (no SM to restart here: `none`, `never`);
* the floor: a playbook over the same hosts with the same number of tasks per host as the
  rollout ran or skipped, each a no-op (`ansible.builtin.debug`, or skipped by its `when`),
  in the same batches: Ansible's own cost per task.

Prints seconds per host and the ratio rollout/floor for each size; the ratio is the cost
of what smtls does beyond Ansible's own per-task overhead.
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


def run(args, label):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    start = time.perf_counter()
    proc = subprocess.run(args, env=env, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if proc.returncode:
        sys.exit("%s failed (rc %d):\n%s%s" % (label, proc.returncode, proc.stdout[-3000:],
                                                proc.stderr[-2000:]))
    return elapsed, proc.stdout


def recap(output):
    """{host: (ran, skipped)} task counts from the PLAY RECAP."""
    counts = {}
    for line in output.split("PLAY RECAP")[-1].splitlines():
        m = re.match(r"(\S+)\s+: ok=(\d+)\s+changed=\d+\s+unreachable=\d+\s+failed=\d+\s+"
                     r"skipped=(\d+)", line)
        if m:
            counts[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return counts


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


def floor_playbook(path, counts):
    """The same hosts, the same number of tasks run and skipped on each, every one a no-op."""
    total = max(ran + skipped for ran, skipped in counts.values())
    (path.parent / (path.stem + "-counts.json")).write_text(json.dumps(
        {"bench_ran": {host: ran for host, (ran, _) in counts.items()}}))
    lines = ["- name: Floor", "  hosts: all", "  gather_facts: false",
             "  serial: \"%s\"" % BATCH, "  tasks:"]
    for i in range(total):
        lines += ["    - name: noop %d" % i, "      ansible.builtin.debug:", "        msg: noop",
                  "      when: bench_ran[inventory_hostname] > %d" % i]
    path.write_text("\n".join(lines) + "\n")
    return path.parent / (path.stem + "-counts.json")


def measure(template, workdir, size):
    root = workdir / ("fleet-%d" % size)
    inventory = build_fleet(template, root, size)
    first, first_out = run(rollout(inventory, root), "first rollout (%d hosts)" % size)
    again, again_out = run(rollout(inventory, root), "rerun (%d hosts)" % size)
    changed = re.findall(r"changed=(\d+)", again_out.split("PLAY RECAP")[-1])
    if any(int(c) for c in changed):
        sys.exit("the rerun on %d hosts changed something:\n%s" % (size, again_out[-3000:]))
    floors = []
    for label, out in (("first", first_out), ("rerun", again_out)):
        playbook = root / ("floor-%s.yml" % label)
        counts = floor_playbook(playbook, recap(out))
        seconds, _ = run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook),
                          "-e", "smtls_demo_dir=%s" % root, "-e", "@%s" % counts],
                         "floor (%d hosts)" % size)
        floors.append(seconds)
    shutil.rmtree(root)
    return first, again, floors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,300",
                        help="fleet sizes, comma separated (default 10,100,300)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="smtls-fleet-bench-") as tmp:
        workdir = Path(tmp)
        template = build_template(workdir)
        print("%6s | %-24s | %-24s | %s" % ("hosts", "first rollout s (s/host)",
                                             "no-change rerun s (s/host)", "ratio to floor"))
        worst = 0.0
        for size in sizes:
            first, again, (floor_first, floor_again) = measure(template, workdir, size)
            ratio_first, ratio_again = first / floor_first, again / floor_again
            worst = max(worst, ratio_first, ratio_again)
            print("%6d | %8.1f (%6.3f)        | %8.1f (%6.3f)          | %.2f / %.2f"
                  % (size, first, first / size, again, again / size, ratio_first, ratio_again),
                  flush=True)
        print("fleet ratio smtls/floor (worst) = %.2f" % worst)


if __name__ == "__main__":
    main()
