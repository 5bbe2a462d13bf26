/** shell: like command, but the text is run by /bin/sh -c (or by `executable`), so pipes and redirections work. */
import type { ModuleDef } from './types.js';
import { namesFor, type FrameState } from './common.js';
import { finishCommand, planCommand, prepareCommand, probeCommand, shellSchema, type CommandParams } from './command.js';

const shell: ModuleDef<CommandParams, FrameState> = {
  name: 'shell',
  aliases: namesFor('shell'),
  description: 'Run a shell command line through /bin/sh, unless creates exists / removes does not',
  schema: shellSchema,
  freeForm: '_raw_params',
  prepare: (params) => prepareCommand(params, true),
  probe: probeCommand,
  plan: planCommand,
  finish: finishCommand,
};

export default shell;
