import { execFileSync } from 'node:child_process';

/** The CLI runs from dist/: build once before the tests that spawn it (the same build as `npm run build`, data files included). */
export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
}
