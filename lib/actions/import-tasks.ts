/** import_tasks: resolved by the loader (lib/playbook/loader.ts); only its argument schema lives here. */
import { action, str } from './types.js';

export default action('import_tasks', 'insert the tasks of another file (loaded with the playbook)', {
  type: 'object', additionalProperties: false, properties: { _raw_params: str, file: str },
}, undefined, '_raw_params');
