/**
 * The become password given with --ask-become-pass / -K: read once, before any host is contacted, kept in this
 * process only, never logged (it reaches a host only on sudo's stdin, after sudo's own prompt; see exec-core.ts).
 * `ansible_become_password` (or `ansible_become_pass`) in the host's variables takes precedence, as in Ansible.
 */
import { addSecret } from '../vars/secret-values.js';

let cliPassword: string | undefined;

export function setCliBecomePassword(pw: string | undefined): void {
  cliPassword = pw;
  if (pw !== undefined) addSecret(pw);
}

export function cliBecomePassword(): string | undefined {
  return cliPassword;
}
