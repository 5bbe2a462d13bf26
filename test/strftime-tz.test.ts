/**
 * strftime's %Z (lib/vars/template-vars.ts, ansible_managed) keeps its Intl formatter between calls; a changed TZ
 * gets a new one, so the zone name follows the controller's TZ.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { strftime } from '../lib/vars/template-vars.js';

const saved = process.env['TZ'];
afterEach(() => {
  if (saved === undefined) delete process.env['TZ'];
  else process.env['TZ'] = saved;
});

describe('strftime %Z', () => {
  it('follows TZ from one call to the next', () => {
    const d = new Date(Date.UTC(2026, 0, 15, 12, 0, 0));
    process.env['TZ'] = 'UTC';
    expect(strftime('%Z %H', d)).toBe('UTC 12');
    process.env['TZ'] = 'America/New_York';
    expect(strftime('%Z %H', new Date(Date.UTC(2026, 0, 15, 12, 0, 0)))).toBe('EST 07');
    expect(strftime('%Z', new Date(Date.UTC(2026, 6, 15, 12, 0, 0)))).toBe('EDT');
    process.env['TZ'] = 'UTC';
    expect(strftime('%Z %z', d)).toBe('UTC +0000');
    // no %Z: no zone name needed
    expect(strftime('Ansible managed %Y-%m-%d', d)).toBe('Ansible managed 2026-01-15');
  });
});
