/** The bytes <-> text codec lives in lib/vars/bytes.ts (the file lookup in lib/vars needs it too); re-exported here for modules. */
export * from '../vars/bytes.js';
