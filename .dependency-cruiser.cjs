/**
 * The layer rules of lib/ (docs/adr/0013-executor-shape.md), checked by `npm test` (test/layers.test.ts):
 *   cli -> report -> executor -> playbook -> inventory -> modules/actions -> vars -> connection/net -> errors
 * An import may only point down this list (or stay in its own folder). The data model (playbook/model.ts) may be
 * imported as types by any layer. lib/lab is test infrastructure: no product code imports it.
 */
const LAYERS = [
  ['cli'],
  ['report'],
  ['executor'],
  ['playbook'],
  ['inventory'],
  ['modules', 'actions'],
  ['vars', 'yaml-load\\.ts'],
  ['connection', 'net'],
  ['errors\\.ts'],
];
const dir = (names) => `^lib/(${names.join('|')})`;
const rules = [];
LAYERS.forEach((layer, i) => {
  const higher = LAYERS.slice(0, i).flat();
  if (!higher.length) return;
  rules.push({
    name: `no-upward-from-${layer.join('-').replace(/\\\\\./g, '')}`,
    comment: `${layer.join(', ')} may not import a higher layer (${higher.join(', ')})`,
    severity: 'error',
    from: { path: dir(layer) },
    to: { path: dir(higher), pathNot: '^lib/playbook/model\\.ts$' },
  });
});
rules.push({
  name: 'no-model-at-run-time',
  comment: 'below playbook/, the model is imported for its types only',
  severity: 'error',
  from: { path: dir(LAYERS.slice(4).flat()) },
  to: { path: '^lib/playbook/model\\.ts$', dependencyTypesNot: ['type-only'] },
});
rules.push({
  name: 'no-lab-in-product',
  comment: 'lib/lab is test infrastructure',
  severity: 'error',
  from: { path: '^lib/', pathNot: '^lib/lab/' },
  to: { path: '^lib/lab/' },
});

module.exports = {
  forbidden: rules,
  options: {
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|test|bench|bin)/' },
  },
};
