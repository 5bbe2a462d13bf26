#!/usr/bin/python3
"""Records what containers.podman's own quadlet generator writes for the cases in
test/fixtures/podman-quadlet/cases.json (test/podman-quadlet.test.ts compares runbook's rendering with it).

Usage: /usr/bin/python3 scripts/record-quadlet.py COLLECTION_DIR
  COLLECTION_DIR: a checkout of github.com/containers/ansible-podman-collections (its plugins/ directory is used)
Needs Debian's `ansible` (ansible-core 2.14) for the argument-spec validation, which converts the task's values as
Ansible does (lists, dicts, bools, ints) before the collection's Quadlet classes render them.
"""
import importlib
import json
import os
import sys
import tempfile

coll = os.path.abspath(sys.argv[1])
root = tempfile.mkdtemp()
os.makedirs(os.path.join(root, 'ansible_collections', 'containers'))
os.symlink(coll, os.path.join(root, 'ansible_collections', 'containers', 'podman'))
sys.path.insert(0, root)

import ansible.module_utils.basic as basic  # noqa: E402
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator  # noqa: E402


class Captured(Exception):
    pass


class Capture:
    def __init__(self, argument_spec=None, **kw):
        raise Captured(argument_spec)


def spec_of(module):
    basic.AnsibleModule = Capture
    mod = importlib.import_module('ansible_collections.containers.podman.plugins.modules.' + module)
    mod.AnsibleModule = Capture
    try:
        mod.main()
    except Captured as c:
        return c.args[0]
    raise SystemExit('no spec captured for ' + module)


q = importlib.import_module('ansible_collections.containers.podman.plugins.module_utils.podman.quadlet')
kinds = {
    'container': ('podman_container', q.ContainerQuadlet),
    'volume': ('podman_volume', q.VolumeQuadlet),
    'network': ('podman_network', q.NetworkQuadlet),
}
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'podman-quadlet')
cases = json.load(open(os.path.join(here, 'cases.json')))
out = {}
for case in cases:
    module, cls = kinds[case['kind']]
    result = ArgumentSpecValidator(spec_of(module)).validate(dict(case['params']))
    if result.error_messages:
        raise SystemExit('%s: %s' % (case['name'], result.error_messages))
    out[case['name']] = cls(result.validated_parameters).create_quadlet_content()
with open(os.path.join(here, 'expected.json'), 'w') as f:
    json.dump(out, f, indent=1, sort_keys=True)
    f.write('\n')
print('wrote %d cases' % len(out))
