/**
 * template: render a Jinja2 template on the controller (role templates/ dir, then playbook dir) with the host's
 * variables, then behave exactly as copy with that content.
 *
 * Rendering follows Ansible's template-module whitespace rules (trim_blocks true, lstrip_blocks false,
 * newline '\n'); those options are accepted only with those values, so a playbook never silently gets other
 * whitespace than it asked for.
 */
import { RunbookError } from '../errors.js';
import type { ModuleContext, ModuleDef } from './types.js';
import { FILE_ATTR_SCHEMA, badArg, basenameOf, namesFor } from './common.js';
import { encodeText } from './bytes.js';
import { WRITE_OPTS_SCHEMA } from './backup-validate.js';
import { contentPlan, contentProbe, finishContent, prepareContent, type ContentParams, type ContentState } from './copy.js';

export function prepareTemplate(params: Record<string, unknown>, ctx: ModuleContext): ContentParams {
  const src = params.src as string;
  if (params.trim_blocks === false) throw badArg('template: trim_blocks: false is not supported (runbook renders with trim_blocks: true, as Ansible does by default)');
  if (params.lstrip_blocks === true) throw badArg('template: lstrip_blocks: true is not supported (runbook renders with lstrip_blocks: false, as Ansible does by default)');
  if (params.newline_sequence !== undefined && params.newline_sequence !== '\n') throw badArg("template: only newline_sequence '\\n' is supported");
  const found = ctx.findFile('templates', src);
  if (!found) throw new RunbookError('missing_file', `template: could not find template '${src}' (looked in the role's templates/ and the playbook directory)`);
  // the source was read with decodeBytes (bytes that are not UTF-8 became escape code points): encodeText gives
  // them back as the same bytes
  const text = ctx.renderTemplateFile(found);
  // dest/ and existing-directory dest use the template's own name
  return prepareContent(params, encodeText(text), basenameOf(src));
}

export const templateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['src', 'dest'],
  properties: {
    src: { type: 'string', minLength: 1 },
    dest: { type: 'string', minLength: 1 },
    force: { type: 'boolean' },
    trim_blocks: { type: 'boolean' },
    lstrip_blocks: { type: 'boolean' },
    newline_sequence: { type: 'string' },
    ...WRITE_OPTS_SCHEMA,
    ...FILE_ATTR_SCHEMA,
  },
};

const template: ModuleDef<ContentParams, ContentState> = {
  name: 'template',
  aliases: namesFor('template'),
  description: 'Render a Jinja2 template on the controller and put the result on the host (as copy)',
  schema: templateSchema,
  prepare: prepareTemplate,
  probe: contentProbe,
  plan: contentPlan,
  finish: finishContent,
};

export default template;
