/** import_role: resolved by the loader (lib/playbook/loader.ts); only its argument schema lives here. */
import { action, str } from './types.js';

export default action('import_role', 'insert a role here (loaded with the playbook)', {
  type: 'object', additionalProperties: false, required: ['name'],
  properties: { name: str, tasks_from: str, defaults_from: str, vars_from: str, handlers_from: str },
});
