/**
 * `runbook completion bash|zsh`: a completion script generated from the CLI's own command and option list, so it
 * never goes stale. Role names complete from ./roles, host patterns from `runbook inventory --list`.
 */
import type { Command } from 'commander';

function words(program: Command): { commands: string[]; options: Record<string, string[]> } {
  const options: Record<string, string[]> = {};
  const commands: string[] = [];
  for (const c of program.commands) {
    commands.push(c.name());
    options[c.name()] = c.options.flatMap((o) => [o.short, o.long].filter((x): x is string => Boolean(x)));
  }
  options[''] = ['--help', '--version'];
  return { commands, options };
}

export function bashCompletion(program: Command): string {
  const { commands, options } = words(program);
  const cases = Object.entries(options)
    .filter(([k]) => k)
    .map(([k, v]) => `    ${k}) opts="${v.join(' ')} --help" ;;`)
    .join('\n');
  return `# bash completion for runbook; load with: source <(runbook completion bash)
_runbook() {
  local cur cmd opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${commands.join(' ')} --help --version" -- "$cur") )
    return
  fi
  case "$cmd" in
${cases}
    *) opts="--help" ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
  elif [ "$cmd" = role ] && [ "$COMP_CWORD" -eq 2 ]; then
    COMPREPLY=( $(compgen -W "$(ls roles 2>/dev/null)" -- "$cur") )
  elif [ "$cmd" = apply ]; then
    COMPREPLY=( $(compgen -f -X '!*.y*ml' -- "$cur") $(compgen -d -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
}
complete -F _runbook runbook
`;
}

export function zshCompletion(program: Command): string {
  return `#compdef runbook
# zsh completion for runbook; load with: source <(runbook completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(program)}`;
}

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script (bash or zsh)')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string) => {
      if (shell === 'bash') process.stdout.write(bashCompletion(program));
      else if (shell === 'zsh') process.stdout.write(zshCompletion(program));
      else {
        process.stderr.write(`runbook completion: unknown shell "${shell}" (bash, zsh)\n`);
        process.exitCode = 1;
      }
    });
}
