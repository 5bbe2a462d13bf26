export { loadInventory } from './load.js';
export { parseHostPattern, selectHosts, globToRegExp } from './patterns.js';
export type { PatternContext, PatternOp, PatternTerm } from './patterns.js';
export { loadVarsDir, loadVarsFile, varsLayerOf } from './vars-files.js';
export { pyLiteral } from './py-literal.js';
export { expandHostPattern, expandHostRange, parseAddress, shlexSplit } from './host-names.js';
export type { Inventory, InventoryPrecedence, InvGroup, InvHost, VarLayer } from './types.js';
