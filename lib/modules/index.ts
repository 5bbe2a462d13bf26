/** Every module runbook ships. One file per module; this is only the list. */
import type { ModuleDef } from './types.js';
import command from './command.js';
import shell from './shell.js';
import copy from './copy.js';
import file from './file.js';
import template from './template.js';
import lineinfile from './lineinfile.js';
import systemd from './systemd.js';
import stat from './stat.js';
import sysctl from './sysctl.js';
import podmanNetwork from './podman-network.js';
import adrDoc from './adr-doc.js';
import apt from './apt.js';
import service from './service.js';
import blockinfile from './blockinfile.js';
import replace from './replace.js';
import slurp from './slurp.js';
import user from './user.js';
import debconf from './debconf.js';
import getUrl from './get-url.js';
import podmanVolume from './podman-volume.js';
import podmanContainer from './podman-container.js';
import mount from './mount.js';
import timezone from './timezone.js';
import pkg from './package.js';
import group from './group.js';
import aptRepository from './apt-repository.js';
import authorizedKey from './authorized-key.js';
import cron from './cron.js';
import find from './find.js';
import getent from './getent.js';
import hostname from './hostname.js';
import iniFile from './ini-file.js';
import localeGen from './locale-gen.js';
import modprobe from './modprobe.js';
import packageFacts from './package-facts.js';
import pamLimits from './pam-limits.js';
import serviceFacts from './service-facts.js';
import tempfile from './tempfile.js';
import raw from './raw.js';
import script from './script.js';
import sopsEncrypt from './sops-encrypt.js';
import ufw from './ufw.js';
import uri from './uri.js';
import waitFor from './wait-for.js';
import git from './git.js';
import unarchive from './unarchive.js';

export const MODULES: ModuleDef<any>[] = [command, shell, copy, file, template, lineinfile, systemd, stat, sysctl, podmanNetwork, adrDoc, apt, service, blockinfile, replace, slurp, user, debconf, getUrl, podmanVolume, podmanContainer, mount, timezone, pkg, group,
  aptRepository, authorizedKey, cron, find, getent, hostname, iniFile, localeGen, modprobe, packageFacts, pamLimits, serviceFacts, tempfile,
  raw, script, sopsEncrypt, ufw, uri, waitFor,
  git, unarchive,
];
