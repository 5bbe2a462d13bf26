#!/usr/bin/python3
"""Records Ansible's own parse_kv (ansible.parsing.splitter) on a table of `-a` strings into
test/fixtures/golden/parse-kv.json; test/habits-adhoc.test.ts checks runbook's lib/cli/parse-kv.ts against it.
Run once where Ansible is installed (Debian's ansible package): /usr/bin/python3 scripts/record-parse-kv.py
"""
import json
import os
import sys

from ansible import __version__ as ansible_version
from ansible.errors import AnsibleParserError
from ansible.parsing.splitter import parse_kv

CASES = [
    ('a=b c=d', False),
    ('msg="hello world"', False),
    ("msg='single quoted'", False),
    ('msg="line1\\nline2"', False),
    ("msg='tab\\there'", False),
    ('path=/tmp/x\\ty', False),
    ('msg="{{ foo | default(\'x y\') }}"', False),
    ("msg={{ foo | default('x y') }}", False),
    ('msg={{ a }} and {{ b }}', False),
    ('msg={{ a }}  {{ b }}', False),
    ('msg="{% if x %}yes no{% endif %}"', False),
    ('msg={# a comment here #}x', False),
    ('msg="it\'s"', False),
    ('msg=\'say "hi"\'', False),
    ('msg="say \\"hi\\""', False),
    ('k="a=b"', False),
    ('a\\=b', False),
    ('k=v\\=w', False),
    ('a=b\\\\c', False),
    ('x=\\u00e9t\\xe9', False),
    ('msg=h\u00e9llo w\u00f6rld', False),
    ('  a=b   c=d  ', False),
    ('a=', False),
    ('=b', False),
    ('key = value', False),
    ('a="b" c', False),
    ('a=1\nb=2', False),
    ('a="x\ny"', False),
    ('dest=/tmp/f content="two words" mode=0644', False),
    ('src="/a b/c" dest=\'/d e\'', False),
    ('a="b"c', False),
    ('a=b"c"', False),
    ("msg=\"{{ 'a' ~ \"b\" }}\"", False),
    ('echo hi', True),
    ('echo hi creates=/tmp/x', True),
    ('echo "a  b" chdir=/tmp', True),
    ('echo a=b', True),
    ('ls -l | grep x', True),
    ("echo 'it''s' removes=/x stdin=hello", True),
    ('echo {{ x }} > /tmp/y', True),
    ('echo "line\\nbreak"', True),
    ('printf %s\\\\n a', True),
    ('echo one \\\n two', True),
    ('cmd arg1\narg2', True),
    ('executable=/bin/bash echo $0', True),
    ('chdir="/tmp/a b" pwd', True),
    ('foo=bar echo x', True),
    ('msg="unterminated', False),
    ("msg='unterminated", False),
    ('msg={{ foo', False),
    ('msg={% if x', False),
]

out = []
for text, check_raw in CASES:
    try:
        out.append({'args': text, 'check_raw': check_raw, 'result': parse_kv(text, check_raw=check_raw)})
    except AnsibleParserError as e:
        out.append({'args': text, 'check_raw': check_raw, 'error': str(e).split('\n')[0]})

dest = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'test', 'fixtures', 'golden', 'parse-kv.json')
with open(dest, 'w', encoding='utf-8') as f:
    json.dump({'ansible': ansible_version, 'cases': out}, f, ensure_ascii=False, indent=1)
    f.write('\n')
print('%d cases -> %s' % (len(out), dest), file=sys.stderr)
