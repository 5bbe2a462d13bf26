/** Every controller-side action, one file each (types.ts says what an action is). */
import type { ActionDef } from './types.js';
import assert from './assert.js';
import debug from './debug.js';
import fail from './fail.js';
import fetch from './fetch.js';
import importRole from './import-role.js';
import importTasks from './import-tasks.js';
import includeRole from './include-role.js';
import includeTasks from './include-tasks.js';
import includeVars from './include-vars.js';
import meta from './meta.js';
import pause from './pause.js';
import ping from './ping.js';
import reboot from './reboot.js';
import setFact from './set-fact.js';
import setup from './setup.js';
import waitForConnection from './wait-for-connection.js';

export type { ActionDef } from './types.js';

export const ACTIONS: ActionDef[] = [debug, setFact, assert, fail, meta, includeTasks, importTasks, includeRole, importRole, includeVars, ping, setup, waitForConnection, reboot, fetch, pause];
