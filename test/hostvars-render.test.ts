/**
 * A render copies into the template engine only the hosts of `hostvars` the text reads (lib/vars/hostvars-keys.ts):
 * `hostvars['db1'].x` or `hostvars[inventory_hostname].x` no longer copies every inventory host (O(hosts) per render,
 * O(hosts²) per task). Counted with a hostvars whose entries count their reads; pure, no host contacted.
 */
import { describe, expect, it } from 'vitest';
import { createTemplar } from '../lib/vars/template.js';
import { hostvarsKeys } from '../lib/vars/hostvars-keys.js';

function counted(n: number): { hostvars: Record<string, unknown>; reads: () => number; names: string[] } {
  let reads = 0;
  const hostvars: Record<string, unknown> = {};
  const names = Array.from({ length: n }, (_, i) => `h${i}`);
  for (const h of names) {
    const entry = { rack: `rack-${h}`, ansible_host: `10.0.0.${names.indexOf(h)}`, inventory_hostname: h };
    Object.defineProperty(hostvars, h, { enumerable: true, get: () => (reads++, entry) });
  }
  return { hostvars, reads: () => reads, names };
}

describe('hostvarsKeys: the hosts a text reads, when plain', () => {
  it('literal and name subscripts; anything else is null (all hosts)', () => {
    expect(hostvarsKeys("{{ hostvars['db1'].ansible_host }}:{{ hostvars[\"db2\"]['x'] }}", false)).toEqual({ literals: ['db1', 'db2'], names: [] });
    expect(hostvarsKeys('hostvars[inventory_hostname].rack', true)).toEqual({ literals: [], names: ['inventory_hostname'] });
    expect(hostvarsKeys('{{ hostvars.web1.rack }}', false)).toEqual({ literals: ['web1'], names: [] });
    expect(hostvarsKeys('{{ item.hostvars }} {{ base }}', false)).toEqual({ literals: [], names: [] });
    for (const t of [
      '{{ hostvars | dict2items }}',
      "{{ groups['all'] | map('extract', hostvars, 'rack') | list }}",
      "{{ hostvars[a ~ 'x'] }}",
      "{{ 'h1' in hostvars }}",
      "{{ hostvars.get('h1') }}",
      '{% for h in groups.all %}{{ hostvars[h].rack }}{% endfor %}',
      "{% include 'x.j2' %}{{ hostvars['h1'].rack }}",
    ]) expect(hostvarsKeys(t, false), t).toBeNull();
    // a name subscript in a text with statements: the name could be rebound there
    expect(hostvarsKeys("{% if true %}{{ hostvars[inventory_hostname].rack }}{% endif %}", false)).toBeNull();
    expect(hostvarsKeys("{% if true %}{{ hostvars['h1'].rack }}{% endif %}", false)).toEqual({ literals: ['h1'], names: [] });
  });
});

describe('rendering reads only the hosts it names', () => {
  const t = createTemplar();
  for (const n of [10, 200]) {
    it(`${n} hosts: one host read per render of hostvars['h3'] or hostvars[inventory_hostname]`, () => {
      const c = counted(n);
      const vars = { hostvars: c.hostvars, inventory_hostname: 'h5', groups: { all: c.names } };
      let r0 = c.reads();
      expect(t.render("{{ hostvars['h3'].rack }}", vars)).toBe('rack-h3');
      expect(c.reads() - r0).toBe(1);
      r0 = c.reads();
      expect(t.render('{{ hostvars[inventory_hostname].ansible_host }}', vars)).toBe('10.0.0.5');
      expect(c.reads() - r0).toBe(1);
      r0 = c.reads();
      expect(t.evaluateBool("hostvars['h1'].rack == 'rack-h1'", vars)).toBe(true);
      expect(c.reads() - r0).toBe(1);
      // every host, when the text needs them all (and the same answers as before)
      r0 = c.reads();
      expect(t.render("{{ groups['all'] | map('extract', hostvars, 'rack') | list | length }}", vars)).toBe(n);
      expect(c.reads() - r0).toBe(n);
      expect(t.render('{% for h in groups.all %}{{ hostvars[h].rack if loop.last }}{% endfor %}', vars)).toBe(`rack-h${n - 1}`);
    });
  }

  it('a host that is not there is still an undefined variable; a name that is not a string reads them all', () => {
    const c = counted(5);
    const vars = { hostvars: c.hostvars, inventory_hostname: 'h1', n: 3 };
    expect(() => t.render("{{ hostvars['nohost'].rack }}", vars)).toThrow(/undefined|nohost/);
    expect(t.render("{{ hostvars['nohost'].rack | default('none') }}", vars)).toBe('none');
    // n is 3, not a host name: all of hostvars goes in, and a number is no key of it
    const r0 = c.reads();
    expect(() => t.render('{{ hostvars[n].rack }}', vars)).toThrow();
    expect(c.reads() - r0).toBe(5);
  });
});
