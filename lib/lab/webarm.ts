/**
 * The web-arm scenario in the lab: an inventory that puts lab hosts in web-arm's `web` group with lab values in
 * place of the real addresses (the host's global IPv6 on its uplink, the v6-only "internet" server, a local
 * container root filesystem instead of an image registry). Shared by the end-to-end test and the demo.
 */
import YAML from 'yaml';
import type { Lab } from './lab.js';

export function webArmLabInventory(lab: Lab, hosts = lab.hosts): string {
  if (!lab.internetV6 || !lab.rootfs) throw new Error('the web-arm lab needs internet: true and podman: true');
  const web: Record<string, Record<string, unknown>> = {};
  for (const h of hosts) {
    web[h.name] = {
      ansible_host: h.address,
      ansible_port: h.port,
      ansible_user: 'root',
      ansible_ssh_private_key_file: lab.keyFile,
      web_uplink_if: h.uplinkIf,
      web_global_v6: h.globalV6,
    };
  }
  const vars = {
    runbook_known_hosts: lab.knownHostsFile,
    web_v6egress_name: 'v6egress',
    web_v6egress_subnet_v4: '10.89.0.0/24',
    web_v6egress_subnet_v6: 'fdaa:bbcc:ddee::/64',
    verify_rootfs: lab.rootfs,
    verify_v6_target: lab.internetV6,
  };
  return `# web-arm scenario on lab ${lab.name}\n` + YAML.stringify({ all: { children: { web: { hosts: web, vars } } } });
}
